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
