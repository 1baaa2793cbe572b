"""Synthetic audio written at the paths real benchmark metadata names, for offline runs and tests.

Each clip is a short tone whose pitch depends on the item id (deterministic), so original and silent inputs
always differ. This makes plumbing testable; it says nothing about what a real model would answer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import soundfile as sf

from ac_eval.records import Record


def tone(item_id: str, seconds: float, sample_rate: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:4], "little")
    freq = 200.0 + seed % 1800
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_synthetic_audio(
    records: list[Record], seconds: float = 1.0, sample_rate: int = 16000, overwrite: bool = False
) -> int:
    """Write a WAV for every record whose audio file is missing; returns how many were written."""
    written = 0
    for r in records:
        path = Path(r.audio.path)
        if r.audio.row is not None or (path.exists() and not overwrite):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone(r.id, seconds, sample_rate), sample_rate, subtype="PCM_16")
        written += 1
    return written
