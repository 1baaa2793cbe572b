"""MMSU: parquet with the audio embedded (read undecoded through `datasets`), or the older JSON with `audio_path`.

MMSU's own scripts fix the letters to the fields: A = choice_a ... D = choice_d, all four shown even when c or d
is blank, and a letter is right iff that field equals `answer_gt`. `letter_slots` keeps exactly that mapping;
`Record.choices` holds the non-blank options (what other prompts show and choice mode ranks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ac_eval.benchmarks.base import LoadedBenchmark, MetadataError, audio_ref_from, build_records, read_json_records
from ac_eval.records import AudioRef, Record

AUDIO_KEY = "audio_path"  # the metadata field holding the clip's path (relative to the file)
# mmsu_evaluation.py reports accuracy per category and per (category, sub-category) pair: sub-categories
# (Linguistics, Paralinguistics) repeat under both categories, so the pair is the group.
SUBSET_KEYS = ("category", "category/sub-category")
CHOICE_KEYS = ("choice_a", "choice_b", "choice_c", "choice_d")
LETTERS = "ABCD"  # fixed to CHOICE_KEYS, in order
PREDICTION_KEYS = ("response",)  # what mmsu_evaluation.py reads; a row without it reads as "" (counted wrong)
ABSENT_PREDICTION = ""


def default_metadata(root: Path, split: str = "test") -> Path:
    folder = root / "mmsu"
    parquet = sorted(folder.rglob("*.parquet")) if folder.is_dir() else []
    if len(parquet) == 1:
        return parquet[0]
    if len(parquet) > 1:
        return folder  # a folder of parquet shards
    jsons = sorted(folder.glob("*.json*")) if folder.is_dir() else []
    return jsons[0] if jsons else folder / "mmsu.parquet"


def answers_public(split: str) -> bool:
    return True


def letter_slots(record: Record) -> list[Any]:
    """The four fields behind the letters A-D, as the official scorer reads them (a missing field reads "")."""
    return [record.fields.get(k, "") for k in CHOICE_KEYS]


def shown_slots(record: Record) -> list[str]:
    """The four options as the official prompt shows them: a blank, missing or null option is shown blank."""
    return [v if isinstance(v, str) else "" for v in letter_slots(record)]


def _group(value: Any) -> str:
    """The script groups by `record.get(key, '')` as printed: a missing field is '', a null one 'None'."""
    return "; ".join(map(str, value)) if isinstance(value, list) else str(value)


def record_from_row(row: dict, base: Path, split: str = "test", need_audio: bool = True) -> Record:
    audio = row["_audio_ref"] if "_audio_ref" in row else audio_ref_from(row, AUDIO_KEY, base, required=need_audio)
    category, sub = _group(row.get("category", "")), _group(row.get("sub-category", ""))
    return Record(
        benchmark="mmsu",
        id=str(row["id"]),
        question=row["question"],
        choices=[row[k] for k in CHOICE_KEYS if isinstance(row.get(k), str) and row[k].strip()],
        answer=row["answer_gt"],
        audio=audio,
        subsets={"category": category, "category/sub-category": f"{category} / {sub}"},
        fields={k: v for k, v in row.items() if k not in ("audio", "_audio_ref")},
    )


def load(path: Path, split: str = "test") -> LoadedBenchmark:
    if path.is_dir() or path.suffix == ".parquet":
        return _load_parquet(path)
    return build_records("mmsu", read_json_records(path), lambda row: record_from_row(row, path.parent), path)


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
    return build_records("mmsu", rows, lambda row: record_from_row(row, path), path)
