"""What every benchmark shares: the seed blog in a temporary database, a `dateline serve` on a
free port, and percentiles."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "dateline" / "demo" / "cnn-2023-03-20-xi-putin-moscow.txt"
SLUG = "xi-putin-moscow"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, db: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "dateline.cli", *args, "--db", db],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_up(url: str) -> None:
    for _ in range(300):
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


def seeded_database(prefix: str) -> tuple[Path, str, str]:
    """A temporary folder, a SQLite database in it with the seed blog, and an editor's token."""
    tmp = Path(tempfile.mkdtemp(prefix=f"dateline-{prefix}-"))
    db = str(tmp / f"{prefix}.db")
    cli("import", str(SEED), "--slug", SLUG, db=db)
    token = cli(
        "user", "create", "bench@example.org", "--name", "Bench", "--role", "editor",
        "--blog", SLUG, "--token", db=db,
    ).strip().splitlines()[-1]  # fmt: skip
    return tmp, db, token


def serve(
    db: str, preexec: Callable[[], None] | None = None, bus: str = "memory://",
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:  # fmt: skip
    """`dateline serve` on a free port, up and answering; returns the process and its base URL.
    `env`: DATELINE_* settings of its own."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dateline.cli", "serve", "--db", db, "--port", str(port),
         "--bus", bus],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=preexec,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    wait_up(f"{base}/healthz")
    return proc, base
