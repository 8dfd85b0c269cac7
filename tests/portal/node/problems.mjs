// The portal's problem renderer (api/portal/src/app/problems.js, the module the browser
// loads) on each case of the request: `explain` for a problem document, `render` for a
// bare template, in the case's language; one sentence per case, in order.
import { serve } from "./io.mjs";

const problems = await import(new URL("../../../api/portal/src/app/problems.js", import.meta.url).href);

await serve({
  explain: ({ cases }) =>
    cases.map(({ problem, status, names, language }) => problems.explain(problem, { status, names, language })),
  render: ({ cases }) =>
    cases.map(({ template, values, names, language }) => problems.render(template, values, { names, language })),
});
