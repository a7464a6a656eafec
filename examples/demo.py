"""lowcarb end-to-end demo (``make demo``): measure a real training run, then gate a new model.

Everything runs offline on embedded defaults: scikit-learn's bundled handwritten-digits data,
the static grid-intensity table shipped with lowcarb, and a SQLite ledger in
``.lowcarb/demo/ledger.db``.
Set ``LOWCARB_ZONE`` to price the run for your grid (default here: DE).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rich.console import Console
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

from lowcarb import Tracker
from lowcarb.reporting import format_energy, print_footprint
from lowcarb.tracking import attribution, footprint_to_dict


def main() -> None:
    console = Console(highlight=False)
    zone = os.environ.get("LOWCARB_ZONE", "DE")
    workdir = Path(".lowcarb") / "demo"
    ledger_path = workdir / "ledger.db"  # the governance part appends its verdict here too
    workdir.mkdir(parents=True, exist_ok=True)
    ledger_url = f"sqlite:///{ledger_path}"
    console.rule("lowcarb demo: measure a real training run")
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    tracker = Tracker(
        "demo-train",
        zone=zone,
        pue=1.2,
        ledger=ledger_url,
        attribution=attribution(
            team="demo", project="digits", model="random-forest", model_version="1"
        ),
    )
    with tracker:
        with tracker.window("train"):
            t0 = time.perf_counter()
            model = RandomForestClassifier(n_estimators=400, random_state=0, n_jobs=1)
            model.fit(X_train, y_train)
            fit_s = time.perf_counter() - t0
        with tracker.window("evaluate"):
            accuracy = float(model.score(X_test, y_test))
    assert tracker.footprint is not None
    console.print(
        f"trained RandomForest(400 trees) on {len(X_train)} digits in {fit_s:.1f} s; "
        f"held-out accuracy {accuracy:.3f}"
    )
    out = footprint_to_dict(tracker.footprint)
    out["record_id"] = tracker.record_id
    print_footprint(console, out, title="footprint of the training run")
    for name, m in tracker.windows.items():
        console.print(f"window {name:<9} {format_energy(m.energy_j)} over {m.duration_s:.2f} s")
    if tracker.ledger_error is not None:
        console.print(f"ledger error: {tracker.ledger_error}", style="red")
    else:
        from lowcarb.ledger import open_ledger

        with open_ledger(ledger_url) as ledger:
            result = ledger.verify()
        console.print(
            f"ledger {ledger_path}: {result.entries} records, chain "
            f"{'valid' if result.ok else 'BROKEN: ' + str(result.reason)}"
        )

    console.rule("lowcarb demo: gate a second model against the first")
    from lowcarb.integrations import run_governance_demo

    run_governance_demo(console, zone=zone, workdir=workdir)


if __name__ == "__main__":
    main()
