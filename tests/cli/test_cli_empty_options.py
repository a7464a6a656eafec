"""An empty option value is refused, never taken for "not given"."""

from __future__ import annotations

import pytest

from lowcarb.cli import main


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["plan", "--zone", "DE", "--duration", "2h", "--deadline", "12h", "--now", ""], "--now"),
        (["plan", "--zone", "DE", "--duration", "2h", "--deadline", "12h", "--trace", " "],
         "--trace"),
        (["plan", "--zone", "", "--duration", "2h", "--deadline", "12h"], "--zone"),
        (["intensity", "now", "--zone", "DE", "--trace", ""], "--trace"),
        (["submit", "--zone", "DE", "--duration", "1h", "--deadline", "6h", "--now", "", "--",
          "true"], "--now"),
    ],
)  # fmt: skip
def test_an_empty_option_is_a_one_line_error(
    argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{flag} is empty; give a value or leave the flag out" in err
    assert err.count("\n") == 1
