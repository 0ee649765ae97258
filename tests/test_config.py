"""Settings are declared once and documented."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from dateline.config import SETTINGS, Settings
from dateline.errors import Invalid

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_every_setting_has_help_and_is_documented() -> None:
    doc = DOC.read_text("utf-8")
    assert {s.name for s in SETTINGS} == {f.name for f in fields(Settings)}
    for setting in SETTINGS:
        assert setting.help
        assert f"`{setting.name}`" in doc and f"`{setting.env}`" in doc, setting.name


def test_flags_beat_the_environment_which_beats_defaults() -> None:
    env = {"DATELINE_PORT": "9000", "DATELINE_WORKERS": "3"}
    settings = Settings.load({"port": 7000, "workers": None}, env)
    assert (settings.port, settings.workers, settings.page_size) == (7000, 3, 20)


def test_a_malformed_variable_is_named() -> None:
    with pytest.raises(Invalid, match="DATELINE_PORT='eighty'"):
        Settings.load({}, {"DATELINE_PORT": "eighty"})


def test_secrets_are_masked() -> None:
    assert Settings(secret_key="hunter2").public()["secret_key"] == "***"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"push": "edge"}, "choose direct or grip"),
        ({"push": "grip"}, "needs grip_publish_urls"),
        ({"push": "grip", "grip_publish_urls": "http://p:5561/", "grip_key": "changeme"},
         "at least 32 characters"),
    ],
)  # fmt: skip
def test_a_push_mode_that_cannot_work_is_refused_at_start(
    overrides: dict[str, str], message: str
) -> None:
    from dateline.web.app import create_app

    with pytest.raises(Invalid, match=message):
        create_app(Settings(**overrides))  # type: ignore[arg-type]
