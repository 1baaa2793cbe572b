"""The demo's sounds: tones, noise, beeps and silence at 16 kHz, and the ranges the words for them name.

One source for the hearing base's description data (`hearing.py`) and the planted benchmark
(`planted_benchmark.py`): a benchmark clip called "high" is drawn from the range the base learned to call high.
"""

from __future__ import annotations

import numpy as np

SR = 16000
# word -> the range it names; values between ranges get no word (a 700 Hz tone is neither high nor low).
PITCH = {"low": (150.0, 400.0), "high": (1200.0, 3000.0)}
LEVEL = {"quiet": (0.004, 0.02), "loud": (0.5, 0.8)}
MIDDLE_PITCH, MIDDLE_LEVEL = (500.0, 1000.0), (0.1, 0.35)
COUNTS = ("one", "two", "three")


def tone(freq: float, seconds: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return amp * np.sin(2 * np.pi * freq * t)


def pick(rng: np.random.Generator, named: dict, middle: tuple, word: str | None = None) -> tuple[str, float]:
    """A value and the word for it: from `named[word]`, or from the unnamed middle range for word "".
    With word None the word is drawn too (each named word or none, alike)."""
    if word is None:
        word = str(rng.choice([*named, ""]))
    low, high = named[word] if word else middle
    if word in ("low", "high", ""):  # frequencies spread evenly on a log scale
        return word, float(np.exp(rng.uniform(np.log(low), np.log(high))))
    return word, float(rng.uniform(low, high))


def beeps(rng: np.random.Generator, n: int, freq: float, amp: float) -> np.ndarray:
    """n beeps about 0.15 s long, about 0.45 s apart, in a clip of about 1.5 s whatever the count (the clip's length
    says nothing of it). Wider spreads than these need more than the tiny model's 2 + 2 layers to count."""
    length, gap, first = float(rng.uniform(0.14, 0.16)), float(rng.uniform(0.42, 0.48)), float(rng.uniform(0.08, 0.12))
    clip = np.zeros(int(rng.uniform(1.45, 1.55) * SR))
    for k in range(n):
        start = int((first + gap * k) * SR)
        clip[start : start + int(length * SR)] = tone(freq, length, amp)
    return clip
