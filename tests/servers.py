"""Throwaway PostgreSQL and Redis servers for the test suite.

Each server is started on a free port on 127.0.0.1, holds nothing worth keeping, and is removed by
its ``stop()``. Set ``DATELINE_TEST_POSTGRES_URL`` to use an existing PostgreSQL server instead of
starting one (it must let the URL's user create databases).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

START_TIMEOUT = 30.0
PG_USER = "dateline"
POSTGRES_URL_ENV = "DATELINE_TEST_POSTGRES_URL"
_PORT_ATTEMPTS = 3


class ServerError(RuntimeError):
    """A throwaway server could not be started or used."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError as e:
        return f"(no log at {path}: {e})"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _output(proc: subprocess.CompletedProcess[str]) -> str:
    return "\n".join(s for s in (proc.stdout.strip(), proc.stderr.strip()) if s) or "(no output)"


# --- PostgreSQL --------------------------------------------------------------------------------


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path.parent.parent.name)) or (0,)


def find_postgres_bin() -> Path:
    """The bin dir holding initdb and pg_ctl: Debian's highest version, else the one on PATH."""
    candidates = [
        p.parent
        for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version_key)
        if os.access(p, os.X_OK) and os.access(p.parent / "pg_ctl", os.X_OK)
    ]
    if candidates:
        return candidates[-1]
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl", path=str(Path(initdb).parent)):
        return Path(initdb).parent
    raise ServerError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or on "
        "PATH; install Debian's postgresql package (./run test does), or set "
        f"{POSTGRES_URL_ENV} to an existing server"
    )


def _find_psql(bin_dir: Path | None) -> str | None:
    if bin_dir is not None and os.access(bin_dir / "psql", os.X_OK):
        return str(bin_dir / "psql")
    return shutil.which("psql")


def _as_server_user(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: as root, run them as the postgres user."""
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServerError("running as root but runuser is missing (Debian's util-linux has it)")
    return [runuser, "-u", "postgres", "--", *argv]


def _server_env() -> dict[str, str]:
    # Keep libpq's PG* variables out: every command gets its target explicitly.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _run(argv: list[str], *, cwd: Path, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv,
            cwd=cwd,
            env=_server_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise ServerError(f"{argv[0]} timed out after {timeout:.0f}s: {' '.join(argv)}") from e


@dataclass
class PostgresServer:
    """A running PostgreSQL server; ``url`` connects as a superuser to the ``postgres`` database."""

    url: str
    port: int
    datadir: Path
    _bin_dir: Path | None = field(default=None, repr=False)
    _root: Path | None = field(default=None, repr=False)
    _log_copy: Path | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _options: str = field(default="", repr=False)

    @property
    def owned(self) -> bool:
        """Whether this process started the server (and so ``stop()`` stops it)."""
        return self._root is not None

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` on this server."""
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path="/" + name))

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (empty, or a copy of database ``template``); its URL."""
        for given in (name, template or "x"):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", given):
                raise ValueError(f"not a plain database name: {given!r}")
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        psql = _find_psql(self._bin_dir)
        if psql is not None:
            proc = _run(
                [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url, "-c", sql],
                cwd=Path(tempfile.gettempdir()),
            )
            if proc.returncode != 0:
                raise ServerError(f"{sql} failed on {self.url}:\n{_output(proc)}")
        else:
            _execute_with_asyncpg(self.url, sql)
        return self.database_url(name)

    # -- outages, for the tests that need them (only on a server this process started) ---------

    def _pg_ctl(self, *args: str, timeout: float = START_TIMEOUT + 30) -> None:
        assert self._root is not None and self._bin_dir is not None, "not a server of ours"
        argv = [str(self._bin_dir / "pg_ctl"), *args, "-D", str(self.datadir)]
        proc = _run(_as_server_user(argv), cwd=self._root, timeout=timeout)
        if proc.returncode != 0:
            raise ServerError(f"pg_ctl {' '.join(args)} failed:\n{_output(proc)}")

    def halt(self) -> None:
        """Stop the server (fast shutdown: connections are closed), keeping its files."""
        self._pg_ctl("stop", "-m", "fast", "-w")

    def start_again(self) -> None:
        """Start a halted server again, on the same port."""
        assert self._root is not None
        log = str(self._root / "postgres.log")
        self._pg_ctl("start", "-w", "-t", f"{START_TIMEOUT:.0f}", "-l", log, "-o", self._options)

    def _processes(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, …)."""
        head = (self.datadir / "postmaster.pid").read_text().split("\n", 1)[0]
        postmaster = int(head)
        children = subprocess.run(
            ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
        ).stdout.split()
        return [postmaster, *map(int, children)]

    def freeze(self) -> None:
        """SIGSTOP every process of the server: it accepts nothing and answers nothing."""
        for pid in self._processes():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._processes():
            os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server and delete its files (a no-op for a server this process didn't start)."""
        with self._lock:
            root, self._root = self._root, None
        if root is None or self._bin_dir is None:
            return
        log = root / "postgres.log"
        try:
            _run(
                _as_server_user(
                    [
                        *(str(self._bin_dir / "pg_ctl"), "stop", "-D", str(self.datadir)),
                        *("-m", "immediate", "-w", "-t", f"{START_TIMEOUT:.0f}"),
                    ]
                ),
                cwd=root,
            )
        finally:
            if self._log_copy is not None:
                with contextlib.suppress(OSError):
                    shutil.copyfile(log, self._log_copy)
            shutil.rmtree(root, ignore_errors=True)


def _execute_with_asyncpg(url: str, sql: str) -> None:
    """Run one statement with asyncpg, in a thread of its own so that it works whether or not the
    calling thread has an event loop running."""
    import asyncio

    import asyncpg  # type: ignore[import-untyped]

    async def go() -> None:
        conn = await asyncpg.connect(url, timeout=START_TIMEOUT)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(go())
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=target, name="create-database")
    thread.start()
    thread.join()
    if errors:
        raise ServerError(f"{sql} failed on {url}: {errors[0]!r}") from errors[0]


def _external_postgres(url: str) -> PostgresServer:
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]  # drop a driver suffix such as +asyncpg
    if scheme not in ("postgresql", "postgres"):
        raise ServerError(f"{POSTGRES_URL_ENV} is not a postgresql:// URL: {url!r}")
    url = urlunsplit(parts._replace(scheme="postgresql"))
    bin_dir: Path | None
    try:
        bin_dir = find_postgres_bin()
    except ServerError:
        bin_dir = None
    return PostgresServer(url=url, port=parts.port or 5432, datadir=Path(), _bin_dir=bin_dir)


def start_postgres(tmp_root: Path, *, own: bool = False) -> PostgresServer:
    """Start a throwaway PostgreSQL cluster on a free port on 127.0.0.1 (superuser ``dateline``,
    trust authentication, durability switched off). ``tmp_root`` receives a copy of the server's
    log when it stops. With ``DATELINE_TEST_POSTGRES_URL`` set, start nothing and wrap that URL,
    unless ``own`` (a test that stops, freezes or restarts its server needs one of its own).
    """
    external = os.environ.get(POSTGRES_URL_ENV)
    if external and not own:
        return _external_postgres(external)

    bin_dir = find_postgres_bin()
    # The cluster lives in a fresh dir in /tmp rather than under tmp_root: when we are root the
    # server runs as the postgres user, which must be able to reach it (pytest's tmp dirs are 0700),
    # and the Unix socket path must stay short.
    tmp_base = "/tmp" if os.path.isdir("/tmp") else None
    root = Path(tempfile.mkdtemp(prefix="dateline-pg-", dir=tmp_base))
    try:
        root.chmod(0o755)
        datadir, sockdir, log = root / "data", root / "sock", root / "postgres.log"
        sockdir.mkdir(mode=0o755)
        log.touch(mode=0o644)
        if os.geteuid() == 0:
            for path in (root, sockdir, log):
                shutil.chown(path, user="postgres", group="postgres")

        initdb = [str(bin_dir / "initdb"), "-D", str(datadir), "-A", "trust", "-U", PG_USER]
        initdb += ["--encoding=UTF8", "--locale=C", "--no-sync"]
        proc = _run(_as_server_user(initdb), cwd=root, timeout=120)
        if proc.returncode != 0:
            raise ServerError(f"initdb failed (exit {proc.returncode}):\n{_output(proc)}")

        for attempt in range(_PORT_ATTEMPTS):
            port = free_port()
            options = (
                f"-p {port} -k {sockdir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            pg_ctl = [str(bin_dir / "pg_ctl"), "start", "-D", str(datadir), "-l", str(log)]
            pg_ctl += ["-w", "-t", f"{START_TIMEOUT:.0f}", "-o", options]
            proc = _run(_as_server_user(pg_ctl), cwd=root, timeout=START_TIMEOUT + 30)
            if proc.returncode == 0:
                break
            # pg_ctl may give up while the postmaster is still starting: make sure it is gone.
            _run(
                _as_server_user(
                    [str(bin_dir / "pg_ctl"), "stop", "-D", str(datadir), "-m", "immediate"]
                ),
                cwd=root,
            )
            log_tail = _tail(log)
            if "could not bind" in log_tail and attempt + 1 < _PORT_ATTEMPTS:
                continue  # someone took the port between free_port() and the bind: try another
            raise ServerError(
                f"PostgreSQL did not start on port {port} (pg_ctl exit {proc.returncode}, "
                f"timeout {START_TIMEOUT:.0f}s):\n{_output(proc)}\n--- {log} (tail) ---\n"
                f"{log_tail}"
            )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise

    server = PostgresServer(
        url=f"postgresql://{PG_USER}@127.0.0.1:{port}/postgres",
        port=port,
        datadir=datadir,
        _bin_dir=bin_dir,
        _root=root,
        _log_copy=tmp_root / "postgres.log" if tmp_root.is_dir() else None,
        _options=options,
    )
    atexit.register(server.stop)  # in case the session ends without calling stop()
    return server


# --- Redis -------------------------------------------------------------------------------------


def find_redis_server() -> str:
    found = shutil.which("redis-server")
    for candidate in (found, "/usr/bin/redis-server", "/usr/sbin/redis-server"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise ServerError(
        "redis-server not found; install Debian's redis-server package (./run test does)"
    )


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    """A running redis-server subprocess; ``url`` points at database 0."""

    url: str
    port: int
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log_file: IO[bytes] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def stop(self) -> None:
        """Terminate the server (idempotent)."""
        with self._lock:
            proc, self._proc = self._proc, None
            log_file, self._log_file = self._log_file, None
        if proc is not None:
            _terminate(proc)
        if log_file is not None:
            log_file.close()


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_redis(tmp_root: Path, port: int | None = None) -> RedisServer:
    """Start a throwaway redis-server on a free port (or `port`, to bring one back where its
    clients expect it) on 127.0.0.1 that keeps nothing on disk; its log goes to
    ``tmp_root/redis-PORT.log``."""
    wanted = port
    redis_server = find_redis_server()
    tmp_root.mkdir(parents=True, exist_ok=True)
    for attempt in range(_PORT_ATTEMPTS):
        port = wanted or free_port()
        log = tmp_root / f"redis-{port}.log"
        log_file = log.open("wb")
        argv = [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--daemonize", "no", "--dir", str(tmp_root)]
        try:
            proc = subprocess.Popen(
                argv,
                cwd=tmp_root,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        except BaseException:
            log_file.close()
            raise
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers_ping(port):
                server = RedisServer(
                    url=f"redis://127.0.0.1:{port}/0", port=port, _proc=proc, _log_file=log_file
                )
                atexit.register(server.stop)
                return server
            time.sleep(0.05)
        exited = proc.poll() is not None
        _terminate(proc)
        log_file.close()
        log_tail = _tail(log)
        if (
            exited
            and not wanted
            and "Address already in use" in log_tail
            and attempt + 1 < _PORT_ATTEMPTS
        ):
            continue  # someone took the port between free_port() and the bind: try another
        why = f"exited with {proc.returncode}" if exited else f"not up within {START_TIMEOUT:.0f}s"
        raise ServerError(f"redis-server on port {port} {why}\n--- {log} (tail) ---\n{log_tail}")
    raise AssertionError("unreachable")
