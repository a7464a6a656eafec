"""Shared CLI plumbing: the parser class, injected streams, JSON output, number parsing."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, NoReturn

from rich.console import Console

from lowcarb._text import plain

__all__ = [
    "ArgumentParser",
    "CliContext",
    "Handler",
    "emit_json",
    "non_negative_float",
    "positive_float",
    "positive_int",
]


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error and exit status 2."""

    def error(self, message: str) -> NoReturn:
        one_line = " ".join(plain(message).split())  # flags may carry hostile text
        self.exit(2, f"{self.prog}: error: {one_line} (see `{self.prog} --help`)\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse, then refuse an empty option value (``--now ""`` must not mean "not given")."""
        parsed, rest = super().parse_known_args(args, namespace)
        for action in self._actions:
            if not action.option_strings or action.dest == argparse.SUPPRESS:
                continue
            value = getattr(parsed, action.dest, None)
            if value == action.default:
                continue  # not given (or given as its default)
            values = value if isinstance(value, list) else [value]
            if any(isinstance(v, str) and not v.strip() for v in values):
                flag = max(action.option_strings, key=len)
                self.error(f"{flag} is empty; give a value or leave the flag out")
        return parsed, rest


@dataclass
class CliContext:
    """What a command may touch: streams and environment (injected so tests capture them)."""

    stdout: IO[str]
    stderr: IO[str]
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @classmethod
    def default(cls) -> CliContext:
        return cls(stdout=sys.stdout, stderr=sys.stderr, environ=os.environ)

    def console(self) -> Console:
        """A Rich console on stdout."""
        return Console(file=self.stdout, soft_wrap=False, highlight=False)

    def err_console(self) -> Console:
        """A Rich console on stderr (for progress and warnings)."""
        return Console(file=self.stderr, highlight=False)


Handler = Callable[[argparse.Namespace, CliContext], int]


def emit_json(ctx: CliContext, obj: Mapping[str, Any]) -> None:
    """Print exactly one JSON object on stdout."""
    ctx.stdout.write(json.dumps(obj, sort_keys=False, default=str) + "\n")
    ctx.stdout.flush()


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{what} must be finite, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = _number(text, "value")
    if value < 0:
        raise argparse.ArgumentTypeError(f"value must be >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _number(text, "value")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"value must be > 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"value must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"value must be >= 1, got {text!r}")
    return value
