"""Training data: AudioMCQ-format jsonl, labels, and each stage's selection (stages never share an item)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ac_eval.analysis.labels import read_labels
from ac_eval.evaluation.benchmarks import load_benchmark
from ac_eval.evaluation.prompts import PROMPTS
from ac_eval.evaluation.records import Record


@dataclass
class Example:
    record: Record
    label: str | None

    @property
    def target(self) -> str:
        return f"<answer>{self.record.answer}</answer>"

    @property
    def user_text(self) -> str:  # the very prompt the harness evaluates with
        return PROMPTS["audiomcq"].user_text(self.record)


def load_examples(data: str | Path, labels: str | Path | None = None, label_field: str = "label") -> list[Example]:
    """Records of an AudioMCQ-format file with their label: from `labels` (an `ac-eval labels` file; `label_field`
    names the rule: label, label_rotation, label_prior, label_counterfactual) if given, else the records' own
    "audio-contribution" key."""
    loaded = load_benchmark("audiomcq", Path(data), "train")
    if loaded.skipped:
        raise ValueError(f"{data}: {len(loaded.skipped)} malformed records, first: {loaded.skipped[0]}")
    by_id = read_labels(Path(labels), label_field) if labels else {}
    return [Example(r, by_id.get(r.id) if labels else r.fields.get("audio-contribution")) for r in loaded.records]


def _rank(item_id: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{item_id}".encode()).hexdigest()


def select_stages(examples: list[Example], stages: list[dict], seed: int = 0) -> tuple[list[list[Example]], dict]:
    """Each stage takes `fraction` of the not-yet-used items whose label is in its `labels` (or all labels),
    in a fixed seeded order. Stages are disjoint by construction; the counts say so."""
    used: set[str] = set()
    chosen, counts = [], {}
    for stage in stages:
        select = stage.get("select") or {}
        wanted = set(select.get("labels") or ["weak", "strong"])
        pool = sorted((e for e in examples if e.record.id not in used and (e.label in wanted)),
                      key=lambda e: _rank(e.record.id, seed))
        take = pool[: int(round(len(pool) * float(select.get("fraction", 1.0))))]
        if not take:
            raise ValueError(f"stage {stage['name']!r} selects no items (labels {sorted(wanted)})")
        used.update(e.record.id for e in take)
        chosen.append(take)
        counts[stage["name"]] = {"n": len(take), **Counter(e.label or "unlabelled" for e in take),
                                 "sha256": ids_hash(take)}
    overlap = sum(len({e.record.id for e in a} & {e.record.id for e in b})
                  for i, a in enumerate(chosen) for b in chosen[i + 1 :])
    counts["overlap_between_stages"] = overlap
    if overlap:
        raise AssertionError("stages share items")  # cannot happen; counted and checked all the same
    return chosen, counts


def ids_hash(examples: list[Example]) -> str:
    return hashlib.sha256("\n".join(sorted(e.record.id for e in examples)).encode()).hexdigest()[:16]


def to_ms_swift(examples: list[Example], path: Path) -> int:
    """ms-swift's jsonl form (messages, audios, solution) for reproducing the paper's own stack."""
    system = PROMPTS["audiomcq"].system
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for e in examples:
            row: dict[str, Any] = {
                "messages": [{"role": "system", "content": system},
                             {"role": "user", "content": "<audio>" + e.user_text},
                             {"role": "assistant", "content": e.target}],
                "audios": [e.record.audio.path],
                "solution": e.record.answer,
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(examples)
