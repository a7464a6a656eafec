"""Bad input over every command and file format: one line, exit 2 (127/126 for a command that
cannot run), no traceback, nothing written, the ledger unchanged. The cases are generated from
tables: each command's good invocation, then one thing broken at a time."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from badinput_harness import NOW, Case, World, check_case

# -- good invocations: each case breaks exactly one thing in one of these ----------------------

GOOD: dict[str, list[str]] = {
    "run": ["run", "--zone", "DE", "--", "true"],
    "estimate": ["estimate", "--hardware", "nvidia-a100", "--count", "1", "--hours", "1"],
    "intensity-now": ["intensity", "now", "--zone", "DE"],
    "intensity-history": [
        "intensity",
        "history",
        "--zone",
        "DE",
        "--trace",
        "trace.csv",
        "--start",
        "2022-01-02T00:00Z",
        "--end",
        "2022-01-03T00:00Z",
    ],
    "intensity-forecast": [
        "intensity",
        "forecast",
        "--zone",
        "DE",
        "--trace",
        "trace.csv",
        "--now",
        NOW,
    ],
    "zones": ["zones"],
    "plan": [
        "plan",
        "--zone",
        "DE",
        "--duration",
        "2h",
        "--deadline",
        "12h",
        "--trace",
        "trace.csv",
        "--now",
        NOW,
    ],
    "backtest": [
        "backtest",
        "--trace",
        "trace.csv",
        "--zone",
        "DE",
        "--duration",
        "1h",
        "--deadline",
        "6h",
    ],
    "submit": ["submit", "--zone", "DE", "--deadline", "12h", "--duration", "1h", "--", "true"],
    "worker": ["worker", "--once"],
    "jobs": ["jobs"],
    "profile": ["profile", "--model", "model.onnx", "--data", "data.npz", "--version", "1"],
    "gate": [
        "gate",
        "--policy",
        "policy.yaml",
        "--candidate",
        "candidate.json",
        "--baseline",
        "baseline.json",
    ],
    "budget-status": ["budget", "status", "--policy", "policy.yaml"],
    "budget-check": ["budget", "check", "--policy", "policy.yaml", "--team", "vision"],
    "compare": ["compare", "candidate.json", "baseline.json"],
    "tune": ["tune", "space.yaml", "--budget-kwh", "0.001"],
    "compress": ["compress", "model.onnx", "--data", "data.npz"],
    "ledger-verify": ["ledger", "verify"],
    "ledger-show": ["ledger", "show"],
    "ledger-export": ["ledger", "export", "--format", "csv"],
    "ledger-totals": ["ledger", "totals"],
    "ledger-checkpoint": ["ledger", "checkpoint"],
    "ledger-keygen": ["ledger", "keygen", "--private-key", "k.pem", "--public-key", "k.pub"],
}


# Without --trace: a two-column trace's zone is only a label; the embedded profile's is not.
GOOD["plan-embedded"] = ["plan", "--zone", "DE", "--duration", "2h", "--deadline", "12h"]


def _with(command: str, flag: str, value: str) -> tuple[str, ...]:
    """The good argv of ``command`` with ``flag`` set to ``value`` (replaced or added)."""
    argv = list(GOOD[command])
    tail: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, tail = argv[:cut], argv[cut:]
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    return (*argv, *tail)


CASES: dict[str, Case] = {}


def add(case_id: str, case: Case) -> None:
    assert case_id not in CASES, case_id
    CASES[case_id] = case


# -- 1. unknown flags and missing values, every command ---------------------------------------

for command, argv in GOOD.items():
    words = 2 if argv[0] in ("intensity", "ledger", "budget") else 1
    add(
        f"{command}/unknown-flag",
        Case((*argv[:words], "--bogus-flag", *argv[words:]), "--bogus-flag"),
    )
for command, flag in [
    ("run", "--zone"),
    ("run", "--ledger"),
    ("estimate", "--hours"),
    ("plan", "--deadline"),
    ("backtest", "--trace"),
    ("submit", "--deadline"),
    ("gate", "--policy"),
    ("ledger-show", "--limit"),
    ("ledger-export", "--format"),
    ("budget-status", "--policy"),
    ("intensity-forecast", "--horizon"),
    ("worker", "--poll"),
]:
    argv = [a for a in GOOD[command] if a != "--" and a != "true"]
    add(f"{command}/{flag}-without-value", Case((*argv, flag), flag))
add("top/unknown-command", Case(("frobnicate",), "invalid choice"))

# -- 2. numbers: negative, NaN, infinite, huge, words, empty, 5,000 digits ---------------------

BAD_NUMBERS = {
    "negative": "-1",
    "nan": "nan",
    "inf": "inf",
    "1e400": "1e400",
    "word": "lots",
    "empty": "",
    "5000-digits": "9" * 5000,
}
NUMBER_FLAGS = [
    ("run", "--pue"),
    ("run", "--sample-interval"),
    ("estimate", "--count"),
    ("estimate", "--hours"),
    ("estimate", "--power-w"),
    ("estimate", "--pue"),
    ("estimate", "--utilization"),
    ("plan", "--power-w"),
    ("submit", "--power-w"),
    ("worker", "--speed"),
    ("worker", "--max-parallel"),
    ("ledger-show", "--limit"),
    ("budget-check", "--co2e-kg"),
    ("profile", "--batch-size"),
    ("profile", "--energy-seconds"),
    ("backtest", "--threshold-quantile"),
    ("tune", "--budget-kwh"),
    ("tune", "--workers"),
    ("compress", "--energy-seconds"),
]
for command, flag in NUMBER_FLAGS:
    for name, value in BAD_NUMBERS.items():
        if name == "negative" and flag in ("--speed",):
            continue
        needle = "power" if flag == "--power-w" else flag.lstrip("-")
        add(f"{command}/{flag}={name}", Case(_with(command, flag, value), needle))

# -- 3. durations and timestamps: one parser, the same refusals everywhere --------------------

BAD_DURATIONS = {
    "word": "soon",
    "repeated-unit": "1h1h",
    "too-long": "400d",
    "nan": "nan",
    "negative": "-2h",
    "zero": "0m",
    "iso-empty": "PT",
    "1e400": "1e400",
}
DURATION_FLAGS = [
    ("plan", "--duration"),
    ("plan", "--deadline"),
    ("plan", "--min-chunk"),
    ("backtest", "--duration"),
    ("backtest", "--deadline"),
    ("backtest", "--every"),
    ("submit", "--duration"),
    ("submit", "--deadline"),
    ("submit", "--min-chunk"),
    ("worker", "--poll"),
    ("worker", "--grace"),
    ("run", "--grace"),
]
for command, flag in DURATION_FLAGS:
    for name, value in BAD_DURATIONS.items():
        add(f"{command}/{flag}={name}", Case(_with(command, flag, value), flag))

BAD_TIMES = {
    "naive": "2022-01-19T00:00",
    "year-99999": "99999-01-01T00:00Z",
    "word": "yesterday",
    "year-3000": "3000-01-01T00:00Z",
    "long": "2" * 100,
}
TIME_FLAGS = [
    ("plan", "--now"),
    ("submit", "--now"),
    ("worker", "--now"),
    ("intensity-forecast", "--now"),
    ("intensity-history", "--start"),
    ("intensity-history", "--end"),
    ("backtest", "--from"),
    ("backtest", "--to"),
    ("gate", "--now"),
    ("budget-status", "--now"),
    ("ledger-show", "--since"),
    ("ledger-export", "--until"),
    ("ledger-totals", "--since"),
]
for command, flag in TIME_FLAGS:
    for name, value in BAD_TIMES.items():
        needle = "time" if command.startswith("ledger") else flag
        add(f"{command}/{flag}={name}", Case(_with(command, flag, value), needle))

# -- 4. zones ---------------------------------------------------------------------------------

BAD_ZONES = {"typo": "Germny", "empty": " ", "long": "Z" * 300, "markup": "[/]"}
for command in ("run", "estimate", "intensity-now", "plan-embedded", "submit", "profile"):
    for name, value in BAD_ZONES.items():
        needle = "zone"
        add(f"{command}/--zone={name}", Case(_with(command, "--zone", value), needle))
add(
    "env/LOWCARB_ZONE=typo",
    Case(("run", "--", "true"), "unknown zone", env={"LOWCARB_ZONE": "Germny"}),
)

# -- 5. ledger URLs: refused before anything runs ----------------------------------------------


def _mkfifo(name: str) -> Callable[[Path], None]:
    return lambda root: os.mkfifo(root / name)


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    return setup


def _foreign_sqlite(root: Path) -> None:
    import sqlite3

    with sqlite3.connect(root / "other.db") as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")


BAD_LEDGERS: dict[str, tuple[str, str, Callable[[Path], None] | None]] = {
    "typo-dialect": ("sqlte:///x.db", "unknown dialect", None),
    "postgres-scheme": ("postgres://u@127.0.0.1/db", "postgresql+psycopg://", None),
    "in-memory": ("sqlite://", "in-memory", None),
    "two-slashes-missing": ("sqlite:/x.db", "sqlite:///x.db", None),
    "bad-port": ("postgresql+psycopg://u@127.0.0.1:99999/db", "port", None),
    "unreachable": ("postgresql+psycopg://nobody@127.0.0.1:1/none", "127.0.0.1", None),
    "directory": ("sqlite:///sub", "directory", lambda root: (root / "sub").mkdir()),
    "fifo": ("sqlite:///pipe.db", "not a regular file", _mkfifo("pipe.db")),
    "not-sqlite": ("sqlite:///junk.db", "not a lowcarb ledger", _write("junk.db", b"x" * 500)),
    "foreign-sqlite": ("sqlite:///other.db", "not a lowcarb ledger", _foreign_sqlite),
    "mysql": ("mysql://u@h/db", "unknown dialect", None),
}
LEDGER_COMMANDS = [
    "run",
    "submit",
    "worker",
    "jobs",
    "gate",
    "budget-status",
    "ledger-verify",
    "ledger-show",
    "ledger-totals",
    "ledger-export",
    "ledger-checkpoint",
]
for command in LEDGER_COMMANDS:
    for name, (url, needle, setup) in BAD_LEDGERS.items():
        add(
            f"{command}/--ledger={name}", Case(_with(command, "--ledger", url), needle, setup=setup)
        )
for name in ("typo-dialect", "postgres-scheme", "in-memory"):
    url, needle, _ = BAD_LEDGERS[name]
    add(f"env/LOWCARB_LEDGER={name}/run", Case(GOOD["run"], needle, env={"LOWCARB_LEDGER": url}))
    add(
        f"env/LOWCARB_LEDGER={name}/verify",
        Case(GOOD["ledger-verify"], needle, env={"LOWCARB_LEDGER": url}),
    )

# -- 6. input files of every format: missing, directory, FIFO, binary, not UTF-8, huge -------

BAD_FILES: dict[str, tuple[str, str, Callable[[Path], None] | None]] = {
    "missing": ("absent.txt", "does not exist", None),
    "directory": ("adir", "directory", lambda root: (root / "adir").mkdir()),
    "fifo": ("pipe", "not a regular file", _mkfifo("pipe")),
    "binary": ("bin.dat", "binary", _write("bin.dat", b"\x00\x01\x02PK\x03\x04" * 10)),
    "not-utf8": ("latin.txt", "UTF-8", _write("latin.txt", "caf\xe9 = 1\n".encode("latin-1"))),
}
FILE_FLAGS = [
    ("plan", "--trace"),
    ("backtest", "--trace"),
    ("intensity-forecast", "--trace"),
    ("intensity-history", "--trace"),
    ("gate", "--policy"),
    ("gate", "--candidate"),
    ("gate", "--baseline"),
    ("budget-status", "--policy"),
    ("budget-check", "--policy"),
    ("ledger-verify", "--checkpoint"),
]
for command, flag in FILE_FLAGS:
    for name, (path, needle, setup) in BAD_FILES.items():
        add(f"{command}/{flag}={name}", Case(_with(command, flag, path), needle, setup=setup))

# -- 7. malformed content, per format ---------------------------------------------------------

TRACES = {
    "headerless": (b"2022-01-01T00:00Z,100\n2022-01-01T01:00Z,110\n", "not a header"),
    "duplicate-zone-columns": (b"datetime_utc,DE,FR,DE\n2022-01-01T00:00Z,1,2,3\n", "twice"),
    "128k-field": (b"time,value\n2022-01-01T00:00Z," + b"9" * (130 << 10) + b"\n", "CSV"),
    "impossible-value": (b"time,value\n2022-01-01T00:00Z,1e9\n", "0..2000"),
    "negative-value": (b"time,value\n2022-01-01T00:00Z,-5\n", "0..2000"),
    "naive-times": (b"time,value\n2022-01-01 00:00,100\n2022-01-01 01:00,100\n", "time zone"),
    "empty": (b"", "no data rows"),
    "header-only": (b"time,value\n", "no data rows"),
    "words": (b"time,value\n2022-01-01T00:00Z,lots\n", "non-numeric"),
    "unknown-format": (b"a,b,c\n1,2,3\n", "unknown trace format"),
}
for name, (data, needle) in TRACES.items():
    for command in ("plan", "backtest", "intensity-forecast"):
        add(
            f"{command}/trace-{name}",
            Case(_with(command, "--trace", "bad.csv"), needle, setup=_write("bad.csv", data)),
        )

POLICIES = {
    "alias-bomb": (b"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\nrules: {}\n", "aliases"),
    "duplicate-key": (b"rules:\n  max_latency_p95_ms: 5\n  max_latency_p95_ms: 9\n", "twice"),
    "5000-digits": (b"rules:\n  max_latency_p95_ms: " + b"9" * 5000 + b"\n", "characters"),
    "nan": (b"rules:\n  max_latency_p95_ms: .nan\n", "finite"),
    "not-yaml": (b"rules: {max_latency_p95_ms: [1\n", "not valid YAML"),
    "list": (b"- a\n- b\n", "mapping"),
    "unknown-rule": (b"rules:\n  max_latncy_p95_ms: 5\n", "max_latency_p95_ms"),
    "empty": (b"", "policy"),
    "deep": (b"rules: " + b"[" * 200 + b"]" * 200 + b"\n", "nested"),
}
for name, (data, needle) in POLICIES.items():
    for command in ("gate", "budget-status"):
        add(
            f"{command}/policy-{name}",
            Case(_with(command, "--policy", "bad.yaml"), needle, setup=_write("bad.yaml", data)),
        )

PROFILES = {
    "duplicate-key": (b'{"model": "a", "model": "b"}', "twice"),
    "1e400": (b'{"accuracy": 1e400}', "finite"),
    "nan": (b'{"accuracy": NaN}', "NaN"),
    "deep": (b"[" * 100_000 + b"]" * 100_000, "nested"),
    "not-json": (b"{not json", "not valid JSON"),
    "list": (b"[1, 2]", "JSON object"),
    "missing-fields": (b'{"model": "x"}', "missing"),
    "accuracy-out-of-range": (
        b'{"model": "m", "version": "1", "accuracy": 7, "latency_p95_ms": 1, '
        b'"energy_per_1k_j": 1, "energy_method": "measured", "flops": 1, "size_bytes": 1, '
        b'"training_co2e_kg": 1}',
        "accuracy",
    ),
}
for name, (data, needle) in PROFILES.items():
    add(
        f"gate/candidate-{name}",
        Case(_with("gate", "--candidate", "bad.json"), needle, setup=_write("bad.json", data)),
    )
    add(
        f"compare/profile-{name}",
        Case(("compare", "bad.json", "baseline.json"), needle, setup=_write("bad.json", data)),
    )

CHECKPOINTS = {
    "not-json": (b"{", "checkpoint"),
    "other-format": (b'{"format": "x"}', "checkpoint"),
}
for name, (data, needle) in CHECKPOINTS.items():
    add(
        f"ledger-verify/checkpoint-{name}",
        Case(
            _with("ledger-verify", "--checkpoint", "cp.json"), needle, setup=_write("cp.json", data)
        ),
    )

# -- 8. config files and environment variables ------------------------------------------------

CONFIGS = {
    "invalid-toml": (b"zone = \n", "not valid TOML"),
    "unknown-key": (b'zome = "DE"\n', "unknown key 'zome'"),
    "wrong-type": (b"zone = 3\n", "zone"),
    "bad-pue": (b"pue = 0.5\n", "pue"),
    "binary": (b"\xff\xfe\x00\x01", "UTF-8"),
    "bad-ledger": (b'ledger = "sqlte:///x.db"\n', "unknown dialect"),
}
for name, (data, needle) in CONFIGS.items():
    for command in ("run", "ledger-verify", "gate"):
        add(
            f"config/{name}/{command}",
            Case(
                GOOD[command],
                needle,
                setup=_write("lowcarb.toml", data),
                env={"LOWCARB_LEDGER": ""},
            ),
        )
    add(
        f"config/{name}/in-parent/run",
        Case(
            GOOD["run"], needle, setup=_write("../lowcarb.toml", data), env={"LOWCARB_LEDGER": ""}
        ),
    )
for var, value, needle in [
    ("LOWCARB_PUE", "abc", "LOWCARB_PUE"),
    ("LOWCARB_PUE", "0.5", "LOWCARB_PUE"),
    ("LOWCARB_CONFIG", "/nonexistent.toml", "LOWCARB_CONFIG"),
]:
    for command in ("run", "estimate"):
        add(f"env/{var}={value}/{command}", Case(GOOD[command], needle, env={var: value}))

# -- 9. output paths: checked before the work ---------------------------------------------------

BAD_OUTPUTS = {
    "missing-directory": ("nowhere/out.txt", "does not exist"),
    "is-directory": (".", "directory"),
}
OUTPUT_FLAGS = [
    ("run", "--emissions-csv"),
    ("ledger-export", "--output"),
    ("ledger-checkpoint", "--output"),
    ("ledger-keygen", "--private-key"),
    ("ledger-keygen", "--public-key"),
]
for command, flag in OUTPUT_FLAGS:
    for name, (path, needle) in BAD_OUTPUTS.items():
        if command == "ledger-keygen" and name == "is-directory":
            needle = "exists"  # a key file path that exists is refused whatever it is
        add(f"{command}/{flag}={name}", Case(_with(command, flag, path), needle))
add(
    "run/--emissions-csv=foreign",
    Case(
        _with("run", "--emissions-csv", "foreign.csv"),
        "different header",
        setup=_write("foreign.csv", b"a,b\n"),
    ),
)
add(
    "profile/--output=missing-directory",
    Case(_with("profile", "-o", "nowhere/p.json"), "does not exist"),
)

# -- 10. names written to the ledger: length and control characters ---------------------------

BAD_NAMES = {
    "escape": "a\x1b[31mred",
    "newline": "two\nlines",
    "long": "n" * 10_000,
    "nul": "a\x00b",
    "blank": "   ",
}
for flag in ("--team", "--project", "--model", "--model-version"):
    for name, value in BAD_NAMES.items():
        needle = "characters" if name != "blank" else "empty"
        add(f"run/{flag}={name}", Case(_with("run", flag, value), needle))
for flag in ("--team", "--project"):
    for name, value in BAD_NAMES.items():
        needle = "characters" if name != "blank" else "empty"
        add(f"submit/{flag}={name}", Case(_with("submit", flag, value), needle))

# -- 11. commands that cannot run, pickles, mismatched models ---------------------------------

add(
    "run/command-not-found",
    Case(("run", "--zone", "DE", "--", "no-such-command-xyz"), "command not found", code=127),
)
add(
    "run/not-executable",
    Case(("run", "--zone", "DE", "--", "./trace.csv"), "not executable", code=126),
)
add("run/a-directory", Case(("run", "--zone", "DE", "--", "./"), "not executable", code=126))
add("run/no-command", Case(("run", "--zone", "DE"), "no command given"))
add("submit/no-command", Case(("submit", "--zone", "DE", "--deadline", "12h"), "no command"))
add(
    "profile/pickle-without-opt-in",
    Case(
        _with("profile", "--model", "m.pkl"),
        "--allow-pickle",
        setup=_write("m.pkl", b"\x80\x04K\x01."),
    ),
)
add("profile/unsupported-format", Case(_with("profile", "--model", "m.h5"), "unsupported"))
add("plan/deadline-before-duration", Case(_with("plan", "--deadline", "1h"), "deadline"))
add(
    "estimate/unknown-hardware",
    Case(_with("estimate", "--hardware", "nvidia-a1000"), "unknown hardware"),
)
add(
    "gate/candidate-version-without-mlflow",
    Case((*GOOD["gate"], "--candidate-version", "3"), "--candidate-version"),
)
add(
    "intensity/horizon-too-long",
    Case(_with("intensity-forecast", "--horizon", "999h"), "--horizon"),
)
add(
    "intensity/bad-trace-tz",
    Case((*GOOD["intensity-history"], "--trace-tz", "Mars/Base"), "time zone"),
)
SPACE = b"estimator: logistic_regression\ndataset: iris\n"
add(
    "tune/malformed-space",
    Case(GOOD["tune"], "space.yaml", setup=_write("space.yaml", b"estimator: [unclosed\n")),
)
add(
    "tune/unknown-estimator",
    Case(GOOD["tune"], "knn", setup=_write("space.yaml", b"estimator: knn\ndataset: iris\n")),
)
add(
    "tune/unreachable-storage",
    Case(
        (*GOOD["tune"], "--storage", "postgresql+psycopg://nobody@127.0.0.1:1/x"),
        "cannot open study",
        setup=_write("space.yaml", SPACE),
    ),
)
add(
    "tune/budget-co2e-and-kwh",
    Case(
        (*GOOD["tune"], "--budget-co2e-kg", "1"),
        "not allowed with",
        setup=_write("space.yaml", SPACE),
    ),
)
add("tune/no-space-file", Case(GOOD["tune"], "space.yaml"))
add("compress/unsupported-format", Case(("compress", "m.h5", "--data", "data.npz"), "unsupported"))
add("compress/bad-method", Case((*GOOD["compress"], "--method", "magic"), "invalid choice"))
add(
    "compress/missing-policy",
    Case((*GOOD["compress"], "--policy", "nope.yaml"), "nope.yaml"),
)
# Files named by a flag or a variable that would hang (a FIFO) or are not what they claim.
add(
    "backtest/workload-fifo",
    Case((*GOOD["backtest"], "--workload", "w.csv"), "not a regular file", setup=_mkfifo("w.csv")),
)
add(
    "backtest/workload-not-utf8",
    Case(
        (*GOOD["backtest"], "--workload", "w.csv"),
        "w.csv",
        setup=_write("w.csv", b"submit,duration,deadline\n\xff\xfe,1h,2h\n"),
    ),
)
add(
    "ledger-verify/public-key-fifo",
    Case(
        (*GOOD["ledger-verify"], "--public-key", "k.pub"),
        "not a regular file",
        setup=_mkfifo("k.pub"),
    ),
)
add(
    "ledger-verify/public-key-garbage",
    Case(
        (*GOOD["ledger-verify"], "--public-key", "k.pub"),
        "k.pub",
        setup=_write("k.pub", b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"),
    ),
)
add(
    "run/signing-key-variable-fifo",
    Case(
        ("ledger", "show"),
        "LOWCARB_LEDGER_SIGNING_KEY",
        setup=_mkfifo("key.pem"),
        env={"LOWCARB_LEDGER_SIGNING_KEY": "key.pem"},
    ),
)
add(
    "estimate/intensity-not-grams",
    Case(_with("estimate", "--intensity", "1e9"), "check the unit"),
)
add(
    "plan/penalty-for-a-zone-not-planned",
    Case((*GOOD["plan"], "--penalty", "Germny=5"), "Germny"),
)
add(
    "run/unknown-meter-fails-before-the-command",
    Case(
        ("run", "--zone", "DE", "--", "sh", "-c", "touch started"),
        "LOWCARB_METERS",
        env={"LOWCARB_METERS": "rapll"},
    ),
)
add(
    "intensity-history/end-before-start",
    Case(_with("intensity-history", "--end", "2022-01-01T00:00Z"), "--end"),
)
add(
    "run/empty-command-name", Case(("run", "--zone", "DE", "--", ""), "command not found", code=127)
)
add(
    "run/team-variable-with-control-characters",
    Case(("run", "--zone", "DE", "--", "true"), "$LOWCARB_TEAM", env={"LOWCARB_TEAM": "a\x1bb"}),
)
add("ledger-show/unknown-id", Case(_with("ledger-show", "--id", "no-such-id"), "no-such-id"))
add(
    "ledger-export/parquet-to-stdout",
    Case(_with("ledger-export", "--format", "parquet"), "--output"),
)
add("ledger-keygen/same-path", Case(_with("ledger-keygen", "--public-key", "k.pem"), "same file"))
add(
    "ledger-keygen/exists",
    Case(GOOD["ledger-keygen"], "never overwrites", setup=_write("k.pem", b"secret")),
)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case_id", list(CASES))
def test_bad_input(world: World, case_id: str) -> None:
    check_case(world, CASES[case_id])


def test_there_are_at_least_300_cases_over_every_command() -> None:
    assert len(CASES) >= 300, len(CASES)
    covered = {case_id.split("/")[0] for case_id in CASES}
    missing = [c for c in GOOD if c not in covered]
    assert not missing, missing
