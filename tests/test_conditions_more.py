
import jsonlines
import numpy as np
import pytest
import torch

from ac_eval.evaluation.conditions import CONDITIONS, REFERS_TO_OPTIONS, rotation_source
from ac_eval.evaluation.records import AudioRef, Record
from ac_eval.run import RunConfig, run


def test_noise_is_fixed_and_at_the_set_level():
    a = CONDITIONS["noise"].audio_for(AudioRef("x.wav"), 16000)
    b = CONDITIONS["noise"].audio_for(AudioRef("y.wav"), 16000)
    assert a.array.shape == (480000,) and np.array_equal(a.array, b.array) and a.cache_key == b.cache_key
    assert np.sqrt(np.mean(a.array**2)) == pytest.approx(0.01, rel=0.01)


def test_shuffled_is_a_fixed_derangement():
    refs = [AudioRef(f"{i}.wav") for i in range(50)]
    first = CONDITIONS["shuffled"].assign(refs)
    assert first == CONDITIONS["shuffled"].assign(refs)  # fixed seed
    assert sorted(r.path for r in first) == sorted(r.path for r in refs)  # a permutation
    assert all(a != b for a, b in zip(first, refs))  # nobody keeps their own clip


def test_rotations_and_options_that_refer_to_others():
    r = Record("mmar", "q1", "?", ["a", "b", "c"], "b", AudioRef("x.wav"))
    rotated = CONDITIONS["silent-rotated"].expand([r])
    assert [x.choices for x in rotated] == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    assert [rotation_source(x.id) for x in rotated] == [("q1", 0), ("q1", 1), ("q1", 2)]
    refer = Record("mmar", "q2", "?", ["A", "B", "D and A"], "B", AudioRef("x.wav"))
    (only,) = CONDITIONS["silent-rotated"].expand([refer])
    assert only.choices == refer.choices and "not_rotated" in only.issues
    assert REFERS_TO_OPTIONS.search("All of the above") and not REFERS_TO_OPTIONS.search("A dog and a cat")


def test_none_removes_the_audio_from_the_prompt(backend):
    assert backend.audio_segment == "Audio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
    prompt = backend.chat_prompt("What is it?", "sys")
    audios = [None, CONDITIONS["silent"].audio_for(AudioRef("x"), 16000)]
    audio_id = backend.tokenizer.convert_tokens_to_ids("<|AUDIO|>")
    inputs = backend.inference_inputs([prompt, prompt], audios)
    counts = (inputs["input_ids"] == audio_id).sum(-1).tolist()
    assert counts[0] == 0 and counts[1] == 750
    # fast path: the audio goes in as embeddings, only at the second item's audio positions
    plain = backend.model.get_input_embeddings()(inputs["input_ids"])
    changed = (inputs["inputs_embeds"] != plain).any(-1)
    assert not changed[0].any() and torch.equal(changed[1], inputs["input_ids"][1] == audio_id)
    # the model's own inputs (training): features for the one clip only
    assert backend.encode([prompt, prompt], audios)["input_features"].shape[0] == 1
    alone = backend.encode([prompt], [None])
    assert "input_features" not in alone
    text = backend.tokenizer.decode(alone["input_ids"][0])
    assert "What is it?" in text and "audio" not in text


def test_every_null_condition_runs_end_to_end(tiny_ckpt, bench_root, tmp_path):
    cfg = RunConfig(tasks=["mmar"], conditions=["original", "none", "noise", "shuffled", "silent-matched"],
                    model_args=f"pretrained={tiny_ckpt},max_new_tokens=32", data_dir=str(bench_root), limit=12, output_path=str(tmp_path))
    report = run(cfg)
    conds = report["tasks"]["mmar"]["conditions"]
    assert set(conds) == {"original", "none", "noise", "shuffled", "silent-matched"}
    assert all(c["n_total"] == 12 and c["n_audio_error"] == 0 for c in conds.values())
    assert set(report["tasks"]["mmar"]["paired"]) == {"none", "noise", "shuffled", "silent-matched"}
    lm_samples = {p.name for p in (tmp_path / "lm_eval").rglob("samples_*.jsonl")}
    assert any("mmar_shuffled" in n for n in lm_samples) and any("mmar_none" in n for n in lm_samples)
    shuffled = [r for r in jsonlines.open(tmp_path / "lm_eval" / next(n for n in sorted(
        p.relative_to(tmp_path / "lm_eval").as_posix() for p in (tmp_path / "lm_eval").rglob("samples_mmar_shuffled*.jsonl"))))]
    for row in shuffled:  # each item heard another item's clip
        assert row["doc"]["id"] not in row["arguments"]["gen_args_0"]["arg_2"]["audio"]["path"]


def test_silent_no_question_keeps_options_and_drops_the_question():
    from ac_eval.evaluation.conditions import get_condition
    from ac_eval.evaluation.benchmarks import get_prompt
    from ac_eval.evaluation.records import AudioRef, Record

    record = Record("mmau", "q1", "Is the tone high or low?", ["high", "low"], "high", AudioRef("x.wav"))
    condition = get_condition("silent-no-question")
    (asked,) = condition.expand([record])
    assert asked.id == "q1" and asked.choices == record.choices and asked.answer == "high" and asked.question == ""
    text = get_prompt("audiomcq", "mmau").user_text(asked)
    assert text.startswith("Please choose the answer from the following options: ['high', 'low']")
    assert not condition.reads_clip and condition.audio_for(record.audio, 16000).array.shape == (480000,)
