"""An item's verdict (`ItemScore`) and the statuses it can have: the types every scoring rule returns, kept apart
from `scoring.py` so a benchmark module can define its own rule without importing the registry that holds it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# What each status means; `n_<status>` counts appear in every summary.
STATUSES = {
    "ok": "the output names a choice (or, MMSU, a letter)",
    "unparseable": "the output names no choice (MMSU: a letter in no readable place, 'wrong format')",
    "empty": "the output is empty (MMSU: empty, whitespace or the text 'None')",
    "missing": "no prediction for the item",
    "invalid_prediction": "the prediction is not a string (e.g. JSON null)",
    "audio_error": "the item's audio could not be loaded",
    "request_error": "the model server failed for this item",
    "item_error": "the model could not run this item (e.g. a prompt longer than its context), named in the log",
}
# Statuses that are the model's own answer: they count as a vote when labelling (the rest are failures).
ANSWER_STATUSES = ("ok", "unparseable", "empty")


@dataclass
class ItemScore:
    id: str
    status: str  # one of STATUSES
    extracted: str | None  # the text (or letter) the rule read
    chosen: int | None  # index of the one choice the output names; None if none or several
    correct: bool | None  # the scorer's verdict; None: not counted (official skip/exclusion, or answer withheld)
    correct_strict: bool | None  # None only when the answer is withheld
    ambiguous: bool  # the official rule accepts a wrong choice on this item
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)
