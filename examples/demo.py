"""lowcarb end-to-end demo (``make demo``): the whole story in eight steps, in about a minute.

1. measure a training run, 2. plan it green, 3. tune under a budget, 4. compress and cascade,
5. gate the result, 6. serve a few hundred requests with metering, 7. detect a drift and
schedule the retrain, 8. write the report and verify the ledger. Each step prints what it did,
what it decided and what it saved, every figure labelled measured or estimated.

Everything runs offline on embedded defaults: scikit-learn's bundled handwritten-digits data,
the grid-intensity profile shipped with lowcarb, and one SQLite ledger in
``.lowcarb/demo/ledger.db`` (the directory is wiped first). Set ``LOWCARB_ZONE`` to price the
work for your grid (default here: DE).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from rich.console import Console

# The demo's steps live in lowcarb.integrations (layer 6); the report (step 8) is composed here,
# because lowcarb.reporting is that layer's sibling and may not be imported from it.
from lowcarb.integrations import DemoContext, DemoSettings, run_demo
from lowcarb.ledger import open_ledger
from lowcarb.reporting import ReportQuery, build_report, collect


def write_report(ctx: DemoContext) -> dict[str, Path]:
    """Step 8: the report of everything the demo recorded, as HTML and Markdown."""
    now = ctx.settings.clock()
    # Until a day after the latest plan, so that the jobs planned for later are in the period.
    query = ReportQuery(since=ctx.started_at - timedelta(minutes=1), until=now + timedelta(days=2))
    with open_ledger(ctx.ledger_url) as ledger:
        data = collect(ledger, query)
    paths = {"html": ctx.workdir / "report.html", "md": ctx.workdir / "report.md"}
    paths["html"].write_text(build_report(data, "html"), encoding="utf-8")
    paths["md"].write_text(build_report(data, "md"), encoding="utf-8")
    t, sched = data.totals, data.scheduler
    measured = t.measured_share
    ctx.say(
        "8 report",
        f"{paths['html']} and {paths['md'].name}: {t.records} records with a footprint, "
        f"{t.energy_kwh:.3g} kWh, {t.co2e_g:.3g} gCO2e "
        f"({'no energy' if measured is None else f'{100 * measured:.0f}% measured'})",
        f"{data.decisions.total} decisions; scheduler: {sched.jobs} job(s) planned, "
        + (
            "no saving figure"
            if sched.savings_pct is None
            else f"{sched.savings_pct:.1f}% less CO2e than starting at once (forecast)"
        ),
    )
    return paths


def main() -> None:
    console = Console(highlight=False)
    settings = DemoSettings(zone=os.environ.get("LOWCARB_ZONE", "DE"))
    run_demo(console, settings, report=write_report)


if __name__ == "__main__":
    main()
