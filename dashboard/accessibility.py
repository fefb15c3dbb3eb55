"""For keyboards and screen readers: what a page shows as pictures or large coloured numbers, also in words.

A live region that reads out Draw's answers, a confusion matrix as a table under its chart, and the drawing
canvas's toolbar without its edit mode (each a few lines of JavaScript, Streamlit v2 components with no HTML
of their own, as dashboard/screen.py's).
"""

from __future__ import annotations

import html

import numpy as np
import streamlit as st

# One polite live region for the whole page, made once in <body>: a region that is itself re-rendered is not
# read out (only changes inside an existing one are), and a rerun may re-render the component that fills it.
_LIVE_JS = """
export default function (component) {
  let region = document.getElementById("mnist-live-region");
  if (!region) {
    region = document.createElement("div");
    region.id = "mnist-live-region";
    region.setAttribute("role", "status");
    region.setAttribute("aria-live", "polite");
    region.setAttribute("aria-atomic", "true");
    region.style.cssText = "position:absolute;width:1px;height:1px;margin:-1px;padding:0;border:0;" +
      "overflow:hidden;clip-path:inset(50%);white-space:nowrap";
    document.body.appendChild(region);
  }
  const text = String(component.data.text || "");
  if (region.textContent !== text) region.textContent = text;
}
"""
_live = st.components.v2.component("mnist_dashboard.live_region", js=_LIVE_JS)
LIVE_KEY_PREFIX = "live."  # the components' blocks are hidden by the frame's CSS (dashboard/presenter.py)


def announce(text: str, key: str) -> None:
    """Have screen readers read ``text`` out (politely, after what they are saying) when it changes.

    ``key`` names this page's announcer (``live.<something>``); its block takes no room on the page."""
    _live(key=LIVE_KEY_PREFIX + key, data={"text": text})


# The canvas (streamlit-drawable-canvas 0.13) draws in a shadow root that the page's CSS cannot reach. Its
# toolbar's pencil is "Edit" (strokes then select and move instead of drawing), shown only after the first
# stroke: a teacher read it as the pen. This app only draws, so the edit toggle and what belongs to it go,
# and the toolbar (upload, undo, redo, clear) stays in view.
_CANVAS_STYLE = (".dc-icon-button[aria-label='Edit'],.dc-toolbar-separator,.dc-toolbar-contextual"
                 "{display:none!important}.dc-toolbar{opacity:1;top:-2.65rem}")
_CANVAS_JS = """
export default function (component) {
  const selector = component.data.selector;
  const style = component.data.style;
  const restyle = () => {
    document.querySelectorAll(selector).forEach(host => {
      const root = host.shadowRoot;
      if (root && !root.getElementById("mnist-pen-only")) {
        const element = document.createElement("style");
        element.id = "mnist-pen-only";
        element.textContent = style;
        root.appendChild(element);
      }
    });
  };
  restyle();
  const observer = new MutationObserver(restyle);  // the canvas mounts after this, and again when resized
  observer.observe(document.body, {childList: true, subtree: true});
  return () => observer.disconnect();
}
"""
_canvas_toolbar = st.components.v2.component("mnist_dashboard.canvas_pen_only", js=_CANVAS_JS)


def pen_only_toolbar(canvas_key: str) -> None:
    """The canvas keyed ``canvas_key`` with its toolbar's edit mode hidden: every stroke draws."""
    selector = f".st-key-{canvas_key.replace('.', '-')} [data-testid='stBidiComponentIsolated']"
    _canvas_toolbar(key=LIVE_KEY_PREFIX + "canvas_toolbar", data={"selector": selector, "style": _CANVAS_STYLE})


def matrix_table(confusion: np.ndarray, title: str, normalise: bool = False) -> None:
    """``confusion`` (counts, ``[true, predicted]``) as an HTML table in an expander "As a table": the numbers the
    chart's cells show (row percentages when ``normalise``), with headers a screen reader reads with each cell."""
    from mnist_core.charts import confusion_values  # Plotly loads with the first chart, not with this module

    values = confusion_values(confusion, normalise)
    cell = "{:.1f}" if normalise else "{:.0f}"
    what = "% of each true digit" if normalise else "images"
    pad = "style='padding:0 0 0 0.6em'"  # four-digit counts side by side stay apart
    head = "".join(f"<th scope='col' {pad}>{digit}</th>" for digit in range(values.shape[1]))
    rows = "".join(f"<tr><th scope='row' {pad}>{digit}</th>"
                   + "".join(f"<td {pad}>{cell.format(v)}</td>" for v in row) + "</tr>"
                   for digit, row in enumerate(values))
    with st.expander("As a table", icon=":material/table:"):
        st.html(f"<table style='width:100%;text-align:right;font-variant-numeric:tabular-nums;font-size:0.9rem'>"
                f"<caption style='text-align:left'>{html.escape(title)}: rows are the true digits, columns the "
                f"predictions ({what})</caption><thead><tr><th scope='col'>true \\ predicted</th>{head}</tr></thead>"
                f"<tbody>{rows}</tbody></table>")


# Switching tabs with the arrow keys reruns the page, and now and then (a busy server) the rerun redraws the tab
# list after the switch: the focused tab leaves the document and the focus falls to <body>, so the next arrow key
# does nothing. Put it back on the chosen tab, only when the focus was on a tab and nothing else took it since.
_TAB_FOCUS_JS = """
export default function () {
  if (window.mnistTabFocus) return;
  window.mnistTabFocus = true;
  let onTab = false;
  document.addEventListener("focusin", event => { onTab = event.target.getAttribute("role") === "tab"; });
  document.addEventListener("pointerdown", () => { onTab = false; }, true);  // a click elsewhere is the user's
  new MutationObserver(() => {
    if (!onTab || (document.activeElement && document.activeElement !== document.body)) return;
    const chosen = document.querySelector('[role="tablist"] [role="tab"][aria-selected="true"]');
    if (chosen) chosen.focus({preventScroll: true});
  }).observe(document.body, {childList: true, subtree: true});
}
"""
_tab_focus = st.components.v2.component("mnist_dashboard.tab_focus", js=_TAB_FOCUS_JS)


def keep_focus_on_tabs() -> None:
    """A tab switched by the arrow keys keeps the focus through the rerun the switch starts."""
    _tab_focus(key=LIVE_KEY_PREFIX + "tab_focus", data={})
