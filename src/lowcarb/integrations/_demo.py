"""``make demo``: the whole story in eight steps, and the governance part on its own.

:func:`run_demo` measures a training run, plans it green, tunes under a budget, compresses and
cascades, gates the result, serves it metered, detects a drift and schedules the retrain, then
writes the report (a step the caller passes in: ``lowcarb.reporting`` is this layer's sibling)
and verifies the ledger. Every step writes to one SQLite ledger and prints what it decided and
what it saved, each figure labelled measured or estimated. The steps live in ``_demo_build``
(1-4) and ``_demo_ship`` (5-7).

:func:`run_governance_demo` trains two real models, profiles them and gates one: a logistic
regression baseline against a random forest, more accurate but heavier, under
:data:`DEMO_POLICY`. Training runs are recorded in the ledger by the Tracker, so the profiles'
training CO2e comes from there, and the verdict is recorded there too.

Offline and self-contained: scikit-learn's bundled handwritten-digits data (UCI optdigits test
set, 1,797 8x8 images), the embedded grid profile, and a SQLite ledger.
"""

from __future__ import annotations

import json
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from lowcarb._text import safe
from lowcarb.energy import Meter
from lowcarb.errors import UsageError
from lowcarb.governance import (
    GateOutcome,
    comparison_rows,
    comparison_table,
    gate_files,
    print_verdict,
)
from lowcarb.integrations._demo_common import DEMO_POLICY, DemoContext, DemoSettings, load_data
from lowcarb.ledger import open_ledger
from lowcarb.profiling import Profile, ProfileSettings, profile_model, training_co2e
from lowcarb.tracking import Tracker, attribution

if TYPE_CHECKING:
    # The steps load on first use: importing lowcarb.integrations (e.g. for its MLflow bridge)
    # must not import scikit-learn, SciPy, pandas or FastAPI.
    from lowcarb.integrations._demo_build import Compressed, Trained, Tuned
    from lowcarb.integrations._demo_ship import Served
    from lowcarb.ledger import VerifyResult
    from lowcarb.monitoring import CheckOutcome
    from lowcarb.scheduling import Plan

__all__ = [
    "DEMO_POLICY",
    "DemoContext",
    "DemoResult",
    "DemoSettings",
    "ReportStep",
    "run_demo",
    "run_governance_demo",
]

#: Step 8's first half, given by the caller: write the report from the context's ledger, print
#: its line, return what it wrote (``examples/demo.py`` passes one built on
#: ``lowcarb.reporting``, which this layer may not import).
ReportStep = Callable[[DemoContext], Any]

#: Everything the demo may write in its directory: a directory holding anything else is not
#: wiped (it is not the demo's).
_DEMO_FILES = frozenset(
    {
        "ledger.db",
        "ledger.db-journal",
        "ledger.db-wal",
        "ledger.db-shm",
        "space.yaml",
        "mlp.pkl",
        "mlp.compressed.onnx",
        "forest.onnx",
        "cascade.json",
        "profile-baseline.json",
        "profile-candidate.json",
        "policy.yaml",
        "reference.csv",
        "current.csv",
        "retrain-policy.yaml",
        "report.html",
        "report.md",
        "profile-1.json",
        "profile-2.json",
        "digits-classifier-1.pkl",
        "digits-classifier-2.pkl",
    }
)


@dataclass(frozen=True)
class DemoResult:
    """What each step of :func:`run_demo` returned, the ledger's verification and the wall time."""

    trained: Trained
    plan: Plan
    tuned: Tuned
    compressed: Compressed
    gate: GateOutcome | None
    served: Served
    retrain: CheckOutcome
    report: Any
    verify: VerifyResult
    wall_s: float


def _wipe(workdir: Path) -> None:
    if not workdir.exists():
        return
    if not workdir.is_dir():
        raise UsageError(f"demo directory {str(workdir)!r} is a file; give a directory")
    foreign = sorted(p.name for p in workdir.iterdir() if p.name not in _DEMO_FILES)
    if foreign:
        raise UsageError(
            f"demo directory {str(workdir)!r} holds {foreign[0]!r}, which the demo did not "
            "write; give an empty directory or the demo's own"
        )
    for p in workdir.iterdir():
        p.unlink()


def verify_ledger(ctx: DemoContext) -> VerifyResult:
    """Step 8's second half: verify the hash chain of everything the steps appended."""
    with open_ledger(ctx.ledger_url, environ=ctx.settings.env) as ledger:
        result = ledger.verify()
    ctx.console.print(
        f"ledger {safe(ctx.workdir / 'ledger.db')}: {result.entries} records, chain "
        f"{'valid' if result.ok else 'BROKEN: ' + safe(result.reason)}"
    )
    return result


def run_demo(
    console: Console,
    settings: DemoSettings | None = None,
    *,
    report: ReportStep | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> DemoResult:
    """Run the eight steps of ``make demo`` (see the module docstring).

    Args:
        console: Where every step prints.
        settings: Zone, directory, budgets and window lengths (defaults: about a minute).
        report: Step 8's report writer; None skips the report (the ledger is still verified).
        clock: Seconds clock for the wall time.

    Raises:
        UsageError: The directory holds files the demo did not write.
        LowcarbError: A step failed (the ledger keeps what the steps before it recorded).
    """
    from lowcarb.integrations._demo_build import (
        compress_and_cascade,
        measure_training,
        plan_green,
        tune_under_budget,
    )
    from lowcarb.integrations._demo_ship import (
        detect_and_retrain,
        gate_result,
        serve_metered,
    )

    s = settings or DemoSettings()
    t0 = clock()
    _wipe(s.workdir)
    s.workdir.mkdir(parents=True, exist_ok=True)
    started = s.clock()
    ctx = DemoContext(console, s, load_data(), started_at=started)
    console.rule(f"lowcarb demo: the whole story on embedded defaults, zone {s.zone}")
    trained = measure_training(ctx)
    plan = plan_green(ctx, trained)
    tuned = tune_under_budget(ctx)
    compressed = compress_and_cascade(ctx, trained, tuned)
    gate = gate_result(ctx, compressed)
    served = serve_metered(ctx, compressed)
    retrain = detect_and_retrain(ctx, compressed)
    written = report(ctx) if report is not None else None
    console.print(f"demo: 8 steps in {clock() - t0:.0f} s on embedded defaults (no network)")
    verify = verify_ledger(ctx)
    return DemoResult(
        trained, plan, tuned, compressed, gate, served, retrain, written, verify, clock() - t0
    )


_MODEL = "digits-classifier"


def _train(
    estimator: Any,
    version: str,
    data: tuple[Any, Any],
    *,
    ledger_url: str,
    zone: str,
    meters: Sequence[Meter] | None,
    workdir: Path,
) -> Path:
    tracker = Tracker(
        f"train-{_MODEL}-{version}",
        zone=zone,
        ledger=ledger_url,
        attribution=attribution(
            team="demo", project="digits", model=_MODEL, model_version=version, stage="training"
        ),
        meters=meters,
    )
    with tracker:
        estimator.fit(*data)
    path = workdir / f"{_MODEL}-{version}.pkl"
    path.write_bytes(pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL))
    return path


def run_governance_demo(
    console: Console,
    *,
    workdir: Path = Path(".lowcarb") / "governance-demo",
    zone: str = "DE",
    meters: Sequence[Meter] | None = None,
    energy_seconds: float = 2.0,
    n_estimators: int = 100,
) -> GateOutcome:
    """Train, profile and gate two digit classifiers; print the verdict and its reasons.

    Args:
        console: Where to print.
        workdir: Directory for the models, profiles, policy and ledger (created).
        zone: Grid zone to price energy in.
        meters: Meters for the Tracker (default: detected on this machine).
        energy_seconds: Minimum length of each energy window, s.
        n_estimators: Trees in the candidate random forest.

    Returns:
        The gate outcome (the verdict is also recorded in ``workdir/ledger.db``).
    """
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    workdir.mkdir(parents=True, exist_ok=True)
    ledger_url = f"sqlite:///{workdir / 'ledger.db'}"
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
    console.rule("lowcarb governance: profile two models and gate the second")
    candidates = (
        ("1", LogisticRegression(max_iter=2000)),
        ("2", RandomForestClassifier(n_estimators=n_estimators, random_state=0, n_jobs=1)),
    )
    paths: list[Path] = []
    profiles: list[Profile] = []
    settings = ProfileSettings(
        latency_calls=100,
        latency_max_s=energy_seconds,
        energy_min_duration_s=energy_seconds,
        energy_max_duration_s=energy_seconds * 1.5,
    )
    for version, estimator in candidates:
        path = _train(
            estimator,
            version,
            (x_train, y_train),
            ledger_url=ledger_url,
            zone=zone,
            meters=meters,
            workdir=workdir,
        )
        with open_ledger(ledger_url) as ledger:
            training = training_co2e(ledger, model=_MODEL, version=version)
        profile = profile_model(
            estimator,
            x_test,
            y_test,
            name=_MODEL,
            version=version,
            size_bytes=path.stat().st_size,
            settings=settings,
            zone=zone,
            meters=meters,
            training=training,
            team="demo",
            project="digits",
            dataset=f"sklearn digits, 25% held out ({len(x_test)} rows)",
        )
        out = workdir / f"profile-{version}.json"
        out.write_text(json.dumps(profile.to_dict(), indent=2) + "\n", encoding="utf-8")
        console.print(
            f"v{version} {type(estimator).__name__}: accuracy {profile.accuracy:.4f}, "
            f"{profile.energy_per_1k_j:.3g} J per 1k inferences ({profile.energy_method}), "
            f"FLOPs {'n/a' if profile.flops is None else format(profile.flops, '.4g')} "
            f"-> {safe(out)}"
        )
        paths.append(out)
        profiles.append(profile)
    console.print(comparison_table(comparison_rows(profiles), title="baseline vs candidate"))
    policy_path = workdir / "policy.yaml"
    policy_path.write_text(DEMO_POLICY, encoding="utf-8")
    outcome = gate_files(
        policy=policy_path, candidate=paths[1], baseline=paths[0], ledger_url=ledger_url
    )
    print_verdict(console, outcome)
    with open_ledger(ledger_url) as ledger:
        result = ledger.verify()
    console.print(
        f"ledger {safe(workdir / 'ledger.db')}: {result.entries} records, chain "
        f"{'valid' if result.ok else 'BROKEN: ' + safe(result.reason)}"
    )
    return outcome
