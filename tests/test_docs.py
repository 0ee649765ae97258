"""What the deployment guide tells an operator to type works as written (short of sudo)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, re.S)


def test_the_install_line_brings_what_the_venv_needs() -> None:
    guide = (DOCS / "deploy.md").read_text("utf-8")
    install = next(b for b in _blocks(guide) if "apt-get install" in b)
    assert "python3-venv" in install  # Debian's python3 has no venv without it


def test_the_environment_file_is_read_by_the_service_user_comments_and_all(
    tmp_path: Path,
) -> None:
    guide = (DOCS / "deploy.md").read_text("utf-8")
    blocks = _blocks(guide)
    env = next(b for b in blocks if b.startswith("DATELINE_DATABASE_URL="))
    assert "install -d -m 750" in guide and "install -m 640" in guide
    helper = next(b for b in blocks if "as_dateline()" in b).splitlines()[0]
    # As the guide's function, without the sudo (the test is not root's to give away).
    helper = helper.replace("sudo -u dateline ", "").replace(
        "/etc/dateline/dateline.env", "$ENVFILE"
    )
    envfile = tmp_path / "dateline.env"
    envfile.write_text(
        env.replace(
            "<64 random characters: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'>",
            "s3cret",
        )
    )
    out = subprocess.run(
        ["bash", "-c", f"{helper}\nas_dateline env"],
        env={"ENVFILE": str(envfile), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "DATELINE_BUS_URL=redis://127.0.0.1:6379/0" in out
    assert "DATELINE_FORWARDED_ALLOW_IPS=127.0.0.1" in out
    assert "DATELINE_DATABASE_URL=postgresql://dateline@/dateline?host=/var/run/postgresql" in out
