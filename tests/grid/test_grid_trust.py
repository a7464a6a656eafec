"""Providers and traces under bad data and faults: deadlines, bounds, stale readings, caches."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from lowcarb.errors import ProviderError, TraceFormatError
from lowcarb.grid import ElectricityMapsSource
from lowcarb.grid._http import DiskCache, JsonFetcher, RetryPolicy
from lowcarb.grid._trace import load_trace, load_trace_table

NOW = datetime(2024, 3, 5, 10, 30, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]


def _source(handler: Handler, *, fallback: bool = False, **retry: float) -> ElectricityMapsSource:
    policy = RetryPolicy(attempts=1, timeout_s=2.0, **retry)  # type: ignore[arg-type]
    fetcher = JsonFetcher(
        "electricitymaps",
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        retry=policy,
        sleep=lambda _s: None,
    )
    return ElectricityMapsSource("tok", fetcher=fetcher, fallback=fallback)


def _latest(value: object, when: str = "2024-03-05T10:00:00.000Z") -> dict[str, object]:
    return {"zone": "DE", "carbonIntensity": value, "datetime": when, "isEstimated": False}


# -- a server that never finishes must not hang lowcarb ----------------------------------


@pytest.fixture
def slow_drip_url() -> Iterator[str]:
    """A real HTTP server that sends its body one byte every 0.2 s, for ever."""

    class Drip(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                self.wfile.write(b'{"zone": "DE", "carbonIntensity": 1')
                while True:
                    self.wfile.write(b"0")
                    self.wfile.flush()
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                return

        def log_message(self, *_: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_slow_drip_server_hits_the_overall_deadline(slow_drip_url: str) -> None:
    fetcher = JsonFetcher(
        "electricitymaps",
        retry=RetryPolicy(attempts=3, timeout_s=5.0, deadline_s=1.0),
        sleep=lambda _s: None,
    )
    src = ElectricityMapsSource("tok", fetcher=fetcher, base_url=slow_drip_url, fallback=False)
    # Each byte arrives well within the 5 s read timeout, so only the overall deadline can end
    # this request; without it the call would never return (pytest-timeout would fail it).
    with pytest.raises(ProviderError, match="deadline"):
        src.latest("DE", now=NOW)


def test_the_deadline_falls_back_offline_with_a_label(slow_drip_url: str) -> None:
    fetcher = JsonFetcher(
        "electricitymaps", retry=RetryPolicy(attempts=1, deadline_s=0.5), sleep=lambda _s: None
    )
    src = ElectricityMapsSource("tok", fetcher=fetcher, base_url=slow_drip_url)
    value = src.latest("DE", now=NOW)
    assert value.kind == "estimated" and "offline fallback" in value.note
    assert "deadline" in value.note


# -- bad bodies: one-line errors, never a traceback ---------------------------------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (b'{"zone": "DE", "carbonIntensity": 1e400, "datetime": "2024-03-05T10:00Z"}', "finite"),
        (b'{"zone": "DE", "carbonIntensity": NaN}', "NaN"),
        (b'{"zone": "DE", "zone": "FR"}', "twice"),
        (b"\xff\xfe not json", "UTF-8"),
    ],
)
def test_hostile_bodies_are_provider_errors(body: bytes, needle: str) -> None:
    src = _source(lambda _r: httpx.Response(200, content=body))
    with pytest.raises(ProviderError, match=needle) as info:
        src.latest("DE", now=NOW)
    assert "\n" not in str(info.value)


def test_an_oversized_body_is_refused() -> None:
    src = _source(lambda _r: httpx.Response(200, content=b" " * 2000), max_bytes=1000)
    with pytest.raises(ProviderError, match="more than 1,000 bytes"):
        src.latest("DE", now=NOW)


@pytest.mark.parametrize("value", [1e9, -5, 2500.0])
def test_impossible_values_are_bad_data_with_a_labelled_fallback(value: float) -> None:
    handler: Handler = lambda _r: httpx.Response(200, json=_latest(value))  # noqa: E731
    with pytest.raises(ProviderError, match=r"bad data|expected a number >= 0"):
        _source(handler).latest("DE", now=NOW)
    fallback = _source(handler, fallback=True).latest("DE", now=NOW)
    assert fallback.intensity_g_per_kwh < 2000 and "offline fallback" in fallback.note


def test_a_1999_reading_is_labelled_stale_with_its_age() -> None:
    handler: Handler = lambda _r: httpx.Response(200, json=_latest(300, "1999-01-01T00:00Z"))  # noqa: E731
    value = _source(handler).latest("DE", now=NOW)
    assert value.note.startswith("STALE: the latest reading is from 1999-01-01")
    assert "days old" in value.note
    fresh = _source(lambda _r: httpx.Response(200, json=_latest(300))).latest("DE", now=NOW)
    assert "STALE" not in fresh.note


def test_an_unwritable_cache_is_a_warning_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = DiskCache(blocker / "cache")  # its parent is a file: mkdir fails even as root
    ok: Handler = lambda _r: httpx.Response(200, json=_latest(300))  # noqa: E731
    fetcher = JsonFetcher(
        "electricitymaps", client=httpx.Client(transport=httpx.MockTransport(ok)), cache=cache
    )
    src = ElectricityMapsSource("tok", fetcher=fetcher, fallback=False)
    assert src.latest("DE", now=NOW).intensity_g_per_kwh == 300
    assert src.latest("DE", now=NOW).intensity_g_per_kwh == 300
    warnings = [r for r in caplog.records if "continuing without a cache" in r.getMessage()]
    assert len(warnings) == 1  # said once, then no cache


# -- trace files ----------------------------------------------------------------------------


NEW_PORTAL_HEADER = (
    "Datetime (UTC),Country,Zone name,Zone id,Carbon intensity gCO₂eq/kWh (direct),"
    "Carbon intensity gCO₂eq/kWh (Life cycle),Carbon-free energy percentage (CFE%),"
    "Renewable energy percentage (RE%),Data source,Data estimated,Data estimation method"
)


def _portal(tmp_path: Path, flags: list[str]) -> Path:
    lines = [NEW_PORTAL_HEADER]
    for h, flag in enumerate(flags):
        lines.append(
            f"2024-01-01 {h:02d}:00:00,Germany,Germany,DE,{300 + h},{400 + h},40,35,entsoe.eu,"
            f"{flag},{'TIME_SLICER_AVERAGE' if flag == 'true' else ''}"
        )
    path = tmp_path / "DE_2024_hourly.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_current_portal_header_is_read_with_its_estimated_flag(tmp_path: Path) -> None:
    measured = load_trace(_portal(tmp_path, ["false"] * 4))
    assert measured.zone == "DE" and measured.kind == "measured"
    assert list(measured.values_g_per_kwh) == [400, 401, 402, 403]  # life cycle by default
    direct = load_trace(_portal(tmp_path, ["false"] * 4), scope="direct")
    assert list(direct.values_g_per_kwh) == [300, 301, 302, 303]
    mixed = load_trace(_portal(tmp_path, ["false", "true", "false", "false"]))
    assert mixed.kind == "estimated"  # an estimated hour is never reported as measured
    assert any("1 of 4 row(s) flagged estimated" in n for n in mixed.notes)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("2022-01-01T00:00Z,100\n2022-01-01T01:00Z,110\n", "is data, not a header"),
        ("datetime_utc,DE,FR,DE\n2022-01-01T00:00Z,1,2,3\n", "'DE' appears twice"),
        ("time,value\n2022-01-01T00:00Z," + "9" * (200 << 10) + "\n", "not a CSV row"),
        ("time,value\n2022-01-01T00:00Z,1e9\n", "must be a number in 0..2000"),
        ("time,value\n2022-01-01T00:00Z,inf\n", "must be a number in 0..2000"),
    ],
)
def test_bad_traces_are_one_line_errors(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "trace.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TraceFormatError, match=needle) as info:
        load_trace_table(path)
    assert "\n" not in str(info.value)


def test_binary_and_fifo_traces_are_refused(tmp_path: Path) -> None:
    import os

    (tmp_path / "bin.csv").write_bytes(b"\x00\x01\x02PK")
    with pytest.raises(TraceFormatError, match="binary"):
        load_trace_table(tmp_path / "bin.csv")
    os.mkfifo(tmp_path / "fifo.csv")
    with pytest.raises(TraceFormatError, match="not a regular file"):
        load_trace_table(tmp_path / "fifo.csv")


def test_a_damaged_cache_entry_is_a_miss(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    cache.put("k", {"a": 1})
    (next(tmp_path.glob("*.json"))).write_text(json.dumps({"key": "k"}))  # damaged entry
    assert cache.get("k", max_age_s=1e9) is None


# -- long history ranges go out in the provider's documented pieces -------------------------


def test_ukci_history_is_chunked_to_14_days_and_merged() -> None:
    from datetime import timedelta

    from lowcarb.grid import UKCarbonIntensitySource

    asked: list[tuple[datetime, datetime]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        _, _, frm, to = request.url.path.split("/")[:4]
        start = datetime.fromisoformat(frm.replace("Z", "+00:00"))
        end = datetime.fromisoformat(to.replace("Z", "+00:00"))
        asked.append((start, end))
        assert end - start <= timedelta(days=14), "a request over the API's 14-day limit"
        data, t = [], start
        while t < end:
            stamp = t.strftime("%Y-%m-%dT%H:%MZ")
            data.append({"from": stamp, "intensity": {"actual": 200, "forecast": 210}})
            t += timedelta(minutes=30)
        return httpx.Response(200, json={"data": data})

    fetcher = JsonFetcher(
        "ukci", client=httpx.Client(transport=httpx.MockTransport(handler)), sleep=lambda _s: None
    )
    src = UKCarbonIntensitySource(fetcher=fetcher, fallback=False)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    series = src.history("GB", start=start, end=start + timedelta(days=40))
    assert len(asked) == 3 and asked[0][0] == start and asked[-1][1] == start + timedelta(days=40)
    assert len(series) == 40 * 24 and series.kind == "measured"
    assert any("fetched in 3 requests" in n for n in series.notes)


def test_watttime_reads_its_sdk_variable_names() -> None:
    from lowcarb.grid._providers import open_provider

    src = open_provider("watttime", {"WATTTIME_USER": "u", "WATTTIME_PASSWORD": "p", "HOME": "/"})
    assert src.name == "watttime"


def test_empty_and_nan_cells_are_counted_not_silently_dropped(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    path.write_text(
        "time,value\n2022-01-01T00:00Z,100\n2022-01-01T01:00Z,nan\n2022-01-01T02:00Z,\n", "utf-8"
    )
    series = load_trace(path)
    assert list(series.values_g_per_kwh) == [100.0]
    assert "2 empty or NaN value(s) treated as missing" in series.notes


def test_each_hour_keeps_its_own_estimated_flag(tmp_path: Path) -> None:
    series = load_trace(_portal(tmp_path, ["false", "true", "false", "false"]))
    assert [i.kind for i in series] == ["measured", "estimated", "measured", "measured"]
    assert series.at(datetime(2024, 1, 1, 1, 30, tzinfo=UTC)).kind == "estimated"
    assert series.between(datetime(2024, 1, 1, 2, tzinfo=UTC)).latest().kind == "measured"
    assert any("those hours are labelled estimated" in n for n in series.notes)


def test_flags_follow_their_rows_when_rows_are_sorted_or_missing(tmp_path: Path) -> None:
    path = _portal(tmp_path, ["true", "false", "false", "false"])
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    # Rows out of order, and the 02:00 row missing (interpolated by lowcarb).
    path.write_text("\n".join([header, rows[3], rows[0], rows[1]]) + "\n", encoding="utf-8")
    series = load_trace(path)
    assert list(series.values_g_per_kwh) == [400, 401, 402, 403]
    assert [i.kind for i in series] == ["estimated", "measured", "estimated", "measured"]
