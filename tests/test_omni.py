"""Qwen2.5-Omni thinker: tiny checkpoint, audio path without the AutoProcessor, both modes end to end."""

import numpy as np
import pytest
import torch

from ac_eval.evaluation.records import AudioInput
from ac_eval.evaluation.conditions import SilentCondition
from ac_eval.evaluation.records import AudioRef
from ac_eval.run import RunConfig, run


@pytest.fixture(scope="module")
def omni_ckpt(tmp_path_factory):
    from ac_eval.models.tiny_checkpoints import build_qwen2_5_omni_thinker

    return build_qwen2_5_omni_thinker(tmp_path_factory.mktemp("omni") / "thinker", seed=0)


@pytest.fixture(scope="module")
def omni(omni_ckpt):
    from ac_eval.models import detect_arch, load_backend

    assert detect_arch(str(omni_ckpt)) == "qwen2.5-omni"
    return load_backend(str(omni_ckpt))


def _clip(seed, seconds=3.0):
    return AudioInput((0.1 * np.random.default_rng(seed).standard_normal(int(16000 * seconds))).astype(np.float32))


def test_audio_tokens_follow_the_omni_processor_formula(omni):
    from transformers.models.qwen2_5_omni.processing_qwen2_5_omni import (
        _get_feat_extract_output_lengths,
    )

    assert omni.audio_segment == "<|audio_bos|><|AUDIO|><|audio_eos|>"
    prompt = omni.chat_prompt("What is it?", "sys")
    for seconds in (0.5, 3.0, 30.0, 45.0):
        inputs = omni.encode([prompt], [_clip(1, seconds)])
        n = (inputs["input_ids"] == omni.tokenizer.convert_tokens_to_ids("<|AUDIO|>")).sum().item()
        assert n == _get_feat_extract_output_lengths(inputs["feature_attention_mask"].sum(-1)).item()


def test_choice_scores_equal_one_forward_per_option(omni):
    prompt = omni.chat_prompt("Which?", None)
    options = ["<answer>Dog</answer>", "<answer>A cat meowing loudly</answer>", "<answer>x</answer>"]
    scores = omni.choice_logprobs([prompt], [_clip(2)], [options])[0]
    for option, (score, _) in zip(options, scores):
        inputs = omni.encode([prompt], [_clip(2)])
        ids = omni.tokenizer(option, add_special_tokens=False, return_tensors="pt")["input_ids"]
        full = torch.cat([inputs["input_ids"], ids], 1)
        with torch.no_grad():
            logits = omni.model(input_ids=full, attention_mask=torch.ones_like(full), input_features=inputs["input_features"],
                                feature_attention_mask=inputs["feature_attention_mask"]).logits
        expected = torch.log_softmax(logits[0, -ids.shape[1] - 1 : -1].float(), -1).gather(-1, ids[0, :, None]).sum()
        assert score == pytest.approx(expected.item(), abs=1e-3)


def test_audio_reaches_the_thinker(omni):
    prompt = omni.chat_prompt("What sound?", None)
    options = [["<answer>Dog</answer>", "<answer>Cat</answer>"]]
    silence = SilentCondition().audio_for(AudioRef("x"), 16000)
    a = omni.choice_logprobs([prompt], [_clip(3)], options)[0]
    b = omni.choice_logprobs([prompt], [silence], options)[0]
    assert max(abs(x[0] - y[0]) for x, y in zip(a, b)) > 1e-4
    none = omni.choice_logprobs([prompt], [None], options)[0]  # the `none` condition: no audio part at all
    assert max(abs(x[0] - y[0]) for x, y in zip(b, none)) > 1e-4


@pytest.mark.parametrize("mode", ["generate", "choice"])
def test_omni_end_to_end_on_mmar(omni_ckpt, bench_root, tmp_path, mode):
    report = run(RunConfig(tasks=["mmar"], model_args=f"pretrained={omni_ckpt},max_new_tokens=32", data_dir=str(bench_root), limit=10,
                           mode=mode, output_path=str(tmp_path)))
    conds = report["tasks"]["mmar"]["conditions"]
    assert set(conds) == {"original", "silent"} and all(c["n_total"] == 10 and c["n_audio_error"] == 0 for c in conds.values())
    assert report["model"]["arch"] == "qwen2.5-omni"
    if mode == "choice":
        assert conds["original"]["n_unparseable"] == 0
