"""The paper's training claim in miniature, on the demo's planted-truth benchmark.

AudioMCQ's claim: post-training that spends SFT on weak (or mixed) items and GRPO on strong audio-contribution
items beats SFT on everything. Here: the same tiny Qwen2-Audio base, trained with `ac-eval train` under three
recipes (All-SFT, Weak-to-Strong, Mixed-to-Strong) on the synthetic train split, labelled by the three shipped
demo voters with a chosen label rule; then every model evaluated on the test split. Reported: accuracy on the
audio-needing test items (the planted truth) with 95% Wilson intervals, on the text-solvable items, and the
rule's labels against the planted truth. Whatever the numbers say is what gets reported.

    python benchmarks/training_claim.py --output runs/claim            # ~10 min on two CPU cores
    python benchmarks/training_claim.py --output runs/claim --sft-steps 400 --grpo-steps 100

Not a unit test: a measurement. Tiny-model settings (learning rates, top-p 1.0, AdamW beta2 0.999, no weight
decay) are the tests' ones, not the paper's (see tests/test_train.py: the paper's diverge at this scale).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

RECIPES = {"All-SFT": "all_sft", "Weak-to-Strong": "weak_sft_strong_grpo", "Mixed-to-Strong": "mixed_sft_strong_grpo"}
TINY = ["stages.sft.per_device_batch=8", "stages.sft.bf16=false", "stages.sft.lr=3e-3", "stages.sft.save_steps=100000",
        "stages.sft.weight_decay=0", "stages.sft.adam_beta2=0.999",
        "stages.grpo.per_device_batch=8", "stages.grpo.num_generations=4", "stages.grpo.max_completion_length=12",
        "stages.grpo.bf16=false", "stages.grpo.temperature=1.0", "stages.grpo.top_k=50", "stages.grpo.top_p=1.0",
        "stages.grpo.lr=2e-4", "stages.grpo.save_steps=100000", "stages.grpo.weight_decay=0",
        "stages.grpo.adam_beta2=0.999"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="runs/claim")
    parser.add_argument("--sft-steps", type=int, default=150)
    parser.add_argument("--grpo-steps", type=int, default=40)
    parser.add_argument("--rule", default="label_counterfactual",
                        choices=["label", "label_rotation", "label_prior", "label_counterfactual"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from rich.console import Console

    from ac_eval.analysis.labels import make_labels, silent_votes, write_labels
    from ac_eval.analysis.stats import wilson_interval
    from ac_eval.analysis.subsets import write_task_yamls
    from ac_eval.demo.planted_benchmark import write_synthbench
    from ac_eval.demo.walkthrough import LABEL_RULES, _evaluate, label_quality, shipped_models
    from ac_eval.models.tiny_checkpoints import build_qwen2_audio

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    quiet = Console(quiet=True)
    data = write_synthbench(out / "data")
    truth = json.loads(data["truth"].read_text())["needs_audio"]
    tasks_dir = out / "tasks"
    for split in ("test", "train"):
        write_task_yamls(f"synthbench_{split}", "mmau", "test-mini", data[split]["mmau"], tasks_dir, "training claim")

    # 1. labels of the train split: the shipped voters, with silence
    voter_runs = []
    for i in range(3):
        run = out / "voters" / f"voter-{i}"
        if not (run / "results.json").exists():
            _evaluate(shipped_models() / f"voter-{i}", "synthbench_train", tasks_dir, ["silent", "silent-no-question"],
                      run, None, quiet)
        voter_runs.append(run)
    labels = make_labels(silent_votes(voter_runs, [f"voter-{i}" for i in range(3)]))
    write_labels(labels, out / "train_labels.jsonl")
    rule_quality = {name: label_quality(labels, truth, field) for name, field in LABEL_RULES
                    if any(getattr(lbl, field) is not None for lbl in labels)}  # rotation is not run here

    # 2. the same base, three recipes, through `ac-eval train`
    base = out / "base"
    if not (base / "config.json").exists():
        build_qwen2_audio(base, seed=args.seed)
    finals = {"base (untrained)": base}
    for name, recipe in RECIPES.items():
        target = out / recipe
        cmd = [sys.executable, "-m", "ac_eval", "train", "--recipe", recipe, "--output", str(target),
               f"base_model={base}", f"data={data['train']['audiomcq']}", f"labels={out / 'train_labels.jsonl'}",
               f"label_field={args.rule}", f"seed={args.seed}", f"stages.sft.max_steps={args.sft_steps}",
               *[t for t in TINY if t.startswith("stages.sft.")]]
        if recipe != "all_sft":
            cmd += [f"stages.grpo.max_steps={args.grpo_steps}", *[t for t in TINY if t.startswith("stages.grpo.")]]
        print(f"training {name}: {recipe}", flush=True)
        subprocess.run(cmd, check=True)
        finals[name] = target / "final"

    # 3. every model on the test split, with the audio
    rows = {}
    for name, model in finals.items():
        run = out / "eval" / name.split(" ")[0]
        if not (run / "results.json").exists():
            _evaluate(model, "synthbench_test", tasks_dir, ["original"], run, None, quiet)
        import jsonlines

        verdicts = {r["id"]: bool(r["correct"]) for r in jsonlines.open(run / "samples.jsonl")}
        row = {}
        for part, keep in (("audio-needing", True), ("text-solvable", False)):
            ids = [i for i in verdicts if truth[i] is keep]
            k = sum(verdicts[i] for i in ids)
            low, high = wilson_interval(k, len(ids))
            row[part] = {"n": len(ids), "correct": k, "accuracy": k / len(ids), "ci95": [low, high]}
        rows[name] = row
    result = {"settings": vars(args), "rule_quality_on_train": rule_quality, "accuracy": rows,
              "wall_seconds": round(time.perf_counter() - start)}
    (out / "claim.json").write_text(json.dumps(result, indent=2))
    print(markdown(result))


def markdown(result: dict) -> str:
    lines = ["| model | audio-needing test items (95% CI) | text-solvable items |", "|---|---|---|"]
    for name, row in result["accuracy"].items():
        a, t = row["audio-needing"], row["text-solvable"]
        lines.append(f"| {name} | {100 * a['accuracy']:.1f}% ({a['correct']}/{a['n']}; "
                     f"{100 * a['ci95'][0]:.1f}-{100 * a['ci95'][1]:.1f}) | {100 * t['accuracy']:.1f}% ({t['correct']}/{t['n']}) |")
    lines += ["", "| label rule (train split) | weak predicted | weak in truth | precision | recall |", "|---|---|---|---|---|"]
    for name, q in result["rule_quality_on_train"].items():
        precision, recall = (("—" if q[k] is None else f"{100 * q[k]:.1f}%") for k in ("precision", "recall"))
        lines.append(f"| {name} | {q['weak_predicted']} | {q['weak_true']} | {precision} | {recall} |")
    lines.append(f"\n{result['wall_seconds']} s; settings: {result['settings']}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
