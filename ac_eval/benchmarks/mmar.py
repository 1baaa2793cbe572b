"""MMAR (current `MMAR-meta.jsonl`, original `MMAR-meta.json`)."""

from __future__ import annotations

from pathlib import Path

from ac_eval.benchmarks.base import LoadedBenchmark, load_plain

AUDIO_KEY = "audio_path"  # the metadata field holding the clip's path (relative to the file)
SUBSET_KEYS = ("modality", "category", "sub-category")


def default_metadata(root: Path, split: str = "test") -> Path:
    current = root / "mmar" / "MMAR-meta.jsonl"
    return current if current.exists() else root / "mmar" / "MMAR-meta.json"


def load(path: Path, split: str = "test") -> LoadedBenchmark:
    return load_plain("mmar", path, AUDIO_KEY, SUBSET_KEYS)
