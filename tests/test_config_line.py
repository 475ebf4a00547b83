"""The LINE settings: checked at start-up like every other setting, naming the one at fault."""

from __future__ import annotations

import pytest

from watchnet.core.config import ConfigError, build_config


def test_line_is_off_by_default_and_talks_to_line_when_configured(tmp_path, monkeypatch):
    cfg = build_config(tmp_path)
    assert cfg["LINE_CHANNEL_SECRET"] is None and cfg["LINE_CHANNEL_ACCESS_TOKEN"] is None
    assert cfg["LINE_API_BASE"] == "https://api.line.me" and cfg["LINE_ADD_FRIEND_URL"] == ""
    monkeypatch.setenv("WATCHNET_LINE_CHANNEL_SECRET", "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("WATCHNET_LINE_CHANNEL_ACCESS_TOKEN", "a/b+c=")
    monkeypatch.setenv("WATCHNET_LINE_API_BASE", "http://127.0.0.1:8099/")
    monkeypatch.setenv("WATCHNET_LINE_ADD_FRIEND_URL", "https://line.me/R/ti/p/@takasaki")
    cfg = build_config(tmp_path)
    assert cfg["LINE_API_BASE"] == "http://127.0.0.1:8099"
    assert cfg["LINE_ADD_FRIEND_URL"] == "https://line.me/R/ti/p/@takasaki"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"LINE_API_BASE": "api.line.me"}, "WATCHNET_LINE_API_BASE"),
        ({"LINE_API_BASE": "ftp://api.line.me"}, "WATCHNET_LINE_API_BASE"),
        ({"LINE_API_BASE": "https://api.line.me?x=1"}, "WATCHNET_LINE_API_BASE"),
        ({"LINE_API_BASE": "http://127.0.0.1:99999"}, "WATCHNET_LINE_API_BASE"),
        ({"LINE_ADD_FRIEND_URL": "@takasaki"}, "WATCHNET_LINE_ADD_FRIEND_URL"),
        ({"LINE_ADD_FRIEND_URL": "https://line.me/R/ti/p/ @x"}, "WATCHNET_LINE_ADD_FRIEND_URL"),
        ({"LINE_CHANNEL_SECRET": "with space"}, "WATCHNET_LINE_CHANNEL_SECRET"),
        ({"LINE_CHANNEL_ACCESS_TOKEN": "abc"}, "WATCHNET_LINE_CHANNEL_SECRET"),
        ({"LINE_TIMEOUT_S": "0"}, "WATCHNET_LINE_TIMEOUT_S"),
    ],
)
def test_bad_line_settings_stop_the_start_naming_the_setting(
    tmp_path, monkeypatch, settings, named
):
    for key, value in settings.items():
        monkeypatch.setenv(f"WATCHNET_{key}", value)
    with pytest.raises(ConfigError, match=named):
        build_config(tmp_path)


def test_a_line_token_from_the_instance_file_must_be_text(tmp_path):
    (tmp_path / "watchnet.toml").write_text(
        'line_channel_secret = "s"\nline_channel_access_token = 12345\n'
    )
    with pytest.raises(ConfigError, match="WATCHNET_LINE_CHANNEL_ACCESS_TOKEN"):
        build_config(tmp_path)


def test_a_lease_too_short_for_the_line_timeout_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("WATCHNET_LINE_TIMEOUT_S", "10")
    with pytest.raises(ConfigError, match="LINE_TIMEOUT_S"):
        build_config(tmp_path)
