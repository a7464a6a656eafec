"""Training CO2e of a model version, read from the ledger (a field of its profile).

Training emissions are the location-based CO2e the ledger recorded, corrections applied.
"""

from __future__ import annotations

from dataclasses import dataclass

from lowcarb.ledger import Ledger, Record, RecordFilter

__all__ = ["TRAINING_STAGES", "TrainingCO2e", "training_co2e"]

#: Attribution stages that count as training (a run recorded without a stage counts too).
TRAINING_STAGES = (None, "training", "train")


@dataclass(frozen=True, slots=True)
class TrainingCO2e:
    """Training emissions of a model version, as the ledger records them.

    Attributes:
        co2e_kg: Sum over the records, kg (None when no record was found).
        records: Records summed.
        source: Where it came from (e.g. ``ledger:sqlite:///…``).
    """

    co2e_kg: float | None
    records: int
    source: str


def training_co2e(ledger: Ledger, *, model: str, version: str) -> TrainingCO2e:
    """Training CO2e of ``model`` version ``version``: its run records in the ledger, summed.

    A record counts when its attribution names the model and the version and its stage is unset
    or ``training``; a record replaced by a correction is replaced by the correction.

    Raises:
        LedgerError: The ledger cannot be read.
    """
    records: list[Record] = list(ledger.records(RecordFilter(model=model)))
    superseded = {r.corrects for r in records if r.corrects is not None}
    training = [
        r
        for r in records
        if r.id not in superseded
        and r.co2e_g is not None
        and r.attribution.model_version == version
        and r.attribution.stage in TRAINING_STAGES
        and r.kind in ("run", "correction")
    ]
    source = f"ledger:{ledger.url}"
    if not training:
        return TrainingCO2e(None, 0, source)
    return TrainingCO2e(sum(r.co2e_g or 0.0 for r in training) / 1000.0, len(training), source)
