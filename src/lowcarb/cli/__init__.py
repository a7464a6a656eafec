"""The ``lowcarb`` command: parses, calls the library, renders. No logic lives only here.

Exit codes: 0 success, 1 a negative verdict, 2 bad usage or bad input (one line on stderr),
126/127 the command given to ``run`` cannot be executed / was not found, 130 interrupted,
70 an internal error (a bug: one line, the traceback with ``-v``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from importlib import import_module

from lowcarb._text import plain
from lowcarb.cli._common import ArgumentParser, CliContext
from lowcarb.errors import LowcarbError

__all__ = ["main"]

# Command -> the module that registers it (``register(subparsers)``); one module per group.
_COMMANDS: dict[str, str] = {
    "run": "run",
    "estimate": "estimate",
    "intensity": "intensity",
    "zones": "zones",
    "ledger": "ledger",
    "plan": "plan",
    "backtest": "backtest",
    "submit": "jobs",
    "worker": "jobs",
    "jobs": "jobs",
    "profile": "profile",
    "gate": "gate",
    "budget": "budget",
    "compare": "compare",
    "completion": "completion",
    "tune": "tune",
    "compress": "compress",
    "serve": "serve",
    "cascade": "cascade",
    "k8s": "k8s",
    "monitor": "monitor",
    "report": "report",
    "dashboard": "dashboard",
    "tokens": "tokens",
    "regions": "regions",
}

EXIT_CODES = """exit status:
  0    success
  1    a negative verdict (gate rejected, ledger tampered, budget exceeded)
  2    bad usage or bad input, or a file the system refused (one line on stderr naming the
       problem and the fix)
  126  run: the command cannot be executed
  127  run: the command was not found
  130  interrupted (Ctrl-C)
  70   internal error (a bug in lowcarb: re-run with -v for the traceback and report it)
  other: lowcarb run returns the measured command's own exit status"""
EX_SOFTWARE = 70


def _modules_for(argv: Sequence[str] | None) -> list[str]:
    """The command modules to load: only the named command's, so ``lowcarb run`` does not import
    SQLAlchemy, numpy and every other group's library; all of them for ``--help`` or a bad name
    (argparse then lists every command)."""
    for arg in argv or ():
        if arg.startswith("-"):
            continue  # global flags come before the command
        module = _COMMANDS.get(arg)
        return [module] if module is not None else list(dict.fromkeys(_COMMANDS.values()))
    if "--version" in (argv or ()) and not {"-h", "--help"} & set(argv or ()):
        return []  # nothing to list: ``lowcarb --version`` need not import every command
    return list(dict.fromkeys(_COMMANDS.values()))


def build_parser(argv: Sequence[str] | None = None) -> ArgumentParser:
    """Build the argument parser (for the command in ``argv``, or every command)."""
    parser = ArgumentParser(
        prog="lowcarb",
        description="Carbon-aware MLOps: measure energy and CO2e honestly and act on it.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", dest="show_version", action="store_true", help="print the version and exit"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name in _modules_for(argv):
        import_module(f"lowcarb.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None, *, ctx: CliContext | None = None) -> int:
    """Run the CLI and return its exit status."""
    ctx = ctx or CliContext.default()
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments)
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # argparse already printed its one-line error (or --help)
        return int(exc.code or 0)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, stream=ctx.stderr, format="%(name)s: %(message)s")
    else:
        logging.basicConfig(level=logging.WARNING, stream=ctx.stderr, format="lowcarb: %(message)s")
    if args.show_version:
        from importlib.metadata import version

        print(f"lowcarb {version('lowcarb')}", file=ctx.stdout)
        return 0
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(ctx.stderr)
        return 2
    try:
        return int(func(args, ctx))
    except LowcarbError as exc:
        print(f"lowcarb: error: {_one_line(exc)}", file=ctx.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("lowcarb: interrupted", file=ctx.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``lowcarb ledger export ... | head``): stop quietly with status 1,
        # as Rich does for tables; stdout goes to /dev/null so the exit flush cannot fail again.
        if ctx.stdout is sys.stdout:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as exc:
        # The system refused a file or connection (permissions, disk full, a vanished path): an
        # input or environment problem to fix, not a bug, so one line and exit 2, no traceback.
        if args.verbose:
            traceback.print_exc(file=ctx.stderr)
        print(f"lowcarb: error: {_os_error(exc)}", file=ctx.stderr)
        return 2
    except Exception as exc:  # a bug, not bad input: say so in one line, keep the traceback for -v
        if args.verbose:  # to the command's stderr itself: logging may be routed elsewhere
            traceback.print_exc(file=ctx.stderr)
        print(
            f"lowcarb: internal error: {type(exc).__name__}: {_one_line(exc)} (re-run with -v "
            "for the traceback; please report it)",
            file=ctx.stderr,
        )
        return EX_SOFTWARE


def _os_error(exc: OSError) -> str:
    """``Permission denied: 'out.csv'``: the reason and the path, as one line."""
    reason = exc.strerror or type(exc).__name__
    paths = [p for p in (exc.filename, exc.filename2) if p is not None]
    text = f"{reason}: {' -> '.join(repr(str(p)) for p in paths)}" if paths else _one_line(exc)
    return " ".join(plain(text).split())


def _one_line(exc: BaseException) -> str:
    """An error message as one line of plain text (no control characters reach the terminal)."""
    return " ".join(plain(exc).split())
