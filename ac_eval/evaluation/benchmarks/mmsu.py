"""MMSU: parquet with the audio embedded (read undecoded through `datasets`), or the older JSON with `audio_path`.

MMSU's own scripts fix the letters to the fields: A = choice_a ... D = choice_d, all four shown even when c or d
is blank, and a letter is right iff that field equals `answer_gt`. `letter_slots` keeps exactly that mapping;
`Record.choices` holds the non-blank options (what other prompts show and choice mode ranks). Its prompt
(`mmsu_inference.py`) and its scoring rule (`mmsu_evaluation.py`) live here too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ac_eval.evaluation.benchmarks.base import (
    Benchmark,
    LoadedBenchmark,
    MetadataError,
    Split,
    audio_ref_from,
    build_records,
    record_id,
)
from ac_eval.evaluation.prompts import PromptStyle
from ac_eval.evaluation.records import AudioRef, Record
from ac_eval.evaluation.verdicts import ItemScore

CHOICE_KEYS = ("choice_a", "choice_b", "choice_c", "choice_d")
LETTERS = "ABCD"  # fixed to CHOICE_KEYS, in order
INSTRUCTION = "Choose the most suitable answer from options A, B, C, and D. You must respond with only A, B, C, or D."


def letter_slots(record: Record) -> list[Any]:
    """The four fields behind the letters A-D, as the official scorer reads them (a missing field reads "")."""
    return [record.fields.get(k, "") for k in CHOICE_KEYS]


def shown_slots(record: Record) -> list[str]:
    """The four options as the official prompt shows them: a blank, missing or null option is shown blank."""
    return [v if isinstance(v, str) else "" for v in letter_slots(record)]


def _options(record: Record) -> str:
    # mmsu_inference.py: always A-D, each letter fixed to its field, a blank option shown blank.
    return "\n".join(f"{letter}. {text}" for letter, text in zip(LETTERS, shown_slots(record)))


def _letter_continuations(record: Record) -> list[str]:
    """Choice mode ranks the letters of the non-blank options, in the order of `record.choices`."""
    return [letter for letter, text in zip(LETTERS, shown_slots(record)) if text.strip()]


PROMPT = PromptStyle("mmsu", None, INSTRUCTION + "\n\nQuestion: {question}\n\n{options}", "mmsu_letter",
                     options=_options, choice_continuations=_letter_continuations)


def mmsu_letter(output: str) -> str | None:
    """The MMSU official letter: strip, drop newlines, first char if A-D, else second-to-last; else None.
    (Empty and "None" are caught before this: the official script counts them wrong, not wrong-format.)"""
    text = output.strip().replace("\n", "")
    if text and text[0] in LETTERS:
        return text[0]
    if len(text) > 1 and text[-2] in LETTERS:
        return text[-2]
    return None


def mmsu_is_empty(output: str) -> bool:
    text = output.strip().replace("\n", "")
    return text == "" or text == "None"


def score_letter(record: Record, raw: str, scorer: object) -> ItemScore:
    """mmsu_evaluation.py: empty, whitespace or "None" -> WRONG (counted); a letter -> right iff its field equals
    `answer_gt`; otherwise "wrong format" -> EXCLUDED. Strict: everything but a right letter is wrong."""
    wrong = False if record.answer is not None else None
    if mmsu_is_empty(raw):
        return ItemScore(record.id, "empty", None, None, wrong, wrong, False)
    letter = mmsu_letter(raw)
    if letter is None:
        return ItemScore(record.id, "unparseable", None, None, None, wrong, False)
    slots = letter_slots(record)
    index = LETTERS.index(letter)
    present = [i for i, v in enumerate(slots) if isinstance(v, str) and v.strip()]
    chosen = present.index(index) if index in present else None
    if record.answer is None:
        return ItemScore(record.id, "ok", letter, chosen, None, None, False)
    correct = slots[index] == record.answer  # exactly the script's `choices[letter] == answer_gt`
    return ItemScore(record.id, "ok", letter, chosen, correct, correct, False)


score_letter.description = "MMSU letter rule (mmsu_evaluation.py)"


def _group(value: Any) -> str:
    """The script groups by `record.get(key, '')` as printed: a missing field is '', a null one 'None'."""
    return "; ".join(map(str, value)) if isinstance(value, list) else str(value)


def record_from_row(row: dict, base: Path, split: str = "test", need_audio: bool = True) -> Record:
    audio = row["_audio_ref"] if "_audio_ref" in row else audio_ref_from(row, "audio_path", base, required=need_audio)
    category, sub = _group(row.get("category", "")), _group(row.get("sub-category", ""))
    return Record(
        benchmark="mmsu",
        id=record_id(row["id"]),
        question=row["question"],
        choices=[row[k] for k in CHOICE_KEYS if isinstance(row.get(k), str) and row[k].strip()],
        answer=row["answer_gt"],
        audio=audio,
        subsets={"category": category, "category/sub-category": f"{category} / {sub}"},
        fields={k: v for k, v in row.items() if k not in ("audio", "_audio_ref")},
    )


def _find_metadata(root: Path, split: Split) -> Path:
    folder = root / "mmsu"
    parquet = sorted(folder.rglob("*.parquet")) if folder.is_dir() else []
    if len(parquet) == 1:
        return parquet[0]
    if len(parquet) > 1:
        return folder  # a folder of parquet shards
    jsons = sorted(folder.glob("*.json*")) if folder.is_dir() else []
    return jsons[0] if jsons else folder / split.metadata


def _load_parquet(path: Path, split: str = "test") -> LoadedBenchmark:
    from ac_eval.evaluation.audio import _parquet_table

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


BENCHMARK = Benchmark(
    name="mmsu",
    description="MMSU: 5,000 spoken-language understanding and reasoning questions (perception / reasoning)",
    splits=(Split("test", "mmsu.parquet"),),
    # mmsu_evaluation.py reports per category and per (category, sub-category) pair: sub-categories
    # (Linguistics, Paralinguistics) repeat under both categories, so the pair is the group.
    subset_keys=("category", "category/sub-category"),
    audio_key="audio_path",
    prediction_keys=("response",),  # what mmsu_evaluation.py reads; a row without it reads as "" (counted wrong)
    official_rule="mmsu_letter",
    official_prompt="mmsu",
    prompts={"mmsu": PROMPT},
    rules={"mmsu_letter": score_letter},
    absent_prediction="",
    skips_unreadable_lines=True,
    convert=record_from_row,
    load_path=_load_parquet,
    find_metadata=_find_metadata,
)
