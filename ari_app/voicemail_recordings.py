"""Stored voicemail recordings in Asterisk: their names, and the retention
purge the scheduler runs daily (controlplane.purge_jobs).

Names carry the time of recording (``voicemail-<epoch seconds>-<channel>``)
because ARI keeps no dates of its own for stored recordings.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .client import AriClient
from .errors import AriFailure

log = logging.getLogger(__name__)

RECORDING_PREFIX = "voicemail-"
"""Messages are recorded as ``voicemail-<epoch seconds>-<channel id>``: the
time in the name is what the retention purge reads over ARI, which keeps no
dates of its own for stored recordings."""

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_RECORDING_NAME = re.compile(rf"{re.escape(RECORDING_PREFIX)}(\d+)-")


async def purge_old_recordings(
    client_or_dir: AriClient | Path | str, older_than: timedelta, *, now: datetime | None = None
) -> list[str]:
    """Delete the voicemail recordings older than ``older_than`` and return
    their names. Only leftovers are there to purge: a message is deleted
    once its email is queued, unless the service keeps recordings
    (``voicemail_delete_after_email`` off) or could not queue the email.

    Given an ARI client, it lists the stored recordings over ARI and reads
    each one's age from its name (``voicemail-<epoch>-...``: ARI keeps no
    dates); given Asterisk's recording folder (a path), it reads the
    files' modification times. Subscribers' greetings are never touched."""
    now = now or datetime.now(UTC)
    cutoff = (now - older_than).timestamp()
    purged: list[str] = []
    if isinstance(client_or_dir, (str, Path)):
        folder = Path(client_or_dir)
        if not folder.is_dir():
            return purged
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.name.startswith(RECORDING_PREFIX) and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                purged.append(path.name)
        return purged
    client = client_or_dir
    for stored in await client.request("GET", "/recordings/stored") or []:
        name = str(stored.get("name", ""))
        recorded_at = recorded_epoch(name)
        if recorded_at is not None and recorded_at < cutoff:
            try:
                await client.delete_stored_recording(name)
            except AriFailure as exc:  # purged first by another control plane
                log.debug("recording %s not deleted: %s", name, exc)
            purged.append(name)
    return purged


def recording_name(channel_id: str, *, now: float | None = None) -> str:
    """The stored recording name of a message left on ``channel_id``: safe
    as a file name, with its epoch seconds for the retention purge."""
    stamp = int(time.time() if now is None else now)
    safe = _UNSAFE_NAME.sub("_", channel_id).strip("._") or "call"
    return f"{RECORDING_PREFIX}{stamp}-{safe[:80]}"


def recorded_epoch(name: str) -> int | None:
    """The epoch seconds in a recording name made by recording_name, or None."""
    match = _RECORDING_NAME.match(name)
    return int(match.group(1)) if match else None

