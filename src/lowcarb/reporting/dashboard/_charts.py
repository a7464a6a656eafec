"""Plotly figures as plain JSON (``{"data": [...], "layout": {...}}``), drawn in the browser.

Figures are written as dictionaries, not built with ``plotly.graph_objects`` (whose validation
costs milliseconds per figure on every request); plotly.js draws them as it draws any figure.
Every bar and point carries, in ``customdata``, the URL of the records behind it, which the
page's script follows on click.

Names from records are data: Plotly renders a subset of HTML in labels (``<b>``, ``<a href>``),
so every label is entity-escaped here (:func:`label`); the page puts the figure in an HTML
attribute, which Jinja escapes, so no name can end it either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lowcarb._text import plain

__all__ = ["UNATTRIBUTED", "bars", "hbars", "label", "lines", "stacked_bars"]

#: How records without the attribution are labelled.
UNATTRIBUTED = "(unattributed)"
#: Series drawn one by one; the rest are summed as "other".
MAX_SERIES = 8
#: Bars in a ranked chart.
MAX_BARS = 15


def label(value: object) -> str:
    """A name as Plotly label text: shown as typed, never as Plotly's HTML-like markup."""
    shown = UNATTRIBUTED if value is None else plain(value)[:200]
    return shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _layout(title: str, **more: Any) -> dict[str, Any]:
    return {
        "title": {"text": label(title)},
        "margin": {"l": 70, "r": 20, "t": 50, "b": 60},
        "height": 380,
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "legend": {"orientation": "h"},
        **more,
    }


def stacked_bars(
    title: str,
    x: Sequence[str],
    series: Sequence[tuple[object, Sequence[float], Sequence[str | None]]],
    *,
    y_title: str,
) -> dict[str, Any]:
    """Bars stacked per x: ``series`` is ``(name, values, links)``."""
    data = [
        {
            "type": "bar",
            "name": label(name),
            "x": list(x),
            "y": list(values),
            "customdata": list(links),
        }
        for name, values, links in series
    ]
    return {
        "data": data,
        "layout": _layout(title, barmode="stack", yaxis={"title": {"text": y_title}}),
    }


def bars(
    title: str,
    names: Sequence[object],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    links: Sequence[str | None],
    y_title: str,
    mode: str = "stack",
) -> dict[str, Any]:
    """Vertical bars per name, one trace per ``series`` entry (stacked or grouped)."""
    x = [label(n) for n in names]
    data = [
        {"type": "bar", "name": label(s), "x": x, "y": list(v), "customdata": list(links)}
        for s, v in series
    ]
    return {
        "data": data,
        "layout": _layout(title, barmode=mode, yaxis={"title": {"text": y_title}}),
    }


def hbars(
    title: str,
    names: Sequence[object],
    values: Sequence[float],
    links: Sequence[str | None],
    *,
    x_title: str,
) -> dict[str, Any]:
    """One ranked horizontal bar per name (the largest on top)."""
    shown = list(zip(names, values, links, strict=True))[:MAX_BARS][::-1]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "y": [label(n) for n, _, _ in shown],
                "x": [v for _, v, _ in shown],
                "customdata": [u for _, _, u in shown],
                "name": label(title),
            }
        ],
        "layout": _layout(
            title,
            xaxis={"title": {"text": x_title}},
            yaxis={"automargin": True},
            showlegend=False,
        ),
    }


def lines(
    title: str,
    series: Sequence[tuple[str, Sequence[str], Sequence[float], bool]],
    *,
    y_title: str,
) -> dict[str, Any]:
    """Lines over time: ``series`` is ``(name, times, values, dashed)``."""
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": label(name),
            "x": list(times),
            "y": list(values),
            "line": {"dash": "dash" if dashed else "solid"},
        }
        for name, times, values, dashed in series
    ]
    return {"data": data, "layout": _layout(title, yaxis={"title": {"text": y_title}})}
