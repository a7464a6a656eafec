"""What a gate rule is: the :class:`GateRule` contract and the :class:`ThresholdRule` template.

A rule is one small, stateless object. The gate (:func:`~lowcarb.governance.evaluate_gate`)
walks a table of them in order (:data:`~lowcarb.governance.GATE_RULES`); for each rule whose
policy key is set, it calls :meth:`GateRule.check` and collects the :class:`Check` it returns.
Adding a rule is one class and one line in the table.

Every limit is inclusive, and comparisons allow a tiny relative slack (see :func:`above`), so a
value *at* a limit decides as the policy says, not as binary floating point says.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from lowcarb.governance._verdict import Check
from lowcarb.profiling import Profile

__all__ = ["GateRule", "RuleResult", "ThresholdRule", "above", "below", "is_number", "pct_change"]

#: A policy's ``rules:`` mapping: rule name -> limit (a number) or flag.
Limits = Mapping[str, float | bool]

# Profiles carry binary floats: (1050.0 - 1000.0) / 1000.0 * 100 may come out as
# 5.000000000000004, and 0.57 - 0.56 as 0.009999999999999898. A value "at" a limit must decide as
# the policy says, not as the representation error says, so comparisons allow 1e-9 relative slack,
# far below any difference a profile can measure.
_REL_TOL = 1e-9


def above(value: float, limit: float) -> bool:
    """Whether ``value`` exceeds ``limit`` by more than the representation slack."""
    return value > limit + _REL_TOL * max(1.0, abs(limit))


def below(value: float, limit: float) -> bool:
    """Whether ``value`` falls short of ``limit`` by more than the representation slack."""
    return value < limit - _REL_TOL * max(1.0, abs(limit))


def pct_change(candidate: float, baseline: float) -> float:
    """Change from ``baseline`` to ``candidate``, % of ``baseline`` (which must not be zero)."""
    return (candidate - baseline) / baseline * 100.0


def is_number(value: object) -> bool:
    """A number and not a bool (YAML ``true`` is an ``int`` to Python)."""
    return isinstance(value, float | int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class RuleResult:
    """What one rule says about a candidate.

    Attributes:
        check: The outcome, one row of the verdict.
        warning: A sentence for the verdict's warnings (e.g. a rule that could not be applied).
    """

    check: Check
    warning: str | None = None


class GateRule(ABC):
    """One promotion rule.

    Contract:

    - :attr:`name` is the policy key (``rules.<name>``) whose value switches the rule on and is
      its limit; it is also the ``rule`` of the :class:`Check` it returns, and what an override
      names.
    - :attr:`reads` lists the profile fields the rule reads; :attr:`policy_keys` the other policy
      keys it reads (besides its own).
    - :meth:`applies` says whether the policy's value switches the rule on (default: set).
    - :meth:`check` returns exactly one :class:`Check`, whose message is one human sentence
      quoting the figures compared. It raises :class:`~lowcarb.errors.ProfileError` for
      profiles no verdict can be computed from (a zero baseline for a percent change).
    - A rule is stateless and immutable: one instance serves every gate, from any thread.
    """

    name: ClassVar[str]
    reads: ClassVar[tuple[str, ...]]
    policy_keys: ClassVar[tuple[str, ...]] = ()

    def applies(self, limit: float | bool | None) -> bool:
        """Whether the policy's value ``limit`` (None when unset) switches this rule on."""
        return limit is not None

    @abstractmethod
    def check(
        self, limit: float | bool, candidate: Profile, baseline: Profile | None, rules: Limits
    ) -> RuleResult:
        """Judge ``candidate`` against ``baseline`` (None: first version) under ``limit``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ThresholdRule(GateRule):
    """A rule that compares one number of the candidate's profile with the policy's limit.

    Subclasses give :meth:`value` (the number; None when unknown, which fails: the gate cannot
    show an unknown value is within the limit) and :meth:`message`. A *floor* rejects values
    below the limit, any other rule values above it.
    """

    unit: ClassVar[str] = ""
    floor: ClassVar[bool] = False

    @abstractmethod
    def value(self, candidate: Profile) -> float | None:
        """The number compared with the limit."""

    @abstractmethod
    def message(self, value: float, limit: float, ok: bool) -> str:
        """The sentence of a pass (``ok``) or a fail."""

    def unknown_message(self, limit: float, candidate: Profile) -> str:
        """The sentence of a fail because :meth:`value` is unknown."""
        return (
            f"{self.name} of {candidate.label} is unknown, so the {limit:g} limit cannot be "
            "shown to hold"
        )

    def check(
        self, limit: float | bool, candidate: Profile, baseline: Profile | None, rules: Limits
    ) -> RuleResult:
        """See :class:`ThresholdRule`."""
        v = self.value(candidate)
        if v is None:
            msg = self.unknown_message(limit, candidate)
            return RuleResult(Check(self.name, "fail", msg, limit, None, self.unit))
        ok = not (below(v, float(limit)) if self.floor else above(v, float(limit)))
        msg = self.message(v, limit, ok)
        return RuleResult(Check(self.name, "pass" if ok else "fail", msg, limit, v, self.unit))
