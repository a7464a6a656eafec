"""Untrusted text is data: display, names, CSV cells, output files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from lowcarb._files import check_output_path, read_text_file, write_atomic
from lowcarb._text import MAX_NAME_CHARS, check_name, csv_cell, plain, safe
from lowcarb.errors import DataError, InvalidValueError, UsageError

HOSTILE = ["[/]", "[bold red]APPROVED", "\x1b[31mred\x1b[0m", "a\x00b", "tab\there", "[link=x]y"]


def _render(text: str) -> str:
    out = io.StringIO()
    console = Console(file=out, width=60, color_system="truecolor", force_terminal=True)
    table = Table("name")
    table.add_row(safe(text))
    console.print(table)
    console.print(f"team {safe(text)}")
    return out.getvalue()


@pytest.mark.parametrize("text", HOSTILE)
def test_safe_text_renders_literally_and_never_raises(text: str) -> None:
    rendered = _render(text)
    # as typed (control characters made harmless), never interpreted as markup
    assert plain(text) in rendered
    assert "\x1b[31mred" not in rendered


def test_no_raw_escape_sequence_from_a_name_reaches_the_terminal() -> None:
    out = io.StringIO()
    Console(file=out, color_system=None).print(safe("\x1b[2J\x1b]0;owned\x07x"))
    assert "\x1b" not in out.getvalue() and "\x07" not in out.getvalue()


def test_check_name() -> None:
    assert check_name("vision", what="team") == "vision"
    assert check_name(None, what="team") is None
    assert check_name("[/]", what="team") == "[/]"  # markup is legal text
    for bad, needle in [
        ("a\x1bb", "control characters"),
        ("a\nb", "control characters"),
        ("x" * (MAX_NAME_CHARS + 1), "characters long"),
        ("  ", "empty"),
    ]:
        with pytest.raises(InvalidValueError, match=needle):
            check_name(bad, what="team")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("-1.5", "-1.5"),
        ("vision", "vision"),
        (3.0, 3.0),
    ],
)
def test_csv_cells_cannot_be_formulas(cell: object, expected: object) -> None:
    assert csv_cell(cell) == expected


def test_output_path_is_checked_without_touching_anything(tmp_path: Path) -> None:
    assert check_output_path(tmp_path / "new.csv") == tmp_path / "new.csv"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UsageError, match="is a directory"):
        check_output_path(tmp_path, what="--output")
    with pytest.raises(UsageError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "x.csv")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        check_output_path(tmp_path / "file" / "x.csv")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UsageError, match="not a regular file"):
        check_output_path(tmp_path / "fifo")


def test_atomic_write_leaves_old_content_or_new_never_half(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    write_atomic(target, "new")
    assert target.read_text() == "new"

    with pytest.raises(TypeError):
        write_atomic(target, object())  # type: ignore[arg-type]
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temporary left


def test_reading_refuses_what_would_hang_or_flood(tmp_path: Path) -> None:
    good = tmp_path / "ok.txt"
    good.write_text("\ufeffzone,value\n")
    assert read_text_file(good) == "zone,value\n"  # a BOM is not data
    os.mkfifo(tmp_path / "fifo")  # opening it would block forever
    cases = [
        (tmp_path / "fifo", UsageError, "not a regular file"),
        (tmp_path / "nope", UsageError, "does not exist"),
        (tmp_path, UsageError, "is a directory"),
    ]
    (tmp_path / "bin").write_bytes(b"PK\x03\x04\x00\x00")
    (tmp_path / "latin1").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "big").write_bytes(b"x" * 101)
    cases += [
        (tmp_path / "bin", DataError, "binary"),
        (tmp_path / "latin1", DataError, "not UTF-8"),
        (tmp_path / "big", DataError, "over the 100-byte limit"),
    ]
    for path, error, needle in cases:
        with pytest.raises(error, match=needle):
            read_text_file(path, what="--trace", max_bytes=100)
