"""MMAR (current `MMAR-meta.jsonl`, original `MMAR-meta.json`)."""

from __future__ import annotations

from pathlib import Path

from ac_eval.benchmarks.base import LoadedBenchmark, audio_ref_from, build_records, read_json_records, subset_value
from ac_eval.records import Record

AUDIO_KEY = "audio_path"  # the metadata field holding the clip's path (relative to the file)
SUBSET_KEYS = ("modality", "category", "sub-category")


def default_metadata(root: Path, split: str = "test") -> Path:
    current = root / "mmar" / "MMAR-meta.jsonl"
    return current if current.exists() else root / "mmar" / "MMAR-meta.json"


def load(path: Path, split: str = "test") -> LoadedBenchmark:
    base = path.parent

    def convert(row: dict) -> Record:
        return Record(
            benchmark="mmar",
            id=str(row["id"]),
            question=row["question"],
            choices=row["choices"],
            answer=row["answer"],
            audio=audio_ref_from(row, AUDIO_KEY, base),
            subsets={k: subset_value(row.get(k)) for k in SUBSET_KEYS},
            fields=row,
        )

    return build_records("mmar", read_json_records(path), convert, path)
