"""The pages as HTML: one Jinja2 template, autoescaped, no inline script, nothing from a CDN.

Every value is escaped by Jinja (``autoescape``), so a team called ``<script>...`` is shown as
text; a chart's figure sits in a ``data-figure`` attribute (escaped the same way) and is drawn
by ``/static/dashboard.js`` with ``/static/plotly-<version>.min.js``, both served by the app.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import import_module
from typing import Any

from lowcarb.errors import MissingDependencyError
from lowcarb.reporting.dashboard._auth import Principal
from lowcarb.reporting.dashboard._query import DashboardQuery
from lowcarb.reporting.dashboard._static import plotly_bundle
from lowcarb.reporting.dashboard._view_parts import View

__all__ = ["NAV", "render_login", "render_message", "render_page"]

#: The navigation: (label, path, admin only).
NAV = (
    ("Overview", "/", False),
    ("Records", "/runs", False),
    ("Teams", "/teams", False),
    ("Models", "/models", False),
    ("Jobs", "/jobs", False),
    ("Decisions", "/decisions", False),
    ("Grid", "/grid", False),
    ("Tokens", "/tokens", True),
)

_BASE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · lowcarb dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/dashboard.css">
{% if charts %}<script src="{{ plotly_src }}" defer></script>
<script src="/static/dashboard.js" defer></script>{% endif %}
</head>
<body>
<header>
<a class="brand" href="/">lowcarb</a>
<nav>{% for item in nav %}<a href="{{ item.href }}"
{%- if item.current %} aria-current="page"{% endif %}>{{ item.label }}</a> {% endfor %}</nav>
<span class="viewer">{{ viewer }}</span>
</header>
<main>
<h1>{{ title }}</h1>
{% block body %}{% endblock %}
<footer>{% for line in footer %}<p>{{ line }}</p>{% endfor %}
{% if json_href %}<p><a href="{{ json_href }}" id="json-link">This page as JSON</a></p>
{% endif %}</footer>
</main>
</body>
</html>
"""

_PAGE = """{% extends "base.html" %}
{% block body %}
{% if filters %}
<form class="filters" method="get" action="{{ filters.action }}" id="filters">
<label>Since (UTC day)<input type="date" name="since" id="filter-since"
  value="{{ filters.since }}"></label>
<label>Until (excluded)<input type="date" name="until" id="filter-until"
  value="{{ filters.until }}"></label>
<label>Team<select name="team" id="filter-team">
{%- if filters.all_teams %}<option value="">every team</option>{% endif %}
{% for t in filters.teams %}<option value="{{ t }}"
{%- if t == filters.team %} selected{% endif %}>{{ t }}</option>{% endfor %}</select></label>
<label>Project<input type="text" name="project" id="filter-project" list="projects"
  value="{{ filters.project or '' }}"></label>
<datalist id="projects">{% for p in filters.projects %}<option value="{{ p }}">{% endfor %}
</datalist>
{% for k, v in filters.hidden %}<input type="hidden" name="{{ k }}" value="{{ v }}">{% endfor %}
<button type="submit" id="filter-apply">Apply</button>
</form>
{% endif %}
{% for n in view.notes %}<p class="note">{{ n }}</p>{% endfor %}
{% if view.cards %}<div class="cards">
{% for c in view.cards %}<div class="card"><div class="value" id="card-{{ loop.index }}">
{%- if c.href %}<a href="{{ c.href }}">{{ c.text }}</a>{% else %}{{ c.text }}{% endif %}</div>
<div class="label">{{ view.card_labels[loop.index0] }}</div></div>
{% endfor %}</div>{% endif %}
{% for cid, fig in view.charts %}<div class="chart" id="{{ cid }}" data-figure="{{ fig }}"></div>
{% endfor %}
{% for t in view.tables %}
<table{% if t.id %} id="{{ t.id }}"{% endif %}>
<caption>{{ t.caption }}</caption>
<thead><tr>{% for h in t.headers %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in t.rows %}<tr>{% for c in row %}<td{% if c.numeric %} class="n"{% endif %}>
{%- if c.post %}<form method="post" action="{{ c.post }}"><button type="submit">
{{- c.text }}</button></form>
{%- elif c.href %}<a href="{{ c.href }}">{{ c.text }}</a>{% else %}{{ c.text }}{% endif %}</td>
{%- endfor %}</tr>
{% endfor %}
</tbody>
</table>
{% endfor %}
{% for p in view.paragraphs %}<p>
{%- if p.href %}<a href="{{ p.href }}">{{ p.text }}</a>{% else %}{{ p.text }}{% endif %}</p>
{% endfor %}
{% endblock %}
"""

_MESSAGE = """{% extends "base.html" %}
{% block body %}<p class="{{ kind }}" id="message">{{ message }}</p>
{% for label, href in links %}<p><a href="{{ href }}">{{ label }}</a></p>{% endfor %}
{% endblock %}
"""

_LOGIN = """{% extends "base.html" %}
{% block body %}
{% if message %}<p class="error" id="message">{{ message }}</p>{% endif %}
<form method="post" action="/login" id="login">
<label>API token <input type="password" name="token" autocomplete="off" size="70"></label>
<button type="submit">Sign in</button>
</form>
<p>The token is kept in an HttpOnly cookie for this site only. Tokens are made with
<code>lowcarb tokens create --team T</code>.</p>
{% endblock %}
"""


@functools.cache
def _env() -> Any:
    try:
        jinja2 = import_module("jinja2")
    except ImportError:
        raise MissingDependencyError("Jinja2", "report") from None
    loader = jinja2.DictLoader(
        {"base.html": _BASE, "page.html": _PAGE, "message.html": _MESSAGE, "login.html": _LOGIN}
    )
    return jinja2.Environment(
        loader=loader, autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False
    )


def _nav(current: str, who: Principal | None, q: DashboardQuery | None) -> list[dict[str, Any]]:
    out = []
    for label, path, admin in NAV:
        if admin and (who is None or not who.admin):
            continue
        href = path if q is None or path == "/tokens" else q.with_(model=None, kind=None).link(path)
        out.append({"label": label, "href": href, "current": path == current})
    if who is not None and who.via_cookie:
        out.append({"label": "Sign out", "href": "/logout", "current": False})
    elif who is None or who.anonymous:
        out.append({"label": "Sign in", "href": "/login", "current": current == "/login"})
    return out


def _common(
    title: str, current: str, who: Principal | None, q: DashboardQuery | None
) -> dict[str, Any]:
    version, _ = plotly_bundle()
    return {
        "title": title,
        "nav": _nav(current, who, q),
        "viewer": who.label() if who is not None else "not signed in",
        "plotly_src": f"/static/plotly-{version}.min.js",
    }


def render_page(
    view: View,
    *,
    current: str,
    who: Principal,
    q: DashboardQuery | None,
    teams: Sequence[str],
    projects: Sequence[str],
    footer: Sequence[str],
    json_href: str | None,
    hidden: Sequence[tuple[str, str]] = (),
) -> str:
    """A page's HTML."""
    filters = None
    if view.filters and q is not None:
        filters = {
            "action": current,
            "since": q.since.isoformat(),
            "until": q.until.isoformat(),
            "team": q.team,
            "project": q.project,
            "teams": list(teams),
            "all_teams": who.team is None,
            "projects": list(projects),
            "hidden": list(hidden),
        }
    html: str = (
        _env()
        .get_template("page.html")
        .render(
            **_common(view.title, current, who, q),
            view=view,
            charts=bool(view.charts),
            filters=filters,
            footer=list(footer),
            json_href=json_href,
        )
    )
    return html


def render_message(
    title: str,
    message: str,
    *,
    who: Principal | None,
    kind: str = "error",
    links: Sequence[tuple[str, str]] = (),
) -> str:
    """A page with one message (errors, confirmations)."""
    html: str = (
        _env()
        .get_template("message.html")
        .render(
            **_common(title, "", who, None),
            charts=False,
            kind=kind,
            message=message,
            links=list(links),
            footer=[],
            json_href=None,
        )
    )
    return html


def render_login(message: str | None = None) -> str:
    """The sign-in page."""
    html: str = (
        _env()
        .get_template("login.html")
        .render(
            **_common("Sign in", "/login", None, None),
            charts=False,
            message=message,
            footer=[],
            json_href=None,
        )
    )
    return html
