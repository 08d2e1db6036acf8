"""The Ogg Opus copy of a voicemail: made by the real opusenc when it is on
PATH, and never in the way of the message when it is not, fails or hangs
(the email then carries the WAV alone; the converter's faults are made by
tiny scripts on PATH, as a real opusenc cannot fail on demand)."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import pytest

from ari_app.voicemail_audio import OPUSENC, ogg_opus_of
from tests.integration.voicemail.support import converter_on_path, write_tone


@pytest.fixture
def message(tmp_path: Path) -> bytes:
    """Three seconds of tone as Asterisk records it: 16-bit 8 kHz mono WAV."""
    return write_tone(tmp_path / "message.wav", 3.0).read_bytes()


async def test_opusenc_makes_an_ogg_opus_copy_much_smaller_than_the_wav(message: bytes) -> None:
    assert shutil.which(OPUSENC), "opusenc is missing: apt-get install opus-tools (scripts/install-system-deps.sh)"

    compressed = await ogg_opus_of(message)

    assert compressed is not None
    assert compressed.startswith(b"OggS") and b"OpusHead" in compressed[:100]
    assert len(compressed) * 4 < len(message)


async def test_without_opusenc_on_path_there_is_no_copy(
    message: bytes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    converter_on_path(monkeypatch, tmp_path / "bin", None)

    assert await ogg_opus_of(message) is None


async def test_an_opusenc_that_fails_gives_no_copy_and_is_logged(
    message: bytes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    converter_on_path(monkeypatch, tmp_path / "bin", "echo 'cannot encode' >&2; exit 1")

    with caplog.at_level(logging.ERROR, logger="ari_app.voicemail"):
        assert await ogg_opus_of(message) is None

    assert "exit 1" in caplog.text and "cannot encode" in caplog.text


async def test_an_opusenc_that_writes_no_ogg_gives_no_copy(
    message: bytes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    converter_on_path(monkeypatch, tmp_path / "bin", "/bin/cat >/dev/null; echo not-ogg")

    assert await ogg_opus_of(message) is None


async def test_an_opusenc_that_hangs_is_killed_at_the_timeout(
    message: bytes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # exec: the kill reaches the sleeping process itself
    converter_on_path(monkeypatch, tmp_path / "bin", "exec /bin/sleep 30")

    started = time.monotonic()
    assert await ogg_opus_of(message, timeout=0.3) is None
    assert time.monotonic() - started < 5
