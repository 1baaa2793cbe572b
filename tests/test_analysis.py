"""The analysis on models whose behaviour is known: stubs with planted text-solvable items, guessers, a deaf one."""

import json
from pathlib import Path

import jsonlines
import pytest

from ac_eval.cli import main
from ac_eval.labels import chance_account, make_labels, silent_votes
from ac_eval.models.stub import write_stub
from ac_eval.run import RunConfig, run

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
    labels = make_labels(silent_votes(stub_runs, ["a", "b", "guess"]))
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
