"""Weak/strong audio-contribution labels from several models' silent-audio answers.

Paper rule: an item is *weak* if at least k of the N models answer it correctly with silent audio (default
2 of 3), else *strong*. That vote also calls items weak by pure chance (15.6% of 4-option items for three
guessers), so where the runs include the `silent-rotated` condition a second, chance-corrected label is
written: a model "solves" an item without audio only if it is right under every rotation of the options.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import jsonlines

from ac_eval.conditions import rotation_source
from ac_eval.stats import weak_by_chance


@dataclass
class ItemLabel:
    id: str
    benchmark: str
    label: str  # weak | strong (paper rule)
    votes: int  # models right with silent audio
    models: list[str]
    correct_by_model: dict[str, bool]
    n_choices: int
    label_rotation: str | None = None  # weak | strong under the rotation rule, where measured
    votes_rotation: int | None = None
    n_rotations: int | None = None  # times each model was asked (1 for items whose options cannot be rotated)
    rotations_by_model: dict[str, str] = field(default_factory=dict)  # model -> "right/asked"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and v != {}}


def _model_name(run_dir: Path) -> str:
    config = json.loads((run_dir / "results.json").read_text())["config"]
    args = dict(part.split("=", 1) for part in config["model_args"].split(",") if "=" in part)
    return args.get("pretrained") or args.get("model") or run_dir.name


def silent_votes(run_dirs: Iterable[Path], names: list[str] | None = None, condition: str = "silent") -> dict:
    """{(benchmark, id): {"n_choices", "silent": {model: bool}, "rotated": {model: [bool per rotation]}}}."""
    items: dict[tuple[str, str], dict] = defaultdict(lambda: {"silent": {}, "rotated": defaultdict(list)})
    run_dirs = [Path(d) for d in run_dirs]
    names = list(names) if names else [_model_name(d) for d in run_dirs]
    if len(names) != len(run_dirs):
        raise ValueError(f"{len(names)} names for {len(run_dirs)} runs")
    seen: dict[str, int] = defaultdict(int)
    for run_dir, name in zip(run_dirs, names):
        seen[name] += 1
        model = name if seen[name] == 1 else f"{name}#{seen[name]}"  # two runs of one model stay two voters
        samples = run_dir / "samples.jsonl"
        if not samples.is_file():
            raise FileNotFoundError(f"{run_dir}: no samples.jsonl (is this an ac-eval run folder?)")
        for row in jsonlines.open(samples):
            correct = row["correct"] is True  # unanswered or unparseable = not solved
            if row["condition"] == condition:
                item = items[(row["benchmark"], row["id"])]
                item["silent"][model] = correct
                item["n_choices"] = row["n_choices"]
            elif row["condition"] == "silent-rotated":
                source = rotation_source(row["id"])
                if source:
                    item = items[(row["benchmark"], source[0])]
                    item["rotated"][model].append(correct)
                    item.setdefault("n_choices", row["n_choices"])
    return items


def make_labels(items: dict, k: int = 2, rotation_need: str = "all") -> list[ItemLabel]:
    """Apply the k-of-N vote. `rotation_need`: 'all' rotations right (CircularEval) or 'most' (a strict majority)."""
    labels = []
    for (benchmark, item_id), item in sorted(items.items()):
        silent = item["silent"]
        if not silent:
            continue  # only rotated results for this item: no paper-rule label
        votes = sum(silent.values())
        label = ItemLabel(item_id, benchmark, "weak" if votes >= k else "strong", votes, sorted(silent),
                          dict(sorted(silent.items())), item["n_choices"])
        if item["rotated"]:
            solved = {m: _solved(r, rotation_need) for m, r in item["rotated"].items()}
            label.votes_rotation = sum(solved.values())
            label.label_rotation = "weak" if label.votes_rotation >= k else "strong"
            label.rotations_by_model = {m: f"{sum(r)}/{len(r)}" for m, r in sorted(item["rotated"].items())}
            label.n_rotations = max(len(r) for r in item["rotated"].values())
        labels.append(label)
    return labels


def _needed(n_asked: int, need: str) -> int:
    """Right answers out of n_asked that count as solved: all of them, or a strict majority."""
    return n_asked if need == "all" else n_asked // 2 + 1


def _solved(results: list[bool], need: str) -> bool:
    return sum(results) >= _needed(len(results), need)


def chance_account(labels: list[ItemLabel], k: int = 2, rotation_need: str = "all") -> dict[str, Any]:
    """How many weak labels pure guessing alone would produce, under each rule."""
    n = len(labels)
    if not n:
        return {"n_items": 0}
    n_voters = max(len(lbl.models) for lbl in labels)
    expected = sum(weak_by_chance(lbl.n_choices, n_voters, k) for lbl in labels)
    weak = sum(lbl.label == "weak" for lbl in labels)
    out: dict[str, Any] = {
        "n_items": n, "n_voters": n_voters, "k": k,
        "weak": weak, "weak_share": weak / n, "strong_share": 1 - weak / n,
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
        out["rotation"] = {
            "n_items": len(rotated), "need": rotation_need, "weak": weak_rot, "weak_share": weak_rot / len(rotated),
            "expected_weak_if_all_guess": expected_rot,
            "paper_weak_not_weak_under_rotation": sum(lbl.label == "weak" and lbl.label_rotation == "strong" for lbl in rotated),
        }
    return out


def write_labels(labels: list[ItemLabel], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with jsonlines.open(path, "w") as writer:
        for label in labels:
            writer.write(label.to_dict())


def read_labels(path: Path, field_name: str = "label") -> dict[str, str]:
    """{id: weak|strong} from an `ac-eval labels` file, or from AudioMCQ jsonl's "audio-contribution" key."""
    out: dict[str, str] = {}
    for lineno, row in enumerate(jsonlines.open(path), 1):
        value = row.get(field_name) if field_name in row else row.get("audio-contribution")
        if value is None:
            continue  # e.g. no rotation label for this item
        if value not in ("weak", "strong"):
            raise ValueError(f"{path}:{lineno}: label {value!r} is neither weak nor strong")
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
