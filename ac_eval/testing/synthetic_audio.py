"""Synthetic audio written at the paths real benchmark metadata names, for offline runs and tests.

Each clip is a short tone whose pitch depends on the item id (deterministic), so original and silent inputs
always differ. This makes plumbing testable; it says nothing about what a real model would answer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import soundfile as sf

from ac_eval.evaluation.records import Record


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


def write_pitch_task(root: Path, n: int, seed: int = 0, name: str = "train.jsonl") -> Path:
    """A small AudioMCQ-format task a tiny model can learn on CPU: is the tone high or low, tone or noise?
    Half the items are labelled weak, half strong (by index), so every recipe has data for its stages."""
    import json

    rng = np.random.default_rng(seed)
    audio_dir = root / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        kind = "pitch" if i % 2 == 0 else "texture"
        t = np.arange(16000) / 16000
        if kind == "pitch":
            high = bool(rng.integers(2))
            clip = 0.3 * np.sin(2 * np.pi * (1500.0 if high else 250.0) * t)
            question, choices, answer = "Is the tone high or low?", ["high", "low"], "high" if high else "low"
        else:
            noisy = bool(rng.integers(2))
            clip = 0.3 * (rng.standard_normal(t.size) if noisy else np.sin(2 * np.pi * 600.0 * t))
            question, choices, answer = "Is this a pure tone or noise?", ["tone", "noise"], "noise" if noisy else "tone"
        if rng.integers(2):
            choices = choices[::-1]
        item = f"{kind}-{seed}-{i}"
        sf.write(audio_dir / f"{item}.wav", clip.astype(np.float32), 16000)
        rows.append({"source_dataset": "synthetic-" + kind, "id": item, "question_type": "sound",
                     "audio_path": f"./audio/{item}.wav", "question": question, "choices": choices, "answer": answer,
                     "audio-contribution": "weak" if i % 4 < 2 else "strong"})
    path = root / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
