"""Configuration: defaults, instance file, environment, and loud failures on bad values."""

from __future__ import annotations

import pytest

from watchnet.config import GSI_STD_TILES, ConfigError, build_config, normalise_database_url


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
    (tmp_path / "watchnet.toml").write_text('tile_url = "https://tiles.city.example/{z}/{x}/{y}.png"\n')
    assert build_config(tmp_path)["TILE_URL"].startswith("https://tiles.city.example/")
    monkeypatch.setenv("WATCHNET_TILE_URL", "http://10.0.0.5/tiles/{z}/{x}/{y}.png")
    assert build_config(tmp_path)["TILE_URL"] == "http://10.0.0.5/tiles/{z}/{x}/{y}.png"


def test_database_url_selects_postgresql_with_psycopg(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/watchnet")
    assert build_config(tmp_path)["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/watchnet"
    assert normalise_database_url("sqlite:///x") == "sqlite:///x"


@pytest.mark.parametrize(("name", "value"), [
    ("WATCHNET_MAX_CONTENT_LENGTH", "lots"),
    ("WATCHNET_TILE_URL", "https://tiles.example/tile.png"),
    ("WATCHNET_LANGUAGES", "ja,fr"),
    ("WATCHNET_DISPLAY_TIMEZONE", "Mars/Olympus"),
    ("WATCHNET_WALKING_SPEED_MPS", "0"),
])
def test_bad_values_fail_loudly(tmp_path, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError):
        build_config(tmp_path)


def test_a_broken_instance_file_names_itself(tmp_path):
    (tmp_path / "watchnet.toml").write_text("tile_url = \n")
    with pytest.raises(ConfigError, match="watchnet.toml"):
        build_config(tmp_path)
