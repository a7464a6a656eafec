"""``make demo``: the whole story runs on a fresh directory, and its small pieces behave."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
import yaml
from rich.console import Console

from lowcarb.errors import UsageError
from lowcarb.governance import parse_policy
from lowcarb.integrations import _demo, _demo_build, _demo_common, _demo_ship
from lowcarb.jobs import open_job_store
from lowcarb.ledger import RecordFilter, open_ledger
from lowcarb.monitoring import parse_retrain_policy
from lowcarb.tuning import parse_space

ROOT = Path(__file__).resolve().parents[2]
HEADLINES = (
    "1 measure",
    "2 plan",
    "3 tune",
    "4 compress",
    "  cascade",
    "5 gate",
    "6 serve",
    "7 drift",
    "  retrain",
    "8 report",
)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_make_demo_tells_the_whole_story_and_the_ledger_verifies(tmp_path: Path) -> None:
    # As `make demo` runs it, in a fresh directory: no ledger, no config, no LOWCARB_* settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOWCARB_")}
    env["COLUMNS"] = "100"
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=590,
    )
    wall_s = time.monotonic() - t0
    print(f"make demo took {wall_s:.0f} s\n{proc.stdout}")  # shown with -s or on failure
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    starts = [next(i for i, ln in enumerate(lines) if ln.startswith(h)) for h in HEADLINES]
    assert starts == sorted(starts), "the steps print in order"
    assert "Traceback" not in proc.stderr
    # The bound: under 5 minutes on 2 cores.
    took = re.search(r"^demo: 8 steps in (\d+) s", proc.stdout, re.MULTILINE)
    assert took is not None and int(took.group(1)) < 300, proc.stdout[-500:]
    last = lines[-1]
    match = re.fullmatch(r"ledger \.lowcarb/demo/ledger\.db: (\d+) records, chain valid", last)
    assert match is not None, last

    work = tmp_path / ".lowcarb" / "demo"
    for name in (
        "mlp.compressed.onnx",
        "cascade.json",
        "profile-candidate.json",
        "policy.yaml",
        "reference.csv",
        "current.csv",
        "report.html",
        "report.md",
    ):
        assert (work / name).is_file(), name
    url = f"sqlite:///{work / 'ledger.db'}"
    with open_ledger(url) as ledger:
        result = ledger.verify()
        records = list(ledger.records())
        assert result.ok and result.entries == len(records) == int(match.group(1))
        stages = {(r.kind, r.attribution.stage) for r in records}
        assert {
            ("run", "training"),
            ("schedule", "training"),
            ("decision", "gate"),
            ("inference", "serving"),
            ("decision", "drift-check"),
            ("decision", "retrain"),
            ("schedule", "retrain"),
        } <= stages
        assert list(ledger.records(RecordFilter(kind="trial")))
    with open_job_store(url) as store:
        (job,) = store.list_jobs()
    assert job.state == "queued" and job.team == "demo"
    assert "<html" in (work / "report.html").read_text(encoding="utf-8").lower()


def test_a_second_run_starts_from_a_wiped_directory_but_never_wipes_a_foreign_one(
    tmp_path: Path,
) -> None:
    work = tmp_path / "demo"
    work.mkdir()
    (work / "ledger.db").write_bytes(b"old")
    (work / "report.md").write_text("old", encoding="utf-8")
    _demo._wipe(work)
    assert list(work.iterdir()) == []
    (work / "thesis.tex").write_text("mine", encoding="utf-8")
    with pytest.raises(UsageError, match=r"thesis\.tex"):
        _demo._wipe(work)
    assert (work / "thesis.tex").is_file()


def test_the_shift_moves_every_digit_one_pixel_right() -> None:
    image = np.arange(64, dtype=float).reshape(1, 64)
    shifted = _demo_ship.shift_right(image).reshape(8, 8)
    assert (shifted[:, 0] == 0).all()
    assert (shifted[:, 1:] == image.reshape(8, 8)[:, :-1]).all()


def test_the_policies_and_the_space_are_valid_and_name_the_zone() -> None:
    policy = parse_retrain_policy(_demo_ship.retrain_policy("FR"), source="test")
    job = policy.require_retrain().job
    assert job.zones == ("FR",)
    assert list(job.command) == list(_demo_common.RETRAIN_COMMAND)
    assert parse_policy(_demo_ship.SHIP_POLICY, source="test").name == "demo-ship"
    assert parse_policy(_demo_common.DEMO_POLICY, source="test").name == "demo"
    space = parse_space(yaml.safe_load(_demo_build.TUNE_SPACE), source="test")
    assert {p.name for p in space.params} == {"hidden_width", "learning_rate_init"}


def test_a_step_prints_its_label_then_wrapped_indented_lines() -> None:
    out = StringIO()
    ctx = _demo_common.DemoContext(
        Console(file=out, width=60, color_system=None),
        _demo_common.DemoSettings(),
        data=None,  # type: ignore[arg-type]  # say() reads no data
        started_at=_demo_common.DemoSettings().clock(),
    )
    ctx.say("3 tune", "word " * 20, "[bold]not markup[/bold]")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("3 tune     word")
    assert all(len(ln) <= 60 for ln in lines)
    assert all(ln.startswith(" " * 11) for ln in lines[1:])
    assert lines[-1] == " " * 11 + "[bold]not markup[/bold]"
