"""Audio Flamingo 3: on Qwen2-Audio's fast paths, checked against transformers' own processor and forward (the
generic processor backend) item for item; clips over 30 s through AF3's own windows."""

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
    assert report["model"]["arch"] == "audio-flamingo-3"


def test_the_fast_paths_give_what_the_model_itself_gives(af3, af3_ckpt):
    """The encoder over each clip's own frames, silence encoded once and the shared silent prefix cached: the same
    greedy tokens and option scores as AF3's processor feeding the model's own forward, for clips of several lengths,
    silence and no audio. A batch with a clip over 30 s goes through the processor's windows."""
    from ac_eval.models.generation import GenerationSettings
    from ac_eval.models.processor_backend import ProcessorBackend

    own = ProcessorBackend(str(af3_ckpt))
    silence = lambda: SilentCondition().audio_for(AudioRef("x"), 16000)  # noqa: E731
    settings = GenerationSettings(max_new_tokens=12)
    prompts = [af3.chat_prompt(f"Question {i}: what is heard?", "Answer.") for i in range(4)]
    for audios in ([_clip(2, 1), _clip(10, 2), _clip(0.5, 3), _clip(29, 4)], [silence() for _ in range(4)],
                   [None] * 4, [_clip(3, 5), _clip(45, 6), _clip(1, 7), _clip(2, 8)]):
        assert af3.generate(prompts, audios, settings) == own.generate(prompts, audios, settings)
        options = [["<answer>a dog</answer>", "<answer>rain on a roof</answer>"]] * 4
        fast, slow = af3.choice_logprobs(prompts, audios, options), own.choice_logprobs(prompts, audios, options)
        assert [[g for _, g in item] for item in fast] == [[g for _, g in item] for item in slow]
        assert max(abs(a[0] - b[0]) for f, s in zip(fast, slow) for a, b in zip(f, s)) < 1e-3
    assert af3.stats["prefix_cache_hits"] >= 1  # the second silent call reused the cached silent prefix
