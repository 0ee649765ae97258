"""What a real installation gets: the wheel, built from this checkout and installed with its
dependencies into a fresh virtual environment outside it, serves every template and static file.
The lists are read from the installed package itself, so a file added later is checked too: each
static file is served as it is in the checkout, with its type; each template is rendered by some
page fetched from the running server (readers' pages with a poll, a score box, a pinned key event
with an image; the embed, the feed, the live stream, an error page; every console page)."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
SLUG = "xi-putin-moscow"
pytestmark = pytest.mark.network

# Run by the installed Python: the files under one folder of the installed package.
LIST_FILES = """
import json, sys
from importlib.resources import files

def walk(folder, prefix=""):
    for entry in folder.iterdir():
        if entry.is_dir():
            if entry.name != "__pycache__":
                yield from walk(entry, prefix + entry.name + "/")
        else:
            yield prefix + entry.name

print(json.dumps(sorted(walk(files("dateline").joinpath(sys.argv[1])))))
"""
# Put on the installed server's path (PYTHONPATH) as sitecustomize.py: writes the name of every
# template Jinja renders (a page, an include, an import, the template a page extends) to a file.
# It only watches: the server is the installed one, started by its own `dateline` command.
RECORDER = """
import os

import jinja2

_LOG = os.environ["DATELINE_TEMPLATE_LOG"]
_new_context = jinja2.Template.new_context
_get_template = jinja2.Environment.get_template


def _note(name):
    if name:
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(name + "\\n")


def new_context(self, *args, **kwargs):
    _note(self.name)
    return _new_context(self, *args, **kwargs)


def get_template(self, *args, **kwargs):
    template = _get_template(self, *args, **kwargs)
    _note(template.name)
    return template


jinja2.Template.new_context = new_context
jinja2.Environment.get_template = get_template
"""
# What each kind of static file must be served as.
TYPES = {
    ".js": {"text/javascript", "application/javascript"},
    ".css": {"text/css"},
    ".ico": {"image/x-icon", "image/vnd.microsoft.icon"},
}


def _run(*argv: str | Path, cwd: Path) -> str:
    proc = subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"{argv}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the wheel, the `dateline` command of a fresh venv it is installed in)."""
    tmp = tmp_path_factory.mktemp("package")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp / "dist", ROOT,
         cwd=tmp)  # fmt: skip
    [wheel] = (tmp / "dist").glob("dateline-*.whl")
    _run(sys.executable, "-m", "venv", tmp / "venv", cwd=tmp)
    _run(tmp / "venv" / "bin" / "pip", "install", "-q", wheel, cwd=tmp)
    yield wheel, tmp / "venv" / "bin" / "dateline"


def test_the_wheel_carries_every_template_and_static_file(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    shipped = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "dateline"
    wanted = {
        p.relative_to(ROOT).as_posix()
        for folder in ("web/templates", "web/static", "demo", "store/migrations")
        for p in (package / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert wanted - shipped == set()


class Visits:
    """Requests to the installed server, and which templates each one rendered first (read from
    the recorder's log after each)."""

    def __init__(self, client: httpx.Client, log: Path) -> None:
        self.client = client
        self.log = log
        self.rendered: dict[str, str] = {}  # template -> the first request that rendered it
        self.requests: list[str] = []
        self._read = 0

    def start(self) -> None:
        """Forget what the server rendered before the first request (while starting up)."""
        self._read = len(self.log.read_bytes()) if self.log.exists() else 0

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, path, **kwargs)
        self.note(f"{method} {path}")
        return response

    def note(self, what: str) -> None:
        self.requests.append(what)
        data = self.log.read_bytes() if self.log.exists() else b""
        for name in data[self._read :].decode().split():
            self.rendered.setdefault(name, what)
        self._read = len(data)


def _package_files(dateline: Path, folder: str, cwd: Path) -> list[str]:
    files: list[str] = json.loads(
        _run(dateline.parent / "python", "-c", LIST_FILES, folder, cwd=cwd)
    )
    assert files, f"no files in the installed package's {folder}"
    return files


def _png() -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(image, "PNG")
    return image.getvalue()


def test_an_installed_dateline_serves_every_page(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    _, dateline = installed
    templates = _package_files(dateline, "web/templates", tmp_path)
    static = _package_files(dateline, "web/static", tmp_path)
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(RECORDER)
    rendered_log = tmp_path / "templates.log"
    port = free_port()
    log = (tmp_path / "demo.log").open("w+")
    # Run from an empty folder: nothing of this checkout is importable there.
    proc = subprocess.Popen(
        [dateline, "demo", "--port", str(port), "--db", str(tmp_path / "demo.db")],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(probe), "DATELINE_TEMPLATE_LOG": str(rendered_log)},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "demo.log").read_text()
                time.sleep(0.1)
        printed = (tmp_path / "demo.log").read_text()
        token = re.search(r"API token\s+(\S+)", printed)
        password = re.search(r"password\s+(\S+)", printed)
        assert token and password, printed
        api = {"Authorization": f"Bearer {token.group(1)}"}
        with httpx.Client(base_url=base, timeout=10) as client:
            # What the partials show: a score box, and a pinned key event with an image and a
            # poll, written through the API (no page is open: writing renders no template).
            uploaded = client.post(
                "/api/v1/media",
                headers=api,
                files={"file": ("p.png", _png(), "image/png")},
                data={"alt": "A red square", "caption": "Red.", "credit": "Test"},
            )
            assert uploaded.status_code == 201, uploaded.text
            image = uploaded.json()["url"]
            r = client.request("PATCH", f"/api/v1/blogs/{SLUG}", headers=api, json={"score": {
                "status": "2nd half 67'", "sides": [{"name": "Arsenal"}, {"name": "Chelsea"}]}})  # fmt: skip
            assert r.status_code == 200, r.text
            closes = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
            figure = {"url": image, "alt": "A red square", "caption": "Red.", "credit": "Test"}
            poll = {"question": "A deal?", "options": ["Yes", "No"], "closes_at": closes}
            r = client.post(
                f"/api/v1/blogs/{SLUG}/posts",
                headers=api,
                json={"headline": "Your view", "body": "Tell us.", "pinned": True,
                      "key_event": True, "media": [figure], "poll": poll},
            )  # fmt: skip
            assert r.status_code == 201, r.text
            post_id = r.json()["id"]
            # From here on, what the server renders is a page's doing.
            c = Visits(client, rendered_log)
            c.start()
            assert c.get(image).status_code == 200

            page = c.get(f"/{SLUG}")
            assert page.status_code == 200 and "Xi and Putin" in page.text
            for marker in ('class="score', 'class="poll', 'class="key-events"', "<figure"):
                assert marker in page.text, marker
            for path in re.findall(r'(/static/[^"?]+)\?v=', page.text):
                assert c.get(path).status_code == 200, path
            permalink = c.get(f"/{SLUG}/posts/{post_id}")
            assert permalink.status_code == 200
            assert 'class="poll' in permalink.text and 'class="score' in permalink.text
            embed = c.get(f"/{SLUG}/embed")
            assert "<article" in embed.text and 'class="score' in embed.text
            assert c.get(f"/{SLUG}?sort=oldest").status_code == 200
            feed = c.get(f"/{SLUG}/feed.atom")
            assert feed.status_code == 200 and "<feed" in feed.text, feed.text[:300]
            assert c.get("/").status_code == 200
            missing = c.get("/no/such/page")
            assert missing.status_code == 404 and "<html" in missing.text
            assert c.get("/api/v1/openapi.json").status_code == 200
            # The live stream: its preamble, then the first event (with the post's HTML).
            with client.stream("GET", f"/{SLUG}/live", params={"after": 0}) as live:
                assert live.status_code == 200
                assert live.headers["content-type"].startswith("text/event-stream")
                lines = []
                for line in live.iter_lines():
                    lines.append(line)
                    if line.startswith("data:"):
                        break
            c.note(f"GET /{SLUG}/live?after=0")
            assert any(line.startswith("retry:") for line in lines), lines
            assert "id: 1" in lines, lines
            event = json.loads(lines[-1].removeprefix("data:"))
            assert event["seq"] == 1 and "<article" in event["html"], event
            # Every static file, as it is in this checkout, with its type; and the service
            # worker at the root, where its scope covers every blog.
            for name in static:
                served = c.get(f"/static/{name}")
                assert served.status_code == 200, name
                kind = served.headers["content-type"].split(";")[0]
                assert kind in TYPES[Path(name).suffix], (name, kind)
                assert served.content == (ROOT / "dateline/web/static" / name).read_bytes(), name
            worker = c.get("/sw.js")
            assert worker.status_code == 200, worker.text
            assert worker.headers["content-type"].split(";")[0] in TYPES[".js"]
            assert worker.content == (ROOT / "dateline/web/static/push-worker.js").read_bytes()
            favicon = c.get("/favicon.ico")
            assert favicon.status_code == 200 and favicon.headers["content-type"] in TYPES[".ico"]

            login = c.get("/newsroom/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
            assert csrf, login.text
            signed = c.post(
                "/newsroom/login",
                data={"email": "admin@dateline.example", "password": password.group(1),
                      "csrf_token": csrf.group(1)},
            )  # fmt: skip
            assert signed.status_code == 303, signed.text
            console = ["/newsroom/", f"/newsroom/blogs/{SLUG}", f"/newsroom/blogs/{SLUG}/posts/"
                       f"{post_id}", f"/newsroom/blogs/{SLUG}/webhooks", "/newsroom/tokens",
                       "/newsroom/users", "/newsroom/account", "/newsroom/inputs"]  # fmt: skip
            for path in console:
                r = c.get(path)
                assert r.status_code == 200 and "<html" in r.text, path
            editor = c.get(f"/newsroom/blogs/{SLUG}/posts/{post_id}").text
            assert "A deal?" in editor and 'id="c-poll-results"' in editor
            assert "Arsenal" in c.get(f"/newsroom/blogs/{SLUG}").text  # the score box editor
        never = sorted(set(templates) - set(c.rendered))
        assert never == [], (
            f"templates no page rendered: {never}\nrequests: {c.requests}\n"
            f"rendered: {json.dumps(c.rendered, indent=1)}"
        )
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_an_installed_dateline_imports_and_exports_every_format(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    """Each format's reader and writer, with the dependencies only it needs (defusedxml for
    WordPress exports, httpx for pages fetched by URL), from the wheel alone."""
    _, dateline = installed
    fixtures = ROOT / "tests" / "fixtures"
    db = ["--db", str(tmp_path / "d.db")]
    _run(dateline, "import", fixtures / "foreign" / "storm-hollis-export.xml", "--format",
         "wordpress", "--slug", "storm", *db, cwd=tmp_path)  # fmt: skip
    _run(dateline, "import", fixtures / "foreign" / "storm-hollis-jsonld.html", "--format",
         "jsonld", "--timezone", "Europe/London", "--slug", "storm-ld", *db, cwd=tmp_path)  # fmt: skip
    _run(dateline, "import", fixtures / "text" / "storm-odette.txt", "--slug", "odette", *db,
         cwd=tmp_path)  # fmt: skip
    _run(dateline, "export", "storm", "--format", "html", "--out", "site", *db, cwd=tmp_path)
    assert "coverageEndTime" in (tmp_path / "site" / "storm" / "index.html").read_text("utf-8")
    _run(dateline, "export", "odette", "--out", "odette.tar.gz", *db, cwd=tmp_path)
    restored = _run(dateline, "import", "odette.tar.gz", "--format", "json", "--db",
                    tmp_path / "other.db", cwd=tmp_path)  # fmt: skip
    assert "restored /odette" in restored
    with socket.socket() as closed:  # a port nothing listens on: the fetch fails cleanly
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/live"
        proc = subprocess.run(
            [str(dateline), "import", url, "--format", "jsonld", "--slug", "x", *db],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
