"""Steps 5-7 of ``make demo``: gate the compressed model, serve it metered, watch it drift."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lowcarb.governance import GateInput, GateOutcome, gate_files
from lowcarb.integrations._demo_build import MLP, Compressed
from lowcarb.integrations._demo_common import (
    PROJECT,
    RETRAIN_COMMAND,
    TEAM,
    DemoContext,
)
from lowcarb.jobs import open_job_store
from lowcarb.ledger import open_ledger
from lowcarb.monitoring import (
    CheckOutcome,
    DriftReport,
    RetrainMonitor,
    detect_drift,
    energy_from_metrics,
    fit_cbpe,
    parse_retrain_policy,
    read_window,
    realised_performance,
)
from lowcarb.profiling import load_model, sha256_hex, training_co2e
from lowcarb.scheduling import ProfileSource

__all__ = [
    "SHIP_POLICY",
    "Served",
    "detect_and_retrain",
    "gate_result",
    "retrain_policy",
    "serve_metered",
    "shift_right",
]


# -- 5. gate ---------------------------------------------------------------------------------
#: The policy step 5 gates the compressed model under. No FLOPs rule: FLOPs of quantized ONNX
#: operators are not counted, and an unknown figure fails its rule (the gate fails closed).
SHIP_POLICY = f"""\
# lowcarb demo: a compressed model ships when it is cheaper, at most 1 point less accurate,
# fast and small, and its training stayed within a gram; team {TEAM} may emit 1 kg a month.
version: 1
name: demo-ship
rules:
  max_energy_increase_pct: 0
  max_accuracy_drop_pts: 1.0
  max_latency_p95_ms: 50
  max_size_bytes: 1000000
  max_training_co2e_kg: 0.001
budgets:
  - {{team: {TEAM}, period: month, co2e_kg: 1, on_exceed: refuse}}
"""


def gate_result(ctx: DemoContext, compressed: Compressed) -> GateOutcome | None:
    """Gate the compressed model against the original under :data:`SHIP_POLICY`.

    Both profiles carry the training CO2e of the refitted MLP from the ledger (the compressed
    model's weights come from that run). The profiles and the policy are written to files and
    gated by :func:`lowcarb.governance.gate_files`, so the ``decision`` record carries their
    SHA-256 and ``lowcarb gate`` gives the same verdict on the same files.
    """
    report, work = compressed.report, ctx.workdir
    chosen = report.chosen
    if chosen is None or chosen.profile is None:
        ctx.say("5 gate", "nothing to gate: no compressed variant passed")
        return None
    with open_ledger(ctx.ledger_url, environ=ctx.settings.env) as ledger:
        training = training_co2e(ledger, model=MLP, version="1")
    paths = {}
    for role, profile in (("baseline", report.before), ("candidate", chosen.profile)):
        paths[role] = work / f"profile-{role}.json"
        data = profile.to_dict()
        data["training_co2e_kg"] = training.co2e_kg
        data["training_co2e_source"] = f"{training.source} ({MLP}@1)"
        data["training_records"] = training.records
        paths[role].write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    policy = work / "policy.yaml"
    policy.write_text(SHIP_POLICY, encoding="utf-8")
    outcome = gate_files(
        policy=policy,
        candidate=paths["candidate"],
        baseline=paths["baseline"],
        ledger_url=ctx.ledger_url,
        team=TEAM,
        project=PROJECT,
        environ=ctx.settings.env,
    )
    v = outcome.verdict
    counts: dict[str, int] = {}
    for c in v.checks:
        counts[c.status] = counts.get(c.status, 0) + 1
    shown = [c for c in v.checks if c.status != "pass"] or [
        c for c in v.checks if c.rule in ("max_energy_increase_pct", "max_accuracy_drop_pts")
    ]
    base = "-" if v.baseline is None else f"{v.baseline.model}@{v.baseline.version}"
    ctx.say(
        "5 gate",
        f"{v.decision.upper()} {v.candidate.model}@{v.candidate.version} against {base} "
        f"(policy {v.policy_name}): "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        + "; one decision record with the inputs' SHA-256",
        *[f"{c.rule}: {c.message}" for c in shown[:2]],
    )
    return outcome


# -- 6. serve --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Served:
    """Step 6: what the served model answered and what ``/metrics`` said it cost."""

    requests: int
    ok: int
    accuracy: float
    energy_per_1k_j: float
    energy_method: str
    co2e_g: float
    metrics: str


def _metric_sum(text: str, name: str, model: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and s.labels.get("model") == model
    )


async def _session(app: Any, rows: Any, n: int) -> tuple[list[Any], list[float], str]:
    """``n`` one-row requests through the app's own lifespan, then its ``/metrics`` page."""
    import httpx

    answers: list[Any] = []
    latencies: list[float] = []
    async with app.router.lifespan_context(app):  # starts the meter and the batcher
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            for i in range(n):
                t0 = time.perf_counter()
                r = await client.post("/predict", json={"rows": [rows[i % len(rows)].tolist()]})
                latencies.append(time.perf_counter() - t0)
                answers.append(r.json()["predictions"][0] if r.status_code == 200 else None)
            text = (await client.get("/metrics")).text
    return answers, latencies, text


def serve_metered(ctx: DemoContext, compressed: Compressed) -> Served:
    """Serve the compressed ONNX model with ``lowcarb serve``'s app, in process (no port).

    Requests go through httpx's ASGI transport to the real app (validation, micro-batcher,
    metering); each batch's energy is the process's Tracker reading before and after it, and
    ``/metrics`` is read back at the end. The serving session is also one ``inference`` record
    in the ledger (the process's energy, client included: an upper bound).
    """
    from lowcarb.serving import ServeConfig, TrackerEnergy, create_app, load_served_model

    d, s = ctx.data, ctx.settings
    served = load_served_model(compressed.onnx_path, name=MLP)
    energy = TrackerEnergy(zone=ctx.zone, environ=s.env, meters=s.meters)
    app = create_app(served, config=ServeConfig(batch_wait_ms=0.5), energy=energy)
    n = s.requests
    with ctx.tracker("demo-serve", model=MLP, stage="serving", kind="inference") as tracker:
        answers, latencies, text = asyncio.run(_session(app, d.x_test, n))
    ok = sum(1 for a in answers if a is not None)
    right = sum(1 for i, a in enumerate(answers) if a == int(d.y_test[i % len(d.y_test)]))
    figure = energy_from_metrics(text, model=MLP, location="/metrics")
    co2e_g = _metric_sum(text, "lowcarb_co2e_grams_total", MLP)
    session = tracker.footprint
    ctx.say(
        "6 serve",
        f"{n} requests to `lowcarb serve`'s app in process: {ok} answered, accuracy "
        f"{right / max(ok, 1):.3f}, median {statistics.median(latencies) * 1000:.1f} ms",
        f"/metrics: {figure.energy_per_1k_j:.3g} J per 1k requests ({figure.method}: the "
        f"process's energy during each batch), {co2e_g:.3g} gCO2e in all; the session "
        + ("-" if session is None else f"{session.measurement.energy_j:.3g} J")
        + " (client included) as one inference record",
    )
    return Served(n, ok, right / max(ok, 1), figure.energy_per_1k_j, figure.method, co2e_g, text)


# -- 7. monitor ------------------------------------------------------------------------------
def retrain_policy(zone: str) -> str:
    """The retraining policy of step 7 (YAML): retrain when a fifth of the pixels drift or the
    accuracy estimated without labels falls 2 points, if a point of accuracy costs at most a Wh
    (1,000 points per kWh), at most once a day, starting within 24 h in the greenest window.
    The job is step 1's training as a command (:data:`RETRAIN_COMMAND`)."""
    return f"""\
version: 1
name: digits-retrain
retrain:
  drift:
    max_drift_share: 0.2
  performance:
    max_drop_pts: 2.0
    method: cbpe
  min_gain_pts_per_kwh: 1000
  cooldown: 1d
  deadline: 24h
  job:
    command: {json.dumps(list(RETRAIN_COMMAND))}
    duration: 10m
    zone: {zone}
    team: {TEAM}
    project: {PROJECT}
    model: digits-forest
"""


def shift_right(x: Any) -> Any:
    """The documented shift: every 8x8 digit moved one pixel to the right (a scanner whose
    paper guide slipped). Column 0 becomes blank; the rightmost column falls off."""
    images = np.asarray(x, dtype=float).reshape(-1, 8, 8)
    out = np.zeros_like(images)
    out[:, :, 1:] = images[:, :, :-1]
    return out.reshape(len(images), 64)


_PIXELS = [f"px{r}{c}" for r in range(8) for c in range(8)]


def _write_window(path: Path, x: Any) -> None:
    # Whole pixel values (0..16), one column per pixel: `lowcarb monitor check` reads the files.
    header = ",".join(_PIXELS)
    np.savetxt(path, np.asarray(x), fmt="%g", delimiter=",", header=header, comments="")


def detect_and_retrain(ctx: DemoContext, compressed: Compressed) -> CheckOutcome:
    """Compare a shifted current window with the reference; the retrain policy decides.

    Reference: the validation digits. Current: the test digits through :func:`shift_right`.
    The served model's accuracy on the current window is estimated without labels by CBPE
    (fitted on its reference scores) and, since the demo has the labels, also realised.
    :class:`lowcarb.monitoring.RetrainMonitor` decides, queues the retrain in the job store in
    the ledger's database for the greenest window within the deadline, and records all of it.
    """
    d, work = ctx.data, ctx.workdir
    model = load_model(compressed.onnx_path)[0]
    reference, current = d.x_val, shift_right(d.x_test)
    paths: dict[str, Path] = {}
    for role, x in (("reference", reference), ("current", current)):
        paths[role] = work / f"{role}.csv"
        _write_window(paths[role], x)
    cbpe = fit_cbpe(model.predict_proba(reference), d.y_val)
    estimate = cbpe.estimate(model.predict_proba(current))
    realised = realised_performance(d.y_test, model.predict(current))
    report: DriftReport = detect_drift(
        read_window(paths["reference"], what="reference window"),
        read_window(paths["current"], what="current window"),
        performance=estimate,
    )
    text = retrain_policy(ctx.zone)
    (work / "retrain-policy.yaml").write_text(text, encoding="utf-8")
    policy = parse_retrain_policy(text, source="retrain-policy.yaml")
    inputs = [GateInput(r, str(p), sha256_hex(p.read_bytes())) for r, p in paths.items()]
    now = ctx.settings.clock()
    with (
        open_ledger(ctx.ledger_url, environ=ctx.settings.env) as ledger,
        open_job_store(ctx.ledger_url, environ=ctx.settings.env) as store,
    ):
        monitor = RetrainMonitor(
            policy, ledger=ledger, store=store, source=ProfileSource(), inputs=inputs
        )
        outcome = monitor.check(report, now=now)
    statistic = report.features[0].statistic if report.features else "-"
    ctx.say(
        "7 drift",
        f"test digits shifted one pixel right vs the validation digits: {len(report.drifted)} of "
        f"{len(report.features)} pixels drifted ({statistic}): "
        f"{'dataset drift' if report.drift else 'no dataset drift'}",
        f"the served model's accuracy estimated without labels (CBPE): {estimate.value:.3f} vs "
        f"{estimate.reference_value or 0:.3f} ({-(estimate.drop_pts or 0):+.1f} pts); realised "
        f"with the labels: {realised.value:.3f} (CBPE trusts the model's confidence, and the "
        "shift makes it confidently wrong)",
    )
    _say_retrain(ctx, outcome)
    return outcome


def _say_retrain(ctx: DemoContext, outcome: CheckOutcome) -> None:
    dec, job = outcome.decision, outcome.job
    gain = "unknown" if dec.expected_gain_pts is None else f"{dec.expected_gain_pts:.1f} pts"
    energy = (
        "an unknown energy"
        if dec.expected_energy_kwh is None
        else f"{dec.expected_energy_kwh:.3g} kWh ({dec.energy_method}, step 1's run in the ledger)"
    )
    ratio = (
        ""
        if dec.gain_pts_per_kwh is None
        else f" = {dec.gain_pts_per_kwh:.3g} pts/kWh (policy: at least "
        f"{dec.min_gain_pts_per_kwh or 0:g})"
    )
    lines = [
        f"decision {dec.status} (triggers: {', '.join(dec.triggers) or 'none'}): {gain} for "
        f"{energy}{ratio}"
    ]
    if job is not None:
        p = job.plan
        lines.append(
            f"queued job {job.id[:12]} for {p.start:%Y-%m-%d %H:%M}Z in {p.zone}: "
            f"{p.expected_intensity_g_per_kwh:.0f} vs {p.now_intensity_g_per_kwh:.0f} gCO2e/kWh "
            f"now ({p.expected_savings_pct:.1f}% less, estimated); `lowcarb worker` runs it; "
            f"{len(outcome.record_ids)} records (check, decision, job)"
        )
    ctx.say("  retrain", *lines)
