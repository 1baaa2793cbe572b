"""Audio conditions: what the model hears in place of (or as) the item's clip.

A condition is one small class with `audio_for(ref, sample_rate) -> AudioInput | None` (None: no audio in the
prompt at all), `reads_clip` (whether it opens the item's audio file: a run checks those exist before the
model loads) and an entry in `CONDITIONS`. `AudioInput.cache_key` marks inputs that are identical across
items (silence, fixed noise), so a backend computes their features once per model instead of once per item.
A condition that draws on other items (`shuffled`) also has `assign(refs) -> refs`, applied when a task's
docs are built.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from ac_eval.evaluation.audio import audio_num_samples, load_audio
from ac_eval.evaluation.records import AudioInput, AudioRef, Record


class OriginalCondition:
    """The benchmark's own clip."""

    name = "original"
    reads_clip = True

    def audio_for(self, ref: AudioRef, sample_rate: int) -> AudioInput:
        return AudioInput(load_audio(ref, sample_rate))


class SilentCondition:
    """The paper's control: 30 s of zeros at the model's sample rate, whatever the clip's length."""

    name = "silent"
    reads_clip = False
    seconds = 30.0

    def audio_for(self, ref: AudioRef, sample_rate: int) -> AudioInput:
        n = int(self.seconds * sample_rate)
        return AudioInput(np.zeros(n, dtype=np.float32), cache_key=f"zeros:{n}@{sample_rate}")


class SilentMatchedCondition:
    """Zeros as long as the clip (read from its header, the samples are never decoded)."""

    name = "silent-matched"
    reads_clip = True

    def audio_for(self, ref: AudioRef, sample_rate: int) -> AudioInput:
        n = audio_num_samples(ref, sample_rate)
        return AudioInput(np.zeros(n, dtype=np.float32), cache_key=f"zeros:{n}@{sample_rate}")


class NoiseCondition:
    """White noise, the same 30 s for every item (fixed seed), at a set RMS level (0.01, about -40 dBFS)."""

    name = "noise"
    reads_clip = False
    seconds = 30.0
    rms = 0.01
    seed = 0

    def audio_for(self, ref: AudioRef, sample_rate: int) -> AudioInput:
        n = int(self.seconds * sample_rate)
        noise = np.random.default_rng(self.seed).standard_normal(n).astype(np.float32) * self.rms
        return AudioInput(noise, cache_key=f"noise:{n}@{sample_rate}:rms{self.rms}:seed{self.seed}")


class ShuffledCondition:
    """Another item's clip (a fixed-seed derangement: no item keeps its own audio, where two or more differ)."""

    name = "shuffled"
    reads_clip = True
    seed = 0

    def assign(self, refs: list[AudioRef]) -> list[AudioRef]:
        n = len(refs)
        if n < 2:
            return list(refs)
        order = np.random.default_rng(self.seed).permutation(n)
        partner = [refs[0]] * n
        for i in range(n):  # each item in the cycle takes the next one's clip
            partner[order[i]] = refs[order[(i + 1) % n]]
        return partner

    def audio_for(self, ref: AudioRef, sample_rate: int) -> AudioInput:
        return AudioInput(load_audio(ref, sample_rate))


# Options that point at other options ("both A and B", "all of the above") break when the order changes.
REFERS_TO_OPTIONS = re.compile(
    r"\b(?:all|none|both|neither) of the (?:above|options|others)\b|\b(?:option|options|choice)\s+[A-H]\b|\b[A-H] (?:and|or|&) [A-H]\b",
    re.IGNORECASE,
)


class SilentRotatedCondition(SilentCondition):
    """Silence, with each item asked once per cyclic shift of its options (CircularEval). An item counts as
    text-solvable for a model only if it is right under every rotation: a guesser's chance falls from 1/k to
    (1/k)^k. Items whose options refer to other options are asked once, unrotated, and flagged."""

    name = "silent-rotated"

    def expand(self, records: list[Record]) -> list[Record]:
        out = []
        for r in records:
            if any(REFERS_TO_OPTIONS.search(c) for c in r.choices):
                out.append(replace(r, id=f"{r.id}::rot0", issues=[*r.issues, "not_rotated"]))
                continue
            for k in range(len(r.choices)):
                out.append(replace(r, id=f"{r.id}::rot{k}", choices=r.choices[k:] + r.choices[:k]))
        return out


class SilentNoQuestionCondition(SilentCondition):
    """Silence and the options, the question removed: what a model picks with no question is its prior over the
    answers ("tone", "high"). A silent right answer that is just this prior says nothing about the question's
    text: the `prior` label rule of `ac-eval labels` discounts it. The options keep their order and ids."""

    name = "silent-no-question"

    def expand(self, records: list[Record]) -> list[Record]:
        return [replace(r, question="") for r in records]


def rotation_source(item_id: str) -> tuple[str, int] | None:
    """'abc::rot2' -> ('abc', 2); None for an id that is not a rotation."""
    head, sep, tail = item_id.rpartition("::rot")
    return (head, int(tail)) if sep and tail.isdigit() else None


class NoAudioCondition:
    """No audio in the prompt at all (the text-prior control: silence itself is not a neutral input)."""

    name = "none"
    reads_clip = False

    def audio_for(self, ref: AudioRef, sample_rate: int) -> None:
        return None


CONDITIONS = {
    c.name: c
    for c in (
        OriginalCondition(),
        SilentCondition(),
        SilentMatchedCondition(),
        SilentRotatedCondition(),
        SilentNoQuestionCondition(),
        NoiseCondition(),
        ShuffledCondition(),
        NoAudioCondition(),
    )
}


def get_condition(name: str):
    if name not in CONDITIONS:
        raise KeyError(f"unknown condition {name!r}; known: {', '.join(CONDITIONS)}")
    return CONDITIONS[name]


def task_suffix(condition: str) -> str:
    """Task-name suffix of a condition: '' for original, '_silent', '_silent_matched'."""
    return "" if condition == "original" else "_" + condition.replace("-", "_")
