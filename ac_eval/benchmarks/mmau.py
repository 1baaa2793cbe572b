"""MMAU (test-mini with answers, test with answers withheld)."""

from __future__ import annotations

from pathlib import Path

from ac_eval.benchmarks.base import LoadedBenchmark, audio_ref_from, build_records, read_json_records, subset_value
from ac_eval.records import Record

AUDIO_KEY = "audio_id"  # the metadata field holding the clip's path (relative to the file)
SUBSET_KEYS = ("task", "difficulty", "sub-category")
# sha256 of the published metadata files -> version, so a run records which answers it was scored against.
VERSIONS = {
    "9f18fda99f8dbc2bc5ecd6323fb5063309f54969810b5c6f1caeb3b8d904cf1c": "test-mini v05.15.25",
    "e8cc09223b497191781756212cb616315690aaa6ea7ac359db1b65d97d1e2433": "test-mini pre-v05.15.25 (2025-03-25)",
}
SPLIT_FILES = {"test-mini": "mmau-test-mini.json", "test": "mmau-test.json"}


def default_metadata(root: Path, split: str) -> Path:
    return root / "mmau" / SPLIT_FILES[split]


def load(path: Path, split: str = "test-mini") -> LoadedBenchmark:
    base = path.parent

    def convert(row: dict) -> Record:
        answer = row.get("answer") if split != "test" else None
        return Record(
            benchmark="mmau",
            id=str(row["id"]),
            question=row["question"],
            choices=row["choices"],
            answer=answer,
            audio=audio_ref_from(row, AUDIO_KEY, base),
            subsets={k: subset_value(row.get(k)) for k in SUBSET_KEYS},
            fields=row,
        )

    return build_records("mmau", read_json_records(path), convert, path, VERSIONS)
