"""Reading windows from CSV and Parquet, telling numeric from categorical, and every bad file or
table refused in one line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lowcarb.errors import DataError, UsageError
from lowcarb.monitoring import check_feature_names, detect_drift, infer_kind, read_window
from lowcarb.monitoring._tables import check_windows, feature_sample


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _message(info: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(info.value)
    assert "\n" not in text
    return text


def test_a_csv_window_reads_values_as_text_and_missing_tokens_as_missing(tmp_path: Path) -> None:
    path = _write(tmp_path / "w.csv", "x,colour\n1.5,red\n,NA\n2,blue\nNaN,\n")
    frame = read_window(path)
    assert list(frame.columns) == ["x", "colour"]
    assert frame["x"].isna().tolist() == [False, True, False, True]
    assert frame["colour"].isna().tolist() == [False, True, False, True]
    sample = feature_sample("x", frame["x"], frame["x"])
    assert sample.kind == "numeric"
    assert sample.reference.tolist() == [1.5, 2.0]
    assert sample.missing_share_reference == 0.5


def test_parquet_is_recognised_by_content_and_keeps_types(tmp_path: Path) -> None:
    path = tmp_path / "window.data"
    pq.write_table(pa.table({"x": [1.0, 2.0, None], "n": [1, 2, 3], "c": ["a", "b", "a"]}), path)
    frame = read_window(path)
    assert frame["x"].isna().tolist() == [False, False, True]
    assert infer_kind("n", frame["n"], frame["n"]) == "numeric"
    assert infer_kind("c", frame["c"], frame["c"]) == "categorical"


def test_csv_and_parquet_windows_give_the_same_report(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"a": rng.normal(size=300), "b": rng.choice(["x", "y"], 300)})
    cur = pd.DataFrame({"a": rng.normal(0.6, 1, size=300), "b": rng.choice(["x", "y"], 300)})
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_parquet(tmp_path / "cur.parquet")
    from_csv = detect_drift(read_window(tmp_path / "ref.csv"), read_window(tmp_path / "cur.csv"))
    from_pq = detect_drift(
        read_window(tmp_path / "ref.parquet"), read_window(tmp_path / "cur.parquet")
    )
    assert from_csv.drifted == from_pq.drifted
    assert "a" in from_csv.drifted
    for a, b in zip(from_csv.features, from_pq.features, strict=True):
        assert a.value == pytest.approx(b.value, rel=1e-9)


def test_kinds_numbers_text_booleans_and_declared_categorical() -> None:
    numbers = pd.Series(["1", "2.5", None, "-3e2"])
    text = pd.Series(["a", "b", "1", None])
    assert infer_kind("n", numbers, numbers) == "numeric"
    assert infer_kind("t", text, text) == "categorical"
    flags = pd.Series([True, False, True])
    assert infer_kind("f", flags, flags) == "categorical"
    codes = pd.Series([1, 2, 3])
    assert infer_kind("c", codes, codes, categorical=True) == "categorical"


def test_a_few_bad_values_in_a_numeric_reference_are_named() -> None:
    ref = pd.Series([str(i) for i in range(19)] + ["n/a?"])
    with pytest.raises(DataError) as info:
        infer_kind("age", ref, ref)
    assert _message(info) == (
        "feature 'age' is numeric but the reference window holds 'n/a?' (row 20); fix or blank "
        "the value, or declare the feature categorical (--categorical age, or "
        "retrain.drift.categorical in the policy)"
    )


def test_text_where_the_reference_has_numbers_is_named() -> None:
    with pytest.raises(DataError) as info:
        infer_kind("age", pd.Series([1.0, 2.0]), pd.Series(["1", "x", "3"]))
    assert "the current window holds 'x' (row 2)" in _message(info)


def test_non_finite_numbers_are_refused(tmp_path: Path) -> None:
    frame = read_window(_write(tmp_path / "w.csv", "x\n1\n2\ninf\n"))
    with pytest.raises(DataError) as info:
        feature_sample("x", frame["x"].iloc[:2], frame["x"])
    assert _message(info) == (
        "feature 'x' holds the non-finite value 'inf' in the current window (row 3); fix or "
        "blank the value"
    )


def test_duplicate_column_names_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "w.csv", "a,b,a\n1,2,3\n")
    with pytest.raises(DataError) as info:
        read_window(path, what="reference window")
    assert _message(info) == (
        f"reference window {str(path)!r} names column 'a' twice; give every column its own name"
    )


def test_missing_directory_fifo_and_oversized_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        read_window(tmp_path / "nope.csv", what="current window")
    assert _message(info) == (
        f"current window {str(tmp_path / 'nope.csv')!r} does not exist; check the path"
    )
    with pytest.raises(UsageError, match="is a directory; give a file"):
        read_window(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="is not a regular file"):
        read_window(fifo)  # refused without opening: reading a FIFO would block
    big = _write(tmp_path / "big.csv", "x\n" + "1\n" * 100)
    with pytest.raises(DataError) as info:
        read_window(big, max_bytes=50)
    assert _message(info) == (
        f"window {str(big)!r} is 202 bytes, over the 50-byte limit; sample it, or raise the limit"
    )


def test_files_that_are_not_tables_are_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.parquet"
    fake.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"is not a readable Parquet file \("):
        read_window(fake)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="is not UTF-8 text"):
        read_window(latin)
    with pytest.raises(DataError, match="has no header row"):
        read_window(_write(tmp_path / "empty.csv", ""))
    ragged = _write(tmp_path / "ragged.csv", "a,b\n1,2\n1,2,3,4\n")
    with pytest.raises(DataError, match=r"row 2 \(line 3\) has 4 fields but the header names 2"):
        read_window(ragged)


def test_windows_must_be_dataframes_with_columns_and_rows() -> None:
    frame = pd.DataFrame({"a": [1.0]})
    with pytest.raises(UsageError) as info:
        check_windows([1, 2], frame)
    assert _message(info) == (
        "the reference window must be a pandas DataFrame, got list; read files with read_window()"
    )
    with pytest.raises(DataError, match="the reference window has no columns"):
        check_windows(pd.DataFrame(), frame)
    with pytest.raises(UsageError, match="features is empty"):
        check_windows(frame, frame, features=[])


def test_feature_names_are_checked_deduplicated_and_listed_when_unknown() -> None:
    known = [f"col{i}" for i in range(15)]
    assert check_feature_names(["col1", "col1", "col2"], known, what="features") == (
        "col1",
        "col2",
    )
    with pytest.raises(UsageError) as info:
        check_feature_names(["zzz"], known, what="the policy")
    assert _message(info) == (
        "unknown feature 'zzz' in the policy (the windows have 'col0', 'col1', 'col2', 'col3', "
        "'col4', 'col5', 'col6', 'col7', 'col8', 'col9' and 5 more)"
    )


def test_a_feature_missing_in_every_reference_row_is_named_before_its_kind(
    tmp_path: Path,
) -> None:
    ref: Any = pd.Series([None, None], dtype=object)
    with pytest.raises(DataError) as info:
        feature_sample("x", ref, pd.Series(["a", "b"]))
    assert _message(info) == (
        "feature 'x' is missing in all 2 rows of the reference window; fix the data or leave "
        "the feature out"
    )


def test_a_row_with_one_field_more_than_the_header_is_refused_not_shifted(
    tmp_path: Path,
) -> None:
    # pandas reads such a file with the first field as an implicit index: every value shifted one
    # column left, a wrong window and exit 0 (audit B1).
    path = _write(tmp_path / "c2.csv", "a,b\n100,1,2\n200,3,4\n300,5,6\n")
    with pytest.raises(DataError) as info:
        read_window(path, what="current window")
    assert _message(info) == (
        f"current window {str(path)!r} row 1 (line 2) has 3 fields but the header names 2; fix "
        "the row (a stray or missing comma? quote values that hold commas)"
    )


def test_a_short_row_is_refused_and_rows_are_counted_as_the_windows(tmp_path: Path) -> None:
    path = _write(tmp_path / "short.csv", 'a,b,c\n1,"x,y",3\n\n2,y,4\n3,x\n')
    with pytest.raises(DataError, match=r"row 3 \(line 5\) has 2 fields but the header names 3"):
        read_window(path)
    fine = _write(tmp_path / "fine.csv", 'a,b,c\n1,"x,y",3\n\n2,y,\n')
    frame = read_window(fine)
    assert frame["b"].tolist() == ["x,y", "y"] and frame["c"].isna().tolist() == [False, True]
