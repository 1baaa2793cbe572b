"""AudioMCQ training data (jsonl): four options, answer text, and the label under the key "audio-contribution"."""

from __future__ import annotations

from pathlib import Path

from ac_eval.benchmarks.base import LoadedBenchmark, build_records, plain_record, read_json_records
from ac_eval.records import Record

SUBSET_KEYS = ("source_dataset", "question_type")
AUDIO_KEY = "audio_path"
PREDICTION_KEYS = ("prediction",)


def default_metadata(root: Path, split: str = "train") -> Path:
    files = sorted((root / "audiomcq").glob("*.jsonl"))
    return files[0] if files else root / "audiomcq" / "audiomcq.jsonl"


def answers_public(split: str) -> bool:
    return True


def record_from_row(row: dict, base: Path, split: str = "train", need_audio: bool = True) -> Record:
    return plain_record("audiomcq", row, base, AUDIO_KEY, SUBSET_KEYS, need_audio=need_audio)


def load(path: Path, split: str = "train") -> LoadedBenchmark:
    return build_records("audiomcq", read_json_records(path), lambda row: record_from_row(row, path.parent), path)
