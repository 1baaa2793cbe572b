"""Audio Flamingo 3 through transformers' own processor (the generic processor backend)."""

import numpy as np
import pytest
import torch

from ac_eval.evaluation.records import AudioInput
from ac_eval.evaluation.conditions import SilentCondition
from ac_eval.evaluation.records import AudioRef
from ac_eval.run import RunConfig, run


@pytest.fixture(scope="module")
def af3_ckpt(tmp_path_factory):
    from ac_eval.models.tiny_checkpoints import build_audio_flamingo_3

    return build_audio_flamingo_3(tmp_path_factory.mktemp("af3") / "ckpt")


@pytest.fixture(scope="module")
def af3(af3_ckpt):
    from ac_eval.models import detect_arch, load_backend

    assert detect_arch(str(af3_ckpt)) == "audio-flamingo-3"
    return load_backend(str(af3_ckpt))


def _clip(seconds, seed=0):
    return AudioInput((0.1 * np.random.default_rng(seed).standard_normal(int(16000 * seconds))).astype(np.float32))


def test_long_audio_is_windowed_by_the_processor(af3):
    prompt = af3.chat_prompt("What?", None)
    inputs = af3.encode([prompt, prompt], [_clip(3), _clip(45)])
    assert inputs["input_features"].shape[0] == 3  # 1 window + 2 windows
    assert af3.audio_segment == "<sound>"


def test_choice_scores_and_audio_reaching_the_model(af3):
    prompt = af3.chat_prompt("Which?", None)
    options = ["<answer>Dog</answer>", "<answer>A long option here</answer>"]
    scores = af3.choice_logprobs([prompt], [_clip(2)], [options])[0]
    inputs = af3.encode([prompt], [_clip(2)])
    ids = af3.tokenizer(options[1], add_special_tokens=False, return_tensors="pt")["input_ids"]
    full = {**inputs, "input_ids": torch.cat([inputs["input_ids"], ids], 1)}
    full["attention_mask"] = torch.ones_like(full["input_ids"])
    with torch.no_grad():
        logits = af3.model(**full).logits
    expected = torch.log_softmax(logits[0, -ids.shape[1] - 1 : -1].float(), -1).gather(-1, ids[0, :, None]).sum()
    assert scores[1][0] == pytest.approx(expected.item(), abs=1e-3)
    silent = af3.choice_logprobs([prompt], [SilentCondition().audio_for(AudioRef("x"), 16000)], [options])[0]
    assert max(abs(a[0] - b[0]) for a, b in zip(scores, silent)) > 1e-4


def test_af3_end_to_end(af3_ckpt, bench_root, tmp_path):
    report = run(RunConfig(tasks=["mmau"], conditions=["original", "silent", "none"], model_args=f"pretrained={af3_ckpt},max_new_tokens=32",
                           data_dir=str(bench_root), limit=6, output_path=str(tmp_path)))
    conds = report["tasks"]["mmau_test_mini"]["conditions"]
    assert set(conds) == {"original", "silent", "none"} and all(c["n_total"] == 6 for c in conds.values())
    assert report["model"]["arch"] == "hf-processor:audioflamingo3"
