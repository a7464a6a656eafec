"""lowcarb.scheduling: when and where work runs (see DESIGN.md).

* Planning: :func:`plan_job` (one zone: best contiguous window, or the cheapest slots of an
  interruptible job with a minimum chunk and a per-resume overhead), :func:`plan_spatial`
  (several zones, with penalties and an allowed list), :func:`plan_from_source` (forecasts from
  an :class:`lowcarb.grid.IntensitySource`, with a labelled, deadline-safe fallback). Deadlines
  are hard: every plan finishes by the deadline.
* The array core: :func:`window_costs`, :func:`best_window`, :func:`best_slots`,
  :func:`work_weights`, pure numpy over equally spaced slots.
* Forecasts come from :mod:`lowcarb.grid` (:class:`lowcarb.grid.Forecaster`, the one
  forecasting interface, and its registry :func:`lowcarb.grid.make_forecaster`).
* Policies (:class:`SchedulingPolicy`) and backtests: :class:`RunNow`, :class:`Threshold`,
  :class:`ForecastWindow`, :class:`RollingReplan`, :class:`OraclePolicy`; :func:`backtest_workload`,
  :func:`backtest_jobs`.
* Regions: :func:`rank_regions` ranks cloud regions by their grid's intensity, now or over a
  forecast window (``lowcarb regions rank``, Terraform's ``external`` data source).
* :func:`build_job_spec`: the one builder of a :class:`JobSpec` from user input (``lowcarb plan``
  and ``lowcarb submit``).

The job store and its worker live in :mod:`lowcarb.jobs`, which builds on this package.
"""

from lowcarb.scheduling._backtest import (
    PolicyResult,
    Workload,
    ZoneBacktest,
    backtest_jobs,
    backtest_workload,
    history_needed,
)
from lowcarb.scheduling._planner import (
    FallbackMode,
    build_job_spec,
    check_feasible,
    fallback_plan,
    plan_job,
    plan_spatial,
)
from lowcarb.scheduling._policies import (
    ForecastWindow,
    OraclePolicy,
    RollingReplan,
    RunNow,
    SchedulingPolicy,
    SimEnv,
    SimJob,
    Threshold,
    realised_cost,
)
from lowcarb.scheduling._regions import RegionIntensity, RegionRanking, parse_regions, rank_regions
from lowcarb.scheduling._sourced import (
    OnForecastError,
    ProfileSource,
    ZoneSources,
    plan_from_source,
    zone_forecast,
)
from lowcarb.scheduling._types import JobSpec, Plan, Slot, ZoneForecast, ZoneOption
from lowcarb.scheduling._window import best_slots, best_window, window_costs, work_weights
from lowcarb.scheduling._workload import (
    POLICY_NAMES,
    Submission,
    load_workload,
    make_policies,
    to_sim_jobs,
)

__all__ = [
    "POLICY_NAMES",
    "FallbackMode",
    "ForecastWindow",
    "JobSpec",
    "OnForecastError",
    "OraclePolicy",
    "Plan",
    "PolicyResult",
    "ProfileSource",
    "RegionIntensity",
    "RegionRanking",
    "RollingReplan",
    "RunNow",
    "SchedulingPolicy",
    "SimEnv",
    "SimJob",
    "Slot",
    "Submission",
    "Threshold",
    "Workload",
    "ZoneBacktest",
    "ZoneForecast",
    "ZoneOption",
    "ZoneSources",
    "backtest_jobs",
    "backtest_workload",
    "best_slots",
    "best_window",
    "build_job_spec",
    "check_feasible",
    "fallback_plan",
    "history_needed",
    "load_workload",
    "make_policies",
    "parse_regions",
    "plan_from_source",
    "plan_job",
    "plan_spatial",
    "rank_regions",
    "realised_cost",
    "to_sim_jobs",
    "window_costs",
    "work_weights",
    "zone_forecast",
]
