"""Scoring equals the official scripts item for item: prediction files in the shapes public pipelines write, on
the real metadata, scored by `ac-eval score` and by the official rules written out independently in
official_reference.py."""

import json
import random

import official_reference as ref
import pytest
from conftest import shared_file

from ac_eval.evaluation.benchmarks import get as get_benchmark
from ac_eval.evaluation.benchmarks import load_benchmark
from ac_eval.evaluation.benchmarks.mmsu import mmsu_letter
from ac_eval.evaluation.predictions import PredictionsError, score_file
from ac_eval.evaluation.records import AudioRef, Record
from ac_eval.evaluation.scoring import (
    AUDIO_ERROR_PREFIX,
    Scorer,
    ambiguous_choices,
    lenient_extract,
    mmau_string_match,
    r1aqa_extract,
    score_item,
    summarize,
)

MMAU = Scorer("mmau")


def rec(choices, answer, rid="r"):
    return Record("mmau", rid, "q?", choices, answer, AudioRef("x.wav"))


def output_shapes(answer: str, wrong: str) -> list[str]:
    """What public pipelines' model outputs look like: bare tags, tags spanning lines, several tags, no tags,
    empty strings, long chain-of-thought, letters, unclosed or upper-case tags."""
    return [
        f"<answer>{answer}</answer>",
        f"<answer>\n{answer}\n</answer>",
        f"<think>It could be {wrong}, but no.</think>\n<answer>{answer}</answer>",
        f"<think>\nLet me think. It sounds like {wrong}.\n</think>\n<answer>\n{answer}\n</answer>",
        f"<answer>{wrong}</answer> <answer>{answer}</answer>",
        f"<answer>{answer}</answer>\n<answer>{wrong}</answer>",
        f"<answer>\n{wrong}</answer> then <answer>{answer}</answer>",
        answer,
        f"The answer is {answer}.",
        "",
        "   \n",
        "A",
        "<answer></answer>",
        f"<ANSWER>{answer}</ANSWER>",
        f"<answer>{answer}",
        ("Considering the audio carefully, there are several clues. " * 25) + f"<answer>{answer}</answer>",
        f"  <answer> {answer} </answer>\n",
        f"<answer>{answer.upper()}</answer>",
        f"<answer>{answer} or {wrong}</answer>",
        f"<answer>{wrong}</answer>",
        f"{wrong}\n<answer>{answer}</answer>",
    ]


def predictions_for(rows: list[dict], seed: int = 0) -> list[str]:
    """One raw output per record, cycling through every shape (and so through right and wrong answers)."""
    rng = random.Random(seed)
    out = []
    for i, row in enumerate(rows):
        wrong = rng.choice([c for c in row["choices"] if c != row["answer"]] or row["choices"])
        shapes = output_shapes(row["answer"], wrong)
        out.append(shapes[i % len(shapes)])
    return out


def _write_json(path, data):
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    return path


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def _assert_subsets_equal(result: dict, reference: dict) -> None:
    assert result["n_scored"] == reference["total"] and result["n_correct"] == reference["correct"]
    for field, groups in reference["subsets"].items():
        ours = result["subsets"][field]
        assert set(ours) == set(groups)
        for value, (correct, total) in groups.items():
            assert (ours[value]["n_correct"], ours[value]["n_scored"]) == (correct, total), (field, value)


# ---- the rules, one by one ------------------------------------------------------------------------------------

@pytest.mark.parametrize("output", output_shapes("Man", "Woman") + ["<answer>a\nb</answer><answer>c</answer>"])
def test_r1aqa_extraction_is_exact_and_idempotent(output):
    assert r1aqa_extract(output) == ref.r1aqa_extract(output)
    assert r1aqa_extract(r1aqa_extract(output)) == r1aqa_extract(output)  # already-extracted files score the same


def test_extraction_details():
    assert r1aqa_extract("think... <answer> Man </answer> <answer>Woman</answer>") == "Man"  # the first pair
    assert r1aqa_extract("<answer>\nMan\n</answer>") == "<answer>\nMan\n</answer>"  # no DOTALL: the whole output
    assert r1aqa_extract("<think>x</think>\n<answer>\nMan\n</answer>").startswith("<think>")
    assert lenient_extract("<answer>\nMan\n</answer>") == "Man"
    assert lenient_extract("<ANSWER>Woman</ANSWER> <answer>Man</answer>") == "Man"  # the last, any case


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
    s = score_item(rec(choices, "dog barking"), "<answer>barking dog</answer>", MMAU)
    assert s.correct is True and s.correct_strict is False and s.ambiguous


def test_mmsu_letter_rule():
    assert mmsu_letter("B") == "B"
    assert mmsu_letter(" C.\n") == "C"
    assert mmsu_letter("(D)") == "D"  # second-to-last
    assert mmsu_letter("The answer") is None


def test_unparseable_is_counted_never_guessed():
    r = rec(["yes", "no"], "no")
    s = score_item(r, "I cannot tell", MMAU)
    assert s.status == "unparseable" and s.correct is False and s.chosen is None
    letter = score_item(Record("mmsu", "m", "q", ["yes", "no"], "no", AudioRef("x"),
                               fields={"choice_a": "yes", "choice_b": "no"}), "I cannot tell", Scorer("mmsu", "mmsu_letter"))
    assert letter.correct is None and letter.correct_strict is False  # excluded officially, wrong strictly


def test_missing_and_audio_errors_are_skipped_officially():
    r = rec(["a", "b"], "a")
    assert score_item(r, None, MMAU).status == "missing"
    err = score_item(r, f"{AUDIO_ERROR_PREFIX} audio file not found: x.wav", MMAU)
    assert err.status == "audio_error" and err.correct is None and err.correct_strict is False
    assert "not found" in err.error
    summary = summarize([r, r], [err, score_item(r, "a", MMAU)])
    assert summary["n_scored"] == 1 and summary["accuracy_official"] == 1.0 and summary["accuracy_strict"] == 0.5


def test_many_choices():
    choices = [f"option {w}" for w in "one two three four five six seven eight".split()]
    s = score_item(rec(choices, "option eight"), "<answer>option eight</answer>", MMAU)
    assert s.correct and s.chosen == 7


def test_scorers_are_named_for_what_they_are():
    assert Scorer("mmau").official and Scorer("mmar", extraction="none").official
    assert Scorer("mmsu", "mmsu_letter").official
    token = Scorer("mmsu", "string_match")  # the AudioMCQ prompt on MMSU: MMAU's matcher, not MMSU's scorer
    assert not token.official and token.kind == "token-rule" and "NOT the official MMSU" in token.description
    lenient = Scorer("mmau", extraction="lenient")
    assert not lenient.official and lenient.kind == "lenient"
    r = rec(["a", "b"], "a")
    s = summarize([r], [score_item(r, "a", lenient)], official=lenient.official)
    assert s["accuracy"] == 1.0 and s["accuracy_official"] is None
    with pytest.raises(ValueError, match="unknown extraction"):
        Scorer("mmau", extraction="dotall")


# ---- whole files, against the official scripts written out ----------------------------------------------------

@pytest.fixture(scope="module")
def mmau_rows():
    return json.loads(shared_file("mmau", "mmau-test-mini.json").read_text())


def test_mmau_r1aqa_pipeline_files_equal_the_official_script(mmau_rows, tmp_path):
    """R1-AQA's test_mmau.py writes `model_prediction` (extracted); evaluation.py scores that field as given."""
    raw = predictions_for(mmau_rows)
    for key in ("model_prediction", "model_output"):
        rows = [{**r, key: ref.r1aqa_extract(o)} for r, o in zip(mmau_rows, raw)]
        official = ref.mmau_evaluate(rows, key)
        path = _write_json(tmp_path / f"{key}.json", rows)
        result = score_file("mmau", None, path)
        assert result["format"] == "official" and result["prediction_key"] == key
        assert [i["correct"] for i in result["items"]] == official["verdicts"]
        _assert_subsets_equal(result, official)
        assert result["accuracy_official"] == pytest.approx(official["correct"] / official["total"])
        # and with the metadata given: the same figures, the version named, no warning
        checked = score_file("mmau", shared_file("mmau", "mmau-test-mini.json"), path)
        assert checked["accuracy_official"] == result["accuracy_official"] and not checked["warnings"]
        assert checked["metadata_version"].startswith("test-mini 2025-08-09")


def test_raw_outputs_score_as_the_pipeline_extraction_then_the_official_rule(mmau_rows, tmp_path):
    """{id, prediction} with whole raw outputs: R1-AQA's extraction, then evaluation.py's rule."""
    raw = predictions_for(mmau_rows, seed=1)
    official = ref.mmau_evaluate([{**r, "model_output": ref.r1aqa_extract(o)} for r, o in zip(mmau_rows, raw)])
    preds = _write_jsonl(tmp_path / "p.jsonl", [{"id": r["id"], "prediction": o} for r, o in zip(mmau_rows, raw)])
    result = score_file("mmau", shared_file("mmau", "mmau-test-mini.json"), preds)
    assert [i["correct"] for i in result["items"]] == official["verdicts"]
    _assert_subsets_equal(result, official)
    # whole chain-of-thought outputs in the official form: the same, as the file's own field is extracted first
    rows = [{**r, "model_output": o} for r, o in zip(mmau_rows, raw)]
    whole = score_file("mmau", None, _write_json(tmp_path / "cot.json", rows))
    assert [i["correct"] for i in whole["items"]] == official["verdicts"]
    # --extraction none: exactly evaluation.py run on those whole outputs
    verbatim = score_file("mmau", None, tmp_path / "cot.json", extraction="none")
    assert [i["correct"] for i in verbatim["items"]] == ref.mmau_evaluate(rows)["verdicts"]
    assert verbatim["scorer"]["official"] and verbatim["scorer"]["extraction"] == "none"
    # the shapes where the extraction matters really are in the file (the test could fail)
    assert ref.mmau_evaluate(rows)["verdicts"] != official["verdicts"]
    # a lenient extraction gives another figure, never called official
    lenient = score_file("mmau", None, tmp_path / "cot.json", extraction="lenient")
    assert lenient["accuracy_official"] is None and lenient["accuracy"] != whole["accuracy"]
    assert lenient["scorer"]["kind"] == "lenient"


def test_rows_without_the_prediction_key_are_skipped_empty_strings_are_wrong(mmau_rows, tmp_path):
    rows = [dict(r) for r in mmau_rows[:40]]
    for i, r in enumerate(rows):
        if i % 4 == 0:
            continue  # no model_output: skipped by evaluation.py
        r["model_output"] = "" if i % 4 == 1 else r["answer"]
    official = ref.mmau_evaluate(rows)
    result = score_file("mmau", None, _write_json(tmp_path / "p.json", rows))
    assert [i["correct"] for i in result["items"]] == official["verdicts"]
    assert result["n_scored"] == official["total"] == 30 and result["n_missing"] == 10
    assert result["n_empty"] == 10 and result["accuracy_strict"] == pytest.approx(20 / 40)


def test_mmar_files_equal_the_official_script(tmp_path):
    rows = json.loads(shared_file("mmar", "MMAR-meta.json").read_text())  # 6 answers not among the choices
    raw = predictions_for(rows, seed=2)
    pipeline = [{**r, "answer_prediction": ref.r1aqa_extract(o)} for r, o in zip(rows, raw)]
    official = ref.mmar_evaluate(pipeline)
    result = score_file("mmar", None, _write_jsonl(tmp_path / "p.jsonl", pipeline))
    assert [i["correct"] for i in result["items"]] == official["verdicts"]
    _assert_subsets_equal(result, official)
    assert result["n_answer_not_in_choices"] == 6


def test_mmar_challenge_baseline_lines_score_with_the_metadata_beside_them(tmp_path):
    """The MMAR challenge baselines publish {id, thinking_prediction, answer_prediction} and nothing else."""
    meta = shared_file("mmar", "MMAR-meta.json")
    rows = json.loads(meta.read_text())
    raw = predictions_for(rows, seed=5)
    lines = [{"id": r["id"], "thinking_prediction": "<think>...</think>", "answer_prediction": ref.r1aqa_extract(o)}
             for r, o in zip(rows, raw)]
    path = _write_jsonl(tmp_path / "challenge.jsonl", lines)
    official = ref.mmar_evaluate([{**r, "answer_prediction": ln["answer_prediction"]} for r, ln in zip(rows, lines)])
    for key in (None, "answer_prediction"):
        result = score_file("mmar", meta, path, prediction_key=key)
        assert result["prediction_key"] == "answer_prediction"
        assert [i["correct"] for i in result["items"]] == official["verdicts"]
    # the other field is scored only when asked for, and then it is what is scored
    thinking = score_file("mmar", meta, path, prediction_key="thinking_prediction")
    assert thinking["prediction_key"] == "thinking_prediction" and thinking["n_correct"] == 0
    with pytest.raises(PredictionsError, match="give --metadata"):
        score_file("mmar", None, path)


def test_mmau_files_with_both_answer_fields_say_which_was_scored(mmau_rows, tmp_path):
    """DeSTA2.5-Audio's published file holds model_output and model_prediction, and they differ."""
    raw, extracted = predictions_for(mmau_rows, seed=6), predictions_for(mmau_rows, seed=7)
    rows = [{**r, "model_output": o, "model_prediction": ref.r1aqa_extract(p)}
            for r, o, p in zip(mmau_rows, raw, extracted)]
    path = _write_json(tmp_path / "both.json", rows)
    result = score_file("mmau", None, path)
    n_differ = sum(r["model_output"] != r["model_prediction"] for r in rows)
    assert result["prediction_key"] == "model_output" and n_differ
    assert result["rows_where_other_answer_fields_differ"] == {"model_prediction": n_differ}
    assert any("--prediction-key model_prediction" in w and str(n_differ) in w for w in result["warnings"])
    other = score_file("mmau", None, path, prediction_key="model_prediction")
    assert other["n_correct"] == ref.mmau_evaluate(rows, "model_prediction")["correct"] != result["n_correct"]
    assert not other["warnings"]
    # equal fields: nothing to say
    same = _write_json(tmp_path / "same.json", [{**r, "model_prediction": r["model_output"]} for r in rows])
    assert not score_file("mmau", None, same)["warnings"]


def test_predictions_made_on_another_metadata_version_are_named(mmau_rows, tmp_path):
    old_rows = json.loads(shared_file("mmau", "mmau-test-mini.pre-v05.15.25.2025-03-25.json").read_text())
    current = {r["id"]: r for r in mmau_rows}
    gone = [r["id"] for r in old_rows if r["id"] not in current]
    changed = [r["id"] for r in old_rows if r["id"] in current and
               (r["question"], r["choices"], r["answer"]) != tuple(current[r["id"]][k] for k in ("question", "choices", "answer"))]
    assert gone and changed  # the two versions really differ
    raw = predictions_for(old_rows, seed=3)
    file_rows = [{**r, "model_prediction": ref.r1aqa_extract(o)} for r, o in zip(old_rows, raw)]
    path = _write_json(tmp_path / "old.json", file_rows)
    # the official script scores the file with its own (old) answers: so does ac-eval, and says so loudly
    result = score_file("mmau", shared_file("mmau", "mmau-test-mini.json"), path)
    assert result["n_correct"] == ref.mmau_evaluate(file_rows, "model_prediction")["correct"]
    assert result["n_unknown_ids"] == len(gone) and result["n_items_differing_from_metadata"] == len(changed)
    assert any("not made on this metadata" in w for w in result["warnings"])
    # {id, prediction} made on the old version, scored on the current one: unknown ids are a visible warning
    preds = _write_jsonl(tmp_path / "p.jsonl", [{"id": r["id"], "prediction": o} for r, o in zip(old_rows, raw)])
    scored = score_file("mmau", shared_file("mmau", "mmau-test-mini.json"), preds)
    assert scored["n_unknown_ids"] == len(gone) and set(scored["unknown_id_examples"]) <= set(gone)
    assert any(f"{len(gone)} of 1000 prediction ids are not in the metadata" in w for w in scored["warnings"])


def _mmsu_rows() -> list[dict]:
    """The real MMSU record, and variants with a blank, a missing and a null option, each answered in every way
    mmsu_evaluation.py distinguishes."""
    (base,) = json.loads(shared_file("mmsu", "mmsu-single-record-from-third-party-fixture.json").read_text())
    variants = [dict(base), {**base, "choice_d": ""}, {k: v for k, v in base.items() if k != "choice_c"},
                {**base, "choice_c": None, "category": "Perception"}, {**base, "answer_gt": "A drink.", "sub-category": "Paralinguistics"}]
    responses = ["B", " B\n", "The answer is B.", "(D)", "A", "C", "D", "", "   ", "None", "\n", "E", "X", "AB",
                 "answer: b", None, 3, "B.", "Chocolate.", "b"]
    rows = []
    for i, variant in enumerate(variants):
        for j, response in enumerate(responses):
            row = {**variant, "id": f"{variant['id']}-{i}-{j}", "response": response}
            rows.append(row)
        rows.append({**variant, "id": f"{variant['id']}-{i}-noresp"})  # no response at all: counted wrong
    return rows


def test_mmsu_files_equal_the_official_script(tmp_path):
    rows = _mmsu_rows()
    official = ref.mmsu_evaluate(rows)
    result = score_file("mmsu", None, _write_jsonl(tmp_path / "p.jsonl", rows), prompt="official")
    assert result["scorer"]["rule"] == "mmsu_letter" and result["scorer"]["official"]
    assert [i["correct"] for i in result["items"]] == official["verdicts"]
    assert (result["n_correct"], result["n_scored"]) == (official["correct"], official["total"])
    for (category, sub), (correct, total) in official["pairs"].items():
        group = result["subsets"]["category/sub-category"][f"{category} / {sub}"]
        assert (group["n_correct"], group["n_scored"]) == (correct, total)
    for category, (correct, total) in official["by_category"].items():
        assert (result["subsets"]["category"][category]["n_correct"], result["subsets"]["category"][category]["n_scored"]) == (correct, total)
    # the accounting the issue names: empty/"None"/missing wrong (counted), wrong format and null excluded
    statuses = {i["id"].rsplit("-", 1)[-1]: i["status"] for i in result["items"] if i["id"].split("-")[-2] == "0"}
    assert statuses["7"] == statuses["9"] == statuses["noresp"] == "empty"
    assert statuses["11"] == "unparseable" and statuses["15"] == statuses["16"] == "invalid_prediction"
    # strict: every one of them wrong
    assert result["accuracy_strict"] == pytest.approx(official["correct"] / len(rows))


def test_mmsu_token_rule_is_not_called_official(tmp_path):
    (base,) = json.loads(shared_file("mmsu", "mmsu-single-record-from-third-party-fixture.json").read_text())
    rows = [{**base, "id": "x", "response": "<answer>Chocolate.</answer>"}]
    result = score_file("mmsu", None, _write_jsonl(tmp_path / "p.jsonl", rows))  # the AudioMCQ prompt's answers
    assert result["accuracy"] == 1.0 and result["accuracy_official"] is None
    assert result["scorer"]["kind"] == "token-rule"


def test_mmsu_official_prompt_is_verbatim():
    from ac_eval.evaluation.benchmarks import get_prompt

    (base,) = json.loads(shared_file("mmsu", "mmsu-single-record-from-third-party-fixture.json").read_text())
    prompt = get_prompt("official", "mmsu")
    for row in (base, {**base, "choice_d": ""}, {k: v for k, v in base.items() if k != "choice_c"}, {**base, "choice_c": None}):
        record = get_benchmark("mmsu").record_from_row(row, shared_file("mmsu"), need_audio=False)
        assert prompt.user_text(record) == ref.mmsu_instruction(row)
    # letters stay fixed to the fields: with choice_c blank, D still means choice_d
    record = get_benchmark("mmsu").record_from_row({**base, "choice_c": ""}, shared_file("mmsu"))
    assert prompt.continuations(record) == ["A", "B", "D"]
    d = score_item(record, "D", Scorer("mmsu", "mmsu_letter"))
    assert d.chosen == 2 and record.choices[2] == base["choice_d"] and d.correct is False
    assert score_item(record, "C", Scorer("mmsu", "mmsu_letter")).correct is False  # the blank option


# ---- the command ---------------------------------------------------------------------------------------------

def test_score_half_the_items(tmp_path, mmau_rows):
    meta = shared_file("mmau", "mmau-test-mini.json")
    rows = [{"id": r["id"], "prediction": r["answer"]} for r in mmau_rows[::2]]
    result = score_file("mmau", meta, _write_jsonl(tmp_path / "p.jsonl", rows))
    assert result["n_scored"] == 500 and result["n_missing"] == 500
    assert result["accuracy_official"] == 1.0 and result["accuracy_strict"] == 0.5


def test_score_wrong_letters_unknown_ids_and_nulls(tmp_path):
    meta = shared_file("mmar", "MMAR-meta.json")
    records = load_benchmark("mmar", meta).records
    rows = [{"id": r.id, "prediction": "A"} for r in records[1:]] + [{"id": "not-an-item", "prediction": "x"}]
    rows += [{"id": records[1].id, "prediction": "dup"}, {"id": records[0].id, "prediction": None}]
    result = score_file("mmar", meta, _write_jsonl(tmp_path / "p.jsonl", rows))
    assert result["accuracy_official"] == 0.0  # MMAR's rule never accepts a bare letter
    assert result["n_unknown_ids"] == 1 and result["n_duplicate_predictions"] == 1
    assert result["n_invalid_prediction"] == 1 and result["n_scored"] == 999
    assert result["n_answer_not_in_choices"] == 6 and result["n_ambiguous_items"] == 20


def test_score_bad_predictions_file(tmp_path):
    meta = shared_file("mmau", "mmau-test-mini.json")
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"id": "x", "prediction": "a"}\n{"id": "y"}\n')
    with pytest.raises(PredictionsError, match=r"p.jsonl:2"):
        score_file("mmau", meta, bad)
    with pytest.raises(PredictionsError, match="give --metadata"):
        score_file("mmau", None, tmp_path / "p.jsonl")
    rows = [{**json.loads(meta.read_text())[0], "prediction": "x"}]
    with pytest.raises(PredictionsError, match="--prediction-key"):
        score_file("mmau", None, _write_json(tmp_path / "o.json", rows))
    assert score_file("mmau", None, tmp_path / "o.json", prediction_key="prediction")["n_scored"] == 1


def test_score_cli(tmp_path, mmau_rows, capsys):
    from ac_eval.cli import main

    meta = shared_file("mmau", "mmau-test-mini.json")
    preds = _write_jsonl(tmp_path / "p.jsonl", [{"id": r["id"], "prediction": r["answer"]} for r in mmau_rows[:10]]
                         + [{"id": "zzz", "prediction": "a"}])
    out = tmp_path / "out.json"
    assert main(["score", "--benchmark", "mmau", "--metadata", str(meta), "--predictions", str(preds), "--output", str(out)]) == 0
    result = json.loads(out.read_text())
    for key in ("accuracy_official", "accuracy_strict", "n_total", "n_scored", "n_unparseable", "subsets", "scorer"):
        assert key in result
    assert result["n_scored"] == 10 and result["n_total"] == 1000
    err = capsys.readouterr().err
    assert "1 of 11 prediction ids are not in the metadata" in err and "zzz" in err
    assert main(["score", "--benchmark", "mmau", "--metadata", str(tmp_path / "nope.json"), "--predictions", str(preds),
                 "--output", str(out)]) == 2


def test_linear_extractions_equal_the_regexes_they_replace():
    """r1aqa_extract, tag_contents and the GRPO reward's answer_text give what the official regexes give (R1-AQA's
    `re.search` without DOTALL; the lenient and reward ones with DOTALL and IGNORECASE), on 20,000 random strings of
    tag fragments, newlines and lookalike letters ("ſ" matches "s" when case is ignored)."""
    import random
    import re

    from ac_eval.evaluation.scoring import tag_contents
    from ac_eval.post_training.rewards import answer_text

    official = re.compile(r"<answer>(.*?)</answer>")
    any_case = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
    parts = ["<answer>", "</answer>", "<ANSWER>", "</Answer>", "\n", "a", " ", "<", "answer>", "/", "ſ", "<anſwer>"]
    rng = random.Random(0)
    for _ in range(20_000):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(0, 14)))
        match = official.search(text)
        assert r1aqa_extract(text) == (match.group(1) if match else text).strip(), repr(text)
        assert tag_contents(text) == any_case.findall(text), repr(text)
        first = any_case.search(text)
        assert answer_text(text) == (first.group(1) if first else text).strip(), repr(text)
