"""Write lowcarb's Grafana dashboard, ``lowcarb-serving.json``, from Grafana's foundation SDK.

The panels and their PromQL live in ``lowcarb.integrations.grafana._build``; this script renders
the dashboard the SDK's builders make and writes it into the package, where it ships as package
data. With ``--check`` it writes nothing and exits 1 when the committed file differs (CI).

Needs ``grafana-foundation-sdk`` (in the ``dev`` extra).

Usage::

    .venv/bin/python scripts/build_grafana_dashboard.py [--check] [--out PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lowcarb.integrations.grafana import (
    SERVING_DASHBOARD,
    build_serving_dashboard,
    render_dashboard,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "src" / "lowcarb" / "integrations" / "grafana" / SERVING_DASHBOARD


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the file to write")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the file is out of date"
    )
    args = parser.parse_args(argv)
    text = render_dashboard(build_serving_dashboard())
    out: Path = args.out
    if args.check:
        current = out.read_text("utf-8") if out.is_file() else None
        if current != text:
            print(f"{out} is out of date: run scripts/build_grafana_dashboard.py", file=sys.stderr)
            return 1
        print(f"{out} is up to date")
        return 0
    out.write_text(text, "utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
