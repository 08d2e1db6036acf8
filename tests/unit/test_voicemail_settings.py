"""The voicemail settings (compressed copy, delete after email, retention)
and the daily retention purge they schedule."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from ari_app.client import AriClient
from billing.invoicing.service import InvoicingService
from controlplane.scheduled_jobs import VOICEMAIL_PURGE_JOB_ID, register_jobs, voicemail_purge_job
from controlplane.invoicing_wiring import invoicing_service
from controlplane.settings import Settings, SettingsError, load_settings
from notify.notifier import Notifier
from notify.render import Renderer

BUCHAREST = ZoneInfo("Europe/Bucharest")


def settings_from(tmp_path: Path, **environment: str) -> Settings:
    return load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path),
                          **{f"CLICKPHONE_{name.upper()}": value for name, value in environment.items()}})


def invoicing() -> InvoicingService:
    """An invoicing service on no database: these tests only register jobs."""
    return invoicing_service(None, Notifier(Renderer()))  # type: ignore[arg-type]


def test_by_default_a_copy_is_compressed_recordings_are_deleted_and_leftovers_kept_30_days(tmp_path) -> None:
    settings = settings_from(tmp_path)

    assert settings.voicemail_compressed_audio == "opus"
    assert settings.voicemail_delete_after_email is True
    assert settings.voicemail_retention_days == 30


@pytest.mark.parametrize(("given", "meaning"), [("false", False), ("0", False), ("No", False),
                                                 ("true", True), ("1", True), ("yes", True)])
def test_delete_after_email_reads_yes_or_no_from_the_environment(tmp_path, given: str, meaning: bool) -> None:
    assert settings_from(tmp_path, voicemail_delete_after_email=given).voicemail_delete_after_email is meaning


def test_delete_after_email_reads_a_toml_boolean(tmp_path) -> None:
    config = tmp_path / "clickphone.toml"
    config.write_text("voicemail_delete_after_email = false\n")

    settings = load_settings({"CLICKPHONE_STATE_DIR": str(tmp_path)}, config_file=config)

    assert settings.voicemail_delete_after_email is False


@pytest.mark.parametrize(
    ("environment", "refusal"),
    [
        ({"voicemail_delete_after_email": "maybe"}, "voicemail_delete_after_email"),
        ({"voicemail_compressed_audio": "mp3"}, "voicemail_compressed_audio"),
        ({"voicemail_retention_days": "0"}, "voicemail_retention_days"),
        ({"voicemail_retention_days": "a month"}, "voicemail_retention_days"),
    ],
)
def test_unusable_voicemail_settings_are_refused_by_name(tmp_path, environment: dict, refusal: str) -> None:
    with pytest.raises(SettingsError, match=refusal):
        settings_from(tmp_path, **environment)


def test_with_an_ari_client_the_purge_is_registered_daily_at_03_30_with_the_retention(tmp_path) -> None:
    """The purge needs the Asterisk that holds the recordings: registered
    with its client, at 03:30 Bucharest every day, deleting what is older
    than voicemail_retention_days."""
    client = AriClient("http://127.0.0.1:1", "user", "secret", "clickphone")
    settings = settings_from(tmp_path, voicemail_retention_days="7")

    jobs = register_jobs(AsyncIOScheduler(timezone=BUCHAREST), None, settings, invoicing(),  # type: ignore[arg-type]
                         ari=client)

    purge = jobs[VOICEMAIL_PURGE_JOB_ID]
    assert purge.func is voicemail_purge_job
    assert purge.args == (client, timedelta(days=7))
    after = datetime(2025, 7, 1, 12, 0, tzinfo=BUCHAREST)
    assert purge.trigger.get_next_fire_time(None, after) == datetime(2025, 7, 2, 3, 30, tzinfo=BUCHAREST)


def test_without_an_ari_client_there_is_no_purge(tmp_path) -> None:
    jobs = register_jobs(AsyncIOScheduler(timezone=BUCHAREST), None, Settings(state_dir=tmp_path),  # type: ignore[arg-type]
                         invoicing())

    assert VOICEMAIL_PURGE_JOB_ID not in jobs


async def test_the_purge_with_asterisk_unreachable_logs_and_waits_for_the_next_day(caplog) -> None:
    # nothing listens on port 1: the connection is refused at once
    client = AriClient("http://127.0.0.1:1", "user", "secret", "clickphone", request_timeout=2)
    try:
        assert await voicemail_purge_job(client, timedelta(days=30)) is None
    finally:
        await client.close()

    assert "voicemail recordings not purged" in caplog.text
