"""Weak/strong audio-contribution labels from several models' silent-audio answers.

Paper rule: an item is *weak* if at least k of the N models answer it correctly with silent audio (default
2 of 3), else *strong*. That vote also calls items weak by pure chance (15.6% of 4-option items for three
guessers), so where the runs include the `silent-rotated` condition a second, chance-corrected label is
written: a model "solves" an item without audio only if it is right under every rotation of the options.

Neither rule tells "the text gives the answer away" from "the answer happens to be the model's default" (under
silence small and large models fall back on answer priors, and a prior is right on every rotation). Where the runs
include `silent-no-question` (silence, the options, no question), a third label is written, the prior rule: a
model's silent right answer counts only if it differs from the option it picks with no question at all.

The counterfactual rule uses twins the benchmark already has: items with the same question and the same options
but another answer. Their text cannot tell their answers apart, so a model "solves" such an item without audio
only if it is right with silence on it and on every twin (a default answer is right on some twins, never on all);
an item without twins is voted on as in the paper's rule. Needs runs whose samples carry `text_key`. Real
benchmarks have few twins (MMAU test-mini: 18 of 1000 items; MMAR: none), so there it is mostly the paper's rule.

The likelihood rule is the paper's audio contribution, item by item, in each model's own beliefs. It needs
choice-mode runs (a local model that scores each option's log-likelihood) with `original` and `silent` (or
`silent-rotated`). A model answers an item without its audio when, with silence, the gold option is its answer (in
every option order asked, or most with `rotation_need="most"`, and on their average) and the clip adds little to
it: the gold's odds with the clip are at most LIKELIHOOD_AUDIO_GAIN times its odds with silence. A default answer
(the option a model favours whatever the question: "high", "two") is right with silence but held at the prior's
confidence, and the clip makes the model sure: the audio carries the answer, so it does not count. A question that
states or implies its answer is as sure with silence as with the clip: it counts.

A vote is a model's own answer (right, wrong, unreadable or empty). A missing row, an audio or request error
or an invalid prediction is no vote at all, never a wrong one: an item whose label would change with the
missing votes is `undetermined` (counted and listed), and every label carries its number of valid votes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol

import jsonlines

from ac_eval.analysis.report import MOSTLY_UNPARSEABLE
from ac_eval.analysis.stats import weak_by_chance
from ac_eval.evaluation.conditions import rotation_source
from ac_eval.evaluation.records import norm_answer
from ac_eval.evaluation.scoring import ANSWER_STATUSES
from ac_eval.files import write_jsonl

LABELS = ("weak", "strong", "undetermined")


@dataclass
class ItemLabel:
    id: str
    benchmark: str
    label: str  # weak | strong | undetermined (paper rule)
    votes: int  # models right with silent audio
    models: list[str]
    correct_by_model: dict[str, bool | None]  # None: no valid vote from that model
    n_choices: int
    n_valid_votes: int = 0
    label_rotation: str | None = None  # weak | strong | undetermined under the rotation rule, where measured
    votes_rotation: int | None = None
    n_valid_votes_rotation: int | None = None
    n_rotations: int | None = None  # times each model was asked (1 for items whose options cannot be rotated)
    rotations_by_model: dict[str, str] = field(default_factory=dict)  # model -> "right/asked"
    label_prior: str | None = None  # weak | strong | undetermined under the prior rule, where measured
    votes_prior: int | None = None
    n_valid_votes_prior: int | None = None
    prior_match_by_model: dict[str, bool | None] = field(default_factory=dict)  # silent answer == no-question answer
    label_counterfactual: str | None = None  # weak | strong | undetermined under the counterfactual rule
    votes_counterfactual: int | None = None
    n_twins: int | None = None  # items with this item's question and options but another answer
    label_likelihood: str | None = None  # weak | strong | undetermined under the likelihood rule (choice mode)
    votes_likelihood: int | None = None
    n_valid_votes_likelihood: int | None = None
    # model -> the gold option's probability with the clip and with silence (averaged over the orders asked)
    gold_probability_by_model: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and v != {}}


def _vote(row: dict) -> bool | None:
    """A model's vote on an item: right or not when it answered; None when there is no answer to count."""
    if row.get("status", "ok") not in ANSWER_STATUSES:
        return None
    return row["correct"] is True  # unreadable, empty, or excluded by the official rule: not solved


@dataclass
class Votes:
    """Per item, each model's silent vote (and its votes under rotation); `models` are all the voters."""

    models: list[str]
    items: dict[tuple[str, str], dict]
    coverage: dict[str, int]  # model -> items it has a silent row for
    unparseable: dict[str, int] = field(default_factory=dict)  # model -> silent rows with no readable answer

    def unreadable_voters(self) -> dict[str, float]:
        """Voters whose silent answers are mostly unparseable or empty: their 'not solved' is the output format
        speaking, and it pushes every item toward strong."""
        shares = {m: self.unparseable.get(m, 0) / n for m, n in self.coverage.items() if n}
        return {m: share for m, share in shares.items() if share > MOSTLY_UNPARSEABLE}

    def unreadable_warning(self) -> str | None:
        bad = self.unreadable_voters()
        if not bad:
            return None
        parts = ", ".join(f"{m} ({100 * share:.0f}%)" for m, share in bad.items())
        return (f"{len(bad)} of {len(self.models)} voters answered mostly unparseably with silence ({parts} of their "
                "answers unparseable or empty): each such answer votes 'not solved', so these labels say more about "
                "the output format than about the audio (check the prompt and extraction; --strict refuses)")

    def coverage_warning(self) -> str | None:
        counts = set(self.coverage.values())
        if len(counts) <= 1 and all(len(i["silent"]) == len(self.models) for i in self.items.values()):
            return None
        parts = ", ".join(f"{m}: {n}" for m, n in self.coverage.items())
        return (f"the runs cover different items ({parts} of {len(self.items)}): items some runs lack are labelled "
                "from fewer votes, and undetermined where the missing votes could change the label")


class ModelRows(Protocol):
    """One run's rows and its model's name (`ac_eval.run.folder.read_samples` gives these)."""

    model: str
    rows: Iterable[dict]


def silent_votes(runs: Iterable[ModelRows], condition: str = "silent") -> Votes:
    """Each model's votes per item, from its run's rows. Two runs of one model stay two voters (`name#2`)."""
    items: dict[tuple[str, str], dict] = defaultdict(
        lambda: {"silent": {}, "rotated": defaultdict(list), "silent_chosen": {}, "prior_chosen": {},
                 "likelihood": defaultdict(lambda: defaultdict(dict))})
    seen: dict[str, int] = defaultdict(int)
    unparseable: dict[str, int] = defaultdict(int)
    models = []
    for run in runs:
        seen[run.model] += 1
        model = run.model if seen[run.model] == 1 else f"{run.model}#{seen[run.model]}"
        models.append(model)
        for row in run.rows:
            _add_likelihood(items, model, row, condition)
            if row["condition"] == condition:
                item = items[(row["benchmark"], row["id"])]
                item["silent"][model] = _vote(row)
                unparseable[model] += row.get("status") in ("unparseable", "empty")
                item["silent_chosen"][model] = row.get("chosen")
                item["n_choices"] = row["n_choices"]
                item["text_key"], item["answer"] = row.get("text_key"), row.get("answer")
            elif row["condition"] == "silent-no-question":
                # the option picked with no question (None: no answer to compare, e.g. unreadable or failed)
                answered = row.get("status", "ok") in ANSWER_STATUSES and row.get("chosen") is not None
                items[(row["benchmark"], row["id"])]["prior_chosen"][model] = row["chosen"] if answered else None
            elif row["condition"] == "silent-rotated":
                source = rotation_source(row["id"])
                if source:
                    item = items[(row["benchmark"], source[0])]
                    item["rotated"][model].append(_vote(row))
                    item.setdefault("n_choices", row["n_choices"])
    coverage = {m: sum(m in i["silent"] for i in items.values()) for m in models}
    return Votes(models, dict(items), coverage, dict(unparseable))


# The likelihood rule's two readings of an item, from choice-mode rows: with the clip, and with silence.
LIKELIHOOD_READINGS = {"original": "audio", "silent": "silence", "silent-rotated": "silence"}
# The most the clip may multiply the gold's odds by for the item to count as answered without it (2 bits).
LIKELIHOOD_AUDIO_GAIN = 4.0


def _add_likelihood(items: dict, model: str, row: dict, condition: str) -> None:
    """Keep a choice-mode row's option probabilities (softmax over their log-likelihoods), in the item's own option
    order, per model, reading (with the clip or with silence) and rotation; None for a failed row."""
    reading = LIKELIHOOD_READINGS.get(row["condition"])
    if reading is None or (reading == "silence" and row["condition"] not in (condition, "silent-rotated")):
        return
    if row.get("mode") != "choice":
        return  # generated answers have no likelihoods
    source = rotation_source(row["id"])
    item_id, shift = source if source else (row["id"], 0)
    scores, gold = row.get("option_logprobs"), row.get("gold_option")
    reading_probs = None
    if row.get("status", "ok") in ANSWER_STATUSES and scores and gold is not None:
        n, top = len(scores), max(scores)
        weights = [math.exp(x - top) for x in scores]
        # rotation `shift` asked options[shift:] + options[:shift]: its option j is the item's option (j + shift) % n
        reading_probs = [0.0] * n
        for j, w in enumerate(weights):
            reading_probs[(j + shift) % n] = w / sum(weights)
        gold = (gold + shift) % n
    item = items[(row["benchmark"], item_id)]
    item["likelihood"][model][reading][shift] = reading_probs
    if reading_probs is not None:
        item["gold_option"] = gold


def _answered_without_audio(readings: dict | None, gold: int | None, need: str = "all") -> tuple[bool | None, dict]:
    """Whether one model answers an item without its audio (the likelihood rule), and the gold's probabilities it
    is judged on. `need`: the gold must be its pick with silence in all option orders asked, or in most (as the
    rotation rule). None (no vote) when a reading is missing or failed."""
    if not readings or gold is None or not readings.get("audio") or not readings.get("silence"):
        return None, {}
    means = {}
    for reading in ("audio", "silence"):
        asked = list(readings[reading].values())
        if any(p is None for p in asked) or len({len(p) for p in asked}) != 1:
            return None, {}
        means[reading] = [sum(col) / len(asked) for col in zip(*asked)]
    a, s = means["audio"][gold], means["silence"][gold]
    seen = {"with_audio": round(a, 4), "with_silence": round(s, 4)}
    orders = list(readings["silence"].values())
    picked_gold = sum(max(range(len(p)), key=p.__getitem__) == gold for p in orders)
    if picked_gold < _needed(len(orders), need) or any(p >= s for i, p in enumerate(means["silence"]) if i != gold):
        # with silence the model prefers another option, is torn, or picks the gold in only some orders (a guess
        # that moves with the order, right by chance in some of them, as the rotation rule guards against too)
        return False, seen
    odds = lambda p: p / (1 - p) if p < 1 else math.inf
    return odds(a) <= LIKELIHOOD_AUDIO_GAIN * odds(s), seen


def _three_valued(votes: list[bool | None], k: int) -> str:
    """weak if k are surely right; strong if k cannot be reached even if every missing vote were right."""
    right = sum(v is True for v in votes)
    unknown = sum(v is None for v in votes)
    if right >= k:
        return "weak"
    return "strong" if right + unknown < k else "undetermined"


def make_labels(votes: Votes, k: int = 2, rotation_need: str = "all") -> list[ItemLabel]:
    """Apply the k-of-N vote. `rotation_need`: 'all' rotations right (CircularEval) or 'most' (a strict majority)."""
    models = votes.models
    if k < 1 or k > len(models):
        raise ValueError(f"k={k} with {len(models)} run(s): k must be between 1 and the number of runs "
                         f"(the paper: 2 of 3 models)")
    twins = _counterfactual_twins(votes)
    labels = []
    for (benchmark, item_id), item in sorted(votes.items.items()):
        if not item["silent"]:
            continue  # only rotated results for this item: no paper-rule label
        silent = {m: item["silent"].get(m) for m in models}
        values = list(silent.values())
        label = ItemLabel(item_id, benchmark, _three_valued(values, k), sum(v is True for v in values), list(models),
                          silent, item["n_choices"], n_valid_votes=sum(v is not None for v in values))
        if item["rotated"]:
            asked = max(len(r) for r in item["rotated"].values())
            solved = {m: _solved(item["rotated"].get(m, []), asked, rotation_need) for m in models}
            label.votes_rotation = sum(v is True for v in solved.values())
            label.n_valid_votes_rotation = sum(v is not None for v in solved.values())
            label.label_rotation = _three_valued(list(solved.values()), k)
            label.rotations_by_model = {m: f"{sum(v is True for v in r)}/{len(r)}"
                                        for m, r in sorted(item["rotated"].items())}
            label.n_rotations = asked
        if item["prior_chosen"]:
            prior = {m: _beyond_prior(silent[m], item["silent_chosen"].get(m), item["prior_chosen"].get(m, "missing"))
                     for m in models}
            label.votes_prior = sum(v is True for v in prior.values())
            label.n_valid_votes_prior = sum(v is not None for v in prior.values())
            label.label_prior = _three_valued(list(prior.values()), k)
            label.prior_match_by_model = {m: (None if item["prior_chosen"].get(m) is None
                                              else item["prior_chosen"][m] == item["silent_chosen"].get(m))
                                          for m in models}
        if item["likelihood"]:
            solved, seen = {}, {}
            for m in models:
                solved[m], seen[m] = _answered_without_audio(item["likelihood"].get(m), item.get("gold_option"),
                                                             rotation_need)
            label.votes_likelihood = sum(v is True for v in solved.values())
            label.n_valid_votes_likelihood = sum(v is not None for v in solved.values())
            label.label_likelihood = _three_valued(list(solved.values()), k)
            label.gold_probability_by_model = {m: v for m, v in seen.items() if v}
        if twins is not None:
            mine = twins.get((benchmark, item_id), [])
            solved = {m: _solved_with_twins(silent[m], [votes.items[t]["silent"].get(m) for t in mine]) for m in models}
            label.votes_counterfactual = sum(v is True for v in solved.values())
            label.label_counterfactual = _three_valued(list(solved.values()), k)
            label.n_twins = len(mine)
        labels.append(label)
    return labels


def _counterfactual_twins(votes: Votes) -> dict[tuple[str, str], list[tuple[str, str]]] | None:
    """Per item, the items with its text_key and another answer; None when the runs predate text_key."""
    with_silent = {key: item for key, item in votes.items.items() if item["silent"]}
    if not with_silent or any(item.get("text_key") is None for item in with_silent.values()):
        return None
    groups: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for key, item in with_silent.items():
        groups[(key[0], item["text_key"])].append(key)
    twins = {}
    for key, item in with_silent.items():
        twins[key] = [other for other in groups[(key[0], item["text_key"])]
                      if norm_answer(votes.items[other]["answer"]) != norm_answer(item["answer"])]
    return twins


def _solved_with_twins(vote: bool | None, twin_votes: list[bool | None]) -> bool | None:
    """Solved from the text: right with silence here and on every twin (None where a missing vote could decide)."""
    if vote is not True:
        return vote
    if any(v is False for v in twin_votes):
        return False
    return None if any(v is None for v in twin_votes) else True


def _beyond_prior(silent_vote: bool | None, silent_chosen: Any, prior_chosen: Any) -> bool | None:
    """A model's vote under the prior rule: right with silence AND not the option it picks with no question.
    A wrong or unreadable silent answer is no solve; a right one with no prior answer to compare is unknown."""
    if silent_vote is not True:
        return silent_vote
    if prior_chosen == "missing" or silent_chosen is None:
        return None  # no no-question row for this model: it cannot be said whether the prior explains it
    if prior_chosen is None:
        return True  # with no question the model gives no option: the right silent answer is not its prior
    return prior_chosen != silent_chosen


def _needed(n_asked: int, need: str) -> int:
    """Right answers out of n_asked that count as solved: all of them, or a strict majority."""
    return n_asked if need == "all" else n_asked // 2 + 1


def _solved(results: list[bool | None], asked: int, need: str) -> bool | None:
    """Whether a model solves an item under rotation; None when missing rotations could decide it either way."""
    right = sum(v is True for v in results)
    unknown = sum(v is None for v in results) + max(0, asked - len(results))
    needed = _needed(asked, need)
    if right >= needed:
        return True
    return False if right + unknown < needed else None


def chance_account(labels: list[ItemLabel], k: int = 2, rotation_need: str = "all") -> dict[str, Any]:
    """How many weak labels pure guessing alone would produce, under each rule."""
    n = len(labels)
    if not n:
        return {"n_items": 0}
    n_voters = max(len(lbl.models) for lbl in labels)
    expected = sum(weak_by_chance(lbl.n_choices, n_voters, k) for lbl in labels)
    weak = sum(lbl.label == "weak" for lbl in labels)
    strong = sum(lbl.label == "strong" for lbl in labels)
    undetermined = [lbl.id for lbl in labels if lbl.label == "undetermined"]
    out: dict[str, Any] = {
        "n_items": n, "n_voters": n_voters, "k": k,
        "weak": weak, "strong": strong, "undetermined": len(undetermined),
        "weak_share": weak / n, "strong_share": strong / n, "undetermined_share": len(undetermined) / n,
        "undetermined_ids": undetermined,
        "n_items_missing_votes": sum(lbl.n_valid_votes < len(lbl.models) for lbl in labels),
        "expected_weak_if_all_guess": expected,
        "share_of_weak_chance_could_explain": min(1.0, expected / weak) if weak else None,
    }
    rotated = [lbl for lbl in labels if lbl.label_rotation is not None]
    if rotated:
        expected_rot = sum(
            weak_by_chance(lbl.n_choices, n_voters, k, rotations=lbl.n_rotations,
                           need=_needed(lbl.n_rotations, rotation_need))
            for lbl in rotated
        )
        weak_rot = sum(lbl.label_rotation == "weak" for lbl in rotated)
        undetermined_rot = sum(lbl.label_rotation == "undetermined" for lbl in rotated)
        out["rotation"] = {
            "n_items": len(rotated), "need": rotation_need, "weak": weak_rot, "weak_share": weak_rot / len(rotated),
            "undetermined": undetermined_rot,
            "expected_weak_if_all_guess": expected_rot,
            "paper_weak_not_weak_under_rotation": sum(lbl.label == "weak" and lbl.label_rotation == "strong" for lbl in rotated),
        }
    for rule, field_name, moved in (("counterfactual", "label_counterfactual", "paper_weak_ruled_out_by_twins"),
                                    ("prior", "label_prior", "paper_weak_explained_by_prior"),
                                    ("likelihood", "label_likelihood", "paper_weak_carried_by_the_audio")):
        summary = _rule_summary(labels, field_name, moved)
        if summary:
            out[rule] = summary
    if "counterfactual" in out:
        out["counterfactual"]["items_with_twins"] = sum(bool(lbl.n_twins) for lbl in labels if lbl.n_twins is not None)
    return out


def _rule_summary(labels: list[ItemLabel], field_name: str, moved: str) -> dict[str, Any] | None:
    """Counts of one rule's labels, and how many paper-rule weak items it calls strong (under the key `moved`)."""
    measured = [lbl for lbl in labels if getattr(lbl, field_name) is not None]
    if not measured:
        return None
    weak = sum(getattr(lbl, field_name) == "weak" for lbl in measured)
    return {"n_items": len(measured), "weak": weak, "weak_share": weak / len(measured),
            "undetermined": sum(getattr(lbl, field_name) == "undetermined" for lbl in measured),
            moved: sum(lbl.label == "weak" and getattr(lbl, field_name) == "strong" for lbl in measured)}


def write_labels(labels: list[ItemLabel], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(path, (label.to_dict() for label in labels))


def read_labels(path: Path, field_name: str = "label") -> dict[str, str]:
    """{id: weak|strong|undetermined} from an `ac-eval labels` file, or from AudioMCQ jsonl's "audio-contribution"
    key. An undetermined item is neither weak nor strong: filters keep it out of both subsets."""
    out: dict[str, str] = {}
    for lineno, row in enumerate(jsonlines.open(path), 1):
        value = row.get(field_name) if field_name in row else row.get("audio-contribution")
        if value is None:
            continue  # e.g. no rotation label for this item
        if value not in LABELS:
            raise ValueError(f"{path}:{lineno}: label {value!r} is not one of {', '.join(LABELS)}")
        out[str(row["id"])] = value
    return out


def import_audiomcq(path: Path) -> list[ItemLabel]:
    """Labels shipped with AudioMCQ (key "audio-contribution"), in our labels format (no votes known)."""
    labels = []
    for lineno, row in enumerate(jsonlines.open(path), 1):
        value = row.get("audio-contribution")
        if value not in ("weak", "strong"):
            raise ValueError(f'{path}:{lineno}: "audio-contribution" is {value!r}, expected weak or strong')
        labels.append(ItemLabel(str(row["id"]), "audiomcq", value, -1, ["audiomcq"], {}, len(row.get("choices", [])) or 4))
    return labels
