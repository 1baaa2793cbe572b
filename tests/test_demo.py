"""The demo pipeline, end to end, in a quick mode (models trained for a few steps, small splits)."""

import json
from pathlib import Path

import jsonlines

from ac_eval.demo.planted_benchmark import write_synthbench
from ac_eval.demo.walkthrough import label_quality, run_demo


def test_synthbench_has_planted_truth_and_both_formats(tmp_path):
    from ac_eval.demo.planted_benchmark import ANSWERS, AUDIO_KINDS, PRIORS, TEXT_KINDS
    from ac_eval.evaluation.benchmarks import load_benchmark
    from ac_eval.evaluation.records import items_with_twins

    paths = write_synthbench(tmp_path, n_test=120, seed=3)
    truth = json.loads(paths["truth"].read_text())["needs_audio"]
    test = json.loads(paths["test"]["mmau"].read_text())
    assert len(test) == 120 and all(r["answer"] in r["choices"] for r in test)
    text = [r for r in test if not truth[r["id"]]]
    assert {r["sub-category"] for r in text} == set(TEXT_KINDS)
    for r in text:
        if r["sub-category"] == "named":  # the question states the answer
            assert r["answer"] in r["question"].lower()
        if r["sub-category"] == "fits":  # the only option that answers this kind of question
            kind = next(k for k in AUDIO_KINDS if r["answer"] in ANSWERS[k])
            assert [c for c in r["choices"] if c in ANSWERS[kind]] == [r["answer"]]
    # audio questions in several wordings and option sets: twins (same text, another answer) are rare, as in MMAU
    for kind in AUDIO_KINDS:
        items = [r for r in test if r["sub-category"] == kind]
        assert len({r["question"] for r in items}) > len(items) / 2 and len({r["answer"] for r in items}) > 1
    records = load_benchmark("mmau", paths["test"]["mmau"], "test-mini").records
    assert len(items_with_twins(records)) <= 0.05 * len(records)
    # the train split plants answer priors: each audio kind's prior answer is its most frequent one there
    train = list(jsonlines.open(paths["train"]["audiomcq"]))
    for kind in AUDIO_KINDS:
        answers = [r["answer"] for r in train if r["id"].split("-")[1] == kind]
        assert max(set(answers), key=answers.count) == PRIORS[kind]
        assert answers.count(PRIORS[kind]) / len(answers) > 1 / len(ANSWERS[kind]) + 0.05, (kind, len(answers))
    copies = [r for r in train if r["id"].endswith("-silent")]
    assert copies and all(r["audio-contribution"] == "weak" for r in copies)
    again = write_synthbench(tmp_path / "again", n_test=120, seed=3)
    assert again["test"]["mmau"].read_text() == paths["test"]["mmau"].read_text()  # fixed seed


def test_label_quality_counts():
    class L:
        def __init__(self, id, label):
            self.id, self.label = id, label

    truth = {"a": False, "b": False, "c": True, "d": True}  # a, b answerable without audio
    q = label_quality([L("a", "weak"), L("b", "strong"), L("c", "weak"), L("d", "strong")], truth, "label")
    assert q == {"weak_predicted": 2, "weak_true": 2, "precision": 0.5, "recall": 0.5}


def test_demo_pipeline_quick(tmp_path):
    summary = run_demo(tmp_path, n_test=16, n_train_labelled=60, sft_steps=2, grpo_steps=2)
    assert {"truth", "labels", "leaderboard", "page", "w2s_model", "report", "plots"} <= set(summary["files"])
    for key, path in summary["files"].items():  # every file the demo names is there
        assert Path(path).exists(), key
    assert list(Path(summary["files"]["plots"]).glob("*.png"))
    assert set(summary["accuracy"]) == {"voter-0", "voter-1", "voter-2", "w2s-after-sft", "w2s"}
    quality = summary["label_quality"]
    assert len(quality) == 5 and all(q["weak_true"] > 0 for q in quality.values())
    assert {"changed_answer", "wrong_to_right", "right_to_wrong", "by_kind"} <= set(summary["grpo_flips"])
    board = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    assert {e["benchmark"] for e in board["entries"]} == {"synthbench_test"}  # never passed off as MMAU
    assert all(e["source"] == "measured" for e in board["entries"])
    # readable names on the board, one row per model, no path in sight
    assert sorted(e["model"] for e in board["entries"]) == ["voter-0", "voter-1", "voter-2", "w2s", "w2s-after-sft"]
    assert all("/" not in (e["provenance"]["recipe"] or {}).get("base_model", "") for e in board["entries"])
    labels = list(jsonlines.open(summary["files"]["labels"]))
    assert set(labels[0]["models"]) == {"voter-0", "voter-1", "voter-2"}
    record = json.loads((tmp_path / "weak-to-strong" / "final" / "ac_eval_training.json").read_text())
    assert record["base_model"] == "hearing-base" and [s["kind"] for s in record["stages"]] == ["sft", "grpo"]
    assert json.loads((tmp_path / "demo_summary.json").read_text())["wall_seconds"] > 0


def test_demo_models_are_rebuilt_by_one_call(tmp_path):
    """`ac-eval demo --train-models` rebuilds the hearing base and the voters from it (here at 1% of the steps)."""
    from ac_eval.demo.walkthrough import VOTERS, train_demo_models
    from ac_eval.models import load_backend

    data = write_synthbench(tmp_path / "data", n_train=24, n_test=4)
    models = train_demo_models(tmp_path / "models", data["train"]["audiomcq"], scale=0.01)
    assert [m.name for m in models] == [f"voter-{v['seed']}" for v in VOTERS]
    base = json.loads((tmp_path / "models" / "hearing-base" / "ac_eval_training.json").read_text())
    assert base["recipe"] == "audio-description" and [s["name"] for s in base["stages"]] == ["describe"]
    voter = json.loads((models[0] / "ac_eval_training.json").read_text())
    assert voter["base_model"] == "hearing-base" and voter["recipe"] == "all-sft"
    load_backend(str(models[-1]))  # loads like any checkpoint
    # deterministic on CPU: a second rebuild gives the same bytes, base and voters alike
    again = train_demo_models(tmp_path / "again", data["train"]["audiomcq"], scale=0.01)
    for a, b in zip([tmp_path / "models" / "hearing-base", *models], [tmp_path / "again" / "hearing-base", *again]):
        assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes(), a.name


def test_the_likelihood_rule_reads_the_voters_where_the_benchmark_gives_nothing_away(tmp_path):
    """The demo's test split has twins for a few items only, so no rule can lean on the benchmark's structure; the
    likelihood rule, reading how sure the shipped voters are of the gold with silence and with the clip, still
    reaches precision and recall >= 0.9 for weak. Controls: the structure alone ("weak iff no twin") and the same rule on votes moved to
    other items (each item judged on another item's votes) both fall short."""
    from ac_eval.analysis.labels import make_labels, silent_votes
    from ac_eval.run.folder import read_samples

    summary = run_demo(tmp_path, n_test=120, n_train_labelled=30, sft_steps=1, grpo_steps=1)
    assert summary["benchmark"]["twin_share"] <= 0.05
    quality = summary["label_quality"]
    paper = quality["paper rule (2 of 3 right with silence)"]
    best = next(q for rule, q in quality.items() if rule.startswith("likelihood rule"))
    assert paper["precision"] < 0.9  # the problem is there: answer priors right with silence
    assert best["precision"] >= 0.9 and best["recall"] >= 0.9, best
    assert summary["best_rule"].startswith("likelihood")
    truth = json.loads(Path(summary["files"]["truth"]).read_text())["needs_audio"]
    votes = silent_votes(read_samples([tmp_path / "runs" / f"voter-{i}" for i in range(3)], ["a", "b", "c"]))
    labels = make_labels(votes)
    structure_only = [type("L", (), {"id": lbl.id, "label": "strong" if lbl.n_twins else "weak"}) for lbl in labels]
    assert label_quality(structure_only, truth, "label")["precision"] < 0.5
    keys = sorted(votes.items)
    moved = keys[1:] + keys[:1]  # every item gets the votes of the next one
    votes.items = {k: votes.items[m] for k, m in zip(keys, moved)}
    shuffled = label_quality(make_labels(votes), truth, "label_likelihood")
    assert shuffled["precision"] < 0.9 or shuffled["recall"] < 0.9, shuffled


def test_flipped_items_counts_each_way(tmp_path):
    from ac_eval.demo.walkthrough import flipped_items

    def run(name, answers):
        folder = tmp_path / name
        folder.mkdir()
        with jsonlines.open(folder / "samples.jsonl", "w") as w:
            for i, (prediction, correct) in enumerate(answers):
                w.write({"id": f"q{i}", "condition": "original", "prediction": prediction, "correct": correct,
                         "subsets": {"sub-category": "pitch" if i < 2 else "count"}})
        return folder

    before = run("a", [("high", True), ("high", False), ("two", False), ("one", True)])
    after = run("b", [("low", False), ("low", True), ("two", False), ("three", False)])
    flips = flipped_items(before, after)
    assert flips["n"] == 4 and flips["changed_answer"] == 3 and flips["wrong_to_right"] == 1 and flips["right_to_wrong"] == 2
    assert flips["by_kind"] == {"pitch": {"changed": 2, "wrong_to_right": 1, "right_to_wrong": 1},
                                "count": {"changed": 1, "wrong_to_right": 0, "right_to_wrong": 1}}
