"""MMSU: parquet with the audio embedded (read undecoded through `datasets`), or the older JSON with `audio_path`."""

from __future__ import annotations

from pathlib import Path

from ac_eval.benchmarks.base import (
    LoadedBenchmark,
    MetadataError,
    audio_ref_from,
    build_records,
    read_json_records,
    subset_value,
)
from ac_eval.records import AudioRef, Record

AUDIO_KEY = "audio_path"  # the metadata field holding the clip's path (relative to the file)
SUBSET_KEYS = ("category", "sub-category")
CHOICE_KEYS = ("choice_a", "choice_b", "choice_c", "choice_d")


def default_metadata(root: Path, split: str = "test") -> Path:
    folder = root / "mmsu"
    parquet = sorted(folder.rglob("*.parquet")) if folder.is_dir() else []
    if len(parquet) == 1:
        return parquet[0]
    if len(parquet) > 1:
        return folder  # a folder of parquet shards
    jsons = sorted(folder.glob("*.json*")) if folder.is_dir() else []
    return jsons[0] if jsons else folder / "mmsu.parquet"


def load(path: Path, split: str = "test") -> LoadedBenchmark:
    if path.is_dir() or path.suffix == ".parquet":
        return _load_parquet(path)
    base = path.parent
    return build_records("mmsu", read_json_records(path), lambda row: _record(row, audio_ref_from(row, AUDIO_KEY, base)), path)


def _record(row: dict, audio: AudioRef) -> Record:
    # c/d may be missing or empty: only the present options are choices.
    choices = [row[k] for k in CHOICE_KEYS if isinstance(row.get(k), str) and row[k].strip()]
    return Record(
        benchmark="mmsu",
        id=str(row["id"]),
        question=row["question"],
        choices=choices,
        answer=row["answer_gt"],
        audio=audio,
        subsets={k: subset_value(row.get(k)) for k in SUBSET_KEYS},
        fields={k: v for k, v in row.items() if k not in ("audio", "_audio_ref")},
    )


def _load_parquet(path: Path) -> LoadedBenchmark:
    from ac_eval.audio import _parquet_table

    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    if not files:
        raise MetadataError(f"no parquet files under {path}")
    rows: list[dict] = []
    for file in files:
        table = _parquet_table(str(file))
        if "audio" not in table.column_names:
            raise MetadataError(f"{file}: no 'audio' column; columns are {table.column_names}")
        for i, row in enumerate(table.remove_columns(["audio"]).to_list()):
            rows.append({**row, "_audio_ref": AudioRef(str(file), row=i)})
    return build_records("mmsu", rows, lambda row: _record(row, row["_audio_ref"]), path)
