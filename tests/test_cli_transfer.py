"""`dateline import` and `dateline export`, run as a user runs them: a subprocess per command."""

from __future__ import annotations

import json
import socket
import sqlite3
import tarfile
from pathlib import Path

import pytest

from tests.test_cli import dateline

FIXTURES = Path(__file__).parent / "fixtures"
JSONLD = FIXTURES / "foreign" / "storm-hollis-jsonld.html"
WXR = FIXTURES / "foreign" / "storm-hollis-export.xml"
ENTRIES = FIXTURES / "foreign" / "storm-hollis-entries.json"
RELATIVE = FIXTURES / "text" / "rail-strike-relative.txt"
SAVED_AT = "2023-11-08T00:30:00-05:00"


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def _rows(db: Path) -> tuple[int, int, int]:
    """Blogs (hidden ones of an import included), posts and events in the store."""
    with sqlite3.connect(db) as conn:
        return tuple(  # type: ignore[return-value]
            int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("blogs", "posts", "events")
        )


@pytest.mark.parametrize("command", ["import", "export"])
def test_help_says_what_each_format_is(command: str) -> None:
    r = dateline(command, "--help")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    formats = ["text", "json", "jsonld", "wordpress"] if command == "import" else ["json", "html"]
    for name in formats:
        assert f"{name}:" in text, name
    assert "dateline-archive/1" in text if command == "export" else "LiveBlogPosting" in text


def test_an_archive_round_trips_through_the_command_line(tmp_path: Path) -> None:
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    r = dateline("import", str(JSONLD), "--format", "jsonld", "--timezone", "Europe/London",
                 "--slug", "storm", "--db", str(first))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "imported 5 posts into /storm" in r.stdout
    assert "not valid JSON" in r.stderr  # the fixture's broken script is reported, not fatal
    r = dateline("export", "storm", "--db", str(first), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    exported = tmp_path / "storm.dateline.tar.gz"
    assert f"wrote {exported}: 5 posts, 5 events" in r.stdout
    r = dateline("import", str(exported), "--format", "json", "--db", str(second))
    assert r.returncode == 0, r.stderr
    assert "restored /storm" in r.stdout and "event log up to seq 5" in r.stdout
    again = tmp_path / "again.tar.gz"
    r = dateline("export", "storm", "--db", str(second), "--out", str(again))
    assert r.returncode == 0, r.stderr
    before, after = _members(exported), _members(again)
    assert sorted(before) == sorted(after) == ["archive.json", "events.jsonl", "posts.jsonl"]
    assert before["posts.jsonl"] == after["posts.jsonl"]
    assert before["events.jsonl"] == after["events.jsonl"]
    header_before, header_after = (
        json.loads(before["archive.json"]),
        json.loads(after["archive.json"]),
    )
    assert header_before.pop("exported_at") and header_after.pop("exported_at")
    assert header_before == header_after
    assert header_before["format"] == "dateline-archive/1"
    # The slug is taken now: a second restore is refused and writes nothing.
    r = dateline("import", str(exported), "--format", "json", "--db", str(second))
    assert r.returncode == 2 and "already exists" in r.stderr
    assert _rows(second) == (1, 5, 5)


def test_wordpress_imports_and_the_static_archive_of_ended_coverage(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    r = dateline("import", str(WXR), "--format", "wordpress", "--slug", "storm-wp", "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert "imported 3 posts into /storm-wp (Storm Hollis: live updates" in r.stdout
    assert "entry 508: an embedded <iframe> was left out" in r.stderr
    r = dateline("import", str(ENTRIES), "--format", "wordpress", "--slug", "storm-entries",
                 "--title", "Storm Hollis, the plugin's entries", "--db", str(db))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "(Storm Hollis, the plugin's entries)" in r.stdout
    r = dateline("import", str(ENTRIES), "--format", "text", "--slug", "x", "--title", "T",
                 "--db", str(db))  # fmt: skip
    assert r.returncode == 2 and "--title is for --format wordpress only" in r.stderr
    # The WXR's live blog was archived in WordPress: its coverage has ended, so it can be kept
    # as static files.
    site = tmp_path / "site"
    r = dateline("export", "storm-wp", "--format", "html", "--out", str(site), "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert "wrote the static archive of /storm-wp" in r.stdout
    page = (site / "storm-wp" / "index.html").read_text("utf-8")
    assert "coverageEndTime" in page and "/storm-wp/live" not in page
    # Live coverage is not archived as static files.
    r = dateline("export", "storm-entries", "--format", "html", "--out", str(tmp_path / "live"),
                 "--db", str(db))  # fmt: skip
    assert r.returncode == 2 and not (tmp_path / "live").exists()


def test_relative_times_need_the_moment_the_page_was_saved(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    r = dateline("import", str(RELATIVE), "--slug", "rail", "--db", str(db))
    assert r.returncode == 2
    assert "is a relative time; pass --captured-at" in r.stderr
    r = dateline("import", str(RELATIVE), "--slug", "rail", "--captured-at", "2023-11-08 00:30",
                 "--db", str(db))  # fmt: skip
    assert r.returncode == 2 and "RFC 3339 time with an offset" in r.stderr
    r = dateline("import", str(RELATIVE), "--slug", "rail", "--captured-at", SAVED_AT,
                 "--db", str(db))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "into /rail" in r.stdout


@pytest.mark.parametrize(
    ("slug", "captured_at", "message"),
    [
        ("newsroom", SAVED_AT, "'newsroom' is reserved"),
        ("../../etc/passwd", SAVED_AT, "slug"),
        ("UPPER Case", SAVED_AT, "slug"),
        ("rail", "2099-09-20T14:05:00-04:00", "must not be in the future"),
    ],
)
def test_a_refused_import_says_why_and_writes_nothing(
    tmp_path: Path, slug: str, captured_at: str, message: str
) -> None:
    db = tmp_path / "d.db"
    assert dateline("migrate", "--db", str(db)).returncode == 0
    r = dateline("import", str(RELATIVE), "--slug", slug, "--captured-at", captured_at,
                 "--db", str(db))  # fmt: skip
    assert r.returncode == 2, r.stdout
    assert message in r.stderr and "Traceback" not in r.stderr
    assert _rows(db) == (0, 0, 0)


def test_an_archive_that_is_not_one_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    fake = tmp_path / "fake.tar.gz"
    fake.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    r = dateline("import", str(fake), "--format", "json", "--db", str(db))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = dateline("import", str(tmp_path / "missing.tar.gz"), "--format", "json", "--db", str(db))
    assert r.returncode == 2 and "does not exist" in r.stderr
    assert _rows(db) == (0, 0, 0)


def test_a_page_that_cannot_be_fetched_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/live"
        r = dateline("import", url, "--format", "jsonld", "--slug", "x", "--db", str(db))
    assert r.returncode == 2 and "could not connect to 127.0.0.1" in r.stderr
    assert "Traceback" not in r.stderr and not db.exists()
