"""Training data: AudioMCQ-format jsonl, labels, and each stage's selection (stages never share an item)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ac_eval.analysis.labels import read_labels
from ac_eval.evaluation.benchmarks import load_benchmark
from ac_eval.evaluation.benchmarks.base import read_json_records
from ac_eval.evaluation.prompts import PROMPTS
from ac_eval.evaluation.records import AudioRef, Record


@dataclass(frozen=True)
class Example:
    """One training item: the user text (its audio first, as the harness prompts), the assistant target SFT learns,
    and the answer GRPO's accuracy reward compares (None: SFT only)."""

    id: str
    user_text: str
    target: str
    audio: AudioRef
    answer: str | None = None
    system: str | None = None
    label: str | None = None


def mcq_example(record: Record, label: str | None) -> Example:
    """A multiple-choice record as the harness evaluates it: the AudioMCQ prompt, target `<answer>option</answer>`."""
    prompt = PROMPTS["audiomcq"]
    return Example(record.id, prompt.user_text(record), f"<answer>{record.answer}</answer>", record.audio,
                   record.answer, prompt.system, label)


def load_examples(data: str | Path, labels: str | Path | None = None, label_field: str = "label") -> list[Example]:
    """Training items of a jsonl file, AudioMCQ records or ms-swift conversations (told apart by `messages`), with
    their label: from `labels` (an `ac-eval labels` file; `label_field` names the rule: label, label_rotation,
    label_prior, label_counterfactual, label_likelihood) if given, else the rows' own "audio-contribution" key."""
    path = Path(data)
    if _is_chat_file(path):
        examples = read_ms_swift(path)
    else:
        loaded = load_benchmark("audiomcq", path, "train")
        if loaded.skipped:
            raise ValueError(f"{data}: {len(loaded.skipped)} malformed records, first: {loaded.skipped[0]}")
        examples = [mcq_example(r, r.fields.get("audio-contribution")) for r in loaded.records]
    if labels:
        by_id = read_labels(Path(labels), label_field)
        examples = [replace(e, label=by_id.get(e.id)) for e in examples]
    return examples


def _is_chat_file(path: Path) -> bool:
    """Whether the file's first record is an ms-swift conversation, read from its first line only (AudioMCQ files
    are read once, by their loader); a .json list or anything unreadable goes to the loaders, whose errors say why."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            first = next((line for line in f if line.strip()), "")
        row = json.loads(first)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        rows = read_json_records(path) if path.suffix == ".json" and path.is_file() else []
        row = rows[0] if rows else None
    return isinstance(row, dict) and "messages" in row


def read_ms_swift(path: Path, rows: list | None = None) -> list[Example]:
    """ms-swift's audio chat format, as AudioMCQ's released training files and ms-swift users have it: one line
    `{"messages": [system?, user, assistant], "audios": [path]}` with one `<audio>` tag, at the start of the user
    turn (where the harness puts the audio). `solution` (the answer GRPO rewards), `id` and `audio-contribution`
    are read when present. Relative audio paths are taken from the file's folder."""
    rows = read_json_records(path) if rows is None else rows
    examples, problems, seen = [], [], set()
    for n, row in enumerate(rows, 1):
        try:
            example = _chat_example(row, path, n)
        except (ValueError, TypeError, KeyError) as e:
            problems.append(f"line {n}: {e}")
            continue
        if example.id in seen:
            problems.append(f"line {n}: id {example.id!r} appears twice")
            continue
        seen.add(example.id)
        examples.append(example)
    if problems:
        raise ValueError(f"{path}: {len(problems)} of {len(rows)} conversations cannot be trained on "
                         f"(ms-swift format): " + "; ".join(problems[:3]) + (" ..." if len(problems) > 3 else ""))
    return examples


def _chat_example(row: Any, path: Path, n: int) -> Example:
    if not isinstance(row, dict) or not isinstance(row.get("messages"), list):
        raise ValueError('expected an object with a "messages" list')
    messages = row["messages"]
    if any(not isinstance(m, dict) or not isinstance(m.get("content"), str) for m in messages):
        raise ValueError("every message needs a role and a string content")
    system = messages[0]["content"] if messages and messages[0].get("role") == "system" else None
    turns = messages[1:] if system is not None else messages
    if [m.get("role") for m in turns] != ["user", "assistant"]:
        raise ValueError(f"roles {[m.get('role') for m in messages]}: one user turn then one assistant turn "
                         "(an optional system message first) is what the trainers learn from")
    user, target = turns[0]["content"], turns[1]["content"]
    audios = row.get("audios")
    if not isinstance(audios, list) or len(audios) != 1 or not isinstance(audios[0], str) or not audios[0]:
        raise ValueError(f'"audios" must list exactly one audio path (got {audios!r})')
    if user.count("<audio>") != 1 or not user.lstrip().startswith("<audio>"):
        raise ValueError("the user turn must start with the one <audio> tag (the audio comes first in the prompt)")
    answer = row.get("solution")
    return Example(id=str(row.get("id") or f"{path.stem}:{n}"), user_text=user.lstrip().removeprefix("<audio>"),
                   target=target, audio=AudioRef(str(path.parent / audios[0])),  # an absolute path stays as it is
                   answer=None if answer is None else str(answer), system=system,
                   label=row.get("audio-contribution"))


def _rank(item_id: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{item_id}".encode()).hexdigest()


def select_stages(examples: list[Example], stages: list[dict], seed: int = 0) -> tuple[list[list[Example]], dict]:
    """Each stage takes `fraction` of the not-yet-used items whose label is in its `labels` (or all labels),
    in a fixed seeded order. Stages are disjoint by construction; the counts say so."""
    used: set[str] = set()
    chosen, counts = [], {}
    for stage in stages:
        select = stage.get("select") or {}
        wanted = set(select["labels"]) if select.get("labels") else None  # no labels named: every item
        pool = sorted((e for e in examples if e.id not in used and (wanted is None or e.label in wanted)),
                      key=lambda e: _rank(e.id, seed))
        take = pool[: int(round(len(pool) * float(select.get("fraction", 1.0))))]
        if not take:
            raise ValueError(f"stage {stage['name']!r} selects no items (labels {sorted(wanted or ['any'])})")
        used.update(e.id for e in take)
        chosen.append(take)
        counts[stage["name"]] = {"n": len(take), **Counter(e.label or "unlabelled" for e in take),
                                 "sha256": ids_hash(take)}
    overlap = sum(len({e.id for e in a} & {e.id for e in b})
                  for i, a in enumerate(chosen) for b in chosen[i + 1 :])
    counts["overlap_between_stages"] = overlap
    # Items no stage took (a label no stage asks for, no label at all, or past a stage's fraction) are counted and
    # said: an item the voters never ran on gets no label from `ac-eval labels`, and no stage that names labels.
    counts["not_selected"] = len(examples) - len(used)
    if overlap:
        raise AssertionError("stages share items")  # cannot happen; counted and checked all the same
    return chosen, counts


def ids_hash(examples: list[Example]) -> str:
    return hashlib.sha256("\n".join(sorted(e.id for e in examples)).encode()).hexdigest()[:16]


def to_ms_swift(examples: list[Example], path: Path) -> int:
    """ms-swift's jsonl form (messages, audios, solution) for reproducing the paper's own stack; `load_examples`
    reads it back as the same examples."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for e in examples:
            system = [{"role": "system", "content": e.system}] if e.system is not None else []
            row: dict[str, Any] = {
                "id": e.id,
                "messages": [*system, {"role": "user", "content": "<audio>" + e.user_text},
                             {"role": "assistant", "content": e.target}],
                "audios": [e.audio.path],
                "solution": e.answer,
            }
            if e.label is not None:
                row["audio-contribution"] = e.label
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(examples)
