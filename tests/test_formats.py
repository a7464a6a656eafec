"""The bounded JSON and YAML readers."""

from __future__ import annotations

import pytest

from lowcarb._formats import load_json, load_yaml
from lowcarb.errors import DataError


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (b'{"a": 1, "a": 2}', "'a' is given twice"),
        (b'{"a": NaN}', "NaN is not a number"),
        (b'{"a": Infinity}', "Infinity"),
        (b'{"a": 1e400}', "not finite"),
        (b'{"a": ' + b"9" * 5000 + b"}", "5000 characters"),
        (b"[" * 100_000 + b"]" * 100_000, "nested more than 64"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_json_refusals(text: bytes, needle: str) -> None:
    with pytest.raises(DataError, match=needle) as info:
        load_json(text, source="x.json")
    assert str(info.value).startswith("x.json: ") and "\n" not in str(info.value)


def test_json_accepts_ordinary_documents() -> None:
    assert load_json('{"a": [1, 2.5, "[{"], "b": {"c": null}}', source="x") == {
        "a": [1, 2.5, "[{"],
        "b": {"c": None},
    }


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("a: &x [1, 2]\nb: *x\n", "aliases"),
        ("lol: &a [x]\nl2: &b [*a, *a]\nl3: [*b, *b, *b]\n", "aliases"),
        ("a: 1\na: 2\n", "'a' is given twice"),
        ("a: .nan\n", "not a finite number"),
        ("a: .inf\n", "not a finite number"),
        ("a: " + "9" * 5000 + "\n", "5000 characters"),
        ("a: [1\n", "not valid YAML"),
        ("a: " + "[" * 100 + "]" * 100 + "\n", "nested more than 64"),
    ],
)
def test_yaml_refusals(text: str, needle: str) -> None:
    with pytest.raises(DataError, match=needle):
        load_yaml(text, source="p.yaml")


def test_yaml_refuses_bad_bytes_and_keeps_anchors_without_aliases() -> None:
    with pytest.raises(DataError, match="not UTF-8 text"):
        load_yaml("caf\xe9: 1\n".encode("latin-1"), source="p.yaml")
    assert load_yaml("a: &x 1\nb: 2.5\n", source="p") == {"a": 1, "b": 2.5}
