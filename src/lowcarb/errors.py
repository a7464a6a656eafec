"""The one exception tree of lowcarb.

Every error lowcarb raises on purpose derives from :class:`LowcarbError`. Messages quote the bad
value (``{value!r}``) and say how to fix it, in one line: the CLI prints them as they are and exits
with status 2 (bad usage or bad input) or 1 (a negative verdict such as a tampered ledger).

::

    LowcarbError
    ├── UsageError                      bad flag, missing argument, contradictory options
    │   ├── InvalidValueError           a negative, non-numeric or out-of-range number
    │   ├── CommandNotFoundError        ``run -- CMD``: CMD not found (exit status 127, as shells)
    │   └── CommandNotExecutableError   ``run -- CMD``: CMD not executable (exit status 126)
    ├── ConfigError                     a malformed config file or environment variable
    │   └── PolicyError                 a malformed or contradictory governance policy
    ├── UnknownNameError                a name not in a catalogue, with close-match suggestions
    │   ├── UnknownZoneError
    │   ├── UnknownHardwareError
    │   └── UnknownRuleError            an unknown policy rule name
    ├── MissingDependencyError          an optional extra is not installed
    ├── MeterError                      a meter failed while measuring
    │   └── MeterUnavailableError       a meter cannot run on this machine (no counters, no GPU)
    ├── DataError                       malformed input data (trace files, profiles, responses)
    │   ├── TraceFormatError
    │   └── ProfileError                a malformed efficiency profile (missing/extra fields)
    ├── ProviderError                   a live data provider failed (HTTP, auth, garbage)
    ├── ForecastError                   a forecast cannot be produced from the data given
    ├── BudgetExceededError             a hard carbon budget refuses the work (exit status 1)
    └── LedgerError
        ├── LedgerUnreachableError      the database cannot be reached
        │   └── LedgerBusyError         the write lock was not granted in time (spool and retry)
        ├── LedgerCorruptError          not a lowcarb ledger, or damaged (never overwritten)
        └── LedgerSchemaError           a schema version this lowcarb does not understand
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "BudgetExceededError",
    "CommandNotExecutableError",
    "CommandNotFoundError",
    "ConfigError",
    "DataError",
    "ForecastError",
    "InvalidValueError",
    "LedgerBusyError",
    "LedgerCorruptError",
    "LedgerError",
    "LedgerSchemaError",
    "LedgerUnreachableError",
    "LowcarbError",
    "MeterError",
    "MeterUnavailableError",
    "MissingDependencyError",
    "PolicyError",
    "ProfileError",
    "ProviderError",
    "TraceFormatError",
    "UnknownHardwareError",
    "UnknownNameError",
    "UnknownRuleError",
    "UnknownZoneError",
    "UsageError",
    "close_matches",
]


class LowcarbError(Exception):
    """Root of every error lowcarb raises on purpose."""

    #: Exit status the CLI uses for this error.
    exit_code: int = 2


class UsageError(LowcarbError):
    """Bad flags or arguments."""


class InvalidValueError(UsageError, ValueError):
    """A number or value that is negative, non-numeric or out of range."""


class CommandNotFoundError(UsageError):
    """The command to run does not exist (exit status 127, as shells report it)."""

    exit_code = 127


class CommandNotExecutableError(UsageError):
    """The command to run exists but cannot be executed (exit status 126, as shells)."""

    exit_code = 126


class ConfigError(LowcarbError):
    """A malformed configuration file or environment variable."""


class PolicyError(ConfigError):
    """A governance policy that is malformed or contradictory; the message names the key."""


def close_matches(name: str, known: Iterable[str], *, n: int = 3) -> list[str]:
    """Return up to ``n`` known names closest to ``name`` (case-insensitive)."""
    known_list = list(known)
    by_lower = {k.lower(): k for k in known_list}
    hits = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.5)
    return [by_lower[h] for h in hits]


class UnknownNameError(LowcarbError):
    """A name that is not in a catalogue; the message lists the closest known names."""

    what: str = "name"
    hint: str = ""

    def __init__(self, name: str, known: Iterable[str], *, hint: str | None = None) -> None:
        self.name = name
        self.suggestions = close_matches(name, known)
        msg = f"unknown {self.what} {name!r}"
        if self.suggestions:
            msg += "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        extra = hint if hint is not None else self.hint
        if extra:
            msg += f" ({extra})"
        super().__init__(msg)


class UnknownZoneError(UnknownNameError):
    """An unknown grid zone or cloud region."""

    what = "zone"
    hint = "run `lowcarb zones` to list known zones and cloud regions"


class UnknownHardwareError(UnknownNameError):
    """An unknown hardware name in the spec table."""

    what = "hardware"
    hint = "run `lowcarb estimate --list-hardware`, or give --power-w explicitly"


class UnknownRuleError(UnknownNameError):
    """An unknown rule name in a governance policy."""

    what = "policy rule"


class MissingDependencyError(LowcarbError):
    """An optional dependency is missing."""

    def __init__(self, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"{module!r} is not installed; install it with: pip install 'lowcarb[{extra}]'"
        )


class MeterError(LowcarbError):
    """A meter failed while measuring."""


class MeterUnavailableError(MeterError):
    """A meter cannot run on this machine."""


class DataError(LowcarbError):
    """Malformed input data."""


class TraceFormatError(DataError):
    """A malformed grid-intensity trace file."""


class ProfileError(DataError):
    """A malformed efficiency profile: a missing, unknown or out-of-range field."""


class ProviderError(LowcarbError):
    """A live data provider failed."""


class ForecastError(LowcarbError):
    """A forecast cannot be produced from the data given."""


class BudgetExceededError(LowcarbError):
    """A hard carbon budget refuses a run or submission (a negative verdict: exit status 1)."""

    exit_code = 1


class LedgerError(LowcarbError):
    """A ledger problem."""


class LedgerUnreachableError(LedgerError):
    """The ledger database cannot be reached."""


class LedgerBusyError(LedgerUnreachableError):
    """The ledger's write lock was not granted within the timeout; the work is spooled."""


class LedgerCorruptError(LedgerError):
    """The file is not a lowcarb ledger or is damaged; it is never overwritten."""


class LedgerSchemaError(LedgerError):
    """The ledger schema version is not one this lowcarb understands."""
