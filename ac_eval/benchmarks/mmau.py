"""MMAU (test-mini with answers, test with answers withheld)."""

from __future__ import annotations

from pathlib import Path

from ac_eval.benchmarks.base import LoadedBenchmark, build_records, plain_record, read_json_records
from ac_eval.records import Record

AUDIO_KEY = "audio_id"  # the metadata field holding the clip's path (relative to the file)
SUBSET_KEYS = ("task", "difficulty", "sub-category")
# Where the official evaluation.py reads the prediction: `model_output` now, `model_prediction` before 2025-01-29
# (and in R1-AQA's test_mmau.py output). The first one a file holds is used.
PREDICTION_KEYS = ("model_output", "model_prediction")
SPLIT_FILES = {"test-mini": "mmau-test-mini.json", "test": "mmau-test.json"}


def default_metadata(root: Path, split: str) -> Path:
    return root / "mmau" / SPLIT_FILES[split]


def answers_public(split: str) -> bool:
    return split != "test"


def record_from_row(row: dict, base: Path, split: str = "test-mini", need_audio: bool = True) -> Record:
    answer = row.get("answer") if answers_public(split) else None
    return plain_record("mmau", row, base, AUDIO_KEY, SUBSET_KEYS, answer=answer, need_audio=need_audio)


def load(path: Path, split: str = "test-mini") -> LoadedBenchmark:
    rows = read_json_records(path)
    return build_records("mmau", rows, lambda row: record_from_row(row, path.parent, split), path, answers_public(split))
