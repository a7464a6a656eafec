"""Records, canonical serialisation and the hash (no database)."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

import lowcarb.ledger as ledger_pkg
from lowcarb.errors import InvalidValueError, LedgerCorruptError
from lowcarb.ledger import (
    Attribution,
    MarketFactor,
    RecordDraft,
    draft_from_footprint,
    record_dict,
)
from lowcarb.ledger._canonical import (
    GENESIS_HASH,
    body_dict,
    chain_hash,
    encode_body,
    format_time,
    record_from_row,
)
from lowcarb.ledger.testing import sample_draft, sample_footprint

T0 = datetime(2024, 5, 1, 13, 0, tzinfo=UTC)

GOLDEN = (
    '{"attribution":{"model":"resnet50","model_version":null,"project":"detector","run_id":null,'
    '"stage":null,"team":"vision","user":null},"corrects":null,"footprint":{"co2e_g":1368.0,'
    '"energy_kwh":3.6,"intensity":{"intensity_g_per_kwh":380.0,"kind":"estimated","note":"",'
    '"scope":"lifecycle","signal":"average","source":"test:fixed","time":null,"year":null,'
    '"zone":"DE"},"it_energy_kwh":3.0,"market":null,"measurement":{"components":[{"detail":"",'
    '"energy_j":3600000.0,"method":"measured","name":"cpu","source":"rapl:intel-rapl:0"},'
    '{"detail":"","energy_j":7200000.0,"method":"measured","name":"gpu:0",'
    '"source":"nvml:total_energy_consumption"}],"duration_s":3600.0,"name":"run","notes":[],'
    '"started_at":"2024-05-01T12:00:00.000000Z"},"pue":1.2},"id":"rec-1","kind":"run",'
    '"metadata":{"city":"Z\\u00fcrich","cmd":["python","train.py"],"ratio":0.1},"signer":null,'
    '"timestamp":"2024-05-01T13:00:00.000000Z","v":1}'
)


def _body(draft: RecordDraft, **kw: object) -> str:
    args: dict[str, object] = {"record_id": "rec-1", "timestamp": T0, "signer": None, **kw}
    return encode_body(body_dict(draft, **args))  # type: ignore[arg-type]


def test_public_names_are_exactly_exported() -> None:
    assert sorted(ledger_pkg.__all__) == sorted(
        [
            "DEFAULT_URL",
            "ENV_VAR",
            "EXPORT_FORMATS",
            "FLAT_COLUMNS",
            "GENESIS_HASH",
            "KNOWN_KINDS",
            "SIGNING_KEY_ENV_VAR",
            "Attribution",
            "Checkpoint",
            "Ed25519Signer",
            "GroupBy",
            "Ledger",
            "MarketFactor",
            "Record",
            "RecordDraft",
            "RecordFilter",
            "SqlLedgerStore",
            "TotalRow",
            "Totals",
            "TrustedKey",
            "VerifyResult",
            "draft_from_footprint",
            "open_engine",
            "open_ledger",
            "record_dict",
            "TOKEN_SCOPES",
            "ApiToken",
            "IssuedToken",
            "TokenCheck",
            "TokenStore",
            "open_token_store",
        ]
    )
    for name in ledger_pkg.__all__:
        assert hasattr(ledger_pkg, name), name


def test_canonical_body_is_the_documented_format() -> None:
    draft = sample_draft(metadata={"cmd": ["python", "train.py"], "city": "Zürich", "ratio": 0.1})
    body = _body(draft)
    assert body == GOLDEN
    # Independently: sorted keys, no whitespace, ASCII only.
    assert body == json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    assert body.isascii()


def test_chain_hash_covers_position_predecessor_and_body() -> None:
    body = GOLDEN
    expected = hashlib.sha256(
        b"lowcarb-ledger/1\n7\n" + GENESIS_HASH.encode() + b"\n" + body.encode()
    ).hexdigest()
    assert chain_hash(7, GENESIS_HASH, body) == expected
    assert chain_hash(8, GENESIS_HASH, body) != expected
    assert chain_hash(7, "1" * 64, body) != expected
    assert chain_hash(7, GENESIS_HASH, body.replace("1368.0", "1368.1")) != expected


def test_floats_and_text_roundtrip_exactly_through_the_body() -> None:
    meta = {"tiny": 5e-324, "big": 1.7976931348623157e308, "third": 1 / 3, "neg0": -0.0}
    meta |= {"int": 2**62, "emoji": "🌍 CO₂", "nested": {"b": [1, 2.5, None, True]}}
    draft = sample_draft(cpu_j=0.1 + 0.2, intensity_g_per_kwh=123.456789012345678, metadata=meta)
    body = _body(draft)
    record = record_from_row(1, GENESIS_HASH, chain_hash(1, GENESIS_HASH, body), body, None)
    assert record.footprint is not None
    assert record.footprint.measurement.components[0].energy_j == 0.1 + 0.2
    assert record.footprint.intensity.intensity_g_per_kwh == 123.456789012345678
    assert dict(record.metadata)["third"] == 1 / 3
    assert math.copysign(1, record.metadata["neg0"]) == -1
    assert record.metadata["emoji"] == "🌍 CO₂"
    assert record.metadata["nested"]["b"] == (1, 2.5, None, True)
    assert record.co2e_g == draft.footprint.co2e_g  # type: ignore[union-attr]
    # Re-rendering the record gives the same canonical text (what was hashed).
    again = record_dict(record)
    for key in ("seq", "prev_hash", "hash", "signature"):
        again.pop(key)
    assert encode_body(again) == body


def test_timestamps_are_fixed_width_utc() -> None:
    cet = timezone(timedelta(hours=2))
    assert format_time(datetime(2024, 5, 1, 15, 0, 0, 5, tzinfo=cet)) == (
        "2024-05-01T13:00:00.000005Z"
    )
    with pytest.raises(InvalidValueError, match="timezone-aware"):
        format_time(datetime(2024, 5, 1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "Run!"}, "record kind"),
        ({"kind": "correction"}, "corrects another exactly when"),
        ({"corrects": "abc"}, "corrects another exactly when"),
        ({"market": MarketFactor(0.0, "ppa:x")}, "needs a footprint"),
        ({"metadata": {1: "x"}}, "metadata keys must be strings"),
        ({"metadata": {"x": float("nan")}}, "must be finite"),
        ({"metadata": {"x": object()}}, "must be JSON"),
    ],
)
def test_bad_drafts_are_refused_with_a_message(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        RecordDraft(**kwargs)  # type: ignore[arg-type]


def test_bad_footprints_and_attribution_are_refused() -> None:
    with pytest.raises(InvalidValueError, match="PUE"):
        draft_from_footprint(sample_footprint(pue=0.5))
    with pytest.raises(InvalidValueError, match="energy_j"):
        draft_from_footprint(sample_footprint(cpu_j=-1.0))
    with pytest.raises(InvalidValueError, match="timezone-aware"):
        draft_from_footprint(sample_footprint(started_at=datetime(2024, 1, 1)))
    with pytest.raises(InvalidValueError, match="attribution team"):
        Attribution(team="")
    with pytest.raises(InvalidValueError, match="market emission factor"):
        MarketFactor(-1.0, "ppa:x")


def test_metadata_is_read_only_and_detached_from_the_callers_dict() -> None:
    meta = {"tags": ["a"]}
    draft = sample_draft(metadata=meta)
    meta["tags"].append("b")
    assert draft.metadata["tags"] == ("a",)
    with pytest.raises(TypeError):
        draft.metadata["x"] = 1  # type: ignore[index]


def test_market_based_figure_uses_the_contractual_factor() -> None:
    draft = sample_draft(market=MarketFactor(intensity_g_per_kwh=20.0, source="ppa:wind"))
    d = json.loads(_body(draft))
    assert d["footprint"]["market"] == {
        "co2e_g": pytest.approx(3.6 * 20.0),
        "intensity_g_per_kwh": 20.0,
        "source": "ppa:wind",
    }


def test_unreadable_body_is_reported_as_corrupt() -> None:
    with pytest.raises(LedgerCorruptError, match="record #3"):
        record_from_row(3, GENESIS_HASH, "0" * 64, '{"not": "a record"}', None)


def test_bodies_are_built_presorted_so_the_fast_encoding_is_canonical() -> None:
    meta = {"z": 1, "a": {"y": [{"b": 1, "a": 2}], "x": None}, "M": "upper sorts first"}
    for draft in (
        sample_draft(metadata=meta),
        sample_draft(market=MarketFactor(5.0, "ppa:x"), team=None),
        RecordDraft(kind="decision", metadata=meta),
    ):
        body = body_dict(draft, record_id="r", timestamp=T0, signer="ed25519:abc")
        assert encode_body(body, presorted=True) == encode_body(body)


def test_record_ids_are_time_ordered_uuid7() -> None:
    import uuid

    from lowcarb.ledger._record import new_record_id

    ids = [new_record_id() for _ in range(2000)]
    assert len(set(ids)) == 2000
    parsed = [uuid.UUID(i) for i in ids]
    assert {p.version for p in parsed} == {7}
    assert {p.variant for p in parsed} == {uuid.RFC_4122}
    stamps = [p.int >> 80 for p in parsed]
    assert stamps == sorted(stamps)
