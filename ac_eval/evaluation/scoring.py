"""Scoring: the benchmarks' official rules, item for item, plus a strict view and honest counts.

A `Scorer` says which rule reads an output and whether the figure it gives may be called official (the rule is the
benchmark's `official_rule`). Rules are functions `(record, raw, scorer) -> ItemScore`: `string_match` lives
here; a benchmark with a rule of its own keeps it in its module (MMSU's letter rule, `benchmarks/mmsu.py`).
- `string_match`: the MMAU/MMAR official matcher (token sets; REFERENCE §3), applied after an answer extraction:
  - `r1-aqa` (default, the paper's protocol): R1-AQA's `test_mmau.py`, `re.search(r"<answer>(.*?)</answer>", out)`
    WITHOUT re.DOTALL, the group if found, else the whole output, then `.strip()`. It is idempotent, so
    predictions that were already extracted this way score exactly as the official script scores them;
  - `none`: the output as given, which is all the official `evaluation.py` scripts do;
  - `lenient`: the last tag pair, across lines, tags in any case. Not official: reported under its own name.
The official rule of MMAU and MMAR is `string_match`, of MMSU `mmsu_letter`; MMAU's matcher on MMSU's options
(the AudioMCQ prompt) is the "token rule", never called official.

Official accuracy treats items as the official scripts do (MMAU/MMAR: no prediction -> skipped; MMSU: wrong
format or a non-string response -> excluded, empty -> wrong). Strict accuracy counts every item: anything
that is not a right answer is wrong, including hits the MMAU rule cannot tell from a wrong choice. Nothing is
ever guessed: an output that names no choice is counted as unparseable.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Callable, Iterable

from ac_eval.evaluation.benchmarks import BENCHMARKS
from ac_eval.evaluation.records import Record
from ac_eval.evaluation.verdicts import ANSWER_STATUSES, STATUSES, ItemScore  # noqa: F401  (re-exported)

OPEN_TAG, CLOSE_TAG = "<answer>", "</answer>"
OPEN_ANY_CASE = re.compile(re.escape(OPEN_TAG), re.IGNORECASE)
CLOSE_ANY_CASE = re.compile(re.escape(CLOSE_TAG), re.IGNORECASE)
WORD = re.compile(r"\b\w+\b")
EXTRACTIONS = ("r1-aqa", "none", "lenient")

# Raw outputs that start with these carry a per-item failure instead of model text (counted, never scored,
# never cached: a rerun tries again).
AUDIO_ERROR_PREFIX = "<ac-eval:audio-error>"
REQUEST_ERROR_PREFIX = "<ac-eval:request-error>"
ITEM_ERROR_PREFIX = "<ac-eval:item-error>"
FAILURE_PREFIXES = {AUDIO_ERROR_PREFIX: "audio_error", REQUEST_ERROR_PREFIX: "request_error",
                    ITEM_ERROR_PREFIX: "item_error"}

class _JsonNull:
    """A prediction that is JSON null (as opposed to no prediction at all)."""

    def __repr__(self) -> str:
        return "null"


JSON_NULL = _JsonNull()

def failure_of(raw: object) -> tuple[str, str] | None:
    """(status, message) when a raw output is a recorded failure rather than model text."""
    for prefix, status in FAILURE_PREFIXES.items():
        if isinstance(raw, str) and raw.startswith(prefix):
            return status, raw[len(prefix) :].strip()
    return None


def r1aqa_extract(output: str) -> str:
    """R1-AQA's extraction, exactly: `re.search(r"<answer>(.*?)</answer>", output)` without DOTALL, i.e. the first
    tag pair on one line, else the whole output; stripped. Found line by line in linear time: the regex itself is
    quadratic on unclosed tags (20,000 of them on a line took 30 s). In a line, only its first `<answer>` can start
    the leftmost match: any later one has fewer `</answer>` after it."""
    for line in output.split("\n"):
        start = line.find(OPEN_TAG)
        if start != -1:
            end = line.find(CLOSE_TAG, start + len(OPEN_TAG))
            if end != -1:
                return line[start + len(OPEN_TAG) : end].strip()
    return output.strip()


def tag_contents(text: str, first_only: bool = False) -> list[str]:
    """What `re.findall(r"<answer>(.*?)</answer>", text, re.DOTALL | re.IGNORECASE)` gives, in linear time (the
    regex is quadratic on unclosed tags): from each `<answer>` to the first `</answer>` after it, the search going on
    after that close; an opening tag with no close after it ends the search, since no later one has one either."""
    opens = [m.span() for m in OPEN_ANY_CASE.finditer(text)]
    closes = [m.span() for m in CLOSE_ANY_CASE.finditer(text)]
    found: list[str] = []
    pos = i = j = 0
    while True:
        while i < len(opens) and opens[i][0] < pos:
            i += 1
        if i == len(opens):
            return found
        content_start = opens[i][1]
        while j < len(closes) and closes[j][0] < content_start:
            j += 1
        if j == len(closes):
            return found
        found.append(text[content_start : closes[j][0]])
        if first_only:
            return found
        pos = closes[j][1]


def lenient_extract(output: str) -> str:
    """The last tag pair, across lines and in any case, else the whole output; stripped. Not official."""
    matches = tag_contents(output)
    return (matches[-1] if matches else output).strip()


def extract_answer(output: str, extraction: str = "r1-aqa") -> str:
    if extraction == "r1-aqa":
        return r1aqa_extract(output)
    if extraction == "lenient":
        return lenient_extract(output)
    if extraction == "none":
        return output
    raise ValueError(f"unknown extraction {extraction!r}; known: {', '.join(EXTRACTIONS)}")


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


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .")


def ambiguous_choices(answer: str, choices: list[str]) -> list[int]:
    """Wrong choices (different text) that the official rule cannot tell from the answer (same token set)."""
    answer_tokens = tokenize(answer)
    return [i for i, c in enumerate(choices) if _norm(c) != _norm(answer) and tokenize(c) == answer_tokens]


@dataclass(frozen=True)
class Scorer:
    """Which rule reads the outputs of a task, and whether its figure is the benchmark's official one."""

    benchmark: str
    rule: str = "string_match"
    extraction: str = "r1-aqa"  # string_match only

    def __post_init__(self) -> None:
        if self.extraction not in EXTRACTIONS:
            raise ValueError(f"unknown extraction {self.extraction!r}; known: {', '.join(EXTRACTIONS)}")
        self.rule_fn  # an unknown rule fails here

    @property
    def rule_fn(self) -> Callable[[Record, str, "Scorer"], "ItemScore"]:
        if self.rule in RULES:
            return RULES[self.rule]
        own = _benchmark(self.benchmark).rules if _benchmark(self.benchmark) else {}
        if self.rule not in own:
            raise ValueError(f"unknown scoring rule {self.rule!r} for {self.benchmark}; known: "
                             f"{', '.join([*RULES, *own])}")
        return own[self.rule]

    @property
    def official(self) -> bool:
        benchmark = _benchmark(self.benchmark)
        return benchmark is not None and benchmark.official_rule == self.rule and self.extraction != "lenient"

    @property
    def kind(self) -> str:
        """One word for table headers: official, token-rule or lenient."""
        if self.official:
            return "official"
        return "lenient" if self.extraction == "lenient" else "token-rule"

    @property
    def description(self) -> str:
        benchmark = _benchmark(self.benchmark)
        if self.rule != "string_match":
            label = getattr(self.rule_fn, "description", f"{self.benchmark.upper()} {self.rule} rule")
            return f"official {label}" if self.official else label
        matcher = ("MMAU/MMAR string match" if benchmark and benchmark.official_rule == "string_match"
                   else "token rule (MMAU's string match)")
        how = {"r1-aqa": "after R1-AQA's answer extraction", "none": "on the output as given",
               "lenient": "after a lenient extraction (last tag, across lines)"}[self.extraction]
        label = f"{matcher} {how}"
        if self.official:
            return f"official {label}"
        if benchmark is not None and benchmark.official_rule:
            return f"{label}; NOT the official {self.benchmark.upper()} scorer"
        return f"{label} ({self.benchmark} has no official scorer)"

    def to_dict(self) -> dict:
        return {**asdict(self), "official": self.official, "kind": self.kind, "description": self.description}


def _benchmark(name: str):
    return BENCHMARKS.get(name)


def score_item(record: Record, raw: object, scorer: Scorer) -> ItemScore:
    """Score one raw output. `raw` None: no prediction; a failure prefix: a counted per-item error."""
    has_answer = record.answer is not None
    wrong = False if has_answer else None  # the strict verdict of anything that is not a right answer
    ambiguous = scorer.rule == "string_match" and has_answer and bool(ambiguous_choices(record.answer, record.choices))
    failure = failure_of(raw)
    if raw is None or failure:
        status, error = failure or ("missing", None)
        return ItemScore(record.id, status, None, None, None, wrong, ambiguous, error)
    if not isinstance(raw, str):  # MMSU's script skips it (its .strip() raises); MMAU's would crash
        what = "null" if raw is JSON_NULL else f"a {type(raw).__name__}"
        return ItemScore(record.id, "invalid_prediction", None, None, None, wrong, ambiguous,
                         f"prediction is {what}, not a string")
    return scorer.rule_fn(record, raw, scorer)


def string_match_rule(record: Record, raw: str, scorer: Scorer) -> ItemScore:
    """Extract (per the scorer), then the MMAU/MMAR matcher; strict also refuses hits it cannot tell apart."""
    has_answer = record.answer is not None
    ambiguous = has_answer and bool(ambiguous_choices(record.answer, record.choices))
    extracted = extract_answer(raw, scorer.extraction)
    named = [i for i, c in enumerate(record.choices) if mmau_string_match(c, extracted, record.choices)]
    chosen = named[0] if len(named) == 1 else None
    status = "ok" if named else ("empty" if not extracted.strip() else "unparseable")
    if not has_answer:
        return ItemScore(record.id, status, extracted, chosen, None, None, False)
    correct = mmau_string_match(record.answer, extracted, record.choices)
    strict = correct and (not ambiguous or _norm(extracted) == _norm(record.answer))
    return ItemScore(record.id, status, extracted, chosen, correct, strict, ambiguous)


RULES: dict[str, Callable[[Record, str, Scorer], ItemScore]] = {"string_match": string_match_rule}


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def summarize(records: list[Record], scores: list[ItemScore], official: bool = True) -> dict:
    """Overall numbers for a list of (record, score) pairs. `accuracy` is the scorer's figure; it is repeated as
    `accuracy_official` only when the scorer is the benchmark's official one (else that key is None)."""
    counted = [s.correct for s in scores if s.correct is not None]
    strict = [s.correct_strict for s in scores if s.correct_strict is not None]
    status = defaultdict(int)
    for s in scores:
        status[s.status] += 1
    accuracy = _ratio(sum(counted), len(counted))
    return {
        "n_total": len(scores),
        "n_scored": len(counted),
        "accuracy": accuracy,
        "accuracy_official": accuracy if official else None,
        "accuracy_strict": _ratio(sum(strict), len(strict)),
        "n_correct": sum(counted),
        "n_correct_strict": sum(strict),
        **{f"n_{name}": status[name] for name in STATUSES if name != "ok"},
        "n_ambiguous_items": sum(s.ambiguous for s in scores),
        "n_ambiguous_hits": sum(bool(s.ambiguous and s.correct and not s.correct_strict) for s in scores),
        "n_answer_not_in_choices": sum("answer_not_in_choices" in r.issues for r in records),
        # an answer with no word (e.g. "!!!") is matched by every prediction under the official token rule: kept, counted
        "n_answer_without_words": sum(r.answer is not None and not tokenize(r.answer) for r in records),
        "random_guess": _ratio(sum(1 / len(r.choices) for r in records), len(records)),
    }


def summarize_with_subsets(
    records: list[Record], scores: list[ItemScore], subset_keys: Iterable[str], official: bool = True
) -> dict:
    """`summarize` overall and per value of each official subset field (the form of the paper's Table 2).
    Records whose value is None are left out of that field's groups, as the official scripts leave them out."""
    result = summarize(records, scores, official)
    result["subsets"] = {}
    for key in subset_keys:
        groups: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(records):
            value = r.subsets.get(key)
            if value is not None:
                groups[value].append(i)
        result["subsets"][key] = {
            value: summarize([records[i] for i in idx], [scores[i] for i in idx], official)
            for value, idx in sorted(groups.items())
        }
    return result
