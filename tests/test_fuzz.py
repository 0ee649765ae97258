"""schemathesis against the running API and its own OpenAPI description, with an admin's token:
no answer is a server error, every answer's status, content type, headers and body conform to
the description (errors to the contract's error shape), data the description rejects is refused,
an undocumented method gets 405 with the right Allow.

One check is left out, positive_data_acceptance ("everything the schema allows is accepted"):
some rules cannot be written in JSON Schema (a scheduled time must be in the future, a cursor
must be one the server gave out, restore_revision goes alone or with a correction and its
base_revision, an If-Match must be an ETag the server gave out), and those requests are refused
with 422 or 400 as they should be."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import SEED
from tests.nodes import Node, cli

SLUG = "xi-putin-moscow"
pytestmark = pytest.mark.network
EXAMPLES = os.environ.get("DATELINE_FUZZ_EXAMPLES", "25")


def test_the_api_holds_to_its_description_under_fuzzing(tmp_path: Path) -> None:
    db = str(tmp_path / "fuzz.db")
    cli("import", str(SEED), "--slug", SLUG, db=db)
    token = cli(
        "user", "create", "fuzz@example.org", "--name", "Fuzz", "--role", "admin", "--token",
        db=db,
    ).strip().splitlines()[-1]  # fmt: skip
    node = Node(db, "memory://", tmp_path / "node.log")
    try:
        post_id = httpx.get(f"{node.base}/api/v1/blogs/{SLUG}/posts?limit=1").json()["posts"][0]
        # Known identifiers, so that operations reach the code behind them, not only a 404.
        (tmp_path / "schemathesis.toml").write_text(
            f'[parameters]\n"path.slug" = "{SLUG}"\n"path.post_id" = "{post_id["id"]}"\n'
        )
        schemathesis = Path(sys.executable).with_name("schemathesis")
        run = subprocess.run(
            [str(schemathesis), "run", f"{node.base}/api/v1/openapi.json",
             "-H", f"Authorization: Bearer {token}",
             "--checks", "all", "--exclude-checks", "positive_data_acceptance",
             "--phases", "examples,coverage,fuzzing", "--max-examples", EXAMPLES,
             "--seed", "20261201", "--no-color"],
            cwd=tmp_path, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        report = run.stdout[-6000:] + run.stderr[-2000:]
        assert run.returncode == 0, report
        assert " passed" in run.stdout and "failures" not in run.stdout.split("SUMMARY")[-1]
        log = (tmp_path / "node.log").read_text()
        assert "Traceback" not in log, log[-4000:]
    finally:
        node.stop()
