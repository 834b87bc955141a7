"""Settings come from the environment and an optional .env file; defaults need nothing."""

from __future__ import annotations

from datetime import time

import pytest

from bot.config import ConfigError, Settings


def test_defaults_need_no_configuration(tmp_path):
    settings = Settings.from_env({}, cwd=tmp_path)
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'unionbot.db'}"
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert settings.default_language == "vi"
    assert settings.telegram_token is None and not settings.telegram_webhook_mode
    assert settings.auto_upgrade and settings.seed_directory is not None


def test_a_dotenv_file_is_read_and_the_environment_wins(tmp_path):
    (tmp_path / ".env").write_text(
        "# comment\nTELEGRAM_BOT_TOKEN='1:abc'\nexport HTTP_PORT=9000\nPUBLIC_URL=https://x.vn/\n",
        encoding="utf-8",
    )
    settings = Settings.from_env({"HTTP_PORT": "9100"}, cwd=tmp_path)
    assert settings.telegram_token == "1:abc"
    assert settings.http_port == 9100
    assert settings.public_url == "https://x.vn" and settings.telegram_webhook_mode


def test_postgresql_is_not_seeded_or_upgraded_by_default(tmp_path):
    settings = Settings.from_env({"DATABASE_URL": "postgresql+asyncpg://u@h/db"}, cwd=tmp_path)
    assert settings.seed_directory is None and not settings.auto_upgrade


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must start with"),
        ({"HTTP_PORT": "eighty"}, "HTTP_PORT must be a whole number"),
        ({"UNIONBOT_FLOOD_LIMIT": "many"}, "UNIONBOT_FLOOD_LIMIT must be a whole number"),
    ],
)
def test_bad_values_are_named(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env, cwd=tmp_path)


def test_due_days_are_configurable_per_kind(tmp_path):
    settings = Settings.from_env({"UNIONBOT_DUE_DAYS": "grievance=1/5, membership=4"}, cwd=tmp_path)
    assert settings.due_days["grievance"] == (1, 5)
    assert settings.due_days["membership"] == (4, None)
    assert settings.due_days["support"] == (2, None)  # the default
    for bad in ("grievance=two", "holiday=3", "support=1/x"):
        with pytest.raises(ConfigError, match="UNIONBOT_DUE_DAYS"):
            Settings.from_env({"UNIONBOT_DUE_DAYS": bad}, cwd=tmp_path)


def test_retention_periods_are_read_and_zero_keeps_forever(tmp_path):
    defaults = Settings.from_env({}, cwd=tmp_path).retention
    assert (
        defaults.inbox_days, defaults.sent_days, defaults.webchat_days, defaults.visitor_days,
        defaults.closed_case_days,
    ) == (2, 1, 30, 1, 365)  # fmt: skip
    env = {"UNIONBOT_KEEP_SENT_DAYS": "0", "UNIONBOT_KEEP_CLOSED_CASE_DAYS": "730"}
    retention = Settings.from_env(env, cwd=tmp_path).retention
    assert (retention.sent_days, retention.closed_case_days) == (0, 730)
    assert retention.inbox_days == 2
    for bad in ("-1", "soon"):
        with pytest.raises(ConfigError, match="UNIONBOT_KEEP_INBOX_DAYS"):
            Settings.from_env({"UNIONBOT_KEEP_INBOX_DAYS": bad}, cwd=tmp_path)


def test_trusted_proxies_are_addresses_or_networks(tmp_path):
    assert Settings.from_env({}, cwd=tmp_path).trusted_proxies == ()
    env = {"UNIONBOT_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8 ::1"}
    settings = Settings.from_env(env, cwd=tmp_path)
    assert [str(network) for network in settings.trusted_proxies] == [
        "127.0.0.1/32", "10.0.0.0/8", "::1/128",
    ]  # fmt: skip
    with pytest.raises(ConfigError, match=r"UNIONBOT_TRUSTED_PROXIES: 'proxy\.local'"):
        Settings.from_env({"UNIONBOT_TRUSTED_PROXIES": "proxy.local"}, cwd=tmp_path)


def test_the_digest_hour_is_a_local_hour_or_off(tmp_path):
    def hour(value: str) -> int | None:
        return Settings.from_env({"UNIONBOT_DIGEST_HOUR": value}, cwd=tmp_path).digest_hour

    assert Settings.from_env({}, cwd=tmp_path).digest_hour == 7
    assert [hour("0"), hour(" 23 "), hour("07")] == [0, 23, 7]
    assert [hour("off"), hour("OFF"), hour("")] == [None, None, None]
    for bad in ("24", "-1", "7.5", "seven", "7h", "²"):
        with pytest.raises(
            ConfigError,
            match=r"UNIONBOT_DIGEST_HOUR must be an hour from 0 to 23 \(Vietnam time\), or off",
        ):
            hour(bad)


def test_zalo_promotion_messages_are_off_by_default_and_their_limits_are_read(tmp_path):
    default = Settings.from_env({}, cwd=tmp_path)
    assert not default.zalo_promotion_broadcasts
    assert (default.zalo_promotion_per_month, default.zalo_promotion_per_day) == (4, 1)
    assert default.zalo_promotion_hours == (time(6), time(22))
    env = {
        "ZALO_PROMOTION_BROADCASTS": "1",
        "ZALO_PROMOTION_PER_MONTH": "6",
        "ZALO_PROMOTION_PER_DAY": "2",
        "ZALO_PROMOTION_HOURS": "08:00 - 21:30",
    }
    chosen = Settings.from_env(env, cwd=tmp_path)
    assert chosen.zalo_promotion_broadcasts
    assert (chosen.zalo_promotion_per_month, chosen.zalo_promotion_per_day) == (6, 2)
    assert chosen.zalo_promotion_hours == (time(8), time(21, 30))
    for bad in ("22:00-06:00", "06:00", "off", "6h-22h", "06:00-06:00"):
        with pytest.raises(ConfigError, match="ZALO_PROMOTION_HOURS must be two times"):
            Settings.from_env({"ZALO_PROMOTION_HOURS": bad}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="ZALO_PROMOTION_PER_MONTH must be 1 or more"):
        Settings.from_env({"ZALO_PROMOTION_PER_MONTH": "0"}, cwd=tmp_path)
