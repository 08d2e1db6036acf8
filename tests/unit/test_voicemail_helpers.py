"""The voicemail service's pure parts: the length of a WAV file, recording
names and their age, caller ID text, channel times, the purge of a
recording folder."""

from __future__ import annotations

import io
import os
import struct
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ari_app.voicemail import caller_text, channel_created_at
from ari_app.voicemail_audio import wav_duration_seconds
from ari_app.voicemail_recordings import RECORDING_PREFIX, purge_old_recordings, recorded_epoch, recording_name


def wav(seconds: float, *, rate: int = 8000, width: int = 2, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(b"\x01\x00" * int(seconds * rate) * channels * (width // 2))
    return buffer.getvalue()


def with_data_size(audio: bytes, size: int) -> bytes:
    """The same file with its data chunk claiming ``size`` bytes."""
    position = audio.index(b"data")
    return audio[: position + 4] + struct.pack("<I", size) + audio[position + 8 :]


@pytest.mark.parametrize(("seconds", "rate"), [(4.0, 8000), (0.5, 8000), (2.0, 16000), (0.0, 8000)])
def test_a_wav_files_length_is_its_frames_over_its_rate(seconds: float, rate: int) -> None:
    assert wav_duration_seconds(wav(seconds, rate=rate)) == pytest.approx(seconds)


def test_a_stereo_file_counts_frames_not_samples() -> None:
    assert wav_duration_seconds(wav(1.0, channels=2)) == pytest.approx(1.0)


def test_chunks_before_the_data_are_skipped() -> None:
    audio = wav(1.5)
    fmt_end = audio.index(b"data")
    extra = b"LIST" + struct.pack("<I", 5) + b"abcde" + b"\x00"  # odd size: padded
    assert wav_duration_seconds(audio[:fmt_end] + extra + audio[fmt_end:]) == pytest.approx(1.5)


def test_a_header_never_fixed_up_counts_the_bytes_present() -> None:
    """A recorder cut off before it wrote the final sizes leaves 0 (or
    0xFFFFFFFF) in the data chunk's size."""
    audio = wav(3.0)
    assert wav_duration_seconds(with_data_size(audio, 0)) == pytest.approx(3.0)
    assert wav_duration_seconds(with_data_size(audio, 0xFFFFFFFF)) == pytest.approx(3.0)


def test_a_truncated_file_counts_the_bytes_present() -> None:
    audio = wav(3.0)
    assert wav_duration_seconds(audio[: len(audio) - 8000]) == pytest.approx(2.5)


@pytest.mark.parametrize("audio", [b"", b"RIFF\x00\x00\x00\x00WAVE", b"ID3 not a wav at all", b"OggS" * 10])
def test_anything_but_a_wav_file_is_refused(audio: bytes) -> None:
    with pytest.raises(ValueError):
        wav_duration_seconds(audio)


def test_a_recording_name_is_file_safe_and_carries_its_time() -> None:
    name = recording_name("1751360400.12", now=1751360400.7)
    assert name == f"{RECORDING_PREFIX}1751360400-1751360400.12"
    assert recorded_epoch(name) == 1751360400


@pytest.mark.parametrize("channel_id", ["../../etc/passwd", "a b/c\r\n", "...", "x" * 300])
def test_a_hostile_channel_id_makes_a_plain_recording_name(channel_id: str) -> None:
    name = recording_name(channel_id, now=100)
    assert name.startswith(f"{RECORDING_PREFIX}100-")
    assert "/" not in name and ".." not in name.removeprefix(f"{RECORDING_PREFIX}100-")
    assert all(c.isalnum() or c in "._-" for c in name)
    assert len(name) <= 120


@pytest.mark.parametrize("name", ["greeting-40215550123", "voicemail-x-1", "other", "voicemail-"])
def test_names_not_made_by_the_service_have_no_recording_time(name: str) -> None:
    assert recorded_epoch(name) is None


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Ion Pop", "Ion Pop"),
        ("Ion\r\nBcc: victim@example.com", "Ion Bcc: victim@example.com"),
        ("Ion\u2028X-Injected: yes", "Ion X-Injected: yes"),
        ("Ion\u202eqoP", "Ion qoP"),
        ("  Ion   Pop  ", "Ion Pop"),
        ("<b>Ion</b> =?utf-8?q?x?=", "<b>Ion</b> =?utf-8?q?x?="),  # escaping is the email layer's
        ("Ștefan Ţăran", "Ștefan Ţăran"),
    ],
)
def test_caller_id_text_is_one_plain_line(raw: str, shown: str) -> None:
    assert caller_text(raw) == shown


def test_caller_id_text_is_capped() -> None:
    assert len(caller_text("x" * 1000)) == 80


def test_a_channels_creation_time_is_read_as_an_aware_datetime() -> None:
    created = channel_created_at({"creationtime": "2025-07-01T09:00:00.123+0000"})
    assert created == datetime(2025, 7, 1, 9, 0, 0, 123000, tzinfo=UTC)
    assert channel_created_at({"creationtime": "2025-07-01T12:00:00+0300"}) == datetime(2025, 7, 1, 9, tzinfo=UTC)
    assert channel_created_at({}) is None
    assert channel_created_at({"creationtime": "yesterday"}) is None


async def test_the_purge_of_a_folder_removes_old_voicemails_only(tmp_path: Path) -> None:
    now = datetime(2025, 7, 31, tzinfo=UTC)
    old, young = tmp_path / f"{RECORDING_PREFIX}1-a.wav", tmp_path / f"{RECORDING_PREFIX}2-b.wav"
    greeting = tmp_path / "greeting-40215550123.wav"
    for path, age in ((old, timedelta(days=31)), (young, timedelta(days=1)), (greeting, timedelta(days=400))):
        path.write_bytes(b"RIFF")
        stamp = (now - age).timestamp()
        os.utime(path, (stamp, stamp))

    purged = await purge_old_recordings(tmp_path, timedelta(days=30), now=now)

    assert purged == [old.name]
    assert not old.exists() and young.exists() and greeting.exists()


async def test_the_purge_of_a_missing_folder_purges_nothing(tmp_path: Path) -> None:
    assert await purge_old_recordings(tmp_path / "absent", timedelta(days=30)) == []
