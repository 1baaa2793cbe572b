"""Every label rule reads the models' answers: the same benchmark, voted on by models that behave otherwise, gets
other labels. A rule that ignored the votes (or read only the benchmark's structure: twins, option counts,
answers) would give both worlds the same labels and fail here.

The runs are written as `ac-eval run` writes them in choice mode (samples.jsonl rows with each option's
log-likelihood), from model behaviours defined in a few lines, so each rule's reading is checked item by item.
"""

import math

import jsonlines
import pytest

from ac_eval.analysis.labels import make_labels, silent_votes
from ac_eval.run.folder import read_samples
from ac_eval.cli import main
from ac_eval.evaluation.records import Record, text_key

# Two twins (same question and options, other answers) and three items with no twin.
ITEMS = [
    Record("mmau", "twin-a", "Is the tone high or low?", ["high", "low", "medium"], "high", None),
    Record("mmau", "twin-b", "Is the tone high or low?", ["high", "low", "medium"], "low", None),
    Record("mmau", "q1", "A foghorn sounds. Is the tone high or low?", ["high", "low", "falling"], "low", None),
    Record("mmau", "q2", "How many beeps are there?", ["one", "two", "three"], "two", None),
    Record("mmau", "q3", "What kind of sound is this?", ["noise", "tone", "music"], "noise", None),
]
PRIOR = {"high", "two", "noise"}  # each model's default answer, whatever the question


def reader(solvable: set[str]):
    """A model that hears every clip (sure of the answer with it), and with silence reads the answer of the items in
    `solvable` from their question (as sure) and on all other items falls back on its default option."""

    def probs(record: Record, audio: bool, options: list[str]) -> list[float]:
        if audio or record.id in solvable:
            favoured, weight = record.answer, 0.95
        else:
            favoured, weight = next((o for o in options if o in PRIOR), options[0]), 0.6
        rest = (1 - weight) / (len(options) - 1)
        return [weight if o == favoured else rest for o in options]

    return probs


def positional(record: Record, audio: bool, options: list[str]) -> list[float]:
    """A model that picks the first option it is shown with silence, whatever it is: right by position, not by
    text; with the clip it hears the answer."""
    if audio:
        return [0.95 if o == record.answer else 0.05 / (len(options) - 1) for o in options]
    return [0.7] + [0.3 / (len(options) - 1)] * (len(options) - 1)


def write_run(folder, model) -> None:
    rows = []
    for r in ITEMS:
        n = len(r.choices)
        for condition, audio, shifts in (("original", True, [None]), ("silent", False, [None]),
                                         ("silent-rotated", False, range(n)), ("silent-no-question", False, [None])):
            for shift in shifts:
                options = r.choices[shift:] + r.choices[:shift] if shift is not None else r.choices
                p = model(r, audio, options)
                if condition == "silent-no-question":  # with no question nothing is read: the default
                    p = reader(set())(r, False, options)
                chosen = max(range(n), key=p.__getitem__)
                rows.append({"id": r.id if shift is None else f"{r.id}::rot{shift}", "benchmark": "mmau",
                             "condition": condition, "mode": "choice", "status": "ok", "chosen": chosen,
                             "correct": options[chosen] == r.answer, "answer": r.answer, "n_choices": n,
                             "text_key": text_key(r), "option_logprobs": [math.log(x) for x in p],
                             "gold_option": options.index(r.answer)})
    folder.mkdir(parents=True)
    with jsonlines.open(folder / "samples.jsonl", "w") as out:
        out.write_all(rows)


def labels_of(tmp_path, name: str, models: list) -> dict:
    runs = []
    for i, model in enumerate(models):
        write_run(tmp_path / name / f"m{i}", model)
        runs.append(tmp_path / name / f"m{i}")
    return {lbl.id: lbl for lbl in make_labels(silent_votes(read_samples(runs, [f"m{i}" for i in range(len(runs))])))}


FIELDS = ("label", "label_rotation", "label_prior", "label_counterfactual", "label_likelihood")


@pytest.mark.parametrize("field", FIELDS)
def test_every_rule_follows_the_votes_not_the_benchmark(tmp_path, field):
    """Models that read q1's answer from its question, then models that read q3's instead: the same items, other
    votes. Every rule calls the item the models read weak and the other strong, so the labels change between worlds."""
    first = labels_of(tmp_path, "first", [reader({"q1"})] * 3)
    second = labels_of(tmp_path, "second", [reader({"q3"})] * 3)
    assert getattr(first["q1"], field) == "weak" and getattr(second["q1"], field) == "strong"
    # q3's answer (noise) is the models' default: only rules that look past it call it strong in the first world
    if field in ("label_likelihood", "label_prior"):
        assert getattr(first["q3"], field) == "strong"
    if field == "label_likelihood":  # ... and in the second world, read from the question as surely as heard: weak
        assert getattr(second["q3"], field) == "weak"


def test_a_default_answer_is_weak_to_the_paper_and_strong_to_the_likelihood_rule(tmp_path):
    """q2's answer ("two") is every model's default and its question does not give it away."""
    labels = labels_of(tmp_path, "prior", [reader(set())] * 3)
    q2 = labels["q2"]
    assert q2.label == "weak" and q2.label_rotation == "weak"  # a default is right under every rotation
    assert q2.label_likelihood == "strong" and q2.votes_likelihood == 0
    # right with silence, but only at the default's confidence; the clip makes the model sure: the audio carries it
    assert q2.gold_probability_by_model["m0"] == {"with_audio": pytest.approx(0.95), "with_silence": pytest.approx(0.6)}


def test_twins_rule_out_a_default_and_the_likelihood_rule_agrees(tmp_path):
    labels = labels_of(tmp_path, "twins", [reader(set())] * 3)
    assert labels["twin-a"].label == "weak" and labels["twin-b"].label == "strong"  # the default is "high"
    assert labels["twin-a"].label_counterfactual == "strong" and labels["twin-a"].n_twins == 1
    assert labels["twin-a"].label_likelihood == "strong"


def test_position_is_not_the_question(tmp_path):
    """A model that picks the first option shown with silence: under rotation and by likelihood it answers nothing
    without the audio."""
    labels = labels_of(tmp_path, "position", [positional] * 3)
    right_first = [i for i, lbl in labels.items() if lbl.label == "weak"]
    assert right_first  # the paper rule is fooled where the answer is listed first
    assert all(lbl.label_rotation == "strong" and lbl.label_likelihood == "strong" for lbl in labels.values())


def test_likelihood_votes_need_both_readings(tmp_path):
    """A model with no rows with the audio casts no likelihood vote: with k = 2 of 3 and one such model, an item two
    others read from the text is still weak; one only a single model read is undetermined, not strong."""
    write_run(tmp_path / "a", reader({"q1", "q2"}))
    write_run(tmp_path / "b", reader({"q1"}))
    write_run(tmp_path / "c", reader({"q1"}))
    rows = [r for r in jsonlines.open(tmp_path / "c" / "samples.jsonl") if r["condition"] != "original"]
    with jsonlines.open(tmp_path / "c" / "samples.jsonl", "w") as out:
        out.write_all(rows)
    labels = {lbl.id: lbl for lbl in make_labels(silent_votes(read_samples([tmp_path / x for x in "abc"], ["a", "b", "c"])))}
    assert labels["q1"].label_likelihood == "weak" and labels["q1"].n_valid_votes_likelihood == 2
    assert labels["q2"].label_likelihood == "undetermined"
    assert labels["q3"].label_likelihood == "strong"  # even the missing vote could not make it 2


# --- the same rules on the real metadata -----------------------------------------------------------------------------

REAL_LIMIT = 40
CONDITIONS = ["original", "silent", "silent-rotated", "silent-no-question"]


@pytest.fixture(scope="module")
def real_runs(bench_root, tmp_path_factory):
    """Two listeners that read a third of the items from their text, and a guesser, in choice mode with the audio and
    under every silent condition, on the first items of the real MMAU test-mini and MMAR records (synthetic clips)."""
    import json

    from ac_eval.evaluation.benchmarks import load_benchmark
    from ac_eval.run import RunConfig, run
    from ac_eval.testing.stub_models import write_stub

    root = tmp_path_factory.mktemp("real-rules")
    out = {}
    for name, meta, split, task in (("mmau", bench_root / "mmau" / "mmau-test-mini.json", "test-mini", "mmau"),
                                    ("mmar", bench_root / "mmar" / "MMAR-meta.jsonl", "test", "mmar")):
        records = load_benchmark(name, meta, split).records[:REAL_LIMIT]
        planted = sorted(r.id for r in records[::3])
        runs = []
        for i, (behaviour, seed) in enumerate((("listener", 1), ("listener", 2), ("guesser", 3))):
            stub = write_stub(root / f"{name}-stub{i}", behaviour, name, meta, split, planted, seed)
            run(RunConfig(tasks=[task], conditions=CONDITIONS, model_args=f"pretrained={stub}", mode="choice",
                          data_dir=str(bench_root), limit=REAL_LIMIT, output_path=str(root / f"{name}-run{i}")))
            runs.append(root / f"{name}-run{i}")
        labels = root / f"{name}-labels.jsonl"
        assert main(["labels", *map(str, runs), "--output", str(labels), "--names", "a,b,guess"]) == 0
        out[name] = {"planted": set(planted), "labels": list(jsonlines.open(labels)),
                     "summary": json.loads(labels.with_suffix(".summary.json").read_text())}
    return out


@pytest.mark.parametrize("benchmark", ["mmau", "mmar"])
def test_every_rule_labels_the_real_records(real_runs, benchmark):
    got = real_runs[benchmark]
    labels, planted = got["labels"], got["planted"]
    assert len(labels) == REAL_LIMIT
    for row in labels:
        for field in FIELDS:
            assert row[field] in ("weak", "strong", "undetermined"), (row["id"], field)
    two_options = {r["id"] for r in labels if r["n_choices"] == 2}
    weak = {r["id"] for r in labels if r["label_likelihood"] == "weak"}
    rotation = {r["id"] for r in labels if r["label_rotation"] == "weak"}
    # the listeners answer the planted items as surely with silence as with the clip, and right in every order;
    # an unplanted item is weak only by chance, where two orders are all there is (both guesses right: 1 in 4)
    assert len(weak & planted) >= 0.7 * len(planted) and planted <= rotation, (sorted(weak), sorted(planted))
    assert (weak | rotation) - planted <= two_options, sorted((weak | rotation) - planted)
    assert got["summary"]["likelihood"]["n_items"] == REAL_LIMIT
    assert {"rotation", "prior", "counterfactual", "likelihood"} <= set(got["summary"])


def test_twins_in_the_published_metadata():
    """What the counterfactual rule has to work with on the real benchmarks (README: 18 of 1,000 MMAU test-mini
    items, none of MMAR's); the demo's planted test split stays under 5%."""
    from ac_eval.demo.planted_benchmark import write_synthbench
    from ac_eval.evaluation.benchmarks import load_benchmark
    from ac_eval.evaluation.records import items_with_twins
    from conftest import shared_file

    mmau = load_benchmark("mmau", shared_file("mmau", "mmau-test-mini.json"), "test-mini").records
    mmar = load_benchmark("mmar", shared_file("mmar", "MMAR-meta.jsonl"), "test").records
    assert (len(items_with_twins(mmau)), len(mmau)) == (18, 1000)
    assert (len(items_with_twins(mmar)), len(mmar)) == (0, 1000)
    assert items_with_twins(mmau[:2] + [mmau[0]]) == set()  # the same item twice is not a twin
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        test = load_benchmark("mmau", write_synthbench(tmp)["test"]["mmau"], "test-mini").records
        assert len(items_with_twins(test)) <= 0.05 * len(test)


def test_a_guess_right_in_some_orders_is_not_an_answer(tmp_path):
    """A model that does not hear these items, sure of whatever it picks with silence and picking the gold in all
    but one order of the options: on average it favours the gold about as much as with the clip, but a guess that
    moves with the order is not read from the text (likelihood and rotation rules alike, every order needed, the
    default)."""

    def order_guesser(record: Record, audio: bool, options: list[str]) -> list[float]:
        if audio:  # the average of its silent beliefs: the clip adds nothing
            return [0.66 if o == record.answer else 0.34 / (len(options) - 1) for o in options]
        shift = record.choices.index(options[0])
        pick = record.answer if shift < len(options) - 1 else next(o for o in options if o != record.answer)
        return [0.98 if o == pick else 0.02 / (len(options) - 1) for o in options]

    labels = labels_of(tmp_path, "orders", [order_guesser] * 3)
    assert all(lbl.label_likelihood == "strong" and lbl.label_rotation == "strong" for lbl in labels.values())
    assert any(lbl.label == "weak" for lbl in labels.values())  # the paper's single order is fooled
