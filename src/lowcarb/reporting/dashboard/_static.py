"""The files the pages load, all served by the app itself: no CDN, no network.

* ``plotly.min.js``: the plotly.js bundle that ships inside the installed ``plotly`` Python
  package (read once, served with a long cache lifetime and its version in the URL).
* ``dashboard.js``: draws each chart from the JSON in its ``data-figure`` attribute and follows
  a clicked bar or point to the records behind it (the URL in the point's ``customdata``, only
  if it is a path on this site).
* ``dashboard.css``: the styles.

No page has inline script, so the Content-Security-Policy allows scripts from this origin only.
"""

from __future__ import annotations

import functools
from importlib import import_module, resources

from lowcarb.errors import MissingDependencyError

__all__ = ["CSP", "DASHBOARD_CSS", "DASHBOARD_JS", "plotly_bundle"]

#: Scripts and styles from this origin only (plotly.js adds style elements, hence inline
#: styles); no frames, no form posts elsewhere, no plugin content.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


@functools.cache
def plotly_bundle() -> tuple[str, bytes]:
    """``(version, minified plotly.js)`` from the installed plotly package.

    Raises:
        MissingDependencyError: plotly is not installed (extra ``report``).
    """
    try:
        plotly = import_module("plotly")
    except ImportError:
        raise MissingDependencyError("plotly", "report") from None
    data = resources.files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()
    return str(plotly.__version__), data


DASHBOARD_JS = """\
"use strict";
(function () {
  function safePath(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/";
  }
  function draw(el) {
    var figure;
    try {
      figure = JSON.parse(el.getAttribute("data-figure"));
    } catch (e) {
      el.textContent = "chart data unreadable";
      return;
    }
    var config = {displaylogo: false, responsive: true};
    window.Plotly.newPlot(el, figure.data, figure.layout, config).then(function () {
      el.setAttribute("data-rendered", "true");
      el.on("plotly_click", function (event) {
        var point = event && event.points && event.points[0];
        if (point && safePath(point.customdata)) {
          window.location.assign(point.customdata);
        }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var charts = document.querySelectorAll("div.chart[data-figure]");
    for (var i = 0; i < charts.length; i++) {
      draw(charts[i]);
    }
  });
})();
"""

DASHBOARD_CSS = """\
body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { display: flex; align-items: center; gap: 1rem; padding: 0.6rem 1.2rem;
         background: #1f3b2d; color: #fff; flex-wrap: wrap; }
header a { color: #dfe; text-decoration: none; }
header a[aria-current="page"] { color: #fff; font-weight: bold; text-decoration: underline; }
header .brand { font-weight: bold; color: #fff; margin-right: 1rem; }
header .viewer { margin-left: auto; font-size: 0.85rem; color: #cdc; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem 1.2rem 3rem; }
form.filters { display: flex; gap: 0.8rem; align-items: end; flex-wrap: wrap;
               background: #fff; padding: 0.6rem 0.8rem; border: 1px solid #ddd; }
form.filters label { display: flex; flex-direction: column; font-size: 0.8rem; color: #555; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }
.card { background: #fff; border: 1px solid #ddd; padding: 0.6rem 1rem; min-width: 10rem; }
.card .value { font-size: 1.4rem; font-variant-numeric: tabular-nums; }
.card .label { font-size: 0.8rem; color: #666; }
.chart { background: #fff; border: 1px solid #ddd; margin: 1rem 0; min-height: 380px; }
table { border-collapse: collapse; margin: 0.8rem 0 1.2rem; font-size: 0.9rem; background: #fff; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; vertical-align: top; }
th { background: #f0f0f0; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.note { background: #fff6d6; padding: 0.4rem 0.7rem; }
.error { background: #fde2e1; padding: 0.6rem 0.9rem; border: 1px solid #e8a1a0; }
footer { color: #666; font-size: 0.8rem; margin-top: 2rem; }
code { font-size: 0.85rem; }
"""
