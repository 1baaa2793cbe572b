"""The paper's training claim in miniature, on the demo's planted-truth benchmark, from a base that hears.

AudioMCQ's claim: post-training that spends SFT on weak (or mixed) items and GRPO on strong audio-contribution
items beats SFT on everything. Here: the shipped hearing base (a tiny Qwen2-Audio pre-trained on audio description,
never shown a multiple-choice question; `ac_eval/demo/hearing.py`), trained with `ac-eval train` under All-SFT,
Weak-to-Strong and Mixed-to-Strong on the planted train split, labelled by the three shipped voters with a chosen
rule. One budget: every SFT stage has the same steps, every GRPO stage the same steps, the same tiny-model
settings (`tiny_recipe_settings`). Each two-stage recipe is also evaluated after its SFT stage ("... (after SFT)"),
so GRPO's own effect is visible. Reported: accuracy on the audio-needing and on the text-solvable test items (the
planted truth) with 95% Wilson intervals, per seed, and mean and spread over seeds; the rule's labels against the
truth. Whatever the numbers say is what gets reported.

    python perf/training_claim.py --output runs/claim                    # 2 seeds, 1,366 s (about 23 min) on two CPU cores
    python perf/training_claim.py --output runs/claim --seeds 0,1,2      # 3 seeds

Not a unit test: a measurement.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

RECIPES = {"All-SFT": "all_sft", "Weak-to-Strong": "weak_sft_strong_grpo", "Mixed-to-Strong": "mixed_sft_strong_grpo"}
PARTS = ("audio-needing", "text-solvable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="runs/claim")
    parser.add_argument("--sft-steps", type=int, default=300)
    parser.add_argument("--grpo-steps", type=int, default=300)
    parser.add_argument("--seeds", default="0,1", help="comma-separated training seeds (data order, sampling)")
    parser.add_argument("--n-test", type=int, default=240, help="test items (about 63%% need the audio)")
    parser.add_argument("--rule", default="label_likelihood",
                        choices=["label", "label_rotation", "label_prior", "label_counterfactual", "label_likelihood"])
    parser.add_argument("--n-train-labelled", type=int, default=600,
                        help="train items the voters label, from the top of the split (the recipes train on these)")
    args = parser.parse_args()

    from rich.console import Console

    from ac_eval.analysis.labels import make_labels, silent_votes, write_labels
    from ac_eval.run.folder import read_samples
    from ac_eval.analysis.subsets import write_task_yamls
    from ac_eval.demo.planted_benchmark import write_synthbench
    from ac_eval.demo.walkthrough import (
        LABEL_RULES,
        TRAIN_VOTER_CONDITIONS,
        _evaluate,
        label_quality,
        shipped_models,
        tiny_recipe_settings,
    )

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    quiet = Console(quiet=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    data = write_synthbench(out / "data", n_test=args.n_test)
    truth = json.loads(data["truth"].read_text())["needs_audio"]
    tasks_dir = out / "tasks"
    for split in ("test", "train"):
        write_task_yamls(f"synthbench_{split}", "mmau", "test-mini", data[split]["mmau"], tasks_dir, "training claim")

    # 1. labels of the train split's first items: the shipped voters in choice mode, with silence, rotated, and
    # with no question (every rule; the recipes train on the labelled items only)
    voter_runs = []
    for i in range(3):
        run = out / "voters" / f"voter-{i}"
        if not (run / "results.json").exists():
            _evaluate(shipped_models() / f"voter-{i}", "synthbench_train", tasks_dir, TRAIN_VOTER_CONDITIONS,
                      run, args.n_train_labelled, quiet, mode="choice")
        voter_runs.append(run)
    labels = make_labels(silent_votes(read_samples(voter_runs, [f"voter-{i}" for i in range(3)])))
    write_labels(labels, out / "train_labels.jsonl")
    rule_quality = {name: label_quality(labels, truth, field) for name, field in LABEL_RULES
                    if any(getattr(lbl, field) is not None for lbl in labels)}  # the prior rule is not run here

    # 2. the hearing base, three recipes, through `ac-eval train`, once per seed
    base = shipped_models() / "hearing-base"
    per_seed = {}
    for seed in seeds:
        models = {"hearing base (before post-training)": base}
        for name, recipe in RECIPES.items():
            target = out / f"seed-{seed}" / recipe
            cmd = [sys.executable, "-m", "ac_eval", "train", "--recipe", recipe, "--output", str(target),
                   f"base_model={base}", f"data={data['train']['audiomcq']}", f"labels={out / 'train_labels.jsonl'}",
                   f"label_field={args.rule}", f"seed={seed}", f"stages.sft.seed={seed}",
                   *[s for s in tiny_recipe_settings(args.sft_steps, args.grpo_steps)
                     if recipe != "all_sft" or s.startswith("stages.sft.")]]
            if recipe != "all_sft":
                cmd.append(f"stages.grpo.seed={seed}")
                models[f"{name} (after SFT)"] = target / "sft" / "final"
            print(f"seed {seed}: training {name} ({recipe})", flush=True)
            subprocess.run(cmd, check=True)
            models[name] = target / "final"
        # 3. every model on the test split, with the audio
        per_seed[seed] = {name: accuracy(model, out / "eval" / f"seed-{seed}" / slug(name), tasks_dir, truth, quiet)
                          for name, model in models.items()}
    result = {"settings": vars(args), "rule_quality_on_train": rule_quality, "per_seed": per_seed,
              "accuracy": per_seed[seeds[0]], "over_seeds": over_seeds(per_seed),
              "wall_seconds": round(time.perf_counter() - start)}
    (out / "claim.json").write_text(json.dumps(result, indent=2))
    print(markdown(result))


def slug(name: str) -> str:
    return name.split(" (")[0].lower().replace(" ", "-") + ("-after-sft" if "after SFT" in name else "")


def accuracy(model: Path, run: Path, tasks_dir: Path, truth: dict, console) -> dict:
    """Accuracy with the audio on the audio-needing and the text-solvable test items, with 95% Wilson intervals."""
    import jsonlines

    from ac_eval.analysis.stats import wilson_interval
    from ac_eval.demo.walkthrough import _evaluate

    if not (run / "results.json").exists():
        _evaluate(model, "synthbench_test", tasks_dir, ["original"], run, None, console)
    verdicts = {r["id"]: bool(r["correct"]) for r in jsonlines.open(run / "samples.jsonl")}
    row = {}
    for part, needs_audio in zip(PARTS, (True, False)):
        ids = [i for i in verdicts if truth[i] is needs_audio]
        k = sum(verdicts[i] for i in ids)
        row[part] = {"n": len(ids), "correct": k, "accuracy": k / len(ids), "ci95": list(wilson_interval(k, len(ids)))}
    return row


def over_seeds(per_seed: dict) -> dict:
    """Mean and spread (sample standard deviation; min-max) of each row's accuracy over the seeds."""
    rows = next(iter(per_seed.values()))
    summary = {}
    for name in rows:
        summary[name] = {}
        for part in PARTS:
            values = [per_seed[s][name][part]["accuracy"] for s in per_seed]
            summary[name][part] = {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                                   "min": min(values), "max": max(values), "n_seeds": len(values)}
    return summary


def markdown(result: dict) -> str:
    lines = []
    for seed, rows in result["per_seed"].items():
        lines += [f"seed {seed}:", "", "| model | audio-needing test items (95% CI) | text-solvable items (95% CI) |",
                  "|---|---|---|"]
        for name, row in rows.items():
            cells = [f"{100 * row[p]['accuracy']:.1f}% ({row[p]['correct']}/{row[p]['n']}; "
                     f"{100 * row[p]['ci95'][0]:.1f}-{100 * row[p]['ci95'][1]:.1f})" for p in PARTS]
            lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
        lines.append("")
    lines += ["over seeds (mean ± sd, min-max):", "", "| model | audio-needing | text-solvable |", "|---|---|---|"]
    for name, row in result["over_seeds"].items():
        cells = [f"{100 * row[p]['mean']:.1f} ± {100 * row[p]['sd']:.1f} ({100 * row[p]['min']:.1f}-{100 * row[p]['max']:.1f})"
                 for p in PARTS]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    lines += ["", "| label rule (train split) | weak predicted | weak in truth | precision | recall |", "|---|---|---|---|---|"]
    for name, q in result["rule_quality_on_train"].items():
        precision, recall = (("—" if q[k] is None else f"{100 * q[k]:.1f}%") for k in ("precision", "recall"))
        lines.append(f"| {name} | {q['weak_predicted']} | {q['weak_true']} | {precision} | {recall} |")
    lines.append(f"\n{result['wall_seconds']} s; settings: {result['settings']}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
