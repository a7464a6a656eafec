"""The promotion rules of a policy, one class each, and :data:`GATE_RULES`, the table of them.

Boundary semantics (every limit is inclusive):

- ``max_energy_increase_pct: 5`` promotes +5.0 % and rejects anything above; an energy rise past
  the limit is *excused* when the accuracy gain, in percentage points, is at least
  ``min_accuracy_gain_pts_to_exceed`` (a gain exactly at the threshold excuses).
- ``max_flops_increase_pct``, ``max_latency_p95_ms``, ``max_training_co2e_kg``,
  ``max_energy_per_1k_j``, ``max_size_bytes``, ``min_accuracy``, ``max_accuracy_drop_pts`` each
  reject on their own.
- A candidate whose FLOPs or training CO2e is unknown (null) fails the rule that needs it: the
  gate cannot show it is within the limit. A baseline with unknown FLOPs skips the FLOPs rule
  (nothing to compare with), with a warning.
- A baseline with zero energy or zero FLOPs makes a percent change undefined: that is bad input
  (:class:`~lowcarb.errors.ProfileError`), not a verdict.
"""

from __future__ import annotations

from lowcarb.errors import ProfileError
from lowcarb.governance._rule import (
    GateRule,
    Limits,
    RuleResult,
    ThresholdRule,
    above,
    below,
    is_number,
    pct_change,
)
from lowcarb.governance._verdict import Check
from lowcarb.profiling import Profile

__all__ = ["GATE_RULES"]


def _within(ok: bool) -> str:
    return "within" if ok else "above"


class RequireMeasuredEnergy(GateRule):
    """``require_measured_energy: true``: both profiles' energy comes from hardware counters."""

    name = "require_measured_energy"
    reads = ("energy_method",)

    def applies(self, limit: float | bool | None) -> bool:
        return limit is True

    def check(
        self, limit: float | bool, candidate: Profile, baseline: Profile | None, rules: Limits
    ) -> RuleResult:
        c = candidate
        estimated = [
            p.label for p in (c, baseline) if p is not None and p.energy_method != "measured"
        ]
        if not estimated:
            return RuleResult(Check(self.name, "pass", "energy is measured", True, c.energy_method))
        msg = (
            f"energy of {', '.join(estimated)} is estimated (a power model); the policy "
            "requires measured energy (hardware counters such as RAPL or NVML)"
        )
        return RuleResult(Check(self.name, "fail", msg, True, c.energy_method))


class MaxEnergyIncreasePct(GateRule):
    """Energy per 1k inferences may rise at most this many %, unless accuracy pays for it."""

    name = "max_energy_increase_pct"
    reads = ("energy_per_1k_j", "accuracy")
    policy_keys = ("min_accuracy_gain_pts_to_exceed",)

    def applies(self, limit: float | bool | None) -> bool:
        return is_number(limit)

    def check(
        self, limit: float | bool, candidate: Profile, baseline: Profile | None, rules: Limits
    ) -> RuleResult:
        c, b = candidate, baseline
        if b is None:
            return RuleResult(Check(self.name, "skipped", "no baseline to compare with", limit))
        if b.energy_per_1k_j == 0:
            raise ProfileError(
                f"baseline {b.label} has energy_per_1k_j = 0, so a percent change is "
                "undefined; re-profile the baseline (`lowcarb profile`) with a longer window"
            )
        pct = pct_change(c.energy_per_1k_j, b.energy_per_1k_j)
        change = (
            f"energy per 1k inferences {pct:+.2f}% ({b.energy_per_1k_j:.4g} J -> "
            f"{c.energy_per_1k_j:.4g} J)"
        )
        if not above(pct, limit):
            msg = f"{change}, within the {limit:g}% limit"
            return RuleResult(Check(self.name, "pass", msg, limit, pct, "%"))
        excuse = rules.get("min_accuracy_gain_pts_to_exceed")
        gain = (c.accuracy - b.accuracy) * 100.0
        if isinstance(excuse, float | int) and not below(gain, float(excuse)):
            msg = (
                f"{change}, above the {limit:g}% limit but excused by an accuracy gain of "
                f"{gain:+.2f} pts (>= {excuse:g} pts)"
            )
            return RuleResult(Check(self.name, "excused", msg, limit, pct, "%"))
        why = (
            f"; the accuracy gain of {gain:+.2f} pts is below the {excuse:g} pts that would "
            "excuse it"
            if isinstance(excuse, float | int)
            else ""
        )
        msg = f"{change}, above the {limit:g}% limit{why}"
        return RuleResult(Check(self.name, "fail", msg, limit, pct, "%"))


class MaxEnergyPer1kJ(ThresholdRule):
    """Energy per 1k inferences, J, at most."""

    name = "max_energy_per_1k_j"
    reads = ("energy_per_1k_j",)
    unit = "J"

    def applies(self, limit: float | bool | None) -> bool:
        return is_number(limit)

    def value(self, candidate: Profile) -> float:
        return candidate.energy_per_1k_j

    def message(self, value: float, limit: float, ok: bool) -> str:
        return f"energy per 1k inferences {value:.4g} J {_within(ok)} the {limit:g} J limit"


class MaxFlopsIncreasePct(GateRule):
    """FLOPs per inference may rise at most this many %."""

    name = "max_flops_increase_pct"
    reads = ("flops", "flops_note")

    def check(
        self, limit: float | bool, candidate: Profile, baseline: Profile | None, rules: Limits
    ) -> RuleResult:
        c, b = candidate, baseline
        lim = float(limit)  # this rule has always reported its limit as a float
        if b is None:
            return RuleResult(Check(self.name, "skipped", "no baseline to compare with", lim))
        if c.flops is None:
            msg = (
                f"FLOPs of {c.label} are unknown ({c.flops_note or 'not derivable'}), so the "
                f"{lim:g}% limit cannot be shown to hold"
            )
            return RuleResult(Check(self.name, "fail", msg, lim, None, "%"))
        if b.flops is None:
            msg = f"baseline {b.label} has no FLOPs count; the FLOPs rule was not applied"
            return RuleResult(Check(self.name, "skipped", msg, lim), warning=msg)
        if b.flops == 0:
            raise ProfileError(
                f"baseline {b.label} has flops = 0, so a percent change is undefined; use null "
                "for models whose FLOPs are not derivable"
            )
        pct = pct_change(c.flops, b.flops)
        ok = not above(pct, lim)
        msg = (
            f"FLOPs per inference {pct:+.2f}% ({b.flops:.4g} -> {c.flops:.4g}), "
            f"{_within(ok)} the {lim:g}% limit"
        )
        return RuleResult(Check(self.name, "pass" if ok else "fail", msg, lim, pct, "%"))


class MaxLatencyP95Ms(ThresholdRule):
    """p95 latency at batch size 1, ms, at most."""

    name = "max_latency_p95_ms"
    reads = ("latency_p95_ms",)
    unit = "ms"

    def value(self, candidate: Profile) -> float:
        return candidate.latency_p95_ms

    def message(self, value: float, limit: float, ok: bool) -> str:
        return f"p95 latency {value:.3f} ms {_within(ok)} the {limit:g} ms limit"


class MaxTrainingCO2eKg(ThresholdRule):
    """Training CO2e, kg, at most; unknown training CO2e fails."""

    name = "max_training_co2e_kg"
    reads = ("training_co2e_kg",)
    unit = "kg"

    def value(self, candidate: Profile) -> float | None:
        return candidate.training_co2e_kg

    def unknown_message(self, limit: float, candidate: Profile) -> str:
        return (
            f"training CO2e of {candidate.label} is unknown (no ledger records), so the "
            f"{limit:g} kg limit cannot be shown to hold"
        )

    def message(self, value: float, limit: float, ok: bool) -> str:
        return f"training CO2e {value:.4g} kg {_within(ok)} the {limit:g} kg limit"


class MinAccuracy(ThresholdRule):
    """Held-out accuracy, 0..1, at least."""

    name = "min_accuracy"
    reads = ("accuracy",)
    floor = True

    def value(self, candidate: Profile) -> float:
        return candidate.accuracy

    def message(self, value: float, limit: float, ok: bool) -> str:
        return f"accuracy {value:.4f} {'meets' if ok else 'below'} the {limit:g} floor"


class MaxAccuracyDropPts(GateRule):
    """Accuracy may fall at most this many percentage points below the baseline's."""

    name = "max_accuracy_drop_pts"
    reads = ("accuracy",)

    def check(
        self, limit: float | bool, candidate: Profile, baseline: Profile | None, rules: Limits
    ) -> RuleResult:
        c, b = candidate, baseline
        if b is None:
            return RuleResult(Check(self.name, "skipped", "no baseline", limit))
        drop = (b.accuracy - c.accuracy) * 100.0
        ok = not above(drop, float(limit))
        msg = (
            f"accuracy change {-drop:+.2f} pts ({b.accuracy:.4f} -> {c.accuracy:.4f}), "
            f"{'within' if ok else 'beyond'} the {limit:g} pts allowed drop"
        )
        return RuleResult(Check(self.name, "pass" if ok else "fail", msg, limit, drop, "pts"))


class MaxSizeBytes(ThresholdRule):
    """Model size on disk, bytes, at most."""

    name = "max_size_bytes"
    reads = ("size_bytes",)
    unit = "bytes"

    def value(self, candidate: Profile) -> float:
        return candidate.size_bytes

    def message(self, value: float, limit: float, ok: bool) -> str:
        return f"size {value} bytes {_within(ok)} the {limit:g} limit"


#: Every rule the gate applies, in the order their checks appear in a verdict. Adding a rule:
#: one class above (or anywhere) and one line here; a policy file may then set it once its
#: limit is described in :data:`~lowcarb.governance.RULES` (the policy schema).
GATE_RULES: tuple[GateRule, ...] = (
    RequireMeasuredEnergy(),
    MaxEnergyIncreasePct(),
    MaxEnergyPer1kJ(),
    MaxFlopsIncreasePct(),
    MaxLatencyP95Ms(),
    MaxTrainingCO2eKg(),
    MinAccuracy(),
    MaxAccuracyDropPts(),
    MaxSizeBytes(),
)
