"""SMTP settings that cannot work, or would leak the password, are refused
when the configuration is built, not when the first email fails."""

from __future__ import annotations

from datetime import timedelta

import pytest

from notify.dispatcher import Dispatcher
from notify.errors import SmtpConfigError
from notify.outbox import RetryPolicy
from notify.smtp import SmtpConfig, SmtpSender, TlsMode


def test_login_without_tls_to_a_remote_relay_is_refused() -> None:
    with pytest.raises(SmtpConfigError):
        SmtpConfig(host="smtp.example.ro", username="clickphone", password="secret")


def test_login_without_tls_on_loopback_is_allowed() -> None:
    SmtpConfig(host="127.0.0.1", username="clickphone", password="secret")


def test_a_username_without_a_password_is_refused() -> None:
    with pytest.raises(SmtpConfigError):
        SmtpConfig(username="clickphone", tls=TlsMode.STARTTLS)


@pytest.mark.parametrize("mode", ["none", "starttls", "tls"])
def test_tls_modes_are_accepted_by_their_names(mode: str) -> None:
    assert SmtpConfig(tls=mode).tls is TlsMode(mode)  # type: ignore[arg-type]


def test_an_unknown_tls_mode_is_refused() -> None:
    with pytest.raises(SmtpConfigError):
        SmtpConfig(tls="ssl")  # type: ignore[arg-type]


@pytest.mark.parametrize("address", ["", "two@example.ro three@example.ro", "x\r\n@example.ro"])
def test_a_from_address_that_is_not_one_address_is_refused(address: str) -> None:
    with pytest.raises(SmtpConfigError):
        SmtpConfig(from_address=address)


def test_the_password_stays_out_of_the_configs_repr() -> None:
    config = SmtpConfig(
        host="smtp.example.ro", tls=TlsMode.STARTTLS, username="u", password="hunter2-secret"
    )

    assert "hunter2-secret" not in repr(config)


def test_the_from_display_name_is_cleaned_like_any_header_text() -> None:
    config = SmtpConfig(from_name="ClickPhone\r\nBcc: x@example.ro")

    assert config.sender.display_name == "ClickPhone Bcc: x@example.ro"


def test_a_dispatcher_refuses_a_lease_shorter_than_a_send_may_take() -> None:
    """Else a slow send outlives its claim and another dispatcher sends it too."""
    sender = SmtpSender(SmtpConfig(send_timeout=60))
    short_lease = RetryPolicy(lease=timedelta(seconds=30))

    with pytest.raises(ValueError):
        Dispatcher(None, sender, policy=short_lease)  # type: ignore[arg-type]
