"""Configuration: defaults, instance file, environment, and loud failures on bad values."""

from __future__ import annotations

import pytest

from watchnet.core.config import (
    GSI_STD_TILES,
    ConfigError,
    build_config,
    normalise_database_url,
    twilio_configured,
)


def test_defaults_use_gsi_tiles_japanese_and_sqlite_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    cfg = build_config(tmp_path)
    assert cfg["TILE_URL"] == GSI_STD_TILES
    assert "国土地理院" in cfg["TILE_ATTRIBUTION"]
    assert cfg["BABEL_DEFAULT_LOCALE"] == "ja"
    assert cfg["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'watchnet.sqlite3'}"


def test_secret_key_is_generated_once_and_shared_by_every_worker(tmp_path):
    first = build_config(tmp_path)["SECRET_KEY"]
    assert first == build_config(tmp_path)["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_environment_overrides_the_instance_file(tmp_path, monkeypatch):
    (tmp_path / "watchnet.toml").write_text(
        'tile_url = "https://tiles.city.example/{z}/{x}/{y}.png"\n'
    )
    assert build_config(tmp_path)["TILE_URL"].startswith("https://tiles.city.example/")
    monkeypatch.setenv("WATCHNET_TILE_URL", "http://10.0.0.5/tiles/{z}/{x}/{y}.png")
    assert build_config(tmp_path)["TILE_URL"] == "http://10.0.0.5/tiles/{z}/{x}/{y}.png"


def test_database_url_selects_postgresql_with_psycopg(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/watchnet")
    assert build_config(tmp_path)["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/watchnet"
    assert normalise_database_url("sqlite:///x") == "sqlite:///x"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WATCHNET_MAX_CONTENT_LENGTH", "lots"),
        ("WATCHNET_TILE_URL", "https://tiles.example/tile.png"),
        ("WATCHNET_LANGUAGES", "ja,fr"),
        ("WATCHNET_DISPLAY_TIMEZONE", "Mars/Olympus"),
        ("WATCHNET_WALKING_SPEED_MPS", "0"),
    ],
)
def test_bad_values_fail_loudly(tmp_path, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError):
        build_config(tmp_path)


def test_a_broken_instance_file_names_itself(tmp_path):
    (tmp_path / "watchnet.toml").write_text("tile_url = \n")
    with pytest.raises(ConfigError, match="watchnet.toml"):
        build_config(tmp_path)


@pytest.mark.parametrize(
    "value",
    [
        "0:1200,30",  # a step without metres
        "0:1200,thirty:1600",
        "0:1200,30:-5",
        "0:1200,30:nan",
        "-10:1200",
        " , ",  # no step at all
    ],
)
def test_a_bad_radius_schedule_is_refused_at_start_naming_the_setting(tmp_path, monkeypatch, value):
    monkeypatch.setenv("WATCHNET_ALERT_RADIUS_SCHEDULE", value)
    with pytest.raises(ConfigError, match="ALERT_RADIUS_SCHEDULE"):
        build_config(tmp_path)


def test_a_good_radius_schedule_from_the_environment_is_a_list(tmp_path, monkeypatch):
    monkeypatch.setenv("WATCHNET_ALERT_RADIUS_SCHEDULE", "0:1000, 60:3000")
    assert build_config(tmp_path)["ALERT_RADIUS_SCHEDULE"] == ["0:1000", "60:3000"]


@pytest.mark.parametrize("raw", ["false", "0", "no", "FALSE", "off"])
def test_boolean_settings_read_false_as_false(tmp_path, monkeypatch, raw):
    # Every setting whose default is a bool, not only a hand-kept list.
    for name in (
        "SMTP_STARTTLS",
        "SESSION_COOKIE_HTTPONLY",
        "WTF_I18N_ENABLED",
        "SESSION_REFRESH_EACH_REQUEST",
    ):
        monkeypatch.setenv(f"WATCHNET_{name}", raw)
    cfg = build_config(tmp_path)
    assert cfg["SMTP_STARTTLS"] is False
    assert cfg["SESSION_COOKIE_HTTPONLY"] is False
    assert cfg["WTF_I18N_ENABLED"] is False
    assert cfg["SESSION_REFRESH_EACH_REQUEST"] is False


def test_boolean_settings_read_true_and_refuse_anything_else(tmp_path, monkeypatch):
    monkeypatch.setenv("WATCHNET_SMTP_STARTTLS", "yes")
    assert build_config(tmp_path)["SMTP_STARTTLS"] is True
    monkeypatch.setenv("WATCHNET_SMTP_STARTTLS", "maybe")
    with pytest.raises(ConfigError, match="WATCHNET_SMTP_STARTTLS must be true or false"):
        build_config(tmp_path)


def test_a_boolean_written_as_a_string_in_the_instance_file_is_a_boolean(tmp_path):
    (tmp_path / "watchnet.toml").write_text('smtp_starttls = "false"\n')
    assert build_config(tmp_path)["SMTP_STARTTLS"] is False
    (tmp_path / "watchnet.toml").write_text("smtp_port = true\n")
    with pytest.raises(ConfigError, match="SMTP_PORT must be a whole number"):
        build_config(tmp_path)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMTP_PORT", "70000"),
        ("WEBHOOK_TIMEOUT_S", "nan"),
        ("WEBHOOK_TIMEOUT_S", "inf"),
        ("DELIVERY_MAX_ATTEMPTS", "0"),
        ("ALERT_SECTOR_RESOLUTION", "15"),
        ("HEARTBEAT_S", "-1"),
        ("STREAM_RETRY_MS", "1.5"),
    ],
)
def test_numeric_settings_are_range_checked_naming_the_setting(tmp_path, monkeypatch, name, value):
    monkeypatch.setenv(f"WATCHNET_{name}", value)
    with pytest.raises(ConfigError, match=f"WATCHNET_{name}"):
        build_config(tmp_path)


def test_a_delivery_lease_too_short_for_the_network_timeout_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("WATCHNET_WEBHOOK_TIMEOUT_S", "10")
    with pytest.raises(ConfigError, match="DELIVERY_LEASE_S .* must be at least"):
        build_config(tmp_path)
    monkeypatch.setenv("WATCHNET_DELIVERY_LEASE_S", "33")
    assert build_config(tmp_path)["DELIVERY_LEASE_S"] == 33


def test_every_process_refuses_to_start_with_a_bad_setting(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(
        os.environ,
        WATCHNET_INSTANCE_PATH=str(tmp_path),
        WATCHNET_ALERT_RADIUS_SCHEDULE="0:1200,30:lots",
    )
    env.pop("DATABASE_URL", None)
    for command in ("dispatcher", "scheduler"):
        done = subprocess.run(
            [sys.executable, "-m", "watchnet.cli", command, "--once"],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert done.returncode != 0
        assert "ALERT_RADIUS_SCHEDULE" in done.stderr
        assert "'30:lots' is not minutes:metres" in done.stderr


TWILIO = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_FROM_NUMBER": "+815012345678",
    "PUBLIC_BASE_URL": "https://watch.example.jp",
}


def test_the_sms_gateway_is_off_by_default(tmp_path):
    cfg = build_config(tmp_path)
    assert not twilio_configured(cfg)
    assert cfg["TWILIO_API_BASE"] == "https://api.twilio.com"
    assert (
        build_config(tmp_path, {**TWILIO, "TWILIO_API_BASE": "http://127.0.0.1:8/x/"})[
            "TWILIO_API_BASE"
        ]
        == "http://127.0.0.1:8/x"
    )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"TWILIO_AUTH_TOKEN": None}, "WATCHNET_TWILIO_AUTH_TOKEN"),
        ({"TWILIO_FROM_NUMBER": "050-1234-5678"}, "WATCHNET_TWILIO_FROM_NUMBER"),
        ({"TWILIO_ACCOUNT_SID": "AC/../x"}, "WATCHNET_TWILIO_ACCOUNT_SID"),
        ({"TWILIO_API_BASE": "api.twilio.com"}, "WATCHNET_TWILIO_API_BASE"),
        ({"PUBLIC_BASE_URL": None}, "WATCHNET_PUBLIC_BASE_URL"),
    ],
)
def test_an_incomplete_or_bad_sms_gateway_setting_stops_the_start(tmp_path, change, named):
    assert twilio_configured(build_config(tmp_path, TWILIO))
    with pytest.raises(ConfigError, match=named):
        build_config(tmp_path, {**TWILIO, **change})


def test_the_gateway_can_be_set_from_the_environment(tmp_path, monkeypatch):
    for key, value in TWILIO.items():
        monkeypatch.setenv(f"WATCHNET_{key}", value)
    monkeypatch.setenv("WATCHNET_TWILIO_API_BASE", "https://gw.city.example/api/laml")
    cfg = build_config(tmp_path)
    assert twilio_configured(cfg) and cfg["TWILIO_API_BASE"] == "https://gw.city.example/api/laml"
