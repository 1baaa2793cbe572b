"""Official scoring, faithfully, plus a strict view and honest counts.

- `extract_answer`: R1-AQA's rule: the first `<answer>...</answer>`, stripped; no tag -> the whole output.
- `mmau_string_match`: the MMAU/MMAR official rule (token sets; see REFERENCE §3). Kept exactly, ambiguity included.
- `mmsu_letter`: the MMSU official letter rule (first char, else second-to-last, A-D; else "wrong format").

Official accuracy treats items as the official scripts do (no prediction -> skipped; MMSU wrong format ->
excluded). Strict accuracy counts every item (missing, unparseable or ambiguous hits are wrong). Nothing is ever
guessed: an output that names no choice is counted as unparseable.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Iterable

from ac_eval.prompts import LETTERS
from ac_eval.records import Record

ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
WORD = re.compile(r"\b\w+\b")
# Raw outputs that start with these carry a per-item failure instead of model text (counted, never scored,
# never cached: a rerun tries again).
AUDIO_ERROR_PREFIX = "<ac-eval:audio-error>"
REQUEST_ERROR_PREFIX = "<ac-eval:request-error>"
FAILURE_PREFIXES = {AUDIO_ERROR_PREFIX: "audio_error", REQUEST_ERROR_PREFIX: "request_error"}


def failure_of(raw: str | None) -> tuple[str, str] | None:
    """(status, message) when a raw output is a recorded failure rather than model text."""
    for prefix, status in FAILURE_PREFIXES.items():
        if raw is not None and raw.startswith(prefix):
            return status, raw[len(prefix) :].strip()
    return None


def extract_answer(output: str) -> str:
    match = ANSWER_TAG.search(output)
    return (match.group(1) if match else output).strip()


def tokenize(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def mmau_string_match(answer: str, prediction: str, choices: list[str]) -> bool:
    """The official MMAU/MMAR matcher: all answer tokens present, no token unique to a wrong choice."""
    prediction_tokens = tokenize(prediction)
    if not prediction_tokens:
        return False
    answer_tokens = tokenize(answer)
    incorrect_tokens: set[str] = set()
    for choice in choices:
        choice_tokens = tokenize(choice)
        if choice_tokens != answer_tokens:
            incorrect_tokens |= choice_tokens - answer_tokens
    return answer_tokens <= prediction_tokens and prediction_tokens.isdisjoint(incorrect_tokens)


def mmsu_letter(output: str) -> str | None:
    """The MMSU official extraction: strip, drop newlines, first char if A-D, else second-to-last; else None."""
    text = output.strip().replace("\n", "")
    if text and text[0] in "ABCD":
        return text[0]
    if len(text) >= 2 and text[-2] in "ABCD":
        return text[-2]
    return None


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .")


def ambiguous_choices(answer: str, choices: list[str]) -> list[int]:
    """Wrong choices (different text) that the official rule cannot tell from the answer (same token set)."""
    answer_tokens = tokenize(answer)
    return [i for i, c in enumerate(choices) if _norm(c) != _norm(answer) and tokenize(c) == answer_tokens]


@dataclass
class ItemScore:
    id: str
    status: str  # ok | unparseable | missing | audio_error | request_error
    extracted: str | None  # the text (or letter) the rule read
    chosen: int | None  # index of the one choice the output names; None if none or several
    correct_official: bool | None  # None: skipped by the official script (or answer withheld)
    correct_strict: bool | None  # None only when the answer is withheld
    ambiguous: bool  # the official rule accepts a wrong choice on this item
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def score_item(record: Record, raw: str | None, rule: str = "string_match") -> ItemScore:
    has_answer = record.answer is not None
    ambiguous = has_answer and bool(ambiguous_choices(record.answer, record.choices))
    failure = failure_of(raw)
    if raw is None or failure:
        status, error = failure or ("missing", None)
        return ItemScore(record.id, status, None, None, None, False if has_answer else None, ambiguous, error)
    if rule == "mmsu_letter":
        return _score_letter(record, raw, ambiguous)
    if rule != "string_match":
        raise ValueError(f"unknown scoring rule {rule!r}")
    extracted = extract_answer(raw)
    named = [i for i, c in enumerate(record.choices) if mmau_string_match(c, extracted, record.choices)]
    chosen = named[0] if len(named) == 1 else None
    status = "ok" if named else "unparseable"
    if not has_answer:
        return ItemScore(record.id, status, extracted, chosen, None, None, False)
    official = mmau_string_match(record.answer, extracted, record.choices)
    # Strict: the official verdict, minus hits the rule cannot tell from a wrong choice.
    strict = official and (not ambiguous or _norm(extracted) == _norm(record.answer))
    return ItemScore(record.id, status, extracted, chosen, official, strict, ambiguous)


def _score_letter(record: Record, raw: str, ambiguous: bool) -> ItemScore:
    letter = mmsu_letter(raw)
    chosen = LETTERS.index(letter) if letter and LETTERS.index(letter) < len(record.choices) else None
    if letter is None:  # "wrong format": excluded by the official script, wrong in strict
        return ItemScore(record.id, "unparseable", None, None, None, False if record.answer is not None else None, ambiguous)
    if record.answer is None:
        return ItemScore(record.id, "ok", letter, chosen, None, None, ambiguous)
    index = record.answer_index
    correct = index is not None and letter == LETTERS[index]
    return ItemScore(record.id, "ok", letter, chosen, correct, correct, ambiguous)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def summarize(records: list[Record], scores: list[ItemScore]) -> dict:
    """Overall numbers for a list of (record, score) pairs."""
    official = [s.correct_official for s in scores if s.correct_official is not None]
    strict = [s.correct_strict for s in scores if s.correct_strict is not None]
    status = defaultdict(int)
    for s in scores:
        status[s.status] += 1
    return {
        "n_total": len(scores),
        "n_scored": len(official),
        "accuracy_official": _ratio(sum(official), len(official)),
        "accuracy_strict": _ratio(sum(strict), len(strict)) if strict else None,
        "n_correct_official": sum(official),
        "n_correct_strict": sum(strict),
        "n_unparseable": status["unparseable"],
        "n_missing": status["missing"],
        "n_audio_error": status["audio_error"],
        "n_request_error": status["request_error"],
        "n_ambiguous_items": sum(s.ambiguous for s in scores),
        "n_ambiguous_hits": sum(bool(s.ambiguous and s.correct_official and not s.correct_strict) for s in scores),
        "n_answer_not_in_choices": sum("answer_not_in_choices" in r.issues for r in records),
        "random_guess": _ratio(sum(1 / len(r.choices) for r in records), len(records)),
    }


def summarize_with_subsets(records: list[Record], scores: list[ItemScore], subset_keys: Iterable[str]) -> dict:
    """`summarize` overall and per value of each official subset field (the form of the paper's Table 2)."""
    result = summarize(records, scores)
    result["subsets"] = {}
    for key in subset_keys:
        groups: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(records):
            groups[r.subsets.get(key, "")].append(i)
        result["subsets"][key] = {
            value: summarize([records[i] for i in idx], [scores[i] for i in idx]) for value, idx in sorted(groups.items())
        }
    return result
