"""The append hot path writes exactly the reference canonical body (byte for byte)."""

from __future__ import annotations

import enum
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from lowcarb.energy._types import ComponentEnergy, Measurement
from lowcarb.errors import InvalidValueError
from lowcarb.grid._types import Footprint, Intensity
from lowcarb.ledger import Attribution, MarketFactor, RecordDraft, draft_from_footprint
from lowcarb.ledger._canonical import body_dict, encode_body, figures_of, format_time
from lowcarb.ledger._fastbody import encode_draft_body
from lowcarb.ledger.testing import sample_draft

STAMP = "2024-05-01T13:00:00.000000Z"


class Zone(enum.StrEnum):
    DE = "DE"


def _both(draft: RecordDraft, *, signer: str | None = None, rid: str = "r-1") -> tuple[str, str]:
    """(fast, reference) body text, or the refusal message of each."""
    figures = figures_of(draft.footprint, draft.market) if draft.footprint else None
    try:
        ref = encode_body(
            body_dict(draft, record_id=rid, timestamp=STAMP, signer=signer, figures=figures)
        )
    except InvalidValueError as exc:
        ref = f"refused: {exc}"
    try:
        fast = encode_draft_body(
            draft, record_id=rid, timestamp=STAMP, signer=signer, figures=figures
        )
    except InvalidValueError as exc:
        fast = f"refused: {exc}"
    return fast, ref


def _random_text(rng: random.Random) -> str:
    alphabet = 'abcXYZ09 ,:{}[]"\\/\n\t\x00\x1fé€🌍\u2028'
    return "x" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))


def _random_float(rng: random.Random) -> float:
    return rng.choice(
        [0.0, -0.0, 1.0, 1 / 3, 5e-324, 1.7976931348623157e300, 1e16, 1e-7, rng.random() * 1e6]
    )


def _random_draft(rng: random.Random) -> RecordDraft:
    comps = tuple(
        ComponentEnergy(
            _random_text(rng),
            rng.choice([0, 7, abs(_random_float(rng))]),  # ints are written as floats
            rng.choice(["measured", "estimated"]),
            _random_text(rng),
            rng.choice(["", _random_text(rng)]),
        )
        for _ in range(rng.randint(0, 3))
    )
    cet = timezone(timedelta(hours=rng.randint(-12, 12)))
    measurement = Measurement(
        name=_random_text(rng),
        started_at=datetime(rng.randint(1, 9999), 5, 1, 12, 0, rng.randint(0, 59), 7, tzinfo=cet)
        if rng.random() < 0.9
        else datetime(2024, 1, 1, tzinfo=UTC),
        duration_s=abs(_random_float(rng)),
        components=comps,
        notes=tuple(_random_text(rng) for _ in range(rng.randint(0, 2))),
    )
    intensity = Intensity(
        zone=rng.choice(["DE", Zone.DE, _random_text(rng)]),
        intensity_g_per_kwh=rng.choice([380, abs(_random_float(rng))]),
        source=_random_text(rng),
        signal=rng.choice(["average", "marginal"]),
        scope=rng.choice(["lifecycle", "direct"]),
        kind=rng.choice(["measured", "estimated", "forecast"]),
        time=rng.choice([None, datetime(2024, 5, 1, 12, tzinfo=UTC)]),
        year=rng.choice([None, 2023]),
        note=rng.choice(["", _random_text(rng)]),
    )
    fp = Footprint(measurement=measurement, pue=rng.choice([1, 1.2, 1.58]), intensity=intensity)
    meta: dict[str, Any] = {}
    for _ in range(rng.randint(0, 4)):
        meta[_random_text(rng)] = rng.choice(
            [None, True, False, 2**70, -3, _random_float(rng), _random_text(rng), [1, "a"], {}]
        )
    attribution = Attribution(
        **{
            k: rng.choice([None, _random_text(rng)])
            for k in ("team", "project", "model", "model_version", "run_id", "stage", "user")
        }
    )
    market = rng.choice([None, MarketFactor(rng.choice([0, 12.5]), _random_text(rng))])
    return draft_from_footprint(fp, attribution=attribution, metadata=meta, market=market)


def test_fast_body_equals_the_reference_on_random_drafts() -> None:
    rng = random.Random(20240501)
    refused = 0
    for i in range(400):
        draft = _random_draft(rng)
        fast, ref = _both(draft, signer=rng.choice([None, "ed25519:ab12"]), rid=f"id-{i}")
        assert fast == ref, f"draft #{i}"
        refused += ref.startswith("refused")
    assert refused < 100  # most drafts are written, not refused (a real comparison)


@pytest.mark.parametrize(
    "draft",
    [
        sample_draft(),
        sample_draft(metadata={"city": "Zürich", "n": [1, 2.5, None, True], "d": {"b": 1}}),
        sample_draft(market=MarketFactor(0.0, "ppa:wind"), team=None, project=None),
        RecordDraft(kind="decision", metadata={"verdict": "pass"}),
        RecordDraft(kind="correction", corrects="r-0", attribution=Attribution(team="t")),
        RecordDraft(),
    ],
)
def test_fast_body_equals_the_reference_on_typical_drafts(draft: RecordDraft) -> None:
    fast, ref = _both(draft)
    assert fast == ref


def test_fast_body_computes_figures_when_not_given() -> None:
    draft = sample_draft()
    ref = encode_body(body_dict(draft, record_id="r", timestamp=STAMP, signer=None))
    assert encode_draft_body(draft, record_id="r", timestamp=STAMP, signer=None, figures=None) == (
        ref
    )


def test_fast_body_refuses_non_finite_figures_like_the_reference() -> None:
    draft = sample_draft(cpu_j=1e308, gpu_j=1e308)  # facility energy overflows to inf
    assert draft.footprint is not None
    figures = figures_of(draft.footprint, None)
    with pytest.raises(InvalidValueError, match="finite"):
        encode_body(body_dict(draft, record_id="r", timestamp=STAMP, signer=None, figures=figures))
    with pytest.raises(InvalidValueError, match="finite"):
        encode_draft_body(draft, record_id="r", timestamp=STAMP, signer=None, figures=figures)


def test_format_time_matches_isoformat() -> None:
    rng = random.Random(7)
    for _ in range(500):
        value = datetime(
            rng.randint(1, 9999),
            rng.randint(1, 12),
            rng.randint(1, 28),
            rng.randint(0, 23),
            rng.randint(0, 59),
            rng.randint(0, 59),
            rng.choice([0, 1, 999_999, rng.randint(0, 999_999)]),
            tzinfo=UTC,
        )
        expected = value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
        assert format_time(value) == expected
