"""The shipped models hear, and the trainers teach: behaviour, not plumbing.

The hearing base (audio description only) perceives every planted sound; the voters fine-tuned from it answer the
planted questions from the audio; GRPO's sampled completions follow the clip; and Weak-to-Strong's GRPO stage makes
its own SFT model answer the audio-needing questions better. Each check has its control through product code (the
paper's silence, a condition that drops the audio), so a deaf model or a deaf trainer fails here.
"""

import copy
import json
from collections import Counter
from pathlib import Path

import pytest
import torch
from rich.console import Console

from ac_eval.demo.planted_benchmark import AUDIO_KINDS, TEXT_KINDS, write_synthbench
from ac_eval.demo.walkthrough import VOTERS, _accuracy_by_kind, _evaluate, shipped_models
from ac_eval.evaluation.conditions import get_condition
from ac_eval.models import load_backend
from ac_eval.models.generation import GenerationSettings
from ac_eval.post_training.data import load_examples
from ac_eval.post_training.stages import GRPOStageConfig


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict:
    from ac_eval.analysis.subsets import write_task_yamls

    root = tmp_path_factory.mktemp("planted")
    data = write_synthbench(root / "data", n_train=160, n_test=80, seed=7)  # not the demo's seed: fresh clips
    for split in ("test", "train"):
        write_task_yamls(f"synthbench_{split}", "mmau", "test-mini", data[split]["mmau"], root / "tasks", "tests")
    return {**data, "tasks": root / "tasks", "root": root}


def _described(backend, examples, condition: str = "original") -> list[str]:
    audios = [get_condition(condition).audio_for(e.audio, 16000) for e in examples]
    prompts = [backend.chat_prompt("What do you hear?", None)] * len(examples)
    return backend.generate(prompts, audios, GenerationSettings(max_new_tokens=12))


def _heard(description: str, answer: str, kind: str) -> bool:
    words = description.split()
    return words[:1] == [answer] if kind == "count" else answer in words


def test_the_hearing_base_perceives_every_planted_sound_and_never_saw_the_format(planted):
    base = shipped_models() / "hearing-base"
    record = json.loads((base / "ac_eval_training.json").read_text())
    assert record["recipe"] == "audio-description" and [s["name"] for s in record["stages"]] == ["describe"]
    examples = [e for e in load_examples(planted["test"]["audiomcq"]) if e.label == "strong"]  # audio-needing
    backend = load_backend(str(base))
    kinds = [e.id.split("-")[1] for e in examples]
    said = {}
    # the clips span each word's whole range, edges included, where the base is least sure: >= 90% of all of them,
    # >= 80% of each kind; with silence at most half of any kind
    for condition, check in (("original", lambda rate: rate >= 0.8), ("silent", lambda rate: rate <= 0.5)):
        said[condition] = _described(backend, examples, condition)
        right, total = Counter(), Counter(kinds)
        for e, kind, text in zip(examples, kinds, said[condition]):
            right[kind] += _heard(text, e.answer, kind)
        rates = {k: right[k] / total[k] for k in total}
        assert set(rates) == set(AUDIO_KINDS) and all(check(r) for r in rates.values()), (condition, rates)
        if condition == "original":
            assert sum(right.values()) >= 0.9 * len(examples), (condition, rates)
    # it describes; it does not answer in the multiple-choice format (it never saw it)
    assert not any("<answer>" in text for text in said["original"])


@pytest.fixture(scope="module")
def voter_accuracy(planted) -> dict:
    out = {}
    for voter in VOTERS:
        name = f"voter-{voter['seed']}"
        run = planted["root"] / "runs" / name
        _evaluate(shipped_models() / name, "synthbench_test", planted["tasks"], ["original", "silent"], run, None,
                  Console(quiet=True))
        out[name] = _accuracy_by_kind(run)
    return out


def test_the_voters_hear_every_audio_kind(voter_accuracy):
    for name, by_condition in voter_accuracy.items():
        heard, silent = by_condition["original"], by_condition["silent"]
        assert all(heard[k] >= 0.9 for k in AUDIO_KINDS), (name, heard)
        # the control: the paper's silence, through the product's condition, takes the audio kinds to their priors
        assert sum(silent[k] for k in AUDIO_KINDS) / 4 <= 0.7, (name, silent)
        # text-solvable items of every kind are read from the question: answered well above chance with silence
        assert all(silent[k] >= 0.6 for k in TEXT_KINDS), (name, silent)
    weights = [(shipped_models() / f"voter-{v['seed']}" / "model.safetensors").read_bytes() for v in VOTERS]
    assert len(set(weights)) == len(VOTERS)  # three different models, as real voters are


def _grpo_reward_accuracy(backend, model, examples, condition: str) -> float:
    from ac_eval.post_training.grpo import grpo_loss

    audios = [get_condition(condition).audio_for(e.audio, 16000) for e in examples]
    cfg = GRPOStageConfig(num_generations=4, max_completion_length=12, temperature=1.0, top_k=0, top_p=1.0)
    torch.manual_seed(0)
    _, metrics = grpo_loss(backend, model, model, examples, audios, cfg)
    return metrics["reward_accuracy"]


def test_grpo_samples_and_rewards_what_the_clip_says(planted):
    """A voter's completions, sampled inside `grpo_loss`, are mostly right with the clips and fall to the answer
    priors with silence: audio lost anywhere before `model.generate` (features zeroed in `grpo.sample`) fails this."""
    backend = load_backend(str(shipped_models() / "voter-0"))
    examples = [e for e in load_examples(planted["train"]["audiomcq"])
                if e.label == "strong" and e.id.split("-")[1] in ("pitch", "loudness", "count")][:24]
    model = copy.deepcopy(backend.model).train()
    with_clips = _grpo_reward_accuracy(backend, model, examples, "original")
    with_silence = _grpo_reward_accuracy(backend, model, examples, "silent")
    assert with_clips >= 0.8 and with_clips - with_silence >= 0.25, (with_clips, with_silence)


def test_weak_to_strong_grpo_teaches_its_sft_model_to_answer_from_the_audio(planted, tmp_path):
    """The end-to-end learning check at CI size: the Weak-to-Strong recipe from the hearing base on the planted
    train split (its own weak/strong truth as labels). SFT on the text-solvable items teaches the format; GRPO on
    the audio-needing ones must then answer them better than the SFT model it started from."""
    from ac_eval.demo.walkthrough import tiny_recipe_settings
    from ac_eval.post_training.recipe import load_recipe, run_recipe

    recipe = load_recipe("weak_sft_strong_grpo", [f"base_model={shipped_models() / 'hearing-base'}",
                                                  f"data={planted['train']['audiomcq']}",
                                                  *tiny_recipe_settings(sft_steps=200, grpo_steps=200)])
    final = run_recipe(recipe, tmp_path / "w2s")
    scores = {}
    for name, model in (("after-sft", tmp_path / "w2s" / "sft" / "final"), ("after-grpo", final)):
        _evaluate(model, "synthbench_test", planted["tasks"], ["original", "silent"], tmp_path / name, None,
                  Console(quiet=True))
        by_condition = _accuracy_by_kind(tmp_path / name)
        scores[name] = {c: sum(by_condition[c][k] for k in AUDIO_KINDS) / len(AUDIO_KINDS) for c in by_condition}
    gain = {c: scores["after-grpo"][c] - scores["after-sft"][c] for c in ("original", "silent")}
    # better with the clips, and by more than with silence: GRPO taught listening, not only the format or a prior
    assert gain["original"] >= 0.05 and gain["original"] >= gain["silent"] + 0.05, (scores, gain)
    log = [json.loads(line) for line in (tmp_path / "w2s" / "grpo" / "log.jsonl").read_text().splitlines()]
    assert sum(r["reward_accuracy"] for r in log[-5:]) > sum(r["reward_accuracy"] for r in log[:5])
    assert Path(final / "ac_eval_training.json").is_file()
