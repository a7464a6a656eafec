"""A serving log (``lowcarb serve --log-features``, JSON Lines) read as a window: one row per
feature row, features named by position, outputs in their own columns, bad lines refused in one
line naming the line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lowcarb.errors import DataError, UsageError
from lowcarb.monitoring import LogColumns, read_serving_log, read_window
from lowcarb.monitoring._servelog import OUTPUTS_ATTR


def _request(
    time: str,
    rows: list[list[Any]],
    predictions: list[Any],
    probabilities: Any = None,
    model: str = "churn",
) -> dict[str, Any]:
    return {
        "time": time,
        "model": model,
        "rows": rows,
        "predictions": predictions,
        "probabilities": probabilities,
    }


def _log(path: Path, *requests: dict[str, Any], tail: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in requests) + tail, encoding="utf-8")
    return path


def _one_line(info: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(info.value)
    assert "\n" not in text
    return text


FIRST_ROWS = [[1.5, "north"], [2.5, "south"]]
REQUESTS = (
    _request("2026-12-04T14:00:00.123456Z", FIRST_ROWS, [1, 0], [[0.2, 0.8], [0.7, 0.3]]),
    _request("2026-12-04T15:00:00.000001Z", [[3.5, None]], [1], [[0.4, 0.6]]),
)


def test_one_window_row_per_feature_row_named_by_position(tmp_path: Path) -> None:
    path = _log(tmp_path / "serve.jsonl", *REQUESTS)
    frame = read_window(path, log=LogColumns(feature_names=("load", "region")))
    assert list(frame.columns) == ["load", "region", "prediction", "score_0", "score_1"]
    assert frame["load"].tolist() == [1.5, 2.5, 3.5]
    assert frame["region"].tolist()[:2] == ["north", "south"] and frame["region"].isna()[2]
    assert frame["prediction"].tolist() == [1, 0, 1]
    assert frame["score_1"].tolist() == [0.8, 0.3, 0.6]
    assert frame.attrs[OUTPUTS_ATTR]["scores"] == ["score_0", "score_1"]


def test_names_of_another_width_give_f0_to_fn(tmp_path: Path) -> None:
    path = _log(tmp_path / "serve.jsonl", *REQUESTS)
    frame = read_window(path, log=LogColumns(feature_names=("a", "b", "c")))
    assert list(frame.columns)[:2] == ["f0", "f1"]
    assert frame.attrs[OUTPUTS_ATTR]["named"] is False


def test_recognised_by_content_and_output_columns_named(tmp_path: Path) -> None:
    path = _log(tmp_path / "requests.log", *REQUESTS)  # no .jsonl suffix: content tells
    frame = read_window(path, log=LogColumns(prediction="pred", scores=("p_no", "p_yes")))
    assert list(frame.columns) == ["f0", "f1", "pred", "p_no", "p_yes"]


def test_a_model_without_probabilities(tmp_path: Path) -> None:
    path = _log(tmp_path / "serve.jsonl", _request("2026-12-04T14:00:00Z", [[1], [2]], [5, 6]))
    frame = read_window(path)
    assert list(frame.columns) == ["f0", "prediction"]
    assert frame.attrs[OUTPUTS_ATTR]["scores"] == []


def test_since_and_until_select_requests_by_time(tmp_path: Path) -> None:
    data = _log(tmp_path / "serve.jsonl", *REQUESTS).read_bytes()
    at = datetime(2026, 12, 4, 15, tzinfo=UTC)
    assert len(read_serving_log(data, source="s", columns=LogColumns(since=at))) == 1
    assert len(read_serving_log(data, source="s", columns=LogColumns(until=at))) == 2
    with pytest.raises(DataError) as info:
        read_serving_log(
            data,
            source="s",
            what="current window",
            columns=LogColumns(since=datetime(2027, 1, 1, tzinfo=UTC)),
        )
    assert _one_line(info) == (
        "current window 's' has no request at or after 2027-01-01T00:00:00+00:00; widen "
        "--since/--until"
    )


def test_a_line_being_written_is_left_for_the_next_read(tmp_path: Path) -> None:
    path = _log(tmp_path / "serve.jsonl", *REQUESTS, tail='{"time": "2026-12-04T16:00')
    assert len(read_window(path)) == 3


def test_several_models_need_a_choice(tmp_path: Path) -> None:
    other = _request("2026-12-04T14:30:00Z", [[1, 2, 3]], ["x"], model="fraud")
    path = _log(tmp_path / "serve.jsonl", *REQUESTS, other)
    with pytest.raises(DataError) as info:
        read_window(path, what="current window")
    assert "holds requests of 2 models ('churn', 'fraud'); choose one with --model NAME" in (
        _one_line(info)
    )
    assert len(read_window(path, log=LogColumns(model="fraud"))) == 1
    assert len(read_window(path, log=LogColumns(model="churn"))) == 3
    with pytest.raises(UsageError, match="has no request of model 'spam'; it has 'churn', 'fraud'"):
        read_window(path, log=LogColumns(model="spam"))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 2: not JSON (Expecting value at column 1)"),
        (
            '{"time": "2026-12-04T14:00:00Z", "model": "churn"}',
            "line 2: has no rows, predictions, probabilities",
        ),
        (
            '{"time": "2026-12-04T14:00:00", "model": "churn", "rows": [[1, 2]], '
            '"predictions": [1], "probabilities": null}',
            "line 2: time '2026-12-04T14:00:00' has no time zone (add Z)",
        ),
        (
            '{"time": "2026-12-04T14:00:00Z", "model": "churn", "rows": [[1, 2]], '
            '"predictions": [1, 0], "probabilities": null}',
            "line 2: 1 rows but predictions is 2; give one per row",
        ),
        (
            '{"time": "2026-12-04T14:00:00Z", "model": "churn", "rows": [[1, 2, 3]], '
            '"predictions": [1], "probabilities": null}',
            "line 2: a row of model 'churn' has 3 values, earlier rows 2",
        ),
        (
            '{"time": "2026-12-04T14:00:00Z", "model": "churn", "rows": [[1, [2]]], '
            '"predictions": [1], "probabilities": null}',
            "line 2: a row holds [2]; values must be numbers, text or null",
        ),
        ("[1, 2]", "line 2: not a JSON object but list"),
    ],
)
def test_a_bad_line_is_one_line_naming_it(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "serve.jsonl"
    path.write_text(json.dumps(REQUESTS[0]) + "\n" + line + "\n" + json.dumps(REQUESTS[1]) + "\n")
    with pytest.raises(DataError) as info:
        read_window(path, what="current window")
    text = _one_line(info)
    assert text.startswith(f"current window {str(path)!r} line 2: ")
    assert message in text


def test_outputs_cannot_take_a_feature_name(tmp_path: Path) -> None:
    path = _log(tmp_path / "serve.jsonl", *REQUESTS)
    with pytest.raises(DataError, match="a feature is named 'prediction'"):
        read_window(path, log=LogColumns(feature_names=("load", "prediction")))
    with pytest.raises(DataError, match="2 class probabilities per row but 3 score columns"):
        read_window(path, log=LogColumns(scores=("a", "b", "c")))


def test_a_table_refuses_a_period(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text("a\n1\n")
    with pytest.raises(UsageError, match="is a table, not a serving log; --since and --until"):
        read_window(path, log=LogColumns(since=datetime(2026, 1, 1, tzinfo=UTC)))


def test_what_lowcarb_serve_writes_is_read_as_a_window(tmp_path: Path) -> None:
    # The writer (lowcarb.serving.FeatureLog) and this reader are siblings that may not import
    # each other: this test holds them to one format.
    from lowcarb.serving import FeatureLog

    times = iter([datetime(2026, 12, 4, 14, tzinfo=UTC), datetime(2026, 12, 4, 15, tzinfo=UTC)])
    log = FeatureLog(tmp_path / "serve.jsonl", clock=lambda: next(times))
    log.open()
    log.write("iris", [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], [0, 2])
    log.write("iris", [[5.9, 3.0, 4.2, 1.5]], [1])
    log.close()
    names = ("sepal_length", "sepal_width", "petal_length", "petal_width")
    frame = read_window(tmp_path / "serve.jsonl", log=LogColumns(feature_names=names))
    assert list(frame.columns)[:4] == list(names)
    assert frame["petal_length"].tolist() == [1.4, 5.2, 4.2]
    assert frame["prediction"].tolist() == [0, 2, 1]
    late = read_window(
        tmp_path / "serve.jsonl",
        log=LogColumns(feature_names=names, since=datetime(2026, 12, 4, 14, 30, tzinfo=UTC)),
    )
    assert late["sepal_length"].tolist() == [5.9]
