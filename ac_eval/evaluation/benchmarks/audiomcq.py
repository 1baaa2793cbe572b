"""AudioMCQ training data (jsonl): four options, answer text, and the label under the key "audio-contribution".

Runnable as a task (`ac-eval run --tasks audiomcq --data_dir ROOT --conditions silent`, the file under
ROOT/audiomcq/): the paper labels its training data by asking models each item with silence, exactly as it labels
the benchmarks. Answers are scored with the MMAU/MMAR string match after R1-AQA's extraction; AudioMCQ has no
official scorer, so its figures are never called official."""

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
    find_metadata=_find_metadata,
)
