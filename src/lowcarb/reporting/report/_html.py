"""The report as one self-contained HTML page: tables and Plotly charts, no network needed.

plotly.js is embedded once, in the page's head; each chart is a ``<div>`` with a small script
that draws it. Text is rendered by Jinja2 with autoescaping on, so a team named
``<script>...`` prints as text. Nothing is fetched when the file is opened: no CDN, no fonts, no
images.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from lowcarb.errors import MissingDependencyError
from lowcarb.reporting.report._charts import charts, plotly_js
from lowcarb.reporting.report._sections import sections, title
from lowcarb.reporting.report._types import ReportData

__all__ = ["render_html"]

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="lowcarb report">
<title>{{ heading }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222;
       padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8rem 0 1.2rem; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; vertical-align: top; }
th { background: #f4f4f4; text-align: left; } td.n { text-align: right;
     font-variant-numeric: tabular-nums; white-space: nowrap; }
caption { caption-side: top; text-align: left; color: #666; font-style: italic; }
.scope { color: #555; } .note { background: #fff6d6; padding: 0.4rem 0.7rem; }
.chart { margin: 1rem 0; }
nav a { margin-right: 1rem; }
</style>
<script>{{ plotly_js }}</script>
</head>
<body>
<h1>{{ heading }}</h1>
<p class="scope">{{ scope }}</p>
<nav>{% for s in sections %}<a href="#{{ s.id }}">{{ s.title }}</a>{% endfor %}</nav>
{% for s in sections %}
<section id="{{ s.id }}">
<h2>{{ s.title }}</h2>
{% for p in s.paragraphs %}<p{% if p.startswith("Note:") %} class="note"{% endif %}>{{ p }}</p>
{% endfor %}
{% for div in charts.get(s.id, []) %}<div class="chart">{{ div }}</div>
{% endfor %}
{% for t in s.tables %}
<table>
{% if t.caption %}<caption>{{ t.caption }}</caption>{% endif %}
<thead><tr>{% for h in t.headers %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in t.rows %}<tr>
{%- for c in row %}<td{% if t.numeric[loop.index0] %} class="n"{% endif %}>{{ c }}</td>{% endfor -%}
</tr>
{% endfor %}
</tbody>
</table>
{% endfor %}
{% for label, items in s.bullets %}
<h3>{{ label }}</h3>
<ul>{% for i in items %}<li>{{ i }}</li>{% endfor %}</ul>
{% endfor %}
</section>
{% endfor %}
</body>
</html>
"""


def _jinja() -> Any:
    try:
        return import_module("jinja2")
    except ImportError:
        raise MissingDependencyError("Jinja2", "report") from None


def render_html(data: ReportData) -> str:
    """The report as one HTML page (UTF-8 text, a few MB: plotly.js is embedded)."""
    jinja2 = _jinja()
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    markup = import_module("markupsafe").Markup
    js = plotly_js()
    if "</script" in js.lower():  # would end the script element early; never true of plotly.js
        raise MissingDependencyError("plotly (a build that can be embedded)", "report")
    heading, scope = title(data)
    page: str = env.from_string(_TEMPLATE).render(
        heading=heading,
        scope=scope,
        sections=sections(data),
        charts={k: [markup(div) for div in v] for k, v in charts(data).items()},
        plotly_js=markup(js),
    )
    return page
