import re
from pathlib import Path

import pytest

from shared.settings import PROJECT_ROOT, SettingsError, load_settings, setting_names


def test_production_names_every_missing_secret(monkeypatch):
    for name in ("WADDLEBOT_SECRET_KEY", "ADMIN_PASSWORD", "AUTH_SECRET"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("WADDLEBOT_ENV", "production")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(error.value) == ("WADDLEBOT_ENV=production needs these variables set: "
                                "WADDLEBOT_SECRET_KEY, ADMIN_PASSWORD, AUTH_SECRET")


def test_development_generates_missing_secrets_once(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("WADDLEBOT_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("ADMIN_PASSWORD")
    monkeypatch.delenv("AUTH_SECRET")
    first = load_settings()
    assert len(first.admin_password) >= 32 and first.auth_secret != first.admin_password
    assert "generated development secrets for ADMIN_PASSWORD, AUTH_SECRET" in caplog.text
    caplog.clear()
    second = load_settings()
    assert (second.admin_password, second.auth_secret) == (first.admin_password, first.auth_secret)
    assert "generated" not in caplog.text
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("name", "value", "message"), [
    ("PORT", "eighty", "PORT: Input should be a valid integer"),
    ("PUBLIC_URL", "example.com", "PUBLIC_URL: expects a URL starting with http:// or https://"),
    ("TWITCH_EVENTSUB_WS_URL", "https://x.test", "TWITCH_EVENTSUB_WS_URL: expects a URL starting with ws://"),
    ("DATABASE_URL", "mysql://x", "DATABASE_URL: expects sqlite://FILE, postgres://… or postgresql://…"),
    ("EVENTSUB_KEEPALIVE_SECONDS", "5", "EVENTSUB_KEEPALIVE_SECONDS: Input should be greater than or equal to 10"),
    ("ACTIVITY_POINTS", "[1]", "ACTIVITY_POINTS: expects a JSON object"),
])
def test_a_malformed_value_names_the_variable_and_what_it_expects(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert message in str(error.value)


def test_aliases_and_both_postgres_schemes(monkeypatch):
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("DB_URI", "postgresql://u@h/db")
    monkeypatch.setenv("TWITCH_CLIENT_ID", "cid")
    monkeypatch.setenv("TWITCH_CLIENT_SECRET", "csecret")
    settings = load_settings()
    assert (settings.database_url, settings.twitch_app_id, settings.twitch_app_secret) == (
        "postgresql://u@h/db", "cid", "csecret")
    monkeypatch.setenv("DB_URI", "postgres://u@h/db")
    assert load_settings().database_url == "postgres://u@h/db"


def test_env_example_lists_every_variable_with_its_meaning():
    text = (PROJECT_ROOT / ".env.example").read_text()
    listed = re.findall(r"^([A-Z0-9_]+)=", text, re.M)
    assert sorted(listed) == sorted(setting_names())
    for name in listed:
        assert re.search(rf"^# .+\n{name}=", text, re.M), f"{name} has no description line"


def test_settings_repr_shows_no_secret():
    settings = load_settings()
    assert settings.admin_password not in repr(settings) and settings.auth_secret not in repr(settings)


def test_a_relative_var_dir_is_under_the_project(monkeypatch):
    monkeypatch.setenv("WADDLEBOT_VAR_DIR", "var")
    assert load_settings().var_dir == Path(PROJECT_ROOT) / "var"


def test_several_web_processes_need_redis(monkeypatch):
    monkeypatch.setenv("WEB_WORKERS", "2")
    monkeypatch.setenv("REDIS_URL", "")
    with pytest.raises(SettingsError, match="WEB_WORKERS above 1 needs REDIS_URL"):
        load_settings()
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert load_settings().web_workers == 2
