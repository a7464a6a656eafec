"""`lowcarb zones`."""

from __future__ import annotations

import json
from io import StringIO

import pytest

from lowcarb.cli import main
from lowcarb.cli._common import CliContext


def _run(*argv: str) -> tuple[int, str, str]:
    ctx = CliContext(stdout=StringIO(), stderr=StringIO(), environ={})
    code = main(["zones", *argv], ctx=ctx)
    return code, ctx.stdout.getvalue(), ctx.stderr.getvalue()  # type: ignore[attr-defined]


def test_json_lists_zones_and_regions() -> None:
    code, out, _ = _run("--json")
    assert code == 0
    data = json.loads(out)
    assert out.count("\n") == 1
    ids = {z["zone"] for z in data["zones"]}
    assert {"WORLD", "DE", "US-CAL-CISO", "US-MIDA-PJM", "US-TEX-ERCO"} <= ids
    assert len(ids) >= 124
    de = next(z for z in data["zones"] if z["zone"] == "DE")
    assert de["annual_intensity_g_per_kwh"] == 481.5
    assert de["year"] == 2022
    regions = {r["region"]: r["zone"] for r in data["cloud_regions"]}
    assert regions["aws:us-east-1"] == "US-MIDA-PJM"
    assert regions["gcp:europe-west4"] == "NL"
    assert regions["azure:westeurope"] == "NL"


def test_search_filters() -> None:
    code, out, _ = _run("--search", "netherlands", "--json")
    assert code == 0
    data = json.loads(out)
    assert [z["zone"] for z in data["zones"]] == ["NL"]
    assert {r["region"] for r in data["cloud_regions"]} == {"gcp:europe-west4", "azure:westeurope"}


def test_table_output() -> None:
    code, out, _ = _run("--search", "PJM")
    assert code == 0
    assert "US-MIDA-PJM" in out
    assert "aws:us-east-1" in out
    assert "Cloud regions" in out


def test_search_without_match_says_so() -> None:
    code, out, err = _run("--search", "atlantis")
    assert code == 0
    assert out == ""
    assert "no zone or cloud region matches 'atlantis'" in err


def test_names_are_shown_literally_not_as_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    from lowcarb.cli import zones as zones_cli
    from lowcarb.grid import CloudRegion, Zone

    hostile = "[bold red]EVIL[/]\x1b[2J"
    monkeypatch.setattr(zones_cli, "zones", lambda: [Zone("X-EVIL", hostile, "XX", "region")])
    monkeypatch.setattr(
        zones_cli, "cloud_regions", lambda: [CloudRegion("aws", "evil-1", hostile, "X-EVIL")]
    )
    code, out, err = _run("--search", "evil")
    assert (code, err) == (0, "")
    assert out.count("[bold red]EVIL[/]") == 2
    assert "\x1b" not in out


def test_a_search_with_control_characters_is_echoed_without_them() -> None:
    code, out, err = _run("--search", "nowhere\x1b[2J")
    assert (code, out) == (0, "")
    assert "\x1b" not in err
    assert "nowhere" in err
