"""`ac-eval train --recipe FILE [key=value ...]`: run a recipe's stages (SFT, then GRPO), resuming where it stopped.

A recipe file names the base model, the AudioMCQ-format data, where labels come from, and its stages; each stage
names its data selection. Stages never share an item (enforced and counted). The finished model carries
`ac_eval_training.json` (recipe, base model, hashes of each stage's data) into the harness and the leaderboard.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import yaml

import ac_eval
from ac_eval.files import write_json, write_text
from ac_eval.models.identity import model_identity
from ac_eval.post_training.data import load_examples, select_stages, to_ms_swift
from ac_eval.post_training.stages import is_complete, stage_config


def recipe_file(path: str | Path) -> Path:
    """A recipe file, or the name of a shipped one (`weak_sft_strong_grpo`, found in the installed trainers/)."""
    from ac_eval.paths import TRAINERS_DIR

    given = Path(path).expanduser()
    if given.is_file():
        return given
    shipped = TRAINERS_DIR / f"{given.name.removesuffix('.yaml')}.yaml"
    if shipped.is_file():
        return shipped
    names = ", ".join(sorted(f.stem for f in TRAINERS_DIR.glob("*.yaml")))
    raise FileNotFoundError(f"recipe {path}: no such file, and not a shipped recipe ({names}; in {TRAINERS_DIR})")


def load_recipe(path: str | Path, overrides: list[str] = ()) -> dict[str, Any]:
    path = recipe_file(path)
    recipe = yaml.safe_load(path.read_text())
    if not isinstance(recipe, dict) or "stages" not in recipe:
        raise ValueError(f"{path}: a recipe is a mapping with 'stages' (and base_model, data, labels, output)")
    for item in overrides:
        apply_override(recipe, item)
    recipe.setdefault("seed", 0)
    for stage in recipe["stages"]:
        stage_config(stage)  # validate early: unknown settings are errors, not silently ignored
    return recipe


def apply_override(recipe: dict, item: str) -> None:
    """`key=value` with dotted keys; stages are addressed by name: `stages.grpo.lr=1e-5`, `base_model=DIR`."""
    if "=" not in item:
        raise ValueError(f"override {item!r}: expected key=value, e.g. stages.sft.lr=1e-5")
    key, raw = item.split("=", 1)
    parts = key.split(".")
    target: dict = recipe
    if parts[0] == "stages":
        if len(parts) < 3:
            raise ValueError(f"override {item!r}: use stages.<stage name>.<setting>=value")
        named = [s for s in recipe["stages"] if s.get("name") == parts[1]]
        if not named:
            raise ValueError(f"override {item!r}: no stage named {parts[1]!r} ({[s.get('name') for s in recipe['stages']]})")
        target, parts = named[0], parts[2:]
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = yaml.safe_load(raw)


def run_recipe(recipe: dict, output: Path, device: str = "cpu") -> Path:
    from ac_eval.models.checkpoints import check_pretrained

    check_pretrained(str(recipe["base_model"]), option="base_model")  # in a second, before torch is imported
    from accelerate import PartialState

    from ac_eval.post_training.grpo import train_grpo
    from ac_eval.post_training.sft import train_sft

    # The first accelerate state decides the process group: on CPU it must be created with cpu=True, or every
    # torchrun process would believe it is alone.
    state = PartialState(cpu=device == "cpu")
    output.mkdir(parents=True, exist_ok=True)
    examples = load_examples(Path(recipe["data"]).expanduser(), recipe.get("labels"), recipe.get("label_field", "label"))
    configs = [stage_config(s) for s in recipe["stages"]]
    chosen, counts = select_stages(examples, recipe["stages"], seed=recipe["seed"])
    if state.is_main_process:
        write_json(output / "data_selection.json", counts)
        print(f"data: {len(examples)} items; " + "; ".join(
            f"{c.name}: {counts[c.name]['n']} ({', '.join(f'{k} {v}' for k, v in counts[c.name].items() if k not in ('n', 'sha256'))})"
            for c in configs) + f"; overlap between stages: {counts['overlap_between_stages']}"
            + (f"; taken by no stage (another label, no label, or past a fraction): {counts['not_selected']}"
               if counts["not_selected"] else ""), flush=True)
    model = str(Path(recipe["base_model"]).expanduser()) if Path(recipe["base_model"]).expanduser().exists() else recipe["base_model"]
    for cfg, data in zip(configs, chosen):
        stage_dir = output / cfg.name
        if is_complete(stage_dir / "final"):
            model = str(stage_dir / "final")  # finished earlier: resume after it
            continue
        train = train_grpo if cfg.kind == "grpo" else train_sft
        model = str(train(model, data, cfg, stage_dir, device))
    final = output / "final"
    if state.is_main_process:
        if final.exists():
            shutil.rmtree(final)
        shutil.copytree(model, final, ignore=shutil.ignore_patterns("COMPLETE"))
        write_json(final / "ac_eval_training.json", {
            "recipe": recipe.get("name"),
            "recipe_sha256": hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()[:16],
            # Readable, never a (temporary) absolute path: a local base is named by its folder, a hub base by its id.
            "base_model": model_identity({"pretrained": str(recipe["base_model"])}).name,
            "stages": [{"name": c.name, "kind": c.kind, "select": c.select, "data_sha256": counts[c.name]["sha256"],
                        "n": counts[c.name]["n"], "lr": c.lr} for c in configs],
            "harness_version": ac_eval.__version__,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        })
        write_text(final / "COMPLETE", "final")  # last: the recipe's model is whole
    state.wait_for_everyone()
    return final


def export_ms_swift(recipe: dict, output: Path) -> dict[str, int]:
    """Each stage's data as ms-swift jsonl (messages, audios, solution)."""
    examples = load_examples(Path(recipe["data"]).expanduser(), recipe.get("labels"), recipe.get("label_field", "label"))
    chosen, _ = select_stages(examples, recipe["stages"], seed=recipe["seed"])
    return {s["name"]: to_ms_swift(data, output / f"{s['name']}.jsonl") for s, data in zip(recipe["stages"], chosen)}
