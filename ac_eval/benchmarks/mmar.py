"""MMAR (current `MMAR-meta.jsonl`, original `MMAR-meta.json`)."""

from __future__ import annotations

from pathlib import Path

from ac_eval.benchmarks.base import LoadedBenchmark, build_records, plain_record, read_json_records
from ac_eval.records import Record

AUDIO_KEY = "audio_path"  # the metadata field holding the clip's path (relative to the file)
SUBSET_KEYS = ("modality", "category", "sub-category")
PREDICTION_KEYS = ("answer_prediction",)  # what MMAR's code/evaluation.py reads


def default_metadata(root: Path, split: str = "test") -> Path:
    current = root / "mmar" / "MMAR-meta.jsonl"
    return current if current.exists() else root / "mmar" / "MMAR-meta.json"


def answers_public(split: str) -> bool:
    return True


def record_from_row(row: dict, base: Path, split: str = "test", need_audio: bool = True) -> Record:
    return plain_record("mmar", row, base, AUDIO_KEY, SUBSET_KEYS, need_audio=need_audio)


def load(path: Path, split: str = "test") -> LoadedBenchmark:
    return build_records("mmar", read_json_records(path), lambda row: record_from_row(row, path.parent), path)
