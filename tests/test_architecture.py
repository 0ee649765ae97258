"""The architecture's rules that an import contract cannot state (docs/architecture.md), checked
over the package's source and import graph:

* every write goes through the newsroom: the entry points (web/, the command line, reporter
  inputs, importers, exporters, embeds) call only the store's reads; outbound/ may also keep
  its own delivery bookkeeping (claims, retries, done), never a reader-visible change;
* only web/server imports uvicorn, and the contracts that say so name every other part, so a
  new part cannot slip past them;
* the model imports only plain-data modules of the standard library (an allow-list: the
  contract in pyproject.toml can only forbid what it names)."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dateline"

# The store's reads (and closing it), which any entry point may call.
READS = {
    "close",
    "events_after",
    "events_for_export",
    "flagged_posts",
    "get_blog",
    "get_blog_by_id",
    "get_post",
    "list_blogs",
    "list_posts",
    "media_records",
    "members",
    "ping",
    "posts_for_export",
    "users_by_email",
}
# What outbound/ keeps for itself: which deliveries are due, claimed, done, retried or gone, and
# the instance's VAPID key (made once, like the cookie key).
BOOKKEEPING = {
    "claim_deliveries",
    "claim_webhook",
    "delivered",
    "done",
    "due_webhooks",
    "failed",
    "gone",
    "instance_value",
    "push_blogs_due",
    "read_push_log",
    "release_webhook",
    "retry",
}
ENTRY_POINTS = ["web", "cli.py", "intake", "importers", "exporters", "embeds", "outbound"]


def _store_calls(path: Path) -> list[tuple[int, str]]:
    """(line, method) of every call `….store.method(…)` or `store.method(…)` in `path`."""
    calls = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        named = (isinstance(owner, ast.Name) and owner.id == "store") or (
            isinstance(owner, ast.Attribute) and owner.attr == "store"
        )
        if named:
            calls.append((node.lineno, node.func.attr))
    return calls


def _sources(part: str) -> list[Path]:
    where = PACKAGE / part
    return [where] if where.is_file() else sorted(where.rglob("*.py"))


def test_the_entry_points_read_the_store_and_write_through_the_newsroom() -> None:
    found = []
    seen = 0
    for part in ENTRY_POINTS:
        allowed = READS | BOOKKEEPING if part == "outbound" else READS
        for path in _sources(part):
            for line, method in _store_calls(path):
                seen += 1
                if method not in allowed:
                    found.append(f"{path.relative_to(PACKAGE)}:{line}: store.{method}(…)")
    assert seen > 20, "the scan found no store calls: it no longer sees them"
    assert not found, "writes around the newsroom:\n" + "\n".join(found)


def test_the_scan_would_see_a_write_around_the_newsroom(tmp_path: Path) -> None:
    sample = tmp_path / "handler.py"
    sample.write_text(
        "async def f(request):\n"
        "    await services(request).store.delete_sessions(1)\n"
        "    await store.get_blog('x')\n"
    )
    assert _store_calls(sample) == [(2, "delete_sessions"), (3, "get_blog")]


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("dateline", include_external_packages=True)


def test_only_web_server_imports_uvicorn() -> None:
    importers = _graph().find_modules_that_directly_import("uvicorn")
    assert importers, "nothing imports uvicorn: the server layer moved, update this test"
    outside = sorted(m for m in importers if not m.startswith("dateline.web.server"))
    assert not outside, f"uvicorn imported outside web/server: {outside}"


def _contract(name_starts: str) -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    for contract in config["tool"]["importlinter"]["contracts"]:
        if contract["name"].startswith(name_starts):
            return list(contract["source_modules"])
    raise AssertionError(f"no contract named {name_starts!r}…")


def _children(package: str) -> set[str]:
    return set(_graph().find_children(package))


def test_the_server_contracts_name_every_other_part() -> None:
    parts = _children("dateline") - {"dateline.web"}
    web = _children("dateline.web") - {"dateline.web.server"}
    assert set(_contract("Only web/server imports uvicorn")) == parts | web
    assert set(_contract("The app is plain ASGI")) == web


# Plain data: no files, sockets, processes, clocks or threads.
PLAIN = {
    "__future__",
    "collections",
    "dataclasses",
    "datetime",
    "enum",
    "functools",
    "re",
    "typing",
    "zoneinfo",
    "dateline.errors",
}


def test_the_model_imports_only_plain_data_modules() -> None:
    imported = _graph().find_modules_directly_imported_by("dateline.model")
    assert imported, "the scan found no imports in the model: it no longer sees them"
    assert imported <= PLAIN, f"the model imports {sorted(imported - PLAIN)}"


def test_the_architecture_page_names_every_part_and_every_contract() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    table = [line for line in page.splitlines() if line.startswith("| ")]
    folders = {cell.strip().strip("`") for line in table for cell in line.split("|")[2:3]}
    on_disk = {
        p.name + ("/" if p.is_dir() else "")
        for p in PACKAGE.iterdir()
        if p.name != "__init__.py" and not p.name.startswith((".", "_"))
    }
    assert on_disk - {"web/"} <= folders, f"parts missing from the page: {on_disk - folders}"
    assert {"web/", "web/server/"} <= folders
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    numbered = [line for line in page.splitlines() if re.match(r"\d+\. \*\*", line)]
    assert len(numbered) == len(contracts), "the page lists one rule per contract"
