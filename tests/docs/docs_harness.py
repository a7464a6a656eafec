"""Run the code blocks of the documentation, so the pages cannot drift from the code.

A page is a walk-through: its fenced blocks run in order in one temporary directory, with the
embedded defaults (no network, no GPU, no config file, no ``LOWCARB_*`` variable). What a block
is depends on its fence:

- `` ```console `` (untitled): each ``$ COMMAND`` line (``\\`` continues it) runs in bash; the
  lines after it, up to the next ``$``, are the output the page shows. They are checked loosely:
  each shown line must appear, in order, in the real output (stdout and stderr together), after
  both are normalised (numbers, hex ids and runs of spaces or box-drawing characters count as
  equal; see :func:`normalise`); ``...`` in a shown line matches anything, and a line of only
  ``...`` stands for lines left out. A command must exit 0 unless it ends in ``# exit N``.
- `` ```python `` (untitled): written to a file and run with this Python; must exit 0. A block
  titled ``output`` right after it (`` ```text title="output" ``) is its expected output.
- Any block titled with a file name (`` ```yaml title="policy.yaml" ``): written to that file.
- Any other untitled block in a runnable language (``bash``, ``sh``, ``shell``) must be skipped.

An HTML comment right before a fence changes that: ``<!-- docs-test: skip REASON -->`` (the
reason is required and is listed in the test report), ``<!-- docs-test: background port=N -->``
(a console block whose one command is a server: started in the background, waited for on port
``N`` -- replaced by a free port in every later command of the page -- and stopped at the end of
the page), ``<!-- docs-test: timeout=S -->`` (seconds for each command of the block, default
180), ``<!-- docs-test: expect="REGEX && REGEX" -->`` (output that varies from run to run,
such as the trials a search had time for: the shown lines are then what one real run printed,
and instead each regular expression must match the block's output), ``<!-- docs-test:
columns=N -->`` (a wider terminal for a wide table; default 100). ``<!--
docs-test: requires=sqlite3,promtool -->`` (skip the block, listing why, when a tool it runs is
not installed). Keys combine: ``<!-- docs-test: timeout=300 columns=140 -->``.

Files the pages read from the shared data folder (``../shared/data/grid``) are linked into the
directory by name (:data:`DATA_FILES`); a page that names one is skipped when the folder is absent.

Run as a script to see what a page's commands really print (to write or refresh a page)::

    .venv/bin/python tests/docs/docs_harness.py docs/tutorials/ledger.md
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SHARED_DATA = Path(os.environ.get("LOWCARB_GRID_DATA") or ROOT.parent / "shared" / "data" / "grid")
#: File names a page may use as if they were in its working directory -> their shared location.
DATA_FILES: dict[str, Path] = {
    "em2022_lca_hourly_123zones.csv": SHARED_DATA
    / "em2022_123zones/em2022_lca_hourly_123zones.csv",
}
#: The terminal width the commands see (Rich wraps tables to it); the pages show this width.
COLUMNS = 100
RUNNABLE = {"console", "python", "py", "bash", "sh", "shell"}
DEFAULT_TIMEOUT_S = 180.0

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<body>.*?)\s*-->\s*$")
_TITLE = re.compile(r"""title\s*=\s*(?P<q>["'])(?P<title>.*?)(?P=q)""")
_EXIT = re.compile(r"#\s*exit\s+(?P<code>\d+)\b[^'\"]*$")


@dataclass(frozen=True)
class Block:
    """One fenced block of a page."""

    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    title: str | None
    text: str
    directive: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        page = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page
        return f"{page}:{self.line}"

    @property
    def skip_reason(self) -> str | None:
        return self.directive.get("skip")

    @property
    def kind(self) -> str:
        """``file``, ``console``, ``python``, ``output``, ``skip``, ``text`` or ``unmarked``."""
        if self.skip_reason is not None:
            return "skip"
        if self.title == "output":
            return "output"
        if self.title:
            return "file"
        if self.lang == "console":
            return "console"
        if self.lang in {"python", "py"}:
            return "python"
        if self.lang in RUNNABLE:
            return "unmarked"
        return "text"


def _parse_directive(body: str) -> dict[str, str]:
    if body.startswith("skip"):
        return {"skip": body[len("skip") :].strip()}
    out: dict[str, str] = {}
    for word in shlex.split(body):
        key, _, value = word.partition("=")
        out[key] = value
    return out


def parse_blocks(page: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, with the directive comment before each."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m["indent"], m["fence"], m["info"].strip()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines):
            closing = lines[i].strip()
            if closing.startswith(fence) and not closing[len(fence) :].strip():
                break
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        directive: dict[str, str] = {}
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0 and (d := _DIRECTIVE.match(lines[j])):
            directive = _parse_directive(d["body"])
        words = info.split()
        lang = words[0].lstrip(".").lower() if words and "=" not in words[0] else ""
        title = t["title"] if (t := _TITLE.search(info)) else None
        text = "\n".join(body) + "\n"
        blocks.append(Block(page, start + 1, lang, title, text, directive))
    return blocks


@dataclass(frozen=True)
class Command:
    """A ``$`` line of a console block, the output the page shows after it, the exit expected."""

    line: str
    shown: list[str]
    exit_code: int


def console_commands(block: Block) -> list[Command]:
    """Split a console block into commands (``\\`` continues a command) and shown output."""
    commands: list[Command] = []
    lines = block.text.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        if not raw.startswith("$ "):
            if not commands:
                raise ValueError(f"{block.where}: console block must start with '$ ': {raw!r}")
            commands[-1].shown.append(raw)
            i += 1
            continue
        cmd = raw[2:]
        while cmd.endswith("\\") and i + 1 < len(lines):
            i += 1
            cmd = cmd[:-1].rstrip() + " " + lines[i].strip()
        m = _EXIT.search(cmd)
        commands.append(Command(cmd, [], int(m["code"]) if m else 0))
        i += 1
    return commands


# --- loose matching -------------------------------------------------------------------------

# One left-to-right pass, so a hex id never starts inside a number ("6.59e-12") or vice versa.
_VARYING = re.compile(
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"  # UUIDs
    r"|\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,}\b"  # hex digests and id suffixes
    r"|[+-]?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][+-]?\d+)?"  # numbers
)
# Box drawing, block elements (Rich tables, bars): a run of one character counts as one.
_RUNS = re.compile(r"([\u2500-\u259f])\1+")


def normalise(line: str) -> str:
    """A line with what varies from run to run made equal: ids, hashes, numbers, widths.

    UUIDs, hex digests of 7+ characters and numbers (sign, thousands separators, decimals and
    exponent included) all become ``0``; a run of one box-drawing or block character becomes one
    character; runs of white space become one space.
    """
    line = _VARYING.sub("0", line)
    line = _RUNS.sub(r"\1", line)
    return " ".join(line.split())


def _line_matches(shown: str, actual: str) -> bool:
    parts = [normalise(p) for p in shown.split("...")]
    if len(parts) == 1:
        return parts[0] == actual
    if not actual.startswith(parts[0]) or not actual.endswith(parts[-1]):
        return False
    pos = len(parts[0])
    for part in parts[1:-1]:
        found = actual.find(part, pos)
        if found < 0:
            return False
        pos = found + len(part)
    return pos <= len(actual) - len(parts[-1])


def missing_lines(shown: list[str], output: str) -> list[str]:
    """The shown lines that do not appear, in order, in the output (empty when it matches)."""
    actual = [normalise(x) for x in output.splitlines()]
    actual = [x for x in actual if x]
    pos = 0
    missing: list[str] = []
    for want in shown:
        if not want.strip() or want.strip() == "...":
            continue
        for k in range(pos, len(actual)):
            if _line_matches(want, actual[k]):
                pos = k + 1
                break
        else:
            missing.append(want)
    return missing


# --- running a page -------------------------------------------------------------------------


class DocsCheckError(AssertionError):
    """A block did not do what its page says."""


def page_needs_missing_data(page: Path) -> str | None:
    """Why a page cannot run here (a shared data file it names is absent), else None."""
    text = page.read_text(encoding="utf-8")
    for name, path in DATA_FILES.items():
        if name in text and not path.is_file():
            return f"{page.name} needs {path} (set LOWCARB_GRID_DATA to its folder)"
    return None


def page_env(workdir: Path) -> dict[str, str]:
    """A clean environment: this Python's bin first, no config, no LOWCARB_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOWCARB_", "MLFLOW_"))}
    home = workdir / ".home"
    home.mkdir(exist_ok=True)
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        COLUMNS=str(COLUMNS),
        LINES="50",
        NO_COLOR="1",
        TERM="dumb",
        TZ="UTC",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("VIRTUAL_ENV", None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PageRun:
    """Runs one page's blocks in order in ``workdir``; ``record`` prints what really ran."""

    page: Path
    workdir: Path
    record: bool = False
    log: list[str] = field(default_factory=list)
    _ports: dict[str, str] = field(default_factory=dict)
    _background: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env = page_env(self.workdir)
        for name, path in DATA_FILES.items():
            if path.is_file():
                (self.workdir / name).symlink_to(path)

    def run(self) -> list[str]:
        """Run every block; return the skip reasons met. Raises DocsCheckError on a mismatch."""
        skipped: list[str] = []
        blocks = parse_blocks(self.page)
        try:
            for n, block in enumerate(blocks):
                kind = block.kind
                if kind == "skip":
                    skipped.append(f"{block.where}: {block.skip_reason}")
                elif kind == "file":
                    assert block.title is not None
                    target = self.workdir / block.title
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(block.text, encoding="utf-8")
                elif kind == "console" and (missing := self._missing_tool(block)):
                    skipped.append(f"{block.where}: {missing}")
                elif kind == "console":
                    self._console(block)
                elif kind == "python":
                    follow = blocks[n + 1] if n + 1 < len(blocks) else None
                    shown = follow.text.splitlines() if follow and follow.kind == "output" else []
                    self._python(block, n, shown)
                elif kind == "unmarked":
                    raise DocsCheckError(
                        f"{block.where}: a {block.lang!r} block that is neither run nor skipped; "
                        "write it as ```console with '$ ' prompts, give it a title (a file), or "
                        "mark it <!-- docs-test: skip REASON -->"
                    )
        finally:
            self._stop_background()
        return skipped

    @staticmethod
    def _missing_tool(block: Block) -> str | None:
        """``requires=a,b``: the block is skipped, with the reason, when a tool is not on PATH."""
        tools = [t for t in block.directive.get("requires", "").split(",") if t]
        missing = [t for t in tools if shutil.which(t) is None]
        return f"needs {', '.join(missing)} on PATH" if missing else None

    def _substitute(self, command: str) -> str:
        for doc_port, real in self._ports.items():
            command = re.sub(rf"(?<!\d){doc_port}(?!\d)", real, command)
        return command

    def _timeout(self, block: Block) -> float:
        return float(block.directive.get("timeout") or DEFAULT_TIMEOUT_S)

    def _console(self, block: Block) -> None:
        commands = console_commands(block)
        if "background" in block.directive:
            if len(commands) != 1 or "port" not in block.directive:
                raise DocsCheckError(f"{block.where}: background needs one command and port=N")
            self._start_background(block, commands[0])
            return
        expect = block.directive.get("expect")
        outputs: list[str] = []
        for cmd in commands:
            line = self._substitute(cmd.line)
            t0 = time.monotonic()
            proc = self._exec(["bash", "-c", line], block)
            out = proc.stdout.decode("utf-8", "replace")
            if self.record:
                out += f"[{time.monotonic() - t0:.1f} s]\n"
            outputs.append(out)
            shown = [] if expect is not None else cmd.shown
            self._check(block, cmd.line, out, proc.returncode, cmd.exit_code, shown)
        if expect is not None and not self.record:
            for pattern in expect.split("&&"):
                # Rich wraps a long line where the terminal ends, so a space in a pattern
                # matches any run of whitespace, a line break included.
                wrapped = re.sub(r" +", r"\\s+", pattern.strip())
                if not re.search(wrapped, "".join(outputs), re.MULTILINE):
                    tail = "\n".join("".join(outputs).splitlines()[-60:])
                    raise DocsCheckError(
                        f"{block.where}: output does not match {pattern.strip()!r}\n{tail}"
                    )

    def _python(self, block: Block, n: int, shown: list[str]) -> None:
        script = self.workdir / f".block_{n:02d}.py"
        script.write_text(self._substitute(block.text), encoding="utf-8")
        proc = self._exec([sys.executable, script.name], block)
        out = proc.stdout.decode("utf-8", "replace")
        self._check(block, "python block", out, proc.returncode, 0, shown)

    def _exec(self, argv: list[str], block: Block) -> subprocess.CompletedProcess[bytes]:
        timeout = self._timeout(block)
        env = dict(self.env)
        if "columns" in block.directive:
            env["COLUMNS"] = block.directive["columns"]
        try:
            return subprocess.run(
                argv,
                cwd=self.workdir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise DocsCheckError(f"{block.where}: {argv[-1]!r} ran over {timeout:.0f} s") from exc

    def _check(
        self, block: Block, what: str, out: str, code: int, want_code: int, shown: list[str]
    ) -> None:
        if self.record:
            self.log.append(f"$ {what}   [exit {code}]\n{out}")
            return
        problems: list[str] = []
        if code != want_code:
            problems.append(f"exit status {code}, the page expects {want_code}")
        missing = missing_lines(shown, out)
        if missing:
            problems.append(
                "lines the page shows but the command did not print (normalised):\n"
                + "\n".join(f"    {normalise(x)}" for x in missing)
            )
        if problems:
            tail = "\n".join(out.splitlines()[-60:])
            raise DocsCheckError(
                f"{block.where}: {what}\n  " + "\n  ".join(problems) + f"\n--- output ---\n{tail}"
            )

    def _start_background(self, block: Block, cmd: Command) -> None:
        doc_port = block.directive["port"]
        self._ports[doc_port] = str(_free_port())
        line = self._substitute(cmd.line)
        log_path = self.workdir / f".background_{len(self._background)}.log"
        with log_path.open("wb") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen(  # stopped in _stop_background
                ["bash", "-c", f"exec {line}"],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._background.append(proc)
        port = int(self._ports[doc_port])
        deadline = time.monotonic() + self._timeout(block)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                text = log_path.read_text(errors="replace")
                raise DocsCheckError(
                    f"{block.where}: {cmd.line!r} exited {proc.returncode}\n{text}"
                )
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.2)
        raise DocsCheckError(f"{block.where}: {cmd.line!r} did not listen on its port in time")

    def _stop_background(self) -> None:
        for proc in self._background:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self._background.clear()


def doc_pages() -> Iterator[Path]:
    """Every Markdown page of the site."""
    yield from sorted(DOCS.rglob("*.md"))


def main(argv: list[str]) -> int:
    import tempfile

    for name in argv:
        page = Path(name).resolve()
        with tempfile.TemporaryDirectory(prefix="lowcarb-docs-") as tmp:
            run = PageRun(page, Path(tmp), record=True)
            skipped = run.run()
            print("\n".join(run.log))
            for reason in skipped:
                print(f"skipped {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
