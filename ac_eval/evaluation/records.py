"""The one record type every benchmark loader produces, where its audio lives (`AudioRef`), and the samples a
model hears for it (`AudioInput`, what a condition turns a reference into)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class AudioInput:
    """The samples a model hears for one item (mono float32 at the model's rate)."""

    array: np.ndarray
    cache_key: str | None = None  # same key => same samples, whatever the item
    condition: str | None = None  # set by the model adapter; part of API response-cache keys
    features: Any = None  # a backend's model inputs for this clip, computed ahead (off the model's critical path)


@dataclass(frozen=True)
class AudioRef:
    """Where an item's audio lives, without loading it.

    `path` is an audio file, or a parquet file when `row` is set (MMSU embeds the audio bytes in a column).
    """

    path: str
    row: int | None = None
    column: str = "audio"
    outside_root: str | None = None  # the data root this path leaves (refused when read), None when inside

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "row": self.row, "column": self.column, "outside_root": self.outside_root}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AudioRef":
        return cls(path=d["path"], row=d.get("row"), column=d.get("column") or "audio",
                   outside_root=d.get("outside_root"))

    def confined_to(self, root: str | Path) -> "AudioRef":
        """This reference, marked when its path leaves `root` (`..` or an absolute path elsewhere)."""
        if self.row is not None or not self.path:
            return self
        inside = os.path.abspath(self.path).startswith(os.path.join(os.path.abspath(root), ""))
        return self if inside else replace(self, outside_root=str(root))

    def describe(self) -> str:
        return self.path if self.row is None else f"{self.path} (row {self.row}, column {self.column!r})"


@dataclass
class Record:
    """One multiple-choice question of a benchmark.

    `answer` is None where the benchmark withholds it (MMAU test). `fields` keeps the benchmark's own record
    verbatim (subset fields included) so nothing is lost between loading and reporting. `issues` lists what is
    odd about this record (e.g. the answer is not among the choices); such records are kept and counted.
    """

    benchmark: str
    id: str
    question: str
    choices: list[str]
    answer: str | None
    audio: AudioRef
    subsets: dict[str, str | None] = field(default_factory=dict)  # None: left out of that field's breakdown
    fields: dict[str, Any] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)

    @property
    def answer_index(self) -> int | None:
        """Index of the first choice equal to the answer, or None if the answer is withheld or not a choice."""
        if self.answer is None:
            return None
        for i, choice in enumerate(self.choices):
            if choice == self.answer:
                return i
        return None


def text_key(record: Record) -> str:
    """What a model reads of an item without its audio: the question and the set of options (order and case
    ignored). Items that share a key but not an answer are counterfactual twins: their text cannot tell their
    answers apart, so no model can get them right from the text (the `counterfactual` label rule)."""
    import hashlib

    def norm(text: str) -> str:
        return " ".join(str(text).lower().split())

    key = norm(record.question) + "\x1f" + "\x1e".join(sorted(norm(c) for c in record.choices))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def norm_answer(answer: object) -> str:
    """An answer or option as compared across items: case and spacing ignored."""
    return " ".join(str(answer).lower().split())


def items_with_twins(records: list[Record]) -> set[str]:
    """Ids of the items that have a twin: another item with the same text_key and another answer."""
    answers: dict[str, set[str]] = {}
    for r in records:
        answers.setdefault(text_key(r), set()).add(norm_answer(r.answer))
    return {r.id for r in records if len(answers[text_key(r)]) > 1}
