"""Voicemail and missed-call emails through the whole control plane, as
`make run` wires it: ``controlplane.runtime.ControlPlane`` (migrations, the
outbox dispatcher, its own testbed Asterisk, admission, the ARI client,
VoicemailService, CallController and StasisApp, the admin HTTP API...) on
a temporary state folder and SQLite, sending to an aiosmtpd server of the
test's.

The subscriber is provisioned through the admin API (two DIDs with
voicemail on: one ringing 5 s, the shortest allowed, for the voicemail; one
ringing 15 s for the calls that end while ringing) and has a registered
pjsua2 phone. The carrier is an unregistered pjsua2 phone on 127.0.0.2 (the
trunk is identified by address, so only it may send from there) presenting
a caller number and name, calling a DID.

Issue 5: an unanswered call leaves a voicemail emailed with the WAV as long
as what the caller played; a caller who hangs up while it rings gives one
missed-call email; an answered call gives none.
Invariant 5: every notification is sent at least once and at most once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import AsyncIterator

import pytest
from sqlalchemy import select

from ari_app.client import ANY_EVENT
from billing import ledger
from controlplane.runtime import ControlPlane
from notify.outbox import next_due_at
from notify.tables import outbox as outbox_table
from tests.fixtures.ari import EventLog
from tests.fixtures.asterisk import PhoneEndpoint, phone_endpoint
from tests.fixtures.sip_phone import SipPhone
from tests.integration.wired.support import (
    CARRIER_ADDRESS,
    AcceptingHandler,
    admin_post,
    running_plane,
    started_carrier,
)

from .support import wav_seconds, write_tone

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(120)]

SUBSCRIBER_EMAIL = "maria.ionescu@example.ro"
VOICEMAIL_DID = "40318887700"
RING_SECONDS = 5  # the shortest ring time a DID may have: voicemail comes soon
# The calls that must ring get a ring time that outlasts the testbed
# Asterisk's occasional 5 s stall before an outgoing INVITE (a DNS lookup
# of the host's name timing out), so that stall cannot time the ring out.
RINGING_DID = "40318887701"
LONG_RING_SECONDS = 15
CALLER_NUMBER = "0722123456"
CALLER_NAME = "Ion Popescu"
MESSAGE_SECONDS = 3.0
# bounds, not sleeps: ring time, the stock greeting (5.7 s) and the beep
# before the voicemail answers; then the email's way through the outbox
ANSWERED_BY_VOICEMAIL_S = RING_SECONDS + 10
RECORDING_STARTS_S = 15
EMAIL_ARRIVES_S = 15
SETTLE_S = 10


# -- the wired control plane ------------------------------------------------------------


@dataclass
class Wired:
    """A started ControlPlane, its SMTP server and the provisioned subscriber."""

    plane: ControlPlane
    mail: AcceptingHandler
    events: EventLog  # every ARI event the control plane's own client receives
    endpoint: PhoneEndpoint
    carrier_port: int

    @property
    def sip_port(self) -> int:
        return self.plane.settings.sip_port

    async def outbox_keys(self) -> list[str]:
        async with self.plane.engine.connect() as conn:
            return sorted((await conn.execute(select(outbox_table.c.dedup_key))).scalars())

    async def settled(self, timeout: float = SETTLE_S) -> None:
        """Return once the control plane is done with every call: no flow
        is live, no missed-call hook is still running (the inbound flow
        spawns it as a task of that name), and the outbox has nothing left
        to send — whatever the calls queued has reached the SMTP server."""
        deadline = time.monotonic() + timeout
        while True:
            hooks = [t for t in asyncio.all_tasks() if t.get_name() == "missed-call" and not t.done()]
            if not self.plane.calls.live() and not hooks and await next_due_at(self.plane.engine) is None:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not settled within {timeout} s: live calls {self.plane.calls.live()}, "
                                     f"hooks {hooks}")
            await asyncio.sleep(0.05)


async def provision_subscriber(plane: ControlPlane) -> PhoneEndpoint:
    """A subscriber with a SIP endpoint and two DIDs with voicemail on,
    through the admin API (which puts them into the running Asterisk)."""
    created = await admin_post(plane, "/admin/subscribers", {
        "name": "Maria Ionescu", "email": SUBSCRIBER_EMAIL, "username": "maria",
        "caller_id_number": "2101", "account_code": "maria01",
    })
    for number, ring_seconds in ((VOICEMAIL_DID, RING_SECONDS), (RINGING_DID, LONG_RING_SECONDS)):
        await admin_post(plane, "/admin/dids", {
            "number": number, "subscriber_id": created["subscriber"]["id"],
            "ring_seconds": ring_seconds, "voicemail_enabled": True,
        })
    endpoint = created["endpoint"]
    return phone_endpoint(endpoint["username"], endpoint["password"], endpoint["display_name"],
                          endpoint["caller_id_number"], endpoint["account_code"],
                          realm=plane.settings.sip_realm)


@pytest.fixture
async def wired(private_root: Path, tmp_path: Path) -> AsyncIterator[Wired]:
    """The ControlPlane on its own copy of the testbed root; stopped at the
    end, with no Asterisk process and no mount left behind."""
    async with running_plane(private_root, tmp_path / "state") as (plane, mail, carrier_port):
        events = EventLog()
        plane.ari.on(ANY_EVENT, events)
        endpoint = await provision_subscriber(plane)
        yield Wired(plane, mail, events, endpoint, carrier_port)


@pytest.fixture
async def subscriber_phone(wired: Wired, sip_phone) -> SipPhone:
    """The subscriber's registered phone (it rings; it answers only when told)."""
    phone = await sip_phone(wired.endpoint, registrar_port=wired.sip_port)
    await phone.register()
    return phone


@pytest.fixture
async def carrier(wired: Wired, tmp_path: Path) -> AsyncIterator[SipPhone]:
    """The carrier trunk: an unregistered phone on 127.0.0.2 whose calls
    carry CALLER_NUMBER and CALLER_NAME."""
    phone = await started_carrier(wired.carrier_port, tmp_path / "pjsua-carrier.log")
    try:
        # a local account without a registrar: its From is the caller ID
        # the carrier passes on (the fixture's phone has no user part)
        await phone._command("register", username=CALLER_NUMBER, display_name=CALLER_NAME,
                             domain=CARRIER_ADDRESS)
        yield phone
    finally:
        await phone.close()
        phone.kill()


async def dial_did(carrier: SipPhone, wired: Wired, did: str) -> int:
    return await carrier.call(f"sip:{did}@127.0.0.1:{wired.sip_port}")


def wav_attachment(message: EmailMessage) -> EmailMessage:
    """The one WAV attachment (other formats may ride along)."""
    wavs = [part for part in message.iter_attachments()
            if part.get_content_type() == "audio/wav" and (part.get_filename() or "").endswith(".wav")]
    assert len(wavs) == 1, [(p.get_content_type(), p.get_filename()) for p in message.iter_attachments()]
    return wavs[0]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "no text/plain part"
    return part.get_content()


# -- the tests --------------------------------------------------------------------------


async def test_an_unanswered_call_to_a_did_leaves_a_voicemail_emailed_once_with_the_recording(
    wired: Wired, subscriber_phone: SipPhone, carrier: SipPhone, tmp_path: Path
) -> None:
    """Carrier → DID → the subscriber's phone rings 5 s unanswered → the
    voicemail answers; the caller plays 3 s of tone after the beep and
    hangs up → exactly one email, to the subscriber, from the caller's
    number and name, with the WAV attached as long as what was played
    (within 1 s); no missed-call email."""
    message = write_tone(tmp_path / "message.wav", MESSAGE_SECONDS)
    started = time.monotonic()

    call = await dial_did(carrier, wired, VOICEMAIL_DID)
    ringing = await subscriber_phone.wait_incoming()
    await carrier.wait_state("CONFIRMED", call, timeout=ANSWERED_BY_VOICEMAIL_S)  # voicemail answered
    # the phone stopped ringing when the DID's ring time ran out
    await subscriber_phone.wait_state("DISCONNECTED", ringing)
    assert "CONFIRMED" not in subscriber_phone.calls[ringing].states
    await wired.events.wait_for("RecordingStarted", timeout=RECORDING_STARTS_S)  # after the beep
    await carrier.play(message, call, wait=True, timeout=MESSAGE_SECONDS + 10)
    await carrier.hangup(call)
    hung_up_at = time.monotonic()
    await carrier.wait_state("DISCONNECTED", call)

    [accepted] = await wired.mail.wait_for(1, timeout=EMAIL_ARRIVES_S)
    await wired.settled()
    assert len(wired.mail.accepted) == 1
    [key] = await wired.outbox_keys()
    assert key.startswith("voicemail:")
    email = accepted.message
    assert accepted.recipients == (SUBSCRIBER_EMAIL,)
    assert email["To"] == SUBSCRIBER_EMAIL
    assert email["Subject"] == f"Mesaj vocal nou de la {CALLER_NAME} ({CALLER_NUMBER})"
    text = text_of(email)
    assert f"{CALLER_NAME} ({CALLER_NUMBER})" in text
    assert f"+{VOICEMAIL_DID}" in text
    audio = wav_attachment(email).get_content()
    recorded = wav_seconds(audio)
    assert abs(recorded - MESSAGE_SECONDS) <= 1.0, f"{recorded:.2f} s recorded for {MESSAGE_SECONDS} s played"
    print(f"voicemail through the wired control plane: {recorded:.2f} s recorded for {MESSAGE_SECONDS} s "
          f"played; hangup to SMTP accept {(accepted.at - hung_up_at) * 1000:.0f} ms; "
          f"call to email {accepted.at - started:.1f} s")


async def test_a_caller_who_hangs_up_while_the_did_rings_gives_exactly_one_missed_call_email(
    wired: Wired, subscriber_phone: SipPhone, carrier: SipPhone
) -> None:
    """Carrier → DID → the phone rings → the caller gives up before the
    ring time ends → exactly one missed-call email to the subscriber with
    the caller's number and name, no attachment, and no voicemail."""
    call = await dial_did(carrier, wired, RINGING_DID)
    ringing = await subscriber_phone.wait_incoming()
    await carrier.wait_state("EARLY", call)  # the caller hears it ring
    await carrier.hangup(call)
    hung_up_at = time.monotonic()
    await carrier.wait_state("DISCONNECTED", call)
    await subscriber_phone.wait_state("DISCONNECTED", ringing)  # it stopped ringing

    [accepted] = await wired.mail.wait_for(1, timeout=EMAIL_ARRIVES_S)
    await wired.settled()
    assert len(wired.mail.accepted) == 1
    [key] = await wired.outbox_keys()
    assert key.startswith("missed:")
    email = accepted.message
    assert accepted.recipients == (SUBSCRIBER_EMAIL,)
    assert email["To"] == SUBSCRIBER_EMAIL
    assert email["Subject"] == f"Apel nepreluat de la {CALLER_NAME} ({CALLER_NUMBER})"
    assert f"+{RINGING_DID}" in text_of(email)
    assert list(email.iter_attachments()) == []
    assert not [e for e in wired.events.events if e["type"] == "RecordingStarted"]
    print(f"missed call through the wired control plane: hangup to SMTP accept "
          f"{(accepted.at - hung_up_at) * 1000:.0f} ms")


async def test_an_answered_call_to_a_did_gives_no_email(
    wired: Wired, subscriber_phone: SipPhone, carrier: SipPhone
) -> None:
    """Carrier → DID → the subscriber answers, they talk, the caller hangs
    up → once the control plane is done with the call and its outbox is
    idle, nothing was queued and nothing reached the SMTP server."""
    call = await dial_did(carrier, wired, RINGING_DID)
    ringing = await subscriber_phone.wait_incoming()
    await subscriber_phone.answer(ringing)
    await asyncio.gather(carrier.wait_media(call), subscriber_phone.wait_media(ringing))
    await carrier.hangup(call)
    await asyncio.gather(carrier.wait_state("DISCONNECTED", call),
                         subscriber_phone.wait_state("DISCONNECTED", ringing))

    await wired.settled()
    assert await wired.outbox_keys() == []
    assert wired.mail.accepted == []


async def test_an_admin_top_up_is_emailed_at_once_not_at_the_outboxs_next_poll(wired: Wired) -> None:
    """A top-up through the admin API queues its email and wakes the
    outbox: the SMTP server has it well before the dispatcher's next poll
    would have sent it."""
    account = await ledger.find_account(wired.plane.engine, wired.endpoint.account_code)
    assert account is not None
    poll = 5.0  # the dispatcher's poll_interval, as the control plane starts it
    started = time.monotonic()
    await admin_post(wired.plane, f"/admin/accounts/{account.id}/top-ups", {"amount": "5.00"})
    (accepted,) = await wired.mail.wait_for(1, timeout=poll)
    assert accepted.at - started < poll / 2
    assert accepted.recipients == (SUBSCRIBER_EMAIL,)
