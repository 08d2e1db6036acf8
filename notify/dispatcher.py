"""The loop that sends the outbox: claim due emails, send them over one SMTP
session per batch, record each result.

It wakes when ``wake`` is set (``enqueue(..., wake=dispatcher.wake)`` in
this process), when the next retry or lease falls due, and at least every
``poll_interval`` seconds (emails queued by other processes). ``stop()``
ends it after the email being sent; the rest of its batch is handed back,
due at once, for whoever runs next. Cancelling ``run()`` instead is a
crash as far as the outbox knows: the lease brings those emails back.

SMTP down, refused or slow: each email records the failure and waits for
its next attempt (delayed, not lost). Database down: the loop logs it and
tries again after ``poll_interval``; it never dies of it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from notify import outbox
from notify.errors import InvalidEmailError, SmtpError, SmtpRejectedError, SmtpUnavailableError
from notify.messages import ClaimedEmail
from notify.outbox import RetryPolicy
from notify.smtp import SmtpSender
from notify.tables import DEAD, PENDING
from sqlbase import utc_now

log = logging.getLogger(__name__)


@dataclass
class DispatchCounts:
    """What one ``dispatch_due`` did."""

    sent: int = 0
    retrying: int = 0
    dead: int = 0
    released: int = 0


class Dispatcher:
    """Sends due outbox emails until stopped. One per process is enough;
    several (in one or many processes) share the work safely."""

    def __init__(
        self,
        engine: AsyncEngine,
        sender: SmtpSender,
        *,
        policy: RetryPolicy = RetryPolicy(),
        wake: asyncio.Event | None = None,
        poll_interval: float = 5.0,
        batch_size: int = 20,
        rng: random.Random | None = None,
    ) -> None:
        send_timeout = timedelta(seconds=sender.config.send_timeout)
        if policy.lease <= send_timeout:
            # else a slow send could outlive its claim and go out twice
            raise ValueError(
                f"the lease ({policy.lease}) must exceed the send timeout ({send_timeout})"
            )
        if poll_interval <= 0 or batch_size < 1:
            raise ValueError("poll_interval must be positive and batch_size at least 1")
        self.wake = wake or asyncio.Event()
        self._engine = engine
        self._sender = sender
        self._policy = policy
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._send_timeout = send_timeout
        self._rng = rng or random.Random()
        self._stopping = False

    async def run(self) -> None:
        """Send due emails until ``stop()`` (called before, it returns at
        once); it may be run again afterwards."""
        try:
            while not self._stopping:
                self.wake.clear()  # an enqueue from now on wakes the next wait
                try:
                    await self.dispatch_due()
                    pause = await self._seconds_until_next_due()
                except Exception:
                    log.exception("outbox dispatch failed; again in %s s", self._poll_interval)
                    pause = self._poll_interval
                if self._stopping:
                    break
                try:
                    async with asyncio.timeout(pause):
                        await self.wake.wait()
                except TimeoutError:
                    pass
        finally:
            self._stopping = False

    def stop(self) -> None:
        """Ask ``run()`` to return after the email being sent, if any."""
        self._stopping = True
        self.wake.set()

    async def dispatch_due(self) -> DispatchCounts:
        """Claim and send due emails, batch after batch, until none is due
        (or ``stop()``); return what happened."""
        counts = DispatchCounts()
        while not self._stopping:
            claims = await outbox.claim_due(
                self._engine, limit=self._batch_size, policy=self._policy
            )
            if not claims:
                break
            await self._send_batch(claims, counts)
        return counts

    async def _send_batch(self, claims: list[ClaimedEmail], counts: DispatchCounts) -> None:
        try:
            async with self._sender.session() as session:
                for index, claim in enumerate(claims):
                    if self._stopping or not self._lease_outlasts_a_send(claim):
                        counts.released += await outbox.release(self._engine, claims[index:])
                        return
                    try:
                        await session.send(claim.email)
                    except SmtpUnavailableError as exc:
                        # the connection is gone: this email and the rest wait
                        await self._failed(claims[index:], exc, counts)
                        return
                    except SmtpRejectedError as exc:
                        await self._failed([claim], exc, counts)  # session still usable
                    except InvalidEmailError as exc:
                        await self._failed([claim], exc, counts, permanent=True)
                    else:
                        await outbox.mark_sent(self._engine, claim)
                        counts.sent += 1
        except SmtpError as exc:
            # Connecting, TLS or login failed: nothing was sent, and every
            # claim of the batch records the failure. (The loop above
            # handles its own SMTP errors; a claim recorded already is no
            # longer held, and record_failure leaves it alone.)
            await self._failed(claims, exc, counts)

    async def _failed(
        self,
        claims: list[ClaimedEmail],
        error: Exception,
        counts: DispatchCounts,
        *,
        permanent: bool = False,
    ) -> None:
        for claim in claims:
            state = await outbox.record_failure(
                self._engine,
                claim,
                str(error),
                policy=self._policy,
                permanent=permanent,
                rng=self._rng,
            )
            if state == DEAD:
                counts.dead += 1
                log.error(
                    "email %s (%s) given up after %s attempts: %s",
                    claim.id, claim.email.kind, claim.attempts, error,
                )
            elif state == PENDING:
                counts.retrying += 1
                log.warning(
                    "email %s (%s) attempt %s failed, will retry: %s",
                    claim.id, claim.email.kind, claim.attempts, error,
                )

    def _lease_outlasts_a_send(self, claim: ClaimedEmail) -> bool:
        return claim.lease_expires_at - utc_now() > self._send_timeout

    async def _seconds_until_next_due(self) -> float:
        due = await outbox.next_due_at(self._engine)
        if due is None:
            return self._poll_interval
        return min(max((due - utc_now()).total_seconds(), 0.0), self._poll_interval)
