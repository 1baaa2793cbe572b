"""The analysis on models whose behaviour is known: stubs with planted text-solvable items, guessers, a deaf one."""

import json
from pathlib import Path

import jsonlines
import pytest

from ac_eval.analysis.labels import chance_account, make_labels, silent_votes
from ac_eval.run.folder import read_samples
from ac_eval.cli import main
from ac_eval.run import RunConfig, run
from ac_eval.testing.stub_models import write_stub

LIMIT = 40


@pytest.fixture(scope="module")
def planted(bench_root):
    rows = json.loads((bench_root / "mmau" / "mmau-test-mini.json").read_text())[:LIMIT]
    return {r["id"] for r in rows[::3]}  # the ground truth: text-solvable items


@pytest.fixture(scope="module")
def stub_runs(bench_root, planted, tmp_path_factory):
    """Two listeners that can answer the planted items without audio, and a pure guesser."""
    root = tmp_path_factory.mktemp("stubs")
    meta = bench_root / "mmau" / "mmau-test-mini.json"
    specs = [("listener", planted, 1), ("listener", planted, 2), ("guesser", (), 3)]
    runs = []
    for i, (behaviour, items, seed) in enumerate(specs):
        stub = write_stub(root / f"stub{i}", behaviour, "mmau", meta, "test-mini", sorted(items), seed)
        out = root / f"run{i}"
        run(RunConfig(tasks=["mmau"], conditions=["original", "silent", "silent-rotated"], model_args=f"pretrained={stub}",
                      data_dir=str(bench_root), limit=LIMIT, output_path=str(out)))
        runs.append(out)
    return runs


def test_planted_labels_recovered(stub_runs, planted):
    labels = make_labels(silent_votes(read_samples(stub_runs, ["a", "b", "guess"])))
    assert len(labels) == LIMIT
    weak = {lbl.id for lbl in labels if lbl.label == "weak"}
    assert planted <= weak  # paper rule: every planted item is weak (recall 1) ...
    # ... but guessing voters add chance "weak" items; the rotation rule removes them: exact recovery
    assert {lbl.id for lbl in labels if lbl.label_rotation == "weak"} == planted
    account = chance_account(labels)
    expected = sum({2: 0.5, 4: 0.15625, 5: 0.104}.get(lbl.n_choices, 0) for lbl in labels)
    assert account["expected_weak_if_all_guess"] == pytest.approx(expected, abs=0.1)
    assert account["rotation"]["expected_weak_if_all_guess"] < 0.01
    assert account["rotation"]["paper_weak_not_weak_under_rotation"] == len(weak - planted)


def test_listener_has_a_real_audio_contribution(stub_runs):
    report = json.loads((stub_runs[0] / "results.json").read_text())["tasks"]["mmau_test_mini"]
    assert report["conditions"]["original"]["accuracy_official"] == 1.0
    paired = report["paired"]["silent"]["overall"]
    assert paired["delta"] > 0.3 and paired["mcnemar_p"] < 0.01 and paired["null_only"] == 0
    assert not report["deaf_alarm"]


def test_deaf_model_trips_the_alarm(bench_root, tmp_path, capsys):
    stub = write_stub(tmp_path / "deaf", "deaf", "mmau", bench_root / "mmau" / "mmau-test-mini.json", "test-mini")
    report = run(RunConfig(tasks=["mmau"], model_args=f"pretrained={stub}", data_dir=str(bench_root), limit=LIMIT,
                           output_path=str(tmp_path / "run")))
    task = report["tasks"]["mmau_test_mini"]
    assert task["deaf_alarm"] == {"silent": True} and task["paired"]["silent"]["same_answer_rate"] == 1.0
    assert "DEAF MODEL?" in capsys.readouterr().out
    assert "DEAF MODEL?" in (tmp_path / "run" / "report.md").read_text()


def test_labels_cli_and_filter_to_a_runnable_strong_task(stub_runs, planted, bench_root, tmp_path):
    labels = tmp_path / "labels.jsonl"
    assert main(["labels", *map(str, stub_runs), "--names", "a,b,guess", "--output", str(labels)]) == 0
    rows = list(jsonlines.open(labels))
    assert {"id", "label", "votes", "models"} <= set(rows[0]) and rows[0]["models"] == ["a", "b", "guess"]
    summary = json.loads(labels.with_suffix(".summary.json").read_text())
    assert summary["n_items"] == LIMIT and "rotation" in summary

    subset = tmp_path / "strong" / "mmau-test-mini-strong.json"
    assert main(["filter", "--labels", str(labels), "--label-field", "label_rotation", "--keep", "strong",
                 "--benchmark", "mmau", "--metadata", str(bench_root / "mmau" / "mmau-test-mini.json"),
                 "--output", str(subset)]) == 0
    kept = json.loads(subset.read_text())
    assert {r["id"] for r in kept} == {r["id"] for r in rows} - planted
    assert all(Path(r["audio_id"]).is_absolute() and Path(r["audio_id"]).exists() for r in kept)
    assert set(kept[0]) == set(json.loads((bench_root / "mmau" / "mmau-test-mini.json").read_text())[0])

    guesser = write_stub(tmp_path / "g", "guesser", "mmau", bench_root / "mmau" / "mmau-test-mini.json", "test-mini")
    report = run(RunConfig(tasks=["mmau_test_mini_strong"], model_args=f"pretrained={guesser}",
                           include_paths=[str(subset.parent)], output_path=str(tmp_path / "strong-run")))
    conds = report["tasks"]["mmau_test_mini_strong"]["conditions"]
    assert conds["original"]["n_total"] == conds["silent"]["n_total"] == len(kept)


def test_split_report(stub_runs, tmp_path):
    labels = tmp_path / "labels.jsonl"
    main(["labels", *map(str, stub_runs), "--names", "a,b,guess", "--output", str(labels)])
    assert main(["split-report", *map(str, stub_runs), "--labels", str(labels), "--names", "a,b,guess",
                 "--output", str(tmp_path / "split")]) == 0
    report = json.loads((tmp_path / "split" / "split_report.json").read_text())
    mmau = report["benchmarks"]["mmau"]
    rows = list(jsonlines.open(labels))
    assert mmau["weak_share"] == pytest.approx(sum(r["label"] == "weak" for r in rows) / len(rows))
    assert mmau["weak_share"] + mmau["strong_share"] == pytest.approx(1.0)
    a_correct = [r for r in jsonlines.open(stub_runs[0] / "samples.jsonl") if r["condition"] == "silent"]
    assert mmau["silent_accuracy"]["a"] == pytest.approx(sum(r["correct"] for r in a_correct) / len(a_correct))
    assert set(mmau["subsets"]) == {"task", "difficulty", "sub-category"}
    assert "random_guess" in mmau["subsets"]["task"]["sound"]
    assert "Table 2 form" in (tmp_path / "split" / "split_report.md").read_text()


def _fake_run(folder: Path, rows: list[dict]) -> Path:
    """A run folder as `labels` reads it: samples.jsonl rows (id, condition, status, correct) + results.json."""
    folder.mkdir(parents=True)
    run_id = f"run-{folder.name}"
    (folder / "results.json").write_text(json.dumps({"run_id": run_id, "tasks": {}, "model": {"name": folder.name},
                                                     "config": {"model_args": f"pretrained={folder.name}"}}))
    (folder / "report.md").write_text(f"run {run_id}\n")
    with jsonlines.open(folder / "samples.jsonl", "w") as w:
        for r in rows:
            w.write({"run_id": run_id, "benchmark": "mmau", "n_choices": 4, "condition": "silent", **r})
    return folder


def test_missing_or_failed_votes_are_not_wrong_votes(tmp_path, capsys):
    """k=2 of 3. A vote is a model's answer; an audio/request error, an invalid prediction or a missing row is no
    vote, and an item whose label those missing votes could change is undetermined."""
    right = {"status": "ok", "correct": True}
    wrong = {"status": "ok", "correct": False}
    unreadable = {"status": "unparseable", "correct": False}
    excluded = {"status": "unparseable", "correct": None}  # MMSU wrong format: excluded officially, still an answer
    failed = {"status": "request_error", "correct": None}
    audio = {"status": "audio_error", "correct": None}
    plan = {  # item -> votes of models a, b, c (None: no row at all)
        "i1": (right, right, failed),         # 2 right already: weak
        "i2": (right, failed, wrong),         # the failed vote decides: undetermined
        "i3": (wrong, failed, unreadable),    # even if it were right, 1 < 2: strong
        "i4": (right, audio, None),           # two missing: undetermined
        "i5": (wrong, excluded, None),        # 0 right, 1 missing: strong
        "i6": (right, right, right),
    }
    runs = []
    for m, name in enumerate("abc"):
        rows = [{"id": item, **votes[m]} for item, votes in plan.items() if votes[m] is not None]
        runs.append(_fake_run(tmp_path / name, rows))
    labels = {lbl.id: lbl for lbl in make_labels(silent_votes(read_samples(runs, list("abc"))))}
    assert {i: lbl.label for i, lbl in labels.items()} == {
        "i1": "weak", "i2": "undetermined", "i3": "strong", "i4": "undetermined", "i5": "strong", "i6": "weak"}
    assert {i: lbl.n_valid_votes for i, lbl in labels.items()} == {"i1": 2, "i2": 2, "i3": 2, "i4": 1, "i5": 2, "i6": 3}
    assert labels["i2"].correct_by_model == {"a": True, "b": None, "c": False}

    out = tmp_path / "labels.jsonl"
    assert main(["labels", *map(str, runs), "--names", "a,b,c", "--output", str(out)]) == 0
    said = capsys.readouterr()
    assert "2 undetermined" in said.out and "runs cover different items" in said.err  # warnings go to stderr
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    assert summary["undetermined"] == 2 and summary["undetermined_ids"] == ["i2", "i4"]
    assert summary["weak"] == 2 and summary["strong"] == 2
    # filtering keeps undetermined items out of both subsets, and counts them
    from ac_eval.analysis.labels import read_labels

    assert read_labels(out)["i2"] == "undetermined"

    # k larger than the number of runs is refused (one run and k=2 used to call everything strong)
    assert main(["labels", str(runs[0]), "--output", str(tmp_path / "one.jsonl")]) == 2
    assert "--k 2 with 1 run(s)" in capsys.readouterr().err
    with pytest.raises(ValueError, match="k=4 with 3 run"):
        make_labels(silent_votes(read_samples(runs, list("abc"))), k=4)


def test_rotation_votes_with_a_missing_rotation(tmp_path):
    def rot(item, k, vote):
        return {"id": f"{item}::rot{k}", "condition": "silent-rotated", **vote}

    ok = {"status": "ok", "correct": True}
    no = {"status": "ok", "correct": False}
    err = {"status": "audio_error", "correct": None}
    runs = []
    for name, votes in (("a", (ok, ok, ok, ok)), ("b", (ok, ok, err, ok)), ("c", (ok, no, ok, ok))):
        rows = [{"id": "q", "status": "ok", "correct": True}] + [rot("q", k, v) for k, v in enumerate(votes)]
        runs.append(_fake_run(tmp_path / name, rows))
    (label,) = make_labels(silent_votes(read_samples(runs, list("abc"))))
    # a solves every rotation, b has one rotation missing (unknown), c fails one: 1 sure, 1 unknown -> undetermined
    assert label.label == "weak" and label.label_rotation == "undetermined"
    assert label.votes_rotation == 1 and label.n_valid_votes_rotation == 2 and label.n_rotations == 4


def test_metadata_notes_say_what_they_mean():
    from ac_eval.analysis.report import load_notes_line

    assert load_notes_line({"load_issues": {}}) is None
    line = load_notes_line({"load_issues": {"duplicate_choices": 3, "answer_not_in_choices": 1, "skipped: bad json": 2}})
    assert "duplicate_choices: 3 item(s) (two choices are equal ignoring case and spaces" in line
    assert "answer_not_in_choices: 1 item(s) (the gold answer is not one of the item's choices" in line
    assert "skipped: bad json: 2 item(s) (left out of the run)" in line


def test_prior_and_counterfactual_rules(tmp_path, capsys):
    """Three models with a default answer 'high': right with silence on every 'high' item. Items t1/t2 share their
    text (question and options) but not their answer: twins, so no model solves them from the text. Item u is
    unique and answered right by everyone with silence (its text gives it away)."""
    def row(item, answer, chosen, correct, condition="silent", key=None):
        return {"id": item, "condition": condition, "status": "ok", "correct": correct, "chosen": chosen,
                "answer": answer, "text_key": key or f"k-{item}"}

    runs = []
    for name in "abc":
        rows = [
            row("t1", "high", 0, True, key="pitch"),   # the default answer happens to be right
            row("t2", "low", 0, False, key="pitch"),   # ... and wrong on the twin
            row("u", "dog", 1, True),                  # the text gives it away
            # with no question at all: 'high' (option 0) for the pitch twins, nothing readable for u
            row("t1", "high", 0, True, "silent-no-question"), row("t2", "low", 0, False, "silent-no-question"),
            {**row("u", "dog", None, False, "silent-no-question"), "status": "unparseable"},
        ]
        runs.append(_fake_run(tmp_path / name, rows))
    labels = {lbl.id: lbl for lbl in make_labels(silent_votes(read_samples(runs, list("abc"))))}
    assert {i: lbl.label for i, lbl in labels.items()} == {"t1": "weak", "t2": "strong", "u": "weak"}  # paper rule
    assert {i: lbl.label_counterfactual for i, lbl in labels.items()} == {"t1": "strong", "t2": "strong", "u": "weak"}
    assert labels["t1"].n_twins == 1 and labels["u"].n_twins == 0
    assert {i: lbl.label_prior for i, lbl in labels.items()} == {"t1": "strong", "t2": "strong", "u": "weak"}
    assert labels["t1"].prior_match_by_model == {"a": True, "b": True, "c": True}
    out = tmp_path / "labels.jsonl"
    assert main(["labels", *map(str, runs), "--names", "a,b,c", "--output", str(out)]) == 0
    said = capsys.readouterr().out
    assert "counterfactual rule" in said and "prior rule" in said
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    assert summary["counterfactual"]["paper_weak_ruled_out_by_twins"] == 1 and summary["counterfactual"]["items_with_twins"] == 2
    assert summary["prior"]["paper_weak_explained_by_prior"] == 1
    from ac_eval.analysis.labels import read_labels

    assert read_labels(out, "label_counterfactual") == {"t1": "strong", "t2": "strong", "u": "weak"}


def test_text_key_ignores_option_order_and_case():
    from ac_eval.evaluation.records import AudioRef, Record, text_key

    def rec(question, choices):
        return Record("mmau", "x", question, choices, choices[0], AudioRef("x.wav"))

    a = rec("Is the tone high or low?", ["high", "low"])
    b = rec("is the tone  HIGH or low?", ["Low", "high"])
    c = rec("Is the tone high or low?", ["high", "low", "none"])
    assert text_key(a) == text_key(b) != text_key(c)
