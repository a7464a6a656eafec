"""Build the wheel and sdist, install the wheel into clean virtual environments and smoke-test it.

What the editable checkout hides, this catches: package data left out of the wheel (the zone
tables, Alembic migrations, the Grafana dashboard), a dependency imported but not declared, an
extra whose packages do not cover what its modules import.

1. ``python -m build`` writes the sdist, then builds the wheel from the sdist (so the sdist must
   be complete too), into a temporary directory.
2. A fresh virtual environment gets ``pip install WHEEL`` (not editable). Every command runs from
   a temporary working directory outside the source tree, with no ``PYTHONPATH``, and the script
   checks that ``lowcarb`` is imported from the environment's site-packages.
3. The main commands run there: ``--version``, ``estimate``, ``run`` with a ledger, ``ledger
   verify``, ``plan``, ``intensity forecast``, ``zones``, ``gate``, ``regions rank``, ``k8s serve``;
   JSON outputs are parsed and their contract keys checked.
4. Each extra in ``--extras`` (default :data:`EXTRAS`) is installed alone (``WHEEL[extra]``) into a
   fresh environment, which must import its modules and resolve every public name (lazy names
   included), and run one command that needs the extra where one is cheap.

    .venv/bin/python scripts/wheel_smoke.py                    # everything (a few minutes)
    .venv/bin/python scripts/wheel_smoke.py --extras none      # the base wheel only
    .venv/bin/python scripts/wheel_smoke.py --extras serve,tune --keep

pip may reuse its download and wheel cache. Exit status 0 when every check passed, 1 otherwise;
each check is printed as it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: Extras installed and imported on their own. Edit when an extra is added to pyproject.toml.
#: (The dashboard has no extra of its own: it is in ``report``.)
EXTRAS: tuple[str, ...] = (
    "mlflow",
    "tune",
    "serve",
    "monitor",
    "report",
    "dashboard",
    "postgres",
    "k8s",
    "airflow",
)

#: Per extra: the lowcarb modules whose every public name must resolve, and third-party modules
#: the extra promises. An extra not listed here only has to install and import ``lowcarb``.
EXTRA_IMPORTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "mlflow": (("lowcarb.integrations.mlflow",), ("mlflow",)),
    "tune": (("lowcarb.tuning", "lowcarb.compression"), ("optuna", "sklearn", "onnxruntime")),
    "serve": (("lowcarb.serving",), ("fastapi", "uvicorn", "prometheus_client", "onnxruntime")),
    "monitor": (("lowcarb.monitoring",), ("scipy", "pandas", "pyarrow", "prometheus_client")),
    "report": (("lowcarb.reporting",), ("plotly", "fastapi", "uvicorn", "jinja2")),
    "dashboard": (("lowcarb.reporting.dashboard",), ("plotly", "fastapi", "uvicorn", "jinja2")),
    "postgres": (("lowcarb.ledger", "lowcarb.jobs"), ("psycopg",)),
    "k8s": (("lowcarb.integrations.k8s",), ("kubernetes",)),
    "airflow": (("lowcarb.integrations.airflow",), ("airflow",)),
}

POLICY = "rules: {max_energy_increase_pct: 5, min_accuracy_gain_pts_to_exceed: 1}\n"
PROFILE = {
    "model": "m",
    "version": "1",
    "accuracy": 0.9,
    "latency_p95_ms": 10.0,
    "energy_per_1k_j": 100.0,
    "energy_method": "estimated",
    "flops": 1000.0,
    "size_bytes": 1000,
    "training_co2e_kg": 0.1,
}


class SmokeError(Exception):
    """A check failed."""


@dataclass
class Env:
    """A clean virtual environment and a working directory outside the source tree."""

    venv: Path
    cwd: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def environ(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"} and not k.startswith("LOWCARB_")
        }
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["HOME"] = str(self.cwd)  # no user config file
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        return env

    def run(self, *argv: str, ok: tuple[int, ...] = (0,), timeout: float = 600) -> str:
        proc = subprocess.run(
            argv,
            cwd=self.cwd,
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode not in ok:
            raise SmokeError(
                f"{' '.join(argv)} exited {proc.returncode}\n{proc.stdout[-3000:]}"
                f"{proc.stderr[-3000:]}"
            )
        return proc.stdout

    def json(
        self, *argv: str, keys: tuple[str, ...] = (), ok: tuple[int, ...] = (0,)
    ) -> dict[str, Any]:
        out = self.run(*argv, ok=ok)
        try:
            obj = json.loads(out)
        except json.JSONDecodeError as exc:
            raise SmokeError(
                f"{' '.join(argv)}: stdout is not one JSON object: {out[:500]!r}"
            ) from exc
        missing = [k for k in keys if k not in obj]
        if missing:
            raise SmokeError(f"{' '.join(argv)}: JSON lacks {missing}")
        return obj


class Checks:
    """Runs named checks, records each line with its time, remembers failures.

    Output is kept in ``lines`` (printed at once when ``echo``), so checks of extras running in
    parallel print as blocks, not interleaved.
    """

    def __init__(self, *, echo: bool = False) -> None:
        self.failed: list[str] = []
        self.passed = 0
        self.lines: list[str] = []
        self.echo = echo

    def say(self, line: str) -> None:
        self.lines.append(line)
        if self.echo:
            print(line, flush=True)

    def check(self, name: str, fn: Callable[[], object]) -> bool:
        t0 = time.monotonic()
        try:
            fn()
        except (SmokeError, subprocess.SubprocessError, OSError) as exc:
            self.failed.append(name)
            self.say(f"FAIL {name} ({time.monotonic() - t0:.1f} s)\n     {exc}".rstrip())
            return False
        self.passed += 1
        self.say(f"ok   {name} ({time.monotonic() - t0:.1f} s)")
        return True

    def merge(self, other: Checks) -> None:
        self.failed += other.failed
        self.passed += other.passed
        for line in other.lines:
            self.say(line)


def build(outdir: Path) -> tuple[Path, Path]:
    """sdist, then the wheel built from it (``python -m build``)."""
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(outdir), str(ROOT)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wheels = sorted(outdir.glob("lowcarb-*.whl"))
    sdists = sorted(outdir.glob("lowcarb-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        raise SmokeError(f"expected one wheel and one sdist in {outdir}: {wheels + sdists}")
    return wheels[0], sdists[0]


def wheel_metadata(wheel: Path, field: str) -> list[str]:
    """The values of one field of the wheel's METADATA (``Version``, ``Provides-Extra``)."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(name).decode("utf-8")
    head = text.split("\n\n", 1)[0]  # the headers; the long description follows
    return [
        line.split(":", 1)[1].strip() for line in head.splitlines() if line.startswith(f"{field}:")
    ]


def declared_extras(wheel: Path) -> set[str]:
    """The extras the wheel's metadata declares (``Provides-Extra``)."""
    return set(wheel_metadata(wheel, "Provides-Extra"))


def make_env(base: Path, name: str, requirement: str) -> Env:
    venv = base / f"venv-{name}"
    cwd = base / f"work-{name}"
    cwd.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = Env(venv, cwd)
    env.run(str(env.bin / "python"), "-m", "pip", "install", "-q", "--no-compile", requirement)
    return env


def _check_site_packages(env: Env) -> None:
    where = env.run(str(env.bin / "python"), "-c", "import lowcarb; print(lowcarb.__file__)")
    path = Path(where.strip()).resolve()
    if not path.is_relative_to(env.venv.resolve()) or path.is_relative_to(ROOT):
        raise SmokeError(f"lowcarb was imported from {path}, not the environment's site-packages")


def base_job(base: Path, wheel: Path) -> Checks:
    """Install the wheel alone into a clean environment and run the main commands there."""
    checks = Checks()
    env_box: list[Env] = []
    if not checks.check(
        f"pip install {wheel.name} into a clean venv",
        lambda: env_box.append(make_env(base, "base", str(wheel))),
    ):
        return checks
    env = env_box[0]
    (version,) = wheel_metadata(wheel, "Version")  # with setuptools-scm, from the git tag
    ledger = f"sqlite:///{env.cwd / 'ledger.db'}"

    def version_() -> None:
        out = env.run("lowcarb", "--version").strip()
        if out != f"lowcarb {version}":
            raise SmokeError(f"lowcarb --version printed {out!r}, the wheel is {version}")

    def estimate() -> None:
        argv = ("lowcarb", "estimate", "--hardware", "A100", "--count", "8", "--hours", "24")
        keys = ("energy_kwh", "co2e_kg", "power_w_per_device", "pue", "intensity_g_per_kwh")
        env.json(*argv, "--zone", "FR", "--json", keys=keys)

    def run() -> None:
        argv = ("lowcarb", "run", "--zone", "DE", "--json", "--ledger", ledger)
        keys = ("duration_s", "energy_kwh", "co2e_g", "zone", "components", "record_id")
        obj = env.json(*argv, "--", "python", "-c", "pass", keys=keys)
        if obj["exit_code"] != 0:
            raise SmokeError(f"lowcarb run reported exit code {obj['exit_code']}")

    def verify() -> None:
        obj = env.json("lowcarb", "ledger", "verify", "--ledger", ledger, "--json", keys=("ok",))
        if obj["ok"] is not True or obj.get("entries") != 1:
            raise SmokeError(f"ledger verify: {obj}")

    def plan() -> None:
        argv = ("lowcarb", "plan", "--zone", "DE", "--duration", "1h", "--deadline", "12h")
        keys = ("zone", "start", "expected_intensity_g_per_kwh", "now_intensity_g_per_kwh")
        env.json(*argv, "--json", keys=keys)

    def forecast() -> None:
        argv = ("lowcarb", "intensity", "forecast", "--zone", "DE", "--json")
        obj = env.json(*argv, keys=("zone", "issued_at", "model", "points"))
        if len(obj["points"]) < 24:
            raise SmokeError(f"forecast has {len(obj['points'])} points, not 24")

    def gate() -> None:
        (env.cwd / "policy.yaml").write_text(POLICY)
        (env.cwd / "base.json").write_text(json.dumps(PROFILE))
        worse = {**PROFILE, "version": "2", "energy_per_1k_j": 200.0}
        (env.cwd / "cand.json").write_text(json.dumps(worse))
        argv = ("lowcarb", "gate", "--policy", "policy.yaml", "--baseline", "base.json")
        obj = env.json(*argv, "--candidate", "cand.json", "--json", keys=("decision",), ok=(1,))
        if obj["decision"] != "reject":
            raise SmokeError(f"gate on a 100% energy rise: {obj['decision']}")

    def regions() -> None:
        argv = ("lowcarb", "regions", "rank", "--candidates", "aws:eu-west-1,aws:eu-north-1")
        obj = env.json(*argv, "--json", keys=("region", "zone", "ranked"))
        if not all(isinstance(v, str) for v in obj.values()):
            raise SmokeError(f"regions rank --json values are not all strings: {obj}")

    def k8s() -> None:
        argv = ("lowcarb", "k8s", "serve", "m", "--image", "example/m:1")
        env.run(*argv, "--model", "/models/m.onnx")

    checks.check("lowcarb is imported from site-packages", lambda: _check_site_packages(env))
    checks.check("lowcarb --version", version_)
    checks.check("lowcarb estimate --json", estimate)
    checks.check("lowcarb run --json --ledger (migrations shipped)", run)
    checks.check("lowcarb ledger verify --json", verify)
    checks.check("lowcarb plan --json (zone profiles shipped)", plan)
    checks.check("lowcarb intensity forecast --json", forecast)
    checks.check("lowcarb zones", lambda: env.run("lowcarb", "zones"))
    checks.check("lowcarb gate --json (exit 1 on reject)", gate)
    checks.check("lowcarb regions rank --json (Terraform's protocol)", regions)
    checks.check("lowcarb k8s serve", k8s)
    checks.check("python -m lowcarb --help", lambda: env.run("python", "-m", "lowcarb", "--help"))
    return checks


_RESOLVE = """
import importlib, sys
for name in sys.argv[1].split(","):
    if not name:
        continue
    mod = importlib.import_module(name)
    for attr in getattr(mod, "__all__", ()):
        getattr(mod, attr)  # lazy names load their optional dependencies here
    print(name, len(getattr(mod, "__all__", ())), "names")
"""


def extra_job(base: Path, wheel: Path, extra: str) -> Checks:
    """Install ``WHEEL[extra]`` into its own fresh environment and check what the extra promises."""
    checks = Checks()
    env_box: list[Env] = []
    if not checks.check(
        f"pip install {wheel.name}[{extra}] into its own venv",
        lambda: env_box.append(make_env(base, extra, f"{wheel}[{extra}]")),
    ):
        return checks
    env = env_box[0]
    modules, third_party = EXTRA_IMPORTS.get(extra, ((), ()))
    names = ",".join(("lowcarb", *modules, *third_party))
    checks.check(f"[{extra}] lowcarb from site-packages", lambda: _check_site_packages(env))
    checks.check(
        f"[{extra}] import {names} (every public name)",
        lambda: env.run("python", "-c", _RESOLVE, names),
    )
    if extra == "monitor":
        (env.cwd / "ref.csv").write_text("x\n" + "".join(f"{i % 10}\n" for i in range(200)))
        (env.cwd / "cur.csv").write_text("x\n" + "".join(f"{i % 10 + 5}\n" for i in range(200)))
        argv = ("lowcarb", "monitor", "check", "ref.csv", "cur.csv", "--json")
        checks.check(
            "[monitor] lowcarb monitor check --json",
            lambda: env.json(*argv, keys=("drift", "features"), ok=(0, 1)),
        )
    if extra == "report":
        ledger = f"sqlite:///{env.cwd / 'ledger.db'}"

        def report() -> None:
            env.run("lowcarb", "run", "--zone", "FR", "--ledger", ledger, "--", "python", "-c", "")
            argv = ("lowcarb", "report", "--ledger", ledger, "--format", "html")
            env.run(*argv, "--output", "report.html")
            if b"<html" not in (env.cwd / "report.html").read_bytes()[:2000].lower():
                raise SmokeError("report.html is not an HTML page")

        checks.check("[report] lowcarb report --format html", report)
    shutil.rmtree(env.venv, ignore_errors=True)  # disk: mlflow's tree alone is large
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--extras",
        default=",".join(EXTRAS),
        help="comma-separated extras to install one by one ('none' for none; default: %(default)s)",
    )
    parser.add_argument("--wheel", type=Path, help="test this wheel instead of building one")
    parser.add_argument(
        "--jobs", type=int, default=3, help="extras installed at once (default %(default)s)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    extras = [e for e in args.extras.split(",") if e and e != "none"]
    checks = Checks(echo=True)
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="lowcarb-wheel-smoke-"))
    try:
        if args.wheel:
            wheel = args.wheel.resolve()
        else:
            t0 = time.monotonic()
            wheel, sdist = build(base / "dist")
            checks.say(f"ok   built {sdist.name} and {wheel.name} ({time.monotonic() - t0:.1f} s)")
        declared = declared_extras(wheel)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            # The extras install while the base checks run; their reports print as they end.
            futures = [
                pool.submit(extra_job, base, wheel, extra) for extra in extras if extra in declared
            ]
            for extra in extras:
                if extra not in declared:
                    checks.check(f"extra [{extra}] declared", _undeclared(extra, wheel))
            checks.merge(base_job(base, wheel))
            for future in as_completed(futures):
                checks.merge(future.result())
    except (SmokeError, subprocess.CalledProcessError) as exc:
        checks.failed.append("build")
        checks.say(f"FAIL build: {exc}")
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    total = time.monotonic() - started
    print(
        f"wheel smoke: {checks.passed} passed, {len(checks.failed)} failed in {total:.0f} s"
        + (f": {'; '.join(checks.failed)}" if checks.failed else "")
    )
    return 1 if checks.failed else 0


def _undeclared(extra: str, wheel: Path) -> Callable[[], None]:
    def fail() -> None:
        raise SmokeError(f"{wheel.name} does not declare the extra {extra!r} (Provides-Extra)")

    return fail


if __name__ == "__main__":
    sys.exit(main())
