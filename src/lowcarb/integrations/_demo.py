"""The governance part of ``make demo``: train two real models, profile them, gate one.

Offline and self-contained: scikit-learn's bundled handwritten-digits data (UCI optdigits test
set, 1,797 8x8 images), the static grid table, and a SQLite ledger. The baseline is a logistic
regression; the candidate a random forest, more accurate but heavier, gated under
:data:`DEMO_POLICY`. Training runs are recorded in the ledger by the Tracker, so the profiles'
training CO2e comes from there, and the verdict is recorded there too.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from lowcarb._text import safe
from lowcarb.energy import Meter
from lowcarb.governance import (
    GateOutcome,
    comparison_rows,
    comparison_table,
    gate_files,
    print_verdict,
)
from lowcarb.ledger import open_ledger
from lowcarb.profiling import Profile, ProfileSettings, profile_model, training_co2e
from lowcarb.tracking import Tracker, attribution

__all__ = ["DEMO_POLICY", "run_governance_demo"]

DEMO_POLICY = """\
# lowcarb demo policy: energy may rise 5% unless accuracy gains a full point; FLOPs 15%.
version: 1
name: demo
rules:
  max_energy_increase_pct: 5
  min_accuracy_gain_pts_to_exceed: 1.0
  max_flops_increase_pct: 15
  max_latency_p95_ms: 250
  max_training_co2e_kg: 1.0
budgets:
  - {team: demo, period: month, co2e_kg: 50, on_exceed: refuse}
"""

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
