"""The documentation's code blocks run, and say what the code really prints.

One test per page of ``docs/``: its blocks run in order in a temporary directory with the
embedded defaults (see ``docs_harness.py`` for the block grammar). Blocks that need a server, a
cluster or Airflow are marked ``<!-- docs-test: skip REASON -->`` in the page; the reasons are
checked for being there, and listed by ``test_skipped_blocks_say_why``.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from docs_harness import (
    DOCS,
    ROOT,
    DocsCheckError,
    PageRun,
    console_commands,
    doc_pages,
    missing_lines,
    normalise,
    page_needs_missing_data,
    parse_blocks,
)

import lowcarb

PAGES = [p.relative_to(DOCS).as_posix() for p in doc_pages()]
#: Pages that must hold at least one block the test runs (a walk-through, not prose).
WALKTHROUGHS = [
    p
    for p in PAGES
    if (p.startswith("tutorials/") and p != "tutorials/index.md") or p == "getting-started.md"
]


@pytest.mark.parametrize("page", PAGES)
def test_page_blocks_run(page: str, tmp_path: Path) -> None:
    path = DOCS / page
    if reason := page_needs_missing_data(path):
        pytest.skip(reason)
    PageRun(path, tmp_path).run()


@pytest.mark.parametrize("page", WALKTHROUGHS)
def test_walkthrough_runs_something(page: str) -> None:
    kinds = {b.kind for b in parse_blocks(DOCS / page)}
    assert kinds & {"console", "python"}, f"{page} has no block the test runs"


def test_no_unmarked_runnable_blocks() -> None:
    unmarked = [b.where for p in doc_pages() for b in parse_blocks(p) if b.kind == "unmarked"]
    assert not unmarked, f"blocks neither run nor skipped with a reason: {unmarked}"


def test_skipped_blocks_say_why() -> None:
    skipped = [b for p in doc_pages() for b in parse_blocks(p) if b.kind == "skip"]
    empty = [b.where for b in skipped if len(b.skip_reason or "") < 10]
    assert not empty, f"skipped blocks without a reason: {empty}"


def test_every_public_package_has_an_api_page() -> None:
    packages = [
        m.name
        for m in pkgutil.iter_modules(lowcarb.__path__)
        if m.ispkg and not m.name.startswith("_") and m.name != "cli"
    ]
    missing = [p for p in packages if not (DOCS / "reference/api" / f"{p}.md").is_file()]
    assert not missing, f"packages without docs/reference/api/<name>.md: {missing}"
    for name in packages:
        text = (DOCS / "reference/api" / f"{name}.md").read_text(encoding="utf-8")
        assert f"::: lowcarb.{name}" in text or "lowcarb:api-subpackages" in text, name
        importlib.import_module(f"lowcarb.{name}")


def test_every_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    missing = [p for p in PAGES if p not in nav]
    assert not missing, f"pages missing from mkdocs.yml's nav: {missing}"


# --- the checker itself: it must be able to fail ---------------------------------------------


def test_normalise_makes_run_to_run_figures_equal() -> None:
    a = "│ cpu       │ 10.2 J │ estimated │  head dfae41cd40bf57d2...  2026-12-04T08:53:13Z"
    b = "│ cpu       │  2.4 J │ estimated │  head 76196242a698409e...  2022-06-01T00:00:00Z"
    assert normalise(a) == normalise(b)
    assert normalise("┏━━━━┳━━┓") == normalise("┏━┳━━━━━━┓")
    assert normalise("│ cpu │ 1 J │ measured │") != normalise("│ cpu │ 1 J │ estimated │")


def test_missing_lines_checks_order_words_and_ellipsis() -> None:
    out = "ledger OK: 3 records; chain intact (head 76196242a698409e...)\nexit code 0\n"
    assert missing_lines(["ledger OK: 12 records; ...", "...", "exit code 1"], out) == []
    assert missing_lines(["ledger TAMPERED: first bad record #2"], out) == [
        "ledger TAMPERED: first bad record #2"
    ]
    assert missing_lines(["exit code 0", "ledger OK: ..."], out) == ["ledger OK: ..."]  # order


def test_a_wrong_page_fails(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```console\n$ lowcarb estimate --hardware A100 --count 1 --hours 1 --intensity 100\n"
        "│ hardware │ H100-SXM5-80GB │\n```\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(DocsCheckError, match="did not print"):
        PageRun(page, work).run()


def test_a_wrong_exit_status_fails(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```console\n$ lowcarb ledger verify --ledger sqlite:///none.db\n```\n")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(DocsCheckError, match="exit status 2"):
        PageRun(page, work).run()


def test_console_blocks_join_continuations_and_read_exit(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "```console\n$ lowcarb plan --zone DE \\\n    --duration 1h  # exit 1\nshown\n```\n"
    )
    (cmd,) = console_commands(parse_blocks(page)[0])
    assert cmd.line == "lowcarb plan --zone DE --duration 1h  # exit 1"
    assert cmd.exit_code == 1
    assert cmd.shown == ["shown"]


def test_blocks_know_files_outputs_and_skips(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        '```yaml title="policy.yaml"\nrules: {}\n```\n'
        "```python\nprint(1)\n```\n"
        '```text title="output"\n1\n```\n'
        "<!-- docs-test: skip needs a Kubernetes cluster -->\n\n"
        "```console\n$ kubectl get pods\n```\n"
        "```bash\nmake demo\n```\n"
    )
    kinds = [b.kind for b in parse_blocks(page)]
    assert kinds == ["file", "python", "output", "skip", "unmarked"]
    assert parse_blocks(page)[3].skip_reason == "needs a Kubernetes cluster"
