"""Every refusal announcement exists in the sounds Debian's Asterisk ships."""

from __future__ import annotations

from admission.reasons import REASONS


def test_every_refusal_sound_is_a_stock_prompt(asterisk_root):
    sounds = asterisk_root / "usr/share/asterisk/sounds/en_US_f_Allison"
    available = {path.stem for path in sounds.iterdir()}
    missing = {r.sound for r in REASONS.values()} - available
    assert not missing
