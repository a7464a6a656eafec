"""What every step of ``make demo`` shares: its settings, data, ledger, and how it prints.

The demo is a chain of small steps (``_demo_build``: measure, plan, tune, compress; ``_demo_ship``:
gate, serve, monitor); each takes the :class:`DemoContext` and the previous steps' results and
returns its own small result. Every step prints one to four lines: a headline that starts with
its number and name, what it decided, what it saved, and whether each figure was measured or
estimated (and by what).
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from lowcarb.energy import Meter
from lowcarb.tracking import Tracker, attribution

__all__ = [
    "DEMO_POLICY",
    "RETRAIN_COMMAND",
    "DemoContext",
    "DemoData",
    "DemoSettings",
    "load_data",
]

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

#: The retraining job the monitoring step queues: the training run of step 1 as a command, so
#: the retrain policy finds that run in the ledger (``metadata.command``) and takes its
#: footprint as the retrain's expected energy.
RETRAIN_COMMAND = (
    sys.executable,
    "-c",
    "from sklearn.datasets import load_digits; "
    "from sklearn.ensemble import RandomForestClassifier as F; "
    "F(n_estimators=300, random_state=0, n_jobs=1).fit(*load_digits(return_X_y=True))",
)

TEAM, PROJECT = "demo", "digits"
_WIDTH, _INDENT = 100, 11


@dataclass(frozen=True)
class DemoSettings:
    """How big and how long the demo is; the defaults take about a minute on two cores.

    Attributes:
        zone: Grid zone every figure is priced in (the embedded 2022 profile, no network).
        workdir: Where the ledger, models, profiles and reports go (wiped at the start).
        energy_seconds: Length of each inference-energy window, s (profiles, cascade stages).
        forest_trees: Trees of the random forest trained in step 1.
        tune_budget_kwh: The hard energy budget of the hyperparameter search, kWh.
        requests: Requests sent to the served model.
        meters: Meters for every Tracker but the tuning trials' (default: detected here).
        environ: Environment for settings (``LOWCARB_*``; default ``os.environ``).
        clock: Now, timezone-aware (plans, the retrain decision and the report period).
    """

    zone: str = "DE"
    workdir: Path = Path(".lowcarb") / "demo"
    energy_seconds: float = 0.5
    forest_trees: int = 300
    tune_budget_kwh: float = 1.5e-5
    requests: int = 300
    meters: Sequence[Meter] | None = None
    environ: Mapping[str, str] | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def ledger_url(self) -> str:
        """The one SQLite ledger every step writes to."""
        return f"sqlite:///{self.workdir / 'ledger.db'}"

    @property
    def env(self) -> Mapping[str, str]:
        return os.environ if self.environ is None else self.environ


@dataclass(frozen=True)
class DemoData:
    """scikit-learn's bundled handwritten digits (UCI optdigits test set, 1,797 8x8 images,
    pixel values 0..16), split 60/20/20 with a fixed seed: train, validation, test."""

    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    x_test: Any
    y_test: Any


def load_data() -> DemoData:
    """The digits, split 60/20/20 (stratified, seed 0)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, random_state=0, stratify=y
    )
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=0, stratify=y_rest
    )
    return DemoData(x_train, y_train, x_val, y_val, x_test, y_test)


@dataclass(frozen=True)
class DemoContext:
    """The console, the settings and the data every step reads."""

    console: Console
    settings: DemoSettings
    data: DemoData
    started_at: datetime

    @property
    def workdir(self) -> Path:
        return self.settings.workdir

    @property
    def ledger_url(self) -> str:
        return self.settings.ledger_url

    @property
    def zone(self) -> str:
        return self.settings.zone

    def say(self, step: str, *lines: str) -> None:
        """Print a step's lines: the first after its label, the rest under it, each wrapped at
        100 columns (or the console's width) and indented under the label."""
        width = max(40, min(self.console.width, _WIDTH))
        for i, line in enumerate(lines):
            label = f"{step if i == 0 else '':<{_INDENT}}"
            wrapped = textwrap.wrap(line, width - _INDENT, break_on_hyphens=False) or [""]
            self.console.print(f"[bold]{escape(label)}[/bold]{escape(wrapped[0])}")
            for rest in wrapped[1:]:
                self.console.print(" " * _INDENT + escape(rest))

    def tracker(self, name: str, *, model: str, stage: str, **kwargs: Any) -> Tracker:
        """A Tracker that appends to the demo's ledger, charged to team demo, project digits."""
        return Tracker(
            name,
            zone=self.zone,
            ledger=self.ledger_url,
            attribution=attribution(
                team=TEAM, project=PROJECT, model=model, model_version="1", stage=stage
            ),
            meters=self.settings.meters,
            environ=self.settings.env,
            **kwargs,
        )
