"""A drift report as HTML: a whole page, or a ``<section>`` the lowcarb report embeds.

The page is self-contained: inline CSS, histograms as inline SVG, no script, no fonts, nothing
fetched from the network. Every piece of text that came from the data (feature names,
categories, notes) is stripped of control characters and HTML-escaped, so a column named
``<script>alert(1)</script>`` shows as that text and runs nothing.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from lowcarb._text import plain
from lowcarb.monitoring._report import DriftReport, FeatureDrift, PerformanceEstimate
from lowcarb.monitoring._stats import (
    DEFAULT_BINS,
    P_VALUE_STATISTICS,
    STATISTICS,
    bin_counts,
    category_counts,
)
from lowcarb.monitoring._tables import feature_sample

__all__ = ["MAX_HISTOGRAM_BARS", "drift_fragment", "drift_html"]

#: Categories drawn per categorical histogram (the most frequent; the rest are summed).
MAX_HISTOGRAM_BARS = 20
_W, _H, _PAD = 360, 120, 4

_CSS = """
.lowcarb-drift{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1b1b}
.lowcarb-drift table{border-collapse:collapse;margin:.5em 0}
.lowcarb-drift th,.lowcarb-drift td{border:1px solid #ccc;padding:.25em .6em;text-align:left}
.lowcarb-drift td.num{text-align:right;font-variant-numeric:tabular-nums}
.lowcarb-drift .drift{color:#a40000;font-weight:600}
.lowcarb-drift .stable{color:#1d6b1d}
.lowcarb-drift details{margin:.4em 0}
.lowcarb-drift svg .ref{fill:#9aa5b1}
.lowcarb-drift svg .cur{fill:#d9822b}
.lowcarb-drift .legend span{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 .8em}
"""


def _text(value: object) -> str:
    return html.escape(plain(value), quote=True)


def _num(value: float | None, statistic: str | None = None) -> str:
    if value is None:
        return "&ndash;"
    if statistic in P_VALUE_STATISTICS:
        return f"{value:.3g}"
    return f"{value:.4g}"


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def _verdict(report: DriftReport) -> str:
    drifted = len(report.drifted)
    total = len(report.features)
    word, cls = ("drift", "drift") if report.drift else ("no drift", "stable")
    return (
        f'<p class="verdict">Dataset: <strong class="{cls}">{word}</strong> &mdash; '
        f"{drifted} of {total} features drifted ({_pct(report.drift_share)}; the dataset "
        f"drifts above {_pct(report.drift_share_threshold)}). Reference {report.reference_rows:,} "
        f"rows, current {report.current_rows:,} rows.</p>"
    )


def _performance(estimate: PerformanceEstimate | None) -> str:
    if estimate is None:
        return ""
    how = "estimated without labels (CBPE)" if estimate.method == "cbpe" else "realised"
    ref = ""
    if estimate.reference_value is not None and estimate.drop_pts is not None:
        ref = (
            f" (reference {estimate.reference_value:.3f}, a drop of {estimate.drop_pts:.1f} "
            "percentage points)"
        )
    return (
        f"<p>{_text(estimate.metric.capitalize())}, {how}: "
        f"<strong>{estimate.value:.3f}</strong> on {estimate.rows:,} rows{ref}.</p>"
    )


def _feature_row(f: FeatureDrift) -> str:
    cls, word = ("drift", "drift") if f.drift else ("stable", "no")
    new = ", ".join(_text(c) for c in f.new_categories) if f.new_categories else "&ndash;"
    op = "&lt;" if f.statistic in P_VALUE_STATISTICS else "&gt;"
    return (
        f"<tr><td>{_text(f.name)}</td><td>{_text(f.kind)}</td><td>{_text(f.statistic)}</td>"
        f'<td class="num">{_num(f.value, f.statistic)}</td>'
        f'<td class="num">{op} {_num(f.threshold, f.statistic)}</td>'
        f'<td class="{cls}">{word}</td>'
        f'<td class="num">{_pct(f.missing_share_reference)} &rarr; '
        f"{_pct(f.missing_share_current)}</td><td>{new}</td></tr>"
    )


def _others(f: FeatureDrift) -> str:
    rows = []
    for name in STATISTICS:
        if name not in f.others:
            continue
        value = f.others[name]
        detail = f.others.get(f"{name}_statistic")
        extra = f" (statistic {_num(detail)})" if detail is not None else ""
        kind = "p-value" if name in P_VALUE_STATISTICS else "distance"
        rows.append(
            f'<tr><td>{_text(name)}</td><td>{kind}</td><td class="num">'
            f"{_num(value, name)}{extra}</td></tr>"
        )
    return (
        "<table><thead><tr><th>statistic</th><th>value is</th><th>value</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _svg(labels: Sequence[str], ref: Any, cur: Any, caption: str) -> str:
    ref_share = np.asarray(ref, dtype=np.float64) / max(float(np.sum(ref)), 1.0)
    cur_share = np.asarray(cur, dtype=np.float64) / max(float(np.sum(cur)), 1.0)
    top = max(float(ref_share.max(initial=0.0)), float(cur_share.max(initial=0.0)), 1e-12)
    n = len(labels)
    slot = (_W - 2 * _PAD) / max(n, 1)
    bar = max(slot / 2 - 1, 0.5)
    parts = []
    for i, label in enumerate(labels):
        x = _PAD + i * slot
        for share, cls, dx, who in (
            (ref_share[i], "ref", 0.0, "reference"),
            (cur_share[i], "cur", bar, "current"),
        ):
            h = (_H - 2 * _PAD) * float(share) / top
            parts.append(
                f'<rect class="{cls}" x="{x + dx:.1f}" y="{_H - _PAD - h:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}"><title>{_text(label)}: {who} '
                f"{_pct(float(share))}</title></rect>"
            )
    return (
        f'<figure><svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img" aria-label="{_text(caption)}">'
        f"{''.join(parts)}</svg><figcaption>{_text(caption)}</figcaption></figure>"
    )


def _histogram(f: FeatureDrift, reference: Any, current: Any, bins: int) -> str:
    sample = feature_sample(f.name, reference[f.name], current[f.name], kind=f.kind)
    if f.kind == "numeric":
        ref_counts, cur_counts = bin_counts(sample.reference, sample.current, bins=bins)
        edges = np.unique(np.quantile(sample.reference, np.linspace(0.0, 1.0, bins + 1)))
        if edges.size == 1:
            labels = [f"below {edges[0]:.4g}", f"{edges[0]:.4g}", f"above {edges[0]:.4g}"]
        else:
            labels = [f"below {edges[0]:.4g}"]
            labels += [f"{lo:.4g} to {hi:.4g}" for lo, hi in itertools.pairwise(edges)]
            labels.append(f"above {edges[-1]:.4g}")
        caption = (
            f"Shares per reference quantile bin (reference {edges[0]:.4g} to {edges[-1]:.4g}; "
            "outer bins: below and above the reference range)"
        )
        return _svg(labels, ref_counts, cur_counts, caption)
    cats, ref_counts, cur_counts = category_counts(sample.reference, sample.current)
    order = np.argsort(-(ref_counts + cur_counts), kind="stable")
    keep = order[:MAX_HISTOGRAM_BARS]
    labels = [cats[i] for i in keep]
    ref_kept, cur_kept = ref_counts[keep], cur_counts[keep]
    caption = "Shares per category"
    if len(order) > MAX_HISTOGRAM_BARS:
        rest = order[MAX_HISTOGRAM_BARS:]
        labels.append(f"{len(rest):,} other categories")
        ref_kept = np.append(ref_kept, ref_counts[rest].sum())
        cur_kept = np.append(cur_kept, cur_counts[rest].sum())
        caption += f" (the {MAX_HISTOGRAM_BARS} most frequent, the rest summed)"
    return _svg(labels, ref_kept, cur_kept, caption)


def drift_fragment(
    report: DriftReport,
    *,
    reference: Any = None,
    current: Any = None,
    bins: int = DEFAULT_BINS,
    heading: str = "Data drift",
) -> str:
    """The drift report as one ``<section class="lowcarb-drift">`` to embed in another page.

    Args:
        report: What :func:`~lowcarb.monitoring.detect_drift` returned.
        reference: The reference window (DataFrame); with ``current``, adds a histogram per
            feature (shares per bin or category, reference grey, current orange).
        current: The current window.
        bins: Quantile bins of numeric histograms (use the value the report was made with).
        heading: The section's ``<h2>``, escaped.

    Returns:
        HTML text with its own scoped ``<style>``; no script, nothing loaded from elsewhere.
    """
    rows = "".join(_feature_row(f) for f in report.features)
    details = []
    with_histograms = reference is not None and current is not None
    for f in report.features:
        hist = _histogram(f, reference, current, bins) if with_histograms else ""
        details.append(
            f"<details><summary>{_text(f.name)}: every statistic</summary>"
            f"{_others(f)}{hist}</details>"
        )
    notes = ""
    if report.notes:
        notes = "<h3>Notes</h3><ul>" + "".join(f"<li>{_text(n)}</li>" for n in report.notes)
        notes += "</ul>"
    legend = (
        '<p class="legend">Histograms:<span style="background:#9aa5b1"></span>reference'
        '<span style="background:#d9822b"></span>current</p>'
        if with_histograms
        else ""
    )
    return (
        f'<section class="lowcarb-drift"><style>{_CSS}</style><h2>{_text(heading)}</h2>'
        f"{_verdict(report)}{_performance(report.performance)}"
        "<table><thead><tr><th>feature</th><th>kind</th><th>statistic</th><th>value</th>"
        "<th>drift when</th><th>drift</th><th>missing (reference &rarr; current)</th>"
        "<th>new categories</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{legend}{''.join(details)}{notes}</section>"
    )


def drift_html(
    report: DriftReport,
    *,
    title: str = "lowcarb drift report",
    reference: Any = None,
    current: Any = None,
    bins: int = DEFAULT_BINS,
) -> str:
    """The drift report as one self-contained HTML page (see :func:`drift_fragment`).

    Args:
        report: What :func:`~lowcarb.monitoring.detect_drift` returned.
        title: The page title and heading, escaped.
        reference: The reference window, for histograms (optional, with ``current``).
        current: The current window.
        bins: Quantile bins of numeric histograms.
    """
    body = drift_fragment(report, reference=reference, current=current, bins=bins, heading=title)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_text(title)}</title></head><body>{body}</body></html>\n"
    )
