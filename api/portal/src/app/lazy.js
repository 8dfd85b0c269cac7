// A screen whose code is fetched only when it is first shown: the auditor's charts
// bring chart.js (150 KB), which no resident or department should download.
import { useEffect, useState } from "preact/hooks";

import { ErrorText, Progress, describeError, html } from "./ui.js";

/** A component that imports `load()` (a module's component) on first render. */
export function lazyScreen(load) {
  let loaded = null;
  return function LazyScreen(props) {
    const [Screen, setScreen] = useState(() => loaded);
    const [error, setError] = useState("");
    useEffect(() => {
      if (Screen) return;
      load()
        .then((component) => {
          loaded = component;
          setScreen(() => component);
        })
        .catch((e) => setError(describeError(props.t, e)));
    }, []);
    if (error) return html`<${ErrorText} id="screen-error" text=${error} />`;
    if (!Screen) return html`<${Progress} label=${props.t("progress.loading")} value=${0.5} />`;
    return html`<${Screen} ...${props} />`;
  };
}
