"""`ac-eval demo`: the whole idea, offline, on two CPU cores, in about eight minutes.

A procedural benchmark with planted truth, built like the real ones (some questions need the audio, some give
their answer away in the text, few share their text with another item); a tiny Qwen2-Audio that hears (trained on
audio description, never on multiple choice) and three voters fine-tuned from it on the benchmark's train split
(all shipped in the package; rebuilt with --train-models); the voters evaluated in choice mode with the audio, with
silence, under rotation and with no question; weak/strong labels checked against the truth under every rule;
Weak-to-Strong from the hearing base on the voters' likelihood-rule labels (SFT on the weak train items, GRPO on the
strong ones), evaluated after each stage; and the leaderboard.
"""

from __future__ import annotations

import json
import shutil
import time
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ac_eval.console import make_console
from ac_eval.files import write_json

# Voters differ as real models do: seed, data order and step count. Each is the hearing base + SFT on the planted
# train split (multiple choice), the base's perception put to the benchmark's format.
VOTERS = ({"seed": 0, "steps": 1600}, {"seed": 1, "steps": 1500}, {"seed": 2, "steps": 1700})
VOTER_SEEDS = tuple(v["seed"] for v in VOTERS)
# A 0.35 M-parameter model learns at rates far above the paper's 7B ones; AdamW beta2 0.999, no weight decay.
SFT_SETTINGS = ["stages.sft.per_device_batch=8", "stages.sft.bf16=false", "stages.sft.lr=3e-3", "stages.sft.save_steps=100000",
                "stages.sft.weight_decay=0", "stages.sft.adam_beta2=0.999"]
GEN = "max_gen_toks=16"


def shipped_models() -> Path:
    return Path(str(resources.files("ac_eval") / "data" / "demo_models"))


def train_demo_models(output: Path, data: Path, console: Console | None = None, scale: float = 1.0) -> list[Path]:
    """The hearing base (`ac_eval.demo.hearing`), then the three voters fine-tuned from it by `ac-eval train`
    (all_sft recipe) on the planted train split. Deterministic on CPU: a rebuild gives the shipped weights."""
    from ac_eval.demo.hearing import BASE_STEPS, build_hearing_base
    from ac_eval.post_training.recipe import load_recipe, run_recipe

    base = output / "hearing-base"
    if not (base / "COMPLETE").exists():
        steps = max(1, round(BASE_STEPS * scale))
        shutil.copytree(build_hearing_base(output / "base-build", steps=steps), base, dirs_exist_ok=True)
        if console:
            console.print(f"trained {base}")
    models = []
    for voter in VOTERS:
        seed = voter["seed"]
        target = output / f"voter-{seed}"
        if not (target / "COMPLETE").exists():
            recipe = load_recipe("all_sft", [f"base_model={base}", f"data={data}", f"stages.sft.max_steps={max(1, round(voter['steps'] * scale))}",
                                             f"seed={seed}", f"stages.sft.seed={seed}", *SFT_SETTINGS])
            final = run_recipe(recipe, output / f"train-{seed}")
            shutil.copytree(final, target, dirs_exist_ok=True)
            if console:
                console.print(f"trained {target}")
        models.append(target)
    return models


def _evaluate(model: Path, task: str, tasks_dir: Path, conditions: list[str], out: Path, limit: int | None, console,
              mode: str = "generate") -> Path:
    """`ac-eval run` of one model on one demo task; the run folder."""
    from ac_eval.run import RunConfig, run

    # The run folder's name (voter-0, w2s) is the model's name in labels, tables and the board.
    run(RunConfig(tasks=[task], model_args=f"pretrained={model},name={out.name.removesuffix('-train')}",
                  conditions=conditions, limit=limit, mode=mode,
                  include_paths=[str(tasks_dir)], gen_kwargs=GEN, output_path=str(out)), console)
    return out


# What the voters are asked, in choice mode (each option's log-likelihood, as the likelihood rule needs): with the
# audio, with silence, under rotation, and with no question (the prior rule); on the train split what the
# likelihood rule, which Weak-to-Strong's labels come from, needs.
VOTER_CONDITIONS = ["original", "silent", "silent-rotated", "silent-no-question"]
TRAIN_VOTER_CONDITIONS = ["original", "silent", "silent-rotated"]


# Every label rule, side by side (ac_eval.analysis.labels): name shown, ItemLabel field.
LABEL_RULES = (
    ("paper rule (2 of 3 right with silence)", "label"),
    ("rotation rule (2 of 3 right under every rotation)", "label_rotation"),
    ("prior rule (2 of 3 right, not their no-question answer)", "label_prior"),
    ("counterfactual rule (2 of 3 right on the item and its twins)", "label_counterfactual"),
    ("likelihood rule (2 of 3 sure with silence, the clip adds <= 4x odds)", "label_likelihood"),
)
TRAIN_LABEL_FIELD = "label_likelihood"  # the rule whose train labels Weak-to-Strong trains on


def flipped_items(before: Path, after: Path, condition: str = "original") -> dict:
    """Items whose answer (with audio) changed between two runs of one benchmark, and which way their verdict went,
    overall and per sub-category."""
    import jsonlines

    def rows(run: Path) -> dict:
        return {r["id"]: r for r in jsonlines.open(run / "samples.jsonl") if r["condition"] == condition}

    a, b = rows(before), rows(after)
    common = sorted(set(a) & set(b))
    changed = [i for i in common if a[i]["prediction"] != b[i]["prediction"]]
    by_kind: dict[str, dict[str, int]] = {}
    for i in changed:
        kind = by_kind.setdefault(a[i]["subsets"].get("sub-category", "?"), {"changed": 0, "wrong_to_right": 0, "right_to_wrong": 0})
        kind["changed"] += 1
        kind["wrong_to_right"] += bool(not a[i]["correct"] and b[i]["correct"])
        kind["right_to_wrong"] += bool(a[i]["correct"] and not b[i]["correct"])
    return {"n": len(common), "changed_answer": len(changed),
            "wrong_to_right": sum(k["wrong_to_right"] for k in by_kind.values()),
            "right_to_wrong": sum(k["right_to_wrong"] for k in by_kind.values()), "by_kind": by_kind}


def label_quality(labels, truth: dict[str, bool], field: str) -> dict:
    """Precision and recall of the `weak` label against the planted truth (weak = answerable without audio)."""
    predicted = {lbl.id for lbl in labels if getattr(lbl, field) == "weak"}
    actual = {lbl.id for lbl in labels if not truth[lbl.id]}
    hit = len(predicted & actual)
    return {"weak_predicted": len(predicted), "weak_true": len(actual),
            "precision": hit / len(predicted) if predicted else None, "recall": hit / len(actual) if actual else None}


def best_rule(quality: dict) -> str:
    """The rule whose weaker of precision and recall is highest (the paper's on a tie)."""
    def floor(q: dict) -> float:
        return min(q["precision"] or 0.0, q["recall"] or 0.0)
    return max(quality, key=lambda rule: floor(quality[rule]))


def _benchmark_facts(metadata: Path, truth: dict[str, bool]) -> dict:
    from ac_eval.evaluation.benchmarks import load_benchmark
    from ac_eval.evaluation.records import items_with_twins

    records = load_benchmark("mmau", metadata, "test-mini").records
    twins = items_with_twins(records)
    return {"items": len(records), "text_solvable": sum(not truth[r.id] for r in records),
            "items_with_twins": len(twins), "twin_share": len(twins) / len(records)}


def tiny_recipe_settings(sft_steps: int, grpo_steps: int) -> list[str]:
    """Overrides that fit the shipped recipes to the demo's 0.35 M-parameter model on two CPU cores: far higher
    learning rates than the paper's 7B ones, AdamW beta2 0.999 without weight decay (tests/test_train.py says why),
    4 prompts x the paper's 8 completions per step, at the paper's temperature 1.5, from the whole distribution
    (no top-k/top-p), at most 12 tokens. With temperature 1 and 4 completions an SFT model this confident gives
    the same answer to a whole group, so no advantage and nothing to learn: measured, 60 steps moved nothing."""
    return [f"stages.sft.max_steps={sft_steps}", *SFT_SETTINGS,
            f"stages.grpo.max_steps={grpo_steps}", "stages.grpo.per_device_batch=32", "stages.grpo.num_generations=8",
            "stages.grpo.max_completion_length=12", "stages.grpo.temperature=1.5", "stages.grpo.top_k=0",
            "stages.grpo.top_p=1.0", "stages.grpo.lr=5e-4", "stages.grpo.beta=0.001", "stages.grpo.bf16=false",
            "stages.grpo.save_steps=100000", "stages.grpo.weight_decay=0", "stages.grpo.adam_beta2=0.999"]


def run_demo(output: Path, train_models: bool = False, n_test: int = 120, n_train_labelled: int | None = 600,
             sft_steps: int = 200, grpo_steps: int = 300, training_scale: float = 1.0) -> dict:
    """The whole demo. `training_scale` shrinks every rebuild's step counts (tests run the pipeline at 0.01)."""
    console = make_console()
    start = time.perf_counter()
    output.mkdir(parents=True, exist_ok=True)
    tasks_dir = output / "tasks"  # its own task names: synthetic rows must never pass for MMAU ones

    console.rule("1. a benchmark with planted truth")
    data, truth, benchmark = _planted_benchmark(output, tasks_dir, n_test, console)

    console.rule("2. a tiny Qwen2-Audio that hears (audio description), and three voters fine-tuned from it")
    base, models = _models(output, data, train_models, training_scale, console)

    console.rule("3. with the audio, with silence, under option rotation, and with no question")
    runs = []
    for i, model in enumerate(models):
        console.print(f"voter {i}: {model.name}")
        runs.append(_evaluate(model, "synthbench_test", tasks_dir, VOTER_CONDITIONS, output / "runs" / f"voter-{i}",
                              None, console if i == 0 else Console(quiet=True), mode="choice"))

    console.rule("4. weak/strong labels against the planted truth")
    quality = _label_quality_table(runs, truth, output / "labels.jsonl", console)

    console.rule("5. Weak-to-Strong from the hearing base: SFT on the weak train items, GRPO on the strong ones")
    tuned = _weak_to_strong(output, tasks_dir, data, truth, base, models, n_train_labelled, sft_steps, grpo_steps, console)

    console.rule("6. the model after SFT and after GRPO, evaluated again")
    after_sft = _evaluate(output / "weak-to-strong" / "sft" / "final", "synthbench_test", tasks_dir,
                          ["original", "silent"], output / "runs" / "w2s-after-sft", None, Console(quiet=True))
    after_grpo = _evaluate(tuned, "synthbench_test", tasks_dir, ["original", "silent"], output / "runs" / "w2s", None,
                           console)
    flips = flipped_items(after_sft, after_grpo)
    console.print(f"GRPO changed the model's answer with audio on {flips['changed_answer']} of {flips['n']} test items: "
                  f"{flips['wrong_to_right']} wrong -> right, {flips['right_to_wrong']} right -> wrong "
                  "(" + (", ".join(f"{kind}: +{k['wrong_to_right']} -{k['right_to_wrong']} of {k['changed']} changed"
                                   for kind, k in sorted(flips["by_kind"].items())) or "no change") + ")")

    console.rule("7. leaderboard")
    evaluated = [*runs, after_sft, after_grpo]
    page = _board(evaluated, output / "board")
    summary = {
        "wall_seconds": round(time.perf_counter() - start, 1),
        "benchmark": benchmark,
        "label_quality": quality,
        "best_rule": best_rule(quality),
        "grpo_flips": flips,
        "accuracy": {r.name: _accuracy_by_kind(r) for r in evaluated},
        "files": {"data": str(output / "data"), "truth": str(data["truth"]), "runs": str(output / "runs"),
                  # one run's report and plots stand for every run's (each run folder has its own)
                  "report": str(output / "runs" / "voter-0" / "report.md"),
                  "plots": str(output / "runs" / "voter-0" / "plots"),
                  "labels": str(output / "labels.jsonl"), "w2s_model": str(tuned),
                  "leaderboard": str(output / "board" / "leaderboard.json"), "page": str(page)},
    }
    write_json(output / "demo_summary.json", summary)
    _print_summary(console, summary)
    return summary


def _planted_benchmark(output: Path, tasks_dir: Path, n_test: int, console) -> tuple[dict, dict, dict]:
    """Write the benchmark and its task YAMLs; (files, truth per item, facts about the test split)."""
    from ac_eval.analysis.subsets import write_task_yamls
    from ac_eval.demo.planted_benchmark import write_synthbench

    data = write_synthbench(output / "data", n_test=n_test)
    truth = json.loads(data["truth"].read_text())["needs_audio"]
    for split in ("test", "train"):
        write_task_yamls(f"synthbench_{split}", "mmau", "test-mini", data[split]["mmau"], tasks_dir,
                         "the demo's planted-truth benchmark (MMAU format)")
    benchmark = _benchmark_facts(data["test"]["mmau"], truth)
    console.print(f"test: {n_test} questions ({benchmark['text_solvable']} answerable from the text alone; "
                  f"{benchmark['items_with_twins']} with a twin, i.e. the same question and options and another "
                  f"answer); train split for the models; truth in {data['truth']}")
    return data, truth, benchmark


def _models(output: Path, data: dict, train_models: bool, training_scale: float, console) -> tuple[Path, list[Path]]:
    """The hearing base and the voters: the shipped ones, or rebuilt (`--train-models`, or none shipped)."""
    if train_models or not (shipped_models() / "voter-0" / "config.json").exists():
        console.print("training the hearing base, then the voters...")
        models = train_demo_models(output / "models", data["train"]["audiomcq"], console, training_scale)
        return output / "models" / "hearing-base", models
    console.print(f"shipped checkpoints: {shipped_models()} (rebuild: ac-eval demo --train-models)")
    return shipped_models() / "hearing-base", [shipped_models() / f"voter-{s}" for s in VOTER_SEEDS]


def _voter_labels(runs: list[Path], path: Path) -> list:
    """Every rule's labels from the voters' runs (named voter-0, voter-1, ... as in the runs), written to `path`."""
    from ac_eval.analysis.labels import make_labels, silent_votes, write_labels
    from ac_eval.run.folder import read_samples

    labels = make_labels(silent_votes(read_samples(runs, [f"voter-{i}" for i in range(len(runs))])))
    write_labels(labels, path)
    return labels


def _label_quality_table(runs: list[Path], truth: dict, path: Path, console) -> dict:
    """Each rule's labels against the planted truth, as a table."""
    labels = _voter_labels(runs, path)
    quality = {rule: label_quality(labels, truth, field) for rule, field in LABEL_RULES}
    table = Table(title="Labels vs truth (positive = weak, i.e. answerable without audio)", title_justify="left")
    for col in ("rule", "weak predicted", "weak in truth", "precision", "recall"):
        table.add_column(col, justify="left" if col == "rule" else "right")
    for rule, q in quality.items():
        table.add_row(rule, str(q["weak_predicted"]), str(q["weak_true"]),
                      "—" if q["precision"] is None else f"{100 * q['precision']:.1f}%",
                      "—" if q["recall"] is None else f"{100 * q['recall']:.1f}%")
    console.print(table)
    return quality


def _weak_to_strong(output: Path, tasks_dir: Path, data: dict, truth: dict, base: Path, models: list[Path],
                    n_train_labelled: int | None, sft_steps: int, grpo_steps: int, console) -> Path:
    """The voters label the first train items; Weak-to-Strong from the hearing base on those labels."""
    from ac_eval.post_training.recipe import load_recipe, run_recipe

    train_runs = [_evaluate(model, "synthbench_train", tasks_dir, TRAIN_VOTER_CONDITIONS,
                            output / "runs" / f"voter-{i}-train", n_train_labelled, Console(quiet=True), mode="choice")
                  for i, model in enumerate(models)]
    train_labels = _voter_labels(train_runs, output / "train_labels.jsonl")
    counts = {lab: [lbl.id for lbl in train_labels if getattr(lbl, TRAIN_LABEL_FIELD) == lab] for lab in ("weak", "strong")}
    console.print(f"train items labelled: {len(train_labels)} ({TRAIN_LABEL_FIELD}): weak {len(counts['weak'])} "
                  f"({sum(not truth[i] for i in counts['weak'])} truly text-solvable), strong {len(counts['strong'])} "
                  f"({sum(truth[i] for i in counts['strong'])} truly audio-needing)")
    recipe = load_recipe("weak_sft_strong_grpo", [
        f"base_model={base}", f"data={data['train']['audiomcq']}", f"labels={output / 'train_labels.jsonl'}",
        f"label_field={TRAIN_LABEL_FIELD}", *tiny_recipe_settings(sft_steps, grpo_steps)])
    return run_recipe(recipe, output / "weak-to-strong")


def _board(evaluated: list[Path], board_dir: Path) -> Path:
    from ac_eval.board.build import build_board, entries_from_run, write_board

    entries = [e for r in evaluated for e in entries_from_run(r)]
    return write_board(build_board(entries), board_dir)  # synthetic rows only: no published numbers beside them


def _accuracy_by_kind(run_dir: Path) -> dict:
    report = json.loads((run_dir / "results.json").read_text())["tasks"]["synthbench_test"]["conditions"]
    return {cond: {"overall": s["accuracy"],
                   **{k: v["accuracy"] for k, v in s["subsets"]["sub-category"].items()}}
            for cond, s in report.items()}


def _print_summary(console: Console, summary: dict) -> None:
    from ac_eval.demo.planted_benchmark import AUDIO_KINDS, TEXT_KINDS

    kinds = ["overall", *AUDIO_KINDS, *TEXT_KINDS]
    table = Table(title="Accuracy on the test split (%): with audio / with silence", title_justify="left")
    table.add_column("model")
    for k in kinds:
        table.add_column(k, justify="right")
    for name, by_cond in summary["accuracy"].items():
        def cell(k):
            a, s = by_cond.get("original", {}).get(k), by_cond.get("silent", {}).get(k)
            return f"{'—' if a is None else f'{100 * a:.0f}'} / {'—' if s is None else f'{100 * s:.0f}'}"
        table.add_row(name, *[cell(k) for k in kinds])
    console.print(table)
    console.print(f"demo finished in {summary['wall_seconds']:.0f} s. Files:")
    for k, v in summary["files"].items():
        console.print(f"  {k:<12} {v}")
