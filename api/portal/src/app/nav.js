// One screen at a time, named in the URL's fragment (#/record), so a reload or the back
// button returns to it; the screens a session sees follow its roles. A screen's `Badge`
// (the unread notifications) is shown inside its link.
import { useEffect, useRef, useState } from "preact/hooks";

import { html } from "./ui.js";

function fragment() {
  return decodeURIComponent(location.hash.replace(/^#\/?/, ""));
}

export function useRoute() {
  const [route, setRoute] = useState(fragment);
  useEffect(() => {
    const follow = () => setRoute(fragment());
    window.addEventListener("hashchange", follow);
    return () => window.removeEventListener("hashchange", follow);
  }, []);
  return route;
}

/** The screens of `all` that a session with `roles` sees, in their order: a screen's
 * `role`, or any of its `roles` (a screen every actor has). */
export function screensFor(all, roles) {
  return all.filter((screen) => (screen.roles || [screen.role]).some((r) => roles.includes(r)));
}

export function Nav({ t, screens, current }) {
  return html`<nav aria-label=${t("nav.label")} class="nav">
    <ul>
      ${screens.map(
        (s) => html`<li>
          <a href=${`#/${s.id}`} id=${`nav-${s.id}`} aria-current=${s.id === current ? "page" : undefined}>
            ${t(`nav.${s.id}`)}
            ${s.Badge && html`<${s.Badge} t=${t} />`}
          </a>
        </li>`,
      )}
    </ul>
  </nav>`;
}

/** The screen's heading takes focus when the route changes (not on first load), so a
 * screen reader announces the new screen as a page load would. */
export function ScreenFrame({ route, children }) {
  const frame = useRef(null);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const heading = frame.current?.querySelector("h2");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }, [route]);
  return html`<div id="screen" ref=${frame}>${children}</div>`;
}
