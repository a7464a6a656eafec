"""Steps 1-4 of ``make demo``: measure a training run, plan it green, tune, compress and cascade."""

from __future__ import annotations

import pickle
import warnings
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from lowcarb.compression import (
    Cascade,
    CompressionReport,
    OperatingPoint,
    compress,
    export,
    fit_cascade,
    measure_stage_energy,
    save_cascade,
)
from lowcarb.grid import Footprint
from lowcarb.integrations._demo_common import PROJECT, RETRAIN_COMMAND, TEAM, DemoContext
from lowcarb.ledger import Attribution, RecordDraft, open_ledger
from lowcarb.profiling import ProfileSettings, load_model
from lowcarb.scheduling import JobSpec, Plan, ProfileSource, plan_from_source
from lowcarb.tuning import EnergyBudget, TuneResult, load_space, tune

__all__ = [
    "TUNE_SPACE",
    "Compressed",
    "Trained",
    "Tuned",
    "compress_and_cascade",
    "describe_footprint",
    "measure_training",
    "plan_green",
    "tune_under_budget",
]

FOREST, MLP = "digits-forest", "digits-mlp"

#: The search space of step 3 (written to ``space.yaml``, so ``lowcarb tune`` can rerun it):
#: a one-layer MLP's width and learning rate, every trial scored by validation accuracy and by
#: the energy of 1,000 predictions of its ONNX export.
TUNE_SPACE = """\
estimator: mlp
dataset: digits
metric: accuracy
test_size: 0.2
validation_size: 0.2
seed: 0
params:
  hidden_width: {type: int, low: 16, high: 128, log: true}
  learning_rate_init: {type: float, low: 1.0e-3, high: 3.0e-2, log: true}
objectives: [metric, inference_energy]
max_steps: 30
patience: 4
"""


def describe_footprint(fp: Footprint, *, sources: bool = False) -> str:
    """``2.9 J estimated x 530 gCO2e/kWh (DE, profile:..., estimated) = 0.00043 gCO2e``: a
    footprint with the provenance of each figure (and each meter's source with ``sources``)."""
    m = fp.measurement
    by = ""
    if sources:
        by = " (" + ", ".join(f"{c.name} {c.source}" for c in m.components if c.energy_j > 0) + ")"
    i = fp.intensity
    return (
        f"{m.energy_j * fp.pue:.3g} J {m.method}{by} x {i.intensity_g_per_kwh:.0f} gCO2e/kWh "
        f"({i.zone}, {i.source}, {i.kind}) = {fp.co2e_g:.3g} gCO2e"
    )


# -- 1. measure ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Trained:
    """Step 1: the fitted forest, its footprint and its ledger record."""

    model: Any
    accuracy: float
    footprint: Footprint
    record_id: str | None


def measure_training(ctx: DemoContext) -> Trained:
    """Train a random forest on the digits under a Tracker; the footprint goes to the ledger."""
    from sklearn.ensemble import RandomForestClassifier

    d, trees = ctx.data, ctx.settings.forest_trees
    model = RandomForestClassifier(n_estimators=trees, random_state=0, n_jobs=1)
    # metadata.command: the monitoring step's retrain policy finds this run by its command.
    tracker = ctx.tracker(
        "demo-train", model=FOREST, stage="training", metadata={"command": list(RETRAIN_COMMAND)}
    )
    with tracker:
        model.fit(d.x_train, d.y_train)
    fp = tracker.footprint
    if fp is None:  # stop() always sets it; a None here is a bug, not bad input
        raise RuntimeError("the Tracker stopped without a footprint")
    accuracy = float(model.score(d.x_test, d.y_test))
    recorded = (
        "one run record in the ledger"
        if tracker.ledger_error is None
        else f"NOT recorded: {tracker.ledger_error}"
    )
    ctx.say(
        "1 measure",
        f"RandomForest({trees} trees) trained on {len(d.x_train)} digits in "
        f"{fp.measurement.duration_s:.2f} s, held-out accuracy {accuracy:.3f}",
        describe_footprint(fp, sources=True) + f"; {recorded}",
    )
    return Trained(model, accuracy, fp, tracker.record_id)


# -- 2. plan ---------------------------------------------------------------------------------
def plan_green(ctx: DemoContext, trained: Trained, *, deadline_h: float = 24.0) -> Plan:
    """Plan the next run of the same training for the lowest-carbon window within a deadline.

    The job is the measured run: its duration and its average power (energy / duration), so the
    plan's grams are the run's. Forecasts come from the embedded month x hour-of-day profile
    (:class:`lowcarb.scheduling.ProfileSource`: offline, estimated). The plan is recorded as a
    ``schedule`` record.
    """
    m = trained.footprint.measurement
    now = ctx.settings.clock()
    duration_s = max(m.duration_s, 0.001)
    power_w = m.energy_j * trained.footprint.pue / duration_s
    spec = JobSpec(
        duration_h=duration_s / 3600.0, deadline=now + timedelta(hours=deadline_h), power_w=power_w
    )
    plan = plan_from_source(spec, [ctx.zone], ProfileSource(), now=now)
    with open_ledger(ctx.ledger_url, environ=ctx.settings.env) as ledger:
        ledger.append(
            RecordDraft(
                kind="schedule",
                attribution=Attribution(team=TEAM, project=PROJECT, model=FOREST, stage="training"),
                metadata={"plan": plan.to_dict(), "job": "retrain " + FOREST},
            )
        )
    saved = (plan.now_co2e_g or 0.0) - (plan.expected_co2e_g or 0.0)
    ctx.say(
        "2 plan",
        f"the next run ({duration_s:.2f} s at {power_w:.1f} W), due within {deadline_h:g} h: "
        f"start {plan.start:%Y-%m-%d %H:%M}Z in {plan.zone} "
        f"(wait {plan.wait.total_seconds() / 3600:.1f} h)",
        f"{plan.expected_intensity_g_per_kwh:.0f} vs {plan.now_intensity_g_per_kwh:.0f} gCO2e/kWh "
        f"now ({plan.forecast_model}, estimated): {plan.expected_savings_pct:.1f}% less CO2e, "
        f"{saved:.2g} g saved per run; one schedule record",
    )
    return plan


# -- 3. tune ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tuned:
    """Step 3: the search's result and the best MLP refitted on the demo's training split."""

    result: TuneResult
    model: Any
    params: dict[str, Any]
    accuracy: float


def _mlp(params: dict[str, Any], max_steps: int) -> Any:
    # As the tuning trials build it: standardised features, then the MLP (seeded).
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    width = int(params.get("hidden_width", 64))
    mlp = MLPClassifier(
        hidden_layer_sizes=(width,) * int(params.get("hidden_layers", 1)),
        learning_rate_init=float(params.get("learning_rate_init", 1e-3)),
        max_iter=max_steps,
        random_state=0,
    )
    return make_pipeline(StandardScaler(), mlp)


def tune_under_budget(ctx: DemoContext, *, max_steps: int = 30) -> Tuned:
    """Search :data:`TUNE_SPACE` under a hard energy budget; refit the best under a Tracker."""
    from sklearn.exceptions import ConvergenceWarning

    space_path = ctx.workdir / "space.yaml"
    space_path.write_text(TUNE_SPACE, encoding="utf-8")
    budget_kwh = ctx.settings.tune_budget_kwh
    space = load_space(space_path)
    result = tune(
        space,
        budget=EnergyBudget.of(kwh=budget_kwh),
        study_name="demo-digits-mlp",
        zone=ctx.zone,
        ledger=ctx.ledger_url,
        seed=0,
        environ=ctx.settings.env,
    )
    if result.best is None:
        raise RuntimeError(f"the search completed no trial within {budget_kwh:g} kWh")
    params = dict(result.best["params"])
    model = _mlp(params, max_steps)
    d = ctx.data
    with ctx.tracker("demo-train-mlp", model=MLP, stage="training") as tracker:
        # The search stops each MLP after a few epochs too: this refit matches its trials.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(d.x_train, d.y_train)
    accuracy = float(model.score(d.x_test, d.y_test))
    counts = ", ".join(f"{n} {state}" for state, n in sorted(result.trials.items()) if n)
    searched = {p.name for p in space.params}
    shown = ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in params.items()
        if k in searched
    )
    fp = tracker.footprint
    ctx.say(
        "3 tune",
        f"MLP search on digits: {sum(result.trials.values())} trials ({counts}), "
        f"{result.spent:.3g} of {budget_kwh:.3g} kWh spent ({'/'.join(result.energy_methods)}); "
        f"stopped: {result.stopped_reason}; Pareto front of {len(result.pareto)} (accuracy vs "
        "J per 1k); a trial record each",
        f"best trial {result.best['trial']}: validation accuracy {result.best['value']:.3f} "
        f"({shown}); refit on the demo split: held-out accuracy {accuracy:.3f}, "
        + (
            "energy unknown"
            if fp is None
            else f"{fp.measurement.energy_j:.3g} J {fp.measurement.method}"
        ),
    )
    return Tuned(result, model, params, accuracy)


# -- 4. compress and cascade -----------------------------------------------------------------
@dataclass(frozen=True)
class Compressed:
    """Step 4: the compression report, the served ONNX file, profile files, and the cascade."""

    report: CompressionReport
    onnx_path: Path
    method: str
    cascade: Cascade
    cascade_path: Path


def _profile_settings(energy_s: float) -> ProfileSettings:
    return ProfileSettings(
        latency_calls=100,
        latency_max_s=energy_s,
        warmup_calls=3,
        energy_min_inferences=200,
        energy_min_duration_s=energy_s,
        energy_max_duration_s=energy_s * 2,
    )


def compress_and_cascade(ctx: DemoContext, trained: Trained, tuned: Tuned) -> Compressed:
    """Compress the tuned MLP (``auto``: every method, judged by the default policy), then fit a
    cascade: the compressed MLP first, the step-1 forest (ONNX) for the requests it is unsure of.
    """
    d, s, work = ctx.data, ctx.settings, ctx.workdir
    pickled = pickle.dumps(tuned.model, protocol=pickle.HIGHEST_PROTOCOL)
    (work / "mlp.pkl").write_bytes(pickled)
    out = work / "mlp.compressed.onnx"
    report = compress(
        tuned.model,
        x_calibration=d.x_val,
        x_eval=d.x_test,
        y_eval=d.y_test,
        name=MLP,
        size_bytes=len(pickled),
        method="auto",
        output=out,
        settings=_profile_settings(s.energy_seconds),
        zone=ctx.zone,
        environ=s.env,
    )
    before, chosen = report.before, report.chosen
    passed = sum(1 for c in report.candidates if c.passed)
    failed = sum(1 for c in report.candidates if c.error is not None)
    tried = f"auto tried {len(report.candidates)} variants ({failed} could not be made)"
    if chosen is None or chosen.profile is None:
        # Nothing passed the policy: serve the plain ONNX export (no gain, but the story goes on).
        out.write_bytes(export(tuned.model, d.x_val[:64]).onnx_bytes)
        method = "onnx-fp32"
        ctx.say(
            "4 compress",
            f"{tried}; none passed policy {report.policy}: serving the plain ONNX export",
        )
    else:
        after, method = chosen.profile, chosen.method
        ctx.say(
            "4 compress",
            f"{tried}, {passed} passed policy {report.policy}; chose {method}",
            f"{before.size_bytes / after.size_bytes:.1f}x smaller ({after.size_bytes:,} B), "
            f"accuracy {100 * (after.accuracy - before.accuracy):+.2f} pt, "
            f"{after.energy_per_1k_j:.3g} vs {before.energy_per_1k_j:.3g} J per 1k inferences "
            f"= {after.energy_per_1k_j / before.energy_per_1k_j:.2f}x the energy "
            f"({after.energy_method}) -> {out.name}",
        )
    cascade, cascade_path = _cascade(ctx, trained, out)
    return Compressed(report, out, method, cascade, cascade_path)


def _cascade(
    ctx: DemoContext, trained: Trained, small: Path, *, loss_pts: float = 1.0
) -> tuple[Cascade, Path]:
    d, s, work = ctx.data, ctx.settings, ctx.workdir
    large = work / "forest.onnx"
    large.write_bytes(export(trained.model, d.x_train[:64]).onnx_bytes)
    stages = [(small, load_model(small)[0]), (large, load_model(large)[0])]
    # Twice the profiles' window: a stage's joules are the cascade's only cost model.
    stats = [
        measure_stage_energy(
            model,
            d.x_val,
            meters=s.meters,
            environ=s.env,
            min_duration_s=2 * s.energy_seconds,
            max_duration_s=4 * s.energy_seconds,
        )
        for _, model in stages
    ]
    cascade = fit_cascade(
        stages,
        d.x_val,
        d.y_val,
        max_accuracy_loss_pts=loss_pts,
        energy_per_1k_j=[st.energy_per_1k_j for st in stats],
        energy_method=[st.method for st in stats],
        dataset=f"digits validation split ({len(d.x_val)} rows)",
    )
    path = work / "cascade.json"
    save_cascade(path, cascade)
    forest_j = cascade.stages[-1].energy_per_1k_j

    def point(p: OperatingPoint) -> str:
        return (
            f"the MLP answers {100 * p.share_per_stage[0]:.0f}%, {p.energy_per_1k_j:.3g} J per 1k "
            f"= {100 * p.energy_per_1k_j / forest_j:.0f}% of the forest's {forest_j:.3g} J "
            f"({cascade.energy_method}), validation accuracy {p.accuracy:.3f}"
        )

    fitted = cascade.fitted
    cheapest = min(cascade.points, key=lambda p: p.energy_per_1k_j)
    verdict = "pays" if fitted.energy_per_1k_j < forest_j else "does not pay here (serve one model)"
    ctx.say(
        "  cascade",
        f"compressed MLP -> forest (ONNX) within {loss_pts:g} pt of the forest's "
        f"{cascade.fitted_on.largest_accuracy:.3f} (validation loss + 2 SE): {point(fitted)}; "
        f"it {verdict}",
        f"for a dirty grid, point {cheapest.name}: {point(cheapest)} -> {path.name}",
    )
    return cascade, path
