// The portal's build: src/app/main.js bundled by esbuild (from the lock) into dist/,
// with index.html and the icon beside it. `./dev setup` runs it when a source changed.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "assets"), { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: { app: "src/app/main.js" },
  bundle: true,
  format: "esm",
  splitting: true, // a dynamic import() becomes a chunk of its own (src/app/lazy.js)
  chunkNames: "chunks/[name]-[hash]",
  minify: true,
  target: ["es2022"],
  outdir: "dist/assets",
  legalComments: "linked",
  logLevel: "warning",
});
copyFileSync(join(root, "index.html"), join(dist, "index.html"));
copyFileSync(join(root, "src/app/icon.svg"), join(dist, "assets/icon.svg"));
