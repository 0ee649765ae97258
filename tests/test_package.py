"""What a real installation gets: the wheel, built from this checkout and installed with its
dependencies into a fresh virtual environment outside it, serves every template and static file
(the reader page, a permalink, the embed, the feed, the index, an error page, the console, an
upload and its image)."""

from __future__ import annotations

import io
import re
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
SLUG = "xi-putin-moscow"
pytestmark = pytest.mark.network


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


def test_an_installed_dateline_serves_every_page(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    _, dateline = installed
    port = free_port()
    log = (tmp_path / "demo.log").open("w+")
    # Run from an empty folder: nothing of this checkout is importable there.
    proc = subprocess.Popen(
        [dateline, "demo", "--port", str(port), "--db", str(tmp_path / "demo.db")],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True,
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
        with httpx.Client(base_url=base, timeout=10) as c:
            page = c.get(f"/{SLUG}")
            assert page.status_code == 200 and "Xi and Putin" in page.text
            for path in re.findall(r'(/static/[^"?]+)\?v=', page.text):
                assert c.get(path).status_code == 200, path
            post = re.search(rf'href="(/{SLUG}/posts/[a-z0-9]+)"', page.text)
            assert post, "no permalink on the page"
            assert c.get(post.group(1)).status_code == 200
            assert "<article" in c.get(f"/{SLUG}/embed").text
            feed = c.get(f"/{SLUG}/feed.atom")
            assert feed.status_code == 200 and "<feed" in feed.text, feed.text[:300]
            assert c.get("/").status_code == 200
            missing = c.get("/no/such/page")
            assert missing.status_code == 404 and "<html" in missing.text
            assert c.get("/api/v1/openapi.json").status_code == 200
            for name in ("console.js", "console.css", "embed.js", "embed-frame.js", "live.js"):
                assert c.get(f"/static/{name}").status_code == 200, name
            login = c.get("/newsroom/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
            assert csrf, login.text
            signed = c.post(
                "/newsroom/login",
                data={"email": "admin@dateline.example", "password": password.group(1),
                      "csrf_token": csrf.group(1)},
            )  # fmt: skip
            assert signed.status_code == 303, signed.text
            for path in ("/newsroom/", f"/newsroom/blogs/{SLUG}", "/newsroom/tokens",
                         "/newsroom/users"):  # fmt: skip
                assert c.get(path).status_code == 200, path
            image = io.BytesIO()
            Image.new("RGB", (64, 48), (200, 30, 30)).save(image, "PNG")
            uploaded = c.post(
                "/api/v1/media",
                headers={"Authorization": f"Bearer {token.group(1)}"},
                files={"file": ("p.png", image.getvalue(), "image/png")},
                data={"alt": "A red square", "caption": "Red.", "credit": "Test"},
            )
            assert uploaded.status_code == 201, uploaded.text
            assert c.get(uploaded.json()["url"]).status_code == 200
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
