"""The `dateline` command, run as a user runs it: a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import SEED
from tests.servers import free_port

DATELINE = [sys.executable, "-m", "dateline.cli"]


def dateline(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("DATELINE_DATABASE_URL", None)
    return subprocess.run(
        [*DATELINE, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
    )


def test_import_user_create_and_migrate(tmp_path: Path, database_url: str) -> None:
    r = dateline("migrate", "--db", database_url)
    assert r.returncode == 0, r.stderr
    r = dateline("import", str(SEED), "--slug", "xi-putin-moscow", "--db", database_url)
    assert r.returncode == 0, r.stderr
    assert "imported 9 posts into /xi-putin-moscow" in r.stdout
    assert "the header says 35 posts" in r.stderr
    r = dateline(
        "user", "create", "kylie@example.org", "--name", "Kylie Atwood", "--role", "editor",
        "--blog", "xi-putin-moscow", "--token", "--password-stdin", "--db", database_url,
        stdin="correct horse battery\n",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith("dl_")
    r = dateline("import", str(SEED), "--slug", "xi-putin-moscow", "--db", database_url)
    assert r.returncode == 2 and "already exists" in r.stderr


def test_a_malformed_import_names_the_line_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    broken = tmp_path / "broken.txt"
    lines = SEED.read_text("utf-8").splitlines()
    lines[7] = "13:99 p.m. ET, March 20, 2023"
    broken.write_text("\n".join(lines), "utf-8")
    r = dateline("import", str(broken), "--slug", "broken", "--db", str(db))
    assert r.returncode == 2 and "line 8" in r.stderr
    r = dateline("import", str(SEED), "--slug", "broken", "--db", str(db))
    assert r.returncode == 0, r.stderr  # the slug was not taken by the failed import


def test_user_create_refuses_bad_input(tmp_path: Path) -> None:
    db = str(tmp_path / "d.db")
    r = dateline("user", "create", "not-an-email", "--name", "X", "--role", "editor", "--db", db)
    assert r.returncode == 2 and "not an email" in r.stderr
    r = dateline("user", "create", "a@b.org", "--name", "X", "--role", "editor", "--blog", "nope",
                 "--db", db)  # fmt: skip
    assert r.returncode == 2 and "no blog 'nope'" in r.stderr
    r = dateline("user", "create", "a@b.org", "--name", "X", "--role", "chief", "--db", db)
    assert r.returncode == 2


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_demo_and_serve_start_a_working_server(tmp_path: Path, command: str) -> None:
    port = free_port()
    db = str(tmp_path / "demo.db")
    if command == "serve":
        assert (
            dateline("import", str(SEED), "--slug", "xi-putin-moscow", "--db", db).returncode == 0
        )
    proc = subprocess.Popen(
        [*DATELINE, command, "--port", str(port), "--db", db],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        page = None
        for _ in range(200):
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/xi-putin-moscow", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert page is not None and page.status_code == 200
        assert "7:28 p.m. ET, March 20, 2023" in page.text
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    if command == "demo":
        assert f"http://127.0.0.1:{port}/xi-putin-moscow" in out
        assert "admin@dateline.example" in out and "API token  dl_" in out


def test_serve_refuses_several_workers_on_the_memory_bus(tmp_path: Path) -> None:
    r = dateline("serve", "--workers", "2", "--db", str(tmp_path / "d.db"))
    assert r.returncode == 2 and "shared bus" in r.stderr


def test_an_acknowledged_post_survives_the_server_being_killed(tmp_path: Path) -> None:
    db = str(tmp_path / "crash.db")
    assert dateline("import", str(SEED), "--slug", "xi-putin-moscow", "--db", db).returncode == 0
    token = dateline(
        "user", "create", "ed@example.org", "--name", "Ed", "--role", "editor",
        "--blog", "xi-putin-moscow", "--token", "--db", db,
    ).stdout.strip().splitlines()[-1]  # fmt: skip

    def start() -> tuple[subprocess.Popen[str], str]:
        port = free_port()
        proc = subprocess.Popen(
            [*DATELINE, "serve", "--port", str(port), "--db", db],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                return proc, base
            except httpx.TransportError:
                time.sleep(0.1)
        proc.kill()
        raise AssertionError("server did not start")

    proc, base = start()
    try:
        r = httpx.post(
            f"{base}/api/v1/blogs/xi-putin-moscow/posts",
            json={"headline": "Filed before the crash"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201
    finally:
        proc.kill()  # SIGKILL: no shutdown, no flush
        proc.wait(10)
    proc, base = start()
    try:
        posts = httpx.get(f"{base}/api/v1/blogs/xi-putin-moscow/posts?limit=1").json()["posts"]
        events = httpx.get(f"{base}/api/v1/blogs/xi-putin-moscow/events?after=9").json()
    finally:
        proc.kill()
        proc.wait(10)
    assert posts[0]["headline"] == "Filed before the crash"
    assert [e["seq"] for e in events["events"]] == [10]


def _demo(tmp_path: Path, db: str) -> str:
    """Run `dateline demo` until it serves, stop it, and return what it printed."""
    port = free_port()
    proc = subprocess.Popen(
        [*DATELINE, "demo", "--port", str(port), "--db", db],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    return out


def test_running_the_demo_again_keeps_its_admin_and_says_how_to_get_a_token(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "demo.db")
    first = _demo(tmp_path, db)
    assert "the header says 35 posts but the file holds 9" in first  # the warning is shown
    password = first.split("password   ")[1].split()[0]
    token = first.split("API token  ")[1].split()[0]
    again = _demo(tmp_path, db)
    assert password not in again and token not in again
    assert "unchanged" in again and f"dateline user token admin@dateline.example --db {db}" in again
    listed = dateline("user", "list", "--db", db)
    assert "admin@dateline.example\tDemo Admin\tadmin\tactive" in listed.stdout
    new = dateline("user", "token", "admin@dateline.example", "--db", db)
    assert new.returncode == 0 and new.stdout.strip().startswith("dl_")
    assert dateline("user", "token", "nobody@example.org", "--db", db).returncode == 2


def test_passwords_and_deactivation_from_the_command_line(tmp_path: Path) -> None:
    db = str(tmp_path / "d.db")
    r = dateline("user", "create", "ed@example.org", "--name", "Ed", "--role", "editor",
                 "--token", "--db", db)  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = dateline("user", "set-password", "ed@example.org", "--password-stdin", "--db", db,
                 stdin="a brand new password\n")  # fmt: skip
    assert r.returncode == 0 and "their console sessions have ended" in r.stdout
    r = dateline("user", "set-password", "ed@example.org", "--password-stdin", "--db", db,
                 stdin="short\n")  # fmt: skip
    assert r.returncode == 2 and "at least 10 characters" in r.stderr
    assert dateline("user", "deactivate", "ed@example.org", "--db", db).returncode == 0
    assert "ed@example.org\tEd\teditor\tdeactivated" in dateline("user", "list", "--db", db).stdout
    assert dateline("user", "reactivate", "ed@example.org", "--db", db).returncode == 0
