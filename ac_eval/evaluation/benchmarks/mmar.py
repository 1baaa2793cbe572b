"""MMAR (current `MMAR-meta.jsonl`, original `MMAR-meta.json`)."""

from __future__ import annotations

from pathlib import Path

from ac_eval.evaluation.benchmarks.base import Benchmark, Split


def _find_metadata(root: Path, split: Split) -> Path:
    current = root / "mmar" / split.metadata
    return current if current.exists() else root / "mmar" / "MMAR-meta.json"


BENCHMARK = Benchmark(
    name="mmar",
    description="MMAR: audio reasoning over sound, music, speech and their mixes (signal to cultural layer)",
    splits=(Split("test", "MMAR-meta.jsonl"),),
    subset_keys=("modality", "category", "sub-category"),
    audio_key="audio_path",
    prediction_keys=("answer_prediction",),  # what MMAR's code/evaluation.py reads
    find_metadata=_find_metadata,
)
