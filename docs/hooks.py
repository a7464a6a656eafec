"""MkDocs hooks: pages generated from the code at build time, so they cannot drift from it.

- ``<!-- lowcarb:cli-reference -->`` becomes the help of every ``lowcarb`` command and
  subcommand, rendered from ``lowcarb.cli.build_parser()`` (no flag is written by hand).
- ``<!-- lowcarb:api-subpackages lowcarb.PACKAGE -->`` becomes one mkdocstrings ``:::`` block per
  public subpackage of PACKAGE found at build time (integrations grow new ones).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import re
from typing import Any

CLI_MARKER = "<!-- lowcarb:cli-reference -->"
_API_MARKER = re.compile(r"<!-- lowcarb:api-subpackages (?P<pkg>[\w.]+) -->")
#: Help is rendered at this width (argparse reads COLUMNS).
HELP_COLUMNS = "100"


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    """(name, parser) of each direct subcommand, in the order they were registered."""
    out: list[tuple[str, argparse.ArgumentParser]] = []
    for action in parser._actions:  # argparse has no public API for this
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:  # aliases map to the same parser
                    seen.add(id(sub))
                    out.append((name, sub))
    return out


def _summaries(parser: argparse.ArgumentParser) -> dict[str, str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or "" for a in action._choices_actions}
    return {}


def _walk(
    parser: argparse.ArgumentParser, path: list[str]
) -> list[tuple[list[str], argparse.ArgumentParser, str]]:
    found: list[tuple[list[str], argparse.ArgumentParser, str]] = []
    summaries = _summaries(parser)
    for name, sub in _subcommands(parser):
        found.append(([*path, name], sub, summaries.get(name, "")))
        found.extend(_walk(sub, [*path, name]))
    return found


def cli_reference() -> str:
    """Markdown for every command: a summary table, then each command's ``--help``."""
    from lowcarb.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        root = build_parser()
        commands = _walk(root, [])
        lines = [
            "| command | what it does |",
            "|---|---|",
            *(
                f"| [`lowcarb {' '.join(p)}`](#{_anchor(p)}) | {s.replace('|', '/')} |"
                for p, _, s in commands
            ),
            "",
            "## `lowcarb`",
            "",
            "```text",
            root.format_help().rstrip(),
            "```",
            "",
        ]
        for path, sub, _summary in commands:
            level = "#" * min(2 + len(path) - 1, 4)
            lines += [
                f"{level} `lowcarb {' '.join(path)}` {{#{_anchor(path)}}}",
                "",
                "```text",
                sub.format_help().rstrip(),
                "```",
                "",
            ]
        return "\n".join(lines)
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def _anchor(path: list[str]) -> str:
    return "lowcarb-" + "-".join(path)


def api_subpackages(package: str) -> str:
    """One ``::: package.sub`` block per public subpackage."""
    mod = importlib.import_module(package)
    subs = sorted(
        m.name for m in pkgutil.iter_modules(mod.__path__) if m.ispkg and not m.name.startswith("_")
    )
    return "\n\n".join(f"## `{package}.{name}`\n\n::: {package}.{name}" for name in subs)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Expand the markers of generated pages."""
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    return _API_MARKER.sub(lambda m: api_subpackages(m["pkg"]), markdown)
