"""Voicemail audio: the length of a recorded WAV file, and its Ogg Opus
copy made by opusenc (Debian's opus-tools) in a subprocess.

Pure of ARI and of the database: the voicemail flow gives it the bytes it
fetched and attaches what comes back.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import struct

log = logging.getLogger(__name__)

# The compressed copy: "opus" when opusenc (Debian's opus-tools) is on PATH,
# looked up per message so installing it needs no restart; "none" never.
COMPRESSED_FORMATS = ("opus", "none")
OPUSENC = "opusenc"
# Asterisk records narrowband voice: 16 kbit/s Opus keeps it intelligible
# at an eighth of the WAV's 128 kbit/s
OPUS_BITRATE_KBPS = 16
COMPRESS_TIMEOUT_S = 20.0  # a 3-minute message takes well under a second


async def ogg_opus_of(wav: bytes, *, timeout: float = COMPRESS_TIMEOUT_S) -> bytes | None:
    """The WAV recording ``wav`` encoded as Ogg Opus (speech, at
    ``OPUS_BITRATE_KBPS``) by opusenc in a subprocess; None when opusenc is
    not on PATH, fails, or takes longer than ``timeout`` seconds (then it
    is killed). Failures are logged: the email goes with the WAV alone, a
    message is never lost for its copy."""
    program = shutil.which(OPUSENC)
    if program is None:
        log.debug("%s not on PATH: voicemail emailed as WAV only", OPUSENC)
        return None
    # --ignorelength: a recording cut off before Asterisk fixed its header
    # still encodes whole (the data chunk is the last one Asterisk writes)
    command = [program, "--quiet", "--speech", "--bitrate", str(OPUS_BITRATE_KBPS),
               "--ignorelength", "-", "-"]
    try:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        log.error("cannot run %s: %s; voicemail emailed as WAV only", program, exc)
        return None
    try:
        async with asyncio.timeout(timeout):
            encoded, stderr = await process.communicate(wav)
    except TimeoutError:
        log.error("%s took more than %.0f s: voicemail emailed as WAV only", program, timeout)
        return None
    finally:
        if process.returncode is None:  # timed out or cancelled: leave no encoder behind
            process.kill()
            await process.wait()
    if process.returncode != 0 or not encoded.startswith(b"OggS"):
        log.error("%s failed (exit %s): %s; voicemail emailed as WAV only", program,
                  process.returncode, stderr.decode(errors="replace").strip()[:500])
        return None
    return encoded


def wav_duration_seconds(audio: bytes) -> float:
    """Seconds of sound in a RIFF/WAVE file: its data chunk's frames over
    its frame rate (from the fmt chunk). A data chunk whose size runs past
    the end of the file, or says 0 with bytes behind it (a recorder cut
    off before it fixed its header), counts the bytes present. Raises
    ValueError for anything else than a WAV file."""
    if len(audio) < 12 or audio[:4] != b"RIFF" or audio[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    position = 12
    rate = block_align = 0
    while position + 8 <= len(audio):
        chunk, size = audio[position:position + 4], struct.unpack_from("<I", audio, position + 4)[0]
        body = position + 8
        if chunk == b"fmt ":
            if size < 16 or body + 16 > len(audio):
                raise ValueError("fmt chunk too short")
            _format, _channels, rate, _byte_rate, block_align = struct.unpack_from("<HHIIH", audio, body)
        elif chunk == b"data":
            if not rate or not block_align:
                raise ValueError("no usable fmt chunk before the data")
            present = len(audio) - body
            length = present if size in (0, 0xFFFFFFFF) else min(size, present)
            return (length // block_align) / rate
        position = body + size + (size & 1)
    raise ValueError("no data chunk")
