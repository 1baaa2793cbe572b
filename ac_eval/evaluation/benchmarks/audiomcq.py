"""AudioMCQ training data (jsonl): four options, answer text, and the label under the key "audio-contribution"."""

from __future__ import annotations

from pathlib import Path

from ac_eval.evaluation.benchmarks.base import Benchmark, Split


def _find_metadata(root: Path, split: Split) -> Path:
    files = sorted((root / "audiomcq").glob("*.jsonl"))
    return files[0] if files else root / "audiomcq" / split.metadata


BENCHMARK = Benchmark(
    name="audiomcq",
    description="AudioMCQ: the paper's training data, with its weak/strong labels",
    splits=(Split("train", "audiomcq.jsonl"),),
    subset_keys=("source_dataset", "question_type"),
    audio_key="audio_path",
    official_rule=None,  # training data: no official scorer
    evaluated=False,
    find_metadata=_find_metadata,
)
