"""AudioMCQ training data (jsonl): four options, answer text, and the label under the key "audio-contribution"."""

from __future__ import annotations

from pathlib import Path

from ac_eval.benchmarks.base import LoadedBenchmark, load_plain

SUBSET_KEYS = ("source_dataset", "question_type")
AUDIO_KEY = "audio_path"


def default_metadata(root: Path, split: str = "train") -> Path:
    files = sorted((root / "audiomcq").glob("*.jsonl"))
    return files[0] if files else root / "audiomcq" / "audiomcq.jsonl"


def load(path: Path, split: str = "train") -> LoadedBenchmark:
    return load_plain("audiomcq", path, AUDIO_KEY, SUBSET_KEYS)
