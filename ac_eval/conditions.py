"""Audio conditions: what the model hears in place of (or as) the item's clip.

A condition is one small class with `audio_for(ref, sample_rate) -> AudioInput` and an entry in `CONDITIONS`.
`AudioInput.cache_key` marks inputs that are identical across items (silence), so a backend can compute
their features once per model instead of once per item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ac_eval.audio import audio_num_samples, load_audio
from ac_eval.records import AudioRef


@dataclass
class AudioInput:
    array: np.ndarray
    cache_key: str | None = None  # same key => same samples, whatever the item


class OriginalCondition:
    """The benchmark's own clip."""

    name = "original"

    def audio_for(self, ref: AudioRef, sample_rate: int) -> AudioInput:
        return AudioInput(load_audio(ref, sample_rate))


class SilentCondition:
    """The paper's control: 30 s of zeros at the model's sample rate, whatever the clip's length."""

    name = "silent"
    seconds = 30.0

    def audio_for(self, ref: AudioRef, sample_rate: int) -> AudioInput:
        n = int(self.seconds * sample_rate)
        return AudioInput(np.zeros(n, dtype=np.float32), cache_key=f"zeros:{n}@{sample_rate}")


class SilentMatchedCondition:
    """Zeros as long as the clip (read from its header, the samples are never decoded)."""

    name = "silent-matched"

    def audio_for(self, ref: AudioRef, sample_rate: int) -> AudioInput:
        n = audio_num_samples(ref, sample_rate)
        return AudioInput(np.zeros(n, dtype=np.float32), cache_key=f"zeros:{n}@{sample_rate}")


CONDITIONS = {c.name: c for c in (OriginalCondition(), SilentCondition(), SilentMatchedCondition())}


def get_condition(name: str):
    if name not in CONDITIONS:
        raise KeyError(f"unknown condition {name!r}; known: {', '.join(CONDITIONS)}")
    return CONDITIONS[name]


def task_suffix(condition: str) -> str:
    """Task-name suffix of a condition: '' for original, '_silent', '_silent_matched'."""
    return "" if condition == "original" else "_" + condition.replace("-", "_")
