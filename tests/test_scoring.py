import json

import pytest

from ac_eval.benchmarks import load_benchmark
from ac_eval.records import AudioRef, Record
from ac_eval.score_cli import PredictionsError, score_file
from ac_eval.scoring import (
    AUDIO_ERROR_PREFIX,
    ambiguous_choices,
    extract_answer,
    mmau_string_match,
    mmsu_letter,
    score_item,
    summarize,
)
from conftest import shared_file


def rec(choices, answer, rid="r"):
    return Record("mmau", rid, "q?", choices, answer, AudioRef("x.wav"))


def test_extract_answer_r1aqa_rule():
    assert extract_answer("think... <answer> Man </answer> <answer>Woman</answer>") == "Man"
    assert extract_answer("  Woman \n") == "Woman"
    assert extract_answer("<answer></answer>") == ""


@pytest.mark.parametrize(
    "prediction,expected",
    [
        ("Man", True),
        ("the answer is man.", True),
        ("A", False),  # a bare letter never matches
        ("Man or Woman", False),  # a token unique to a wrong choice
        ("", False),
    ],
)
def test_mmau_string_match(prediction, expected):
    assert mmau_string_match("Man", prediction, ["Man", "Woman", "Child", "Robot"]) is expected


def test_official_rule_ambiguity_is_reproduced_and_reported():
    choices = ["dog barking", "barking dog", "cat"]
    assert ambiguous_choices("dog barking", choices) == [1]
    # The official rule accepts the wrong choice (same token set): reproduced, but strict says wrong.
    s = score_item(rec(choices, "dog barking"), "<answer>barking dog</answer>")
    assert s.correct_official is True and s.correct_strict is False and s.ambiguous


def test_mmsu_letter_rule():
    assert mmsu_letter("B") == "B"
    assert mmsu_letter(" C.\n") == "C"
    assert mmsu_letter("(D)") == "D"  # second-to-last
    assert mmsu_letter("The answer") is None


def test_unparseable_is_counted_never_guessed():
    r = rec(["yes", "no"], "no")
    s = score_item(r, "I cannot tell")
    assert s.status == "unparseable" and s.correct_official is False and s.chosen is None
    letter = score_item(r, "I cannot tell", rule="mmsu_letter")
    assert letter.correct_official is None and letter.correct_strict is False  # excluded officially, wrong strictly


def test_missing_and_audio_errors_are_skipped_officially():
    r = rec(["a", "b"], "a")
    assert score_item(r, None).status == "missing"
    err = score_item(r, f"{AUDIO_ERROR_PREFIX} audio file not found: x.wav")
    assert err.status == "audio_error" and err.correct_official is None and err.correct_strict is False
    assert "not found" in err.error
    summary = summarize([r, r], [err, score_item(r, "a")])
    assert summary["n_scored"] == 1 and summary["accuracy_official"] == 1.0 and summary["accuracy_strict"] == 0.5


def test_many_choices():
    choices = [f"option {w}" for w in "one two three four five six seven eight".split()]
    s = score_item(rec(choices, "option eight"), "<answer>option eight</answer>")
    assert s.correct_official and s.chosen == 7


def _write_predictions(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_score_exact_answers_on_real_mmau(tmp_path):
    meta = shared_file("mmau", "mmau-test-mini.json")
    records = load_benchmark("mmau", meta, "test-mini").records
    preds = _write_predictions(tmp_path / "p.jsonl", [{"id": r.id, "prediction": f"<answer>{r.answer}</answer>"} for r in records])
    result = score_file("mmau", meta, preds)
    assert result["accuracy_official"] == 1.0 and result["n_scored"] == 1000
    assert result["n_ambiguous_items"] == 9
    assert set(result["subsets"]) == {"task", "difficulty", "sub-category"}
    assert result["subsets"]["task"]["music"]["n_total"] == 334
    assert abs(result["random_guess"] - 0.255) < 0.001


def test_score_half_the_items(tmp_path):
    meta = shared_file("mmau", "mmau-test-mini.json")
    records = load_benchmark("mmau", meta, "test-mini").records
    rows = [{"id": r.id, "prediction": r.answer} for r in records[::2]]
    result = score_file("mmau", meta, _write_predictions(tmp_path / "p.jsonl", rows))
    assert result["n_scored"] == 500 and result["n_missing"] == 500
    assert result["accuracy_official"] == 1.0 and result["accuracy_strict"] == 0.5


def test_score_wrong_letters_and_unknown_ids(tmp_path):
    meta = shared_file("mmar", "MMAR-meta.json")
    records = load_benchmark("mmar", meta).records
    rows = [{"id": r.id, "prediction": "A"} for r in records] + [{"id": "not-an-item", "prediction": "x"}]
    rows.append({"id": records[0].id, "prediction": "dup"})
    result = score_file("mmar", meta, _write_predictions(tmp_path / "p.jsonl", rows))
    assert result["accuracy_official"] == 0.0  # MMAR's rule never accepts a bare letter
    assert result["n_unknown_ids"] == 1 and result["n_duplicate_predictions"] == 1
    assert result["n_answer_not_in_choices"] == 6 and result["n_ambiguous_items"] == 20


def test_score_bad_predictions_file(tmp_path):
    meta = shared_file("mmau", "mmau-test-mini.json")
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"id": "x", "prediction": "a"}\n{"id": "y"}\n')
    with pytest.raises(PredictionsError, match=r"p.jsonl:2"):
        score_file("mmau", meta, bad)


def test_score_cli(tmp_path):
    from ac_eval.cli import main

    meta = shared_file("mmau", "mmau-test-mini.json")
    records = load_benchmark("mmau", meta, "test-mini").records
    preds = _write_predictions(tmp_path / "p.jsonl", [{"id": r.id, "prediction": r.answer} for r in records[:10]])
    out = tmp_path / "out.json"
    assert main(["score", "--benchmark", "mmau", "--metadata", str(meta), "--predictions", str(preds), "--output", str(out)]) == 0
    result = json.loads(out.read_text())
    for key in ("accuracy_official", "accuracy_strict", "n_total", "n_scored", "n_unparseable", "subsets"):
        assert key in result
    assert result["n_scored"] == 10 and result["n_total"] == 1000
    assert main(["score", "--benchmark", "mmau", "--metadata", str(tmp_path / "nope.json"), "--predictions", str(preds),
                 "--output", str(out)]) == 2
