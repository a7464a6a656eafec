"""CodeCarbon's location columns from a zone or a cloud region (pycountry, not a hand table)."""

from __future__ import annotations

import pytest

from lowcarb.tracking import Place, place_of


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("DE", Place("DEU", "Germany")),
        ("GB", Place("GBR", "United Kingdom")),
        ("de", Place("DEU", "Germany")),
        # A grid region that is an ISO 3166-2 subdivision: its name, lower-case, as CodeCarbon.
        ("AU-NSW", Place("AUS", "Australia", "new south wales")),
        ("CA-QC", Place("CAN", "Canada", "quebec")),
        # A US balancing area inside one state names the state; one spanning states, none.
        ("US-CAL-CISO", Place("USA", "United States", "california")),
        ("US-MIDA-PJM", Place("USA", "United States", "")),
        # A grid region without an ISO code: the zone's own name.
        ("DK-DK1", Place("DNK", "Denmark", "west denmark")),
        # Cloud regions: the data centres' city or state, as CodeCarbon's cloud table has it.
        ("aws:eu-central-1", Place("DEU", "Germany", "Frankfurt", "aws", "eu-central-1")),
        ("us-east-1", Place("USA", "United States", "N. Virginia", "aws", "us-east-1")),
        ("gcp:europe-west1", Place("BEL", "Belgium", "St. Ghislain", "gcp", "europe-west1")),
        ("aws:eu-west-1", Place("IRL", "Ireland", "", "aws", "eu-west-1")),
        # Unknown: blank, as CodeCarbon writes when it cannot tell.
        ("WORLD", Place()),
        ("", Place()),
        ("XX-YY", Place()),
        ("aws:no-such-region", Place()),
        # A zone outside lowcarb's catalogue still has the country of its prefix.
        ("FR-COR", Place("FRA", "France", "")),
    ],
)
def test_place_of(location: str, expected: Place) -> None:
    assert place_of(location) == expected


def test_codecarbons_cloud_table_agrees_for_gcp() -> None:
    """Where CodeCarbon ships a cloud table, lowcarb's cloud rows match it column for column."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("codecarbon")
    from importlib.resources import files

    table = pd.read_csv(str(files("codecarbon") / "data" / "cloud" / "impact.csv"))
    row = table[(table["provider"] == "gcp") & (table["region"] == "europe-west1")].iloc[0]
    place = place_of("gcp:europe-west1")
    assert (place.country_iso_code, place.country_name) == (
        row["countryIsoCode"],
        row["country_name"],
    )
    assert place.region == (row["state"] if isinstance(row["state"], str) else row["city"])
