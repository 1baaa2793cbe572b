"""The functions ac-eval's task YAMLs (tasks/*.yaml) point lm-eval at.

Docs carry the record, the prompt text, the scoring rule and an audio *reference* (never samples); the
condition comes from the task's metadata. Data location comes from lm-eval metadata (`data_dir`,
`metadata_files`) or the AC_EVAL_DATA_DIR environment variable.
"""

from __future__ import annotations

import functools
import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

from ac_eval.evaluation.benchmarks import LoadedBenchmark, load_benchmark, metadata_path
from ac_eval.evaluation.conditions import get_condition
from ac_eval.evaluation.benchmarks import get_prompt
from ac_eval.evaluation.records import AudioRef, Record, norm_answer
from ac_eval.evaluation.scoring import AUDIO_ERROR_PREFIX, Scorer, score_item


@functools.lru_cache(maxsize=16)
def load_cached(benchmark: str, path: str, split: str) -> LoadedBenchmark:
    return load_benchmark(benchmark, path, split)


def resolve_metadata(
    benchmark: str, split: str, data_dir: str | None, metadata_files: dict | None, metadata_file: str | None = None
) -> Path:
    """A task's own file (subset tasks carry one), else a per-benchmark override, else the published layout."""
    files = metadata_files or {}
    override = metadata_file or files.get(f"{benchmark}_{split}".replace("-", "_")) or files.get(benchmark)
    return metadata_path(benchmark, split, data_dir or os.environ.get("AC_EVAL_DATA_DIR"), override)


def record_to_doc(record: Record, condition: str, prompt_name: str, extraction: str = "r1-aqa",
                  mode: str = "generate") -> dict[str, Any]:
    prompt = get_prompt(prompt_name, record.benchmark)
    return {
        "id": record.id,
        "benchmark": record.benchmark,
        "condition": condition,
        "mode": mode,
        "question": record.question,
        "choices": record.choices,
        "answer": record.answer,
        "audio": json.dumps(record.audio.to_dict()),
        "prompt": prompt.user_text(record),
        "continuations": prompt.continuations(record),
        "rule": prompt.rule,
        "extraction": extraction,
        "subsets": json.dumps(record.subsets),
        "issues": record.issues,
        "fields": json.dumps(record.fields, default=str),
    }


def record_from_doc(doc: dict[str, Any]) -> Record:
    return Record(
        benchmark=doc["benchmark"],
        id=doc["id"],
        question=doc["question"],
        choices=list(doc["choices"]),
        answer=doc["answer"],
        audio=AudioRef.from_dict(json.loads(doc["audio"])),
        subsets=json.loads(doc["subsets"]),
        fields=json.loads(doc["fields"]),
        issues=list(doc["issues"] or []),
    )


def confine_audio(records: Sequence[Record], root: str | Path, allow: bool = False) -> list[Record]:
    """Audio paths must stay inside the data root (the metadata's folder, or the root a subset task names): a path
    that leaves it (`../../x.wav`, an absolute path elsewhere) is marked, and reading it becomes that item's
    counted audio error naming the path, unless `allow`."""
    if allow:
        return list(records)
    from dataclasses import replace

    return [r if r.audio.confined_to(root) is r.audio else replace(r, audio=r.audio.confined_to(root)) for r in records]


def select_records(records: Sequence[Record], limit: float | None) -> Sequence[Record]:
    """The first N records, or a fraction of them when 0 < limit < 1."""
    if limit is None:
        return records
    return records[: int(math.ceil(len(records) * limit)) if limit < 1 else int(limit)]


def load_docs(
    benchmark: str,
    split: str = "test",
    condition: str = "original",
    data_dir: str | None = None,
    metadata_files: dict | None = None,
    prompt: str = "audiomcq",
    metadata_file: str | None = None,
    limit_items: float | None = None,
    item_range: list[int] | None = None,
    extraction: str = "r1-aqa",
    mode: str = "generate",
    audio_root: str | None = None,
    allow_audio_outside_root: bool = False,
    **lm_eval_metadata: Any,
):
    """lm-eval `custom_dataset`: {"test": Dataset of docs} for one benchmark split under one condition.

    `limit_items` keeps the first N records (a fraction if < 1) *before* a condition expands or pairs them, so
    every condition sees the same items (lm-eval's own --limit counts docs, and silent-rotated has k per item).
    `lm_eval_metadata`: the rest of what lm-eval passes (the task's metadata version, model_args, ...), not ours.
    `item_range` [start, stop): the items of one chunk (or shard) of a run, counted after `limit_items`.
    `mode` is carried into each doc (and from there into each request) so the logs say how each item was asked.
    Audio outside `audio_root` (default: the metadata's folder) is refused unless `allow_audio_outside_root`."""
    cond = get_condition(condition)
    path = resolve_metadata(benchmark, split, data_dir, metadata_files, metadata_file)
    loaded = load_cached(benchmark, str(path), split)
    records = select_records(loaded.records, limit_items)
    if item_range is not None:
        records = records[item_range[0]:item_range[1]]
    records = confine_audio(records, audio_root or path.parent, allow_audio_outside_root)
    if hasattr(cond, "expand"):  # e.g. silent-rotated: each item once per rotation of its options
        records = cond.expand(records)
    Scorer(benchmark, get_prompt(prompt, benchmark).rule, extraction)  # an unknown extraction fails here, early
    docs = [record_to_doc(r, condition, prompt, extraction, mode) for r in records]
    if hasattr(cond, "assign"):  # e.g. shuffled: each item gets another item's clip
        for doc, ref in zip(docs, cond.assign([r.audio for r in records])):
            doc["audio"] = json.dumps(ref.to_dict())
    return {"test": DocList(docs)}


class DocList(list):
    """The docs of a split as lm-eval reads them: iterated, counted, and `.features` (the field names) looked up.
    A list, not a `datasets.Dataset`: building an Arrow table of docs we already hold cost the import of `datasets`
    (0.9 s a run) and a copy of every doc."""

    @property
    def features(self) -> dict[str, None]:
        return dict.fromkeys(self[0]) if self else {}


def doc_to_text(doc: dict) -> str:
    return doc["prompt"]


def doc_to_audio(doc: dict) -> dict:
    """The request's audio reference, carrying the task's condition and mode: the model reads the condition from
    it, and every log line reads both back from the request."""
    return {**json.loads(doc["audio"]), "condition": doc["condition"], "mode": doc.get("mode", "generate")}


def doc_to_target(doc: dict) -> str:
    return doc["answer"] or ""


def doc_to_choice(doc: dict) -> list[str]:
    return list(doc["continuations"])


def raw_prediction(doc: dict, results: list) -> str | None:
    """The model's raw output for a doc: generated text, or in choice mode (the task's parameter, carried in the doc)
    the best option's text."""
    if not results:
        return None
    if doc.get("mode", "generate") == "generate":
        return results[0]
    # choice mode: results are (loglikelihood, is_greedy) per option; a failed item's are (NaN, False, reason)
    scores = [r[0] for r in results]
    if any(s != s for s in scores):
        reasons = [r[2] for r in results if len(r) > 2 and r[2]]
        return reasons[0] if reasons else f"{AUDIO_ERROR_PREFIX} the model gave no score for this item (no reason given)"
    best = max(range(len(scores)), key=scores.__getitem__)
    return doc["continuations"][best]


def gold_option(record: Record) -> int | None:
    """The index of the option that is the answer (case and spacing ignored); None when no single option is."""
    norm = [norm_answer(c) for c in record.choices]
    answer = norm_answer(record.answer) if record.answer is not None else None
    return norm.index(answer) if answer is not None and norm.count(answer) == 1 else None


def doc_scorer(doc: dict) -> Scorer:
    return Scorer(doc["benchmark"], doc["rule"], doc.get("extraction") or "r1-aqa")


def process_results(doc: dict, results: list) -> dict[str, Any]:
    """The one place an item is scored: lm-eval's metrics, and the whole verdict (`item_score`) that lm-eval logs
    with the sample and every later stage reads."""
    raw = raw_prediction(doc, results)
    record = record_from_doc(doc)
    score = score_item(record, raw, doc_scorer(doc))
    verdict = {**score.to_dict(), "prediction": raw}
    if doc.get("mode", "generate") == "choice" and results and all(r[0] == r[0] for r in results):
        # each option's log-likelihood, in the doc's order, and which is the answer: the likelihood label rule
        verdict["option_logprobs"] = [float(r[0]) for r in results]
        verdict["gold_option"] = gold_option(record)
    return {
        "acc": None if score.correct is None else float(score.correct),
        "acc_strict": None if score.correct_strict is None else float(score.correct_strict),
        "unparseable": float(score.status == "unparseable"),
        "item_score": verdict,
    }


def count_items(values: list) -> int:
    """lm-eval aggregates every metric: the verdicts aggregate to how many items were scored."""
    return len(values)


def mean_skipping_none(values: list) -> float | None:
    """Accuracy skips items the scorer does not count (MMAU/MMAR: no prediction; MMSU: wrong format), as the
    official scripts do."""
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None
