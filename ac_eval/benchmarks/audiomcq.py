"""AudioMCQ training data (jsonl): four options, answer text, and the label under the key "audio-contribution"."""

from __future__ import annotations

from pathlib import Path

from ac_eval.benchmarks.base import LoadedBenchmark, audio_ref_from, build_records, read_json_records, subset_value
from ac_eval.records import Record

SUBSET_KEYS = ("source_dataset", "question_type")
AUDIO_KEY = "audio_path"


def default_metadata(root: Path, split: str = "train") -> Path:
    files = sorted((root / "audiomcq").glob("*.jsonl"))
    return files[0] if files else root / "audiomcq" / "audiomcq.jsonl"


def load(path: Path, split: str = "train") -> LoadedBenchmark:
    base = path.parent

    def convert(row: dict) -> Record:
        return Record(
            benchmark="audiomcq",
            id=str(row["id"]),
            question=row["question"],
            choices=row["choices"],
            answer=row["answer"],
            audio=audio_ref_from(row, AUDIO_KEY, base),
            subsets={k: subset_value(row.get(k)) for k in SUBSET_KEYS},
            fields=row,
        )

    return build_records("audiomcq", read_json_records(path), convert, path)
