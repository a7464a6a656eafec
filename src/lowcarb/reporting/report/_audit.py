"""The audit section: ledger head, what verification proves, data sources and their licences.

Licences are those stated by each source (see ``lowcarb/grid/data/ATTRIBUTION.md`` for the
tables lowcarb ships). A source lowcarb does not recognise is listed as unknown, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable

from lowcarb.reporting.report._figures import Figures
from lowcarb.reporting.report._types import SourceRow

__all__ = ["METHODOLOGY", "describe_source", "source_rows"]

# (prefix of the recorded intensity source, provider, licence), first match wins.
_SOURCES: tuple[tuple[str, str, str], ...] = (
    (
        "static:electricitymaps-2022-lca",
        "lowcarb's embedded annual table (grid/data/annual_intensity.csv): Electricity Maps 2022 "
        "yearly means, as compiled for Sukprasert et al., EuroSys 2024",
        "ODbL 1.0 (Electricity Maps; derived table under the same licence)",
    ),
    (
        "static:ember-ger-2024",
        "Ember, Global Electricity Review 2024 (world average, 2023)",
        "CC BY 4.0 (Ember)",
    ),
    (
        "profile:electricitymaps-2022",
        "lowcarb's embedded month x hour table (grid/data/profiles.csv): Electricity Maps 2022",
        "ODbL 1.0 (Electricity Maps; derived table under the same licence)",
    ),
    (
        "electricitymaps:",
        "Electricity Maps API v3 (live or history)",
        "the terms of the caller's Electricity Maps API plan",
    ),
    (
        "watttime:",
        "WattTime API v3 (marginal, co2_moer)",
        "the terms of the caller's WattTime account",
    ),
    ("ukci:", "NESO Carbon Intensity API (GB)", "CC BY 4.0 (National Energy System Operator)"),
    (
        "forecast:",
        "a forecast lowcarb made from the sources above",
        "as the data it was made from",
    ),
    ("trace:", "a trace file the user supplied", "as stated by that file's provider"),
)
_UNKNOWN = ("unknown to lowcarb: check where these records were priced", "unknown")


def describe_source(source: str | None) -> tuple[str, str]:
    """``(provider, licence)`` of a recorded intensity source tag."""
    if source is None:
        return _UNKNOWN
    for prefix, provider, licence in _SOURCES:
        if source.startswith(prefix):
            if " via lowcarb-region-map:" in source:
                provider += "; cloud region mapped by lowcarb's region table (Apache-2.0)"
            return provider, licence
    return _UNKNOWN


def source_rows(by_source: Iterable[tuple[str | None, Figures]]) -> tuple[SourceRow, ...]:
    """One row per intensity source, largest energy first."""
    rows = []
    for source, fig in by_source:
        provider, licence = describe_source(source)
        rows.append(SourceRow(source, fig.records, fig.energy_kwh, provider, licence))
    rows.sort(key=lambda r: (-r.energy_kwh, r.source or ""))
    return tuple(rows)


#: How the figures were computed; printed in every format.
METHODOLOGY: tuple[str, ...] = (
    "Records are selected by the time they were appended to the ledger, in [since, until) UTC; "
    "a record replaced by a correction is left out and the correction counted instead.",
    "Energy is facility energy: device energy (sum of each component's joules) times the PUE "
    "recorded with it, in kWh.",
    "Measured energy comes from hardware counters (RAPL, NVML, ...); estimated energy from power "
    "models (TDP x utilisation, memory models); each component's provenance is as recorded.",
    "Location-based Scope 2 (GHG Protocol Scope 2 Guidance, WRI/WBCSD 2015, ch. 6): energy x the "
    "grid-average intensity recorded with each record (sources and licences are listed in the "
    "audit); every figure is the one stored in the record, never recomputed.",
    "Market-based Scope 2: a record's own contractual instrument where it has one, else the "
    "zone's contractual factor from the market factor file (supplier-specific or residual "
    "mix); with no factor for some energy the market-based total is reported as not available, "
    "never filled in with a grid average.",
    "Scheduler savings compare, per planned job, the plan's forecast intensity at its chosen "
    "start with the same forecast for starting at once, weighted by run time; realised figures "
    "use the intensity of the hours the job actually ran.",
    "Tuning fronts are Pareto fronts over (objective metric, higher is better; facility energy, "
    "lower is better) of the trial records that carry their metric.",
    "Decisions are the ledger's decision records (gates, budgets, retraining), read by their "
    "recorded fields; a gate verdict records the SHA-256 of every input it saw.",
    "Sums are computed by the database over the records as stored (SQL GROUP BY); totals are "
    "sums of those groups.",
)
