"""Trainers: rewards, data selection, audio in every GRPO forward, a whole recipe, resume, two processes."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ac_eval.evaluation.prompts import PROMPTS
from ac_eval.testing.synthetic_audio import write_pitch_task
from ac_eval.training.data import load_examples, select_stages, to_ms_swift
from ac_eval.training.recipe import apply_override, load_recipe
from ac_eval.training.rewards import accuracy_reward, format_reward, total_reward
from ac_eval.training.stages import GRPOStageConfig, load_example_audio, stage_config

REPO = Path(__file__).resolve().parent.parent
RECIPE = REPO / "trainers" / "weak_sft_strong_grpo.yaml"
FAST = ["stages.sft.per_device_batch=8", "stages.sft.bf16=false", "stages.sft.lr=5e-3",
        "stages.grpo.per_device_batch=8", "stages.grpo.num_generations=4", "stages.grpo.max_completion_length=12",
        "stages.grpo.bf16=false", "stages.grpo.temperature=1.0", "stages.grpo.top_k=50", "stages.grpo.lr=1e-3"]


@pytest.mark.parametrize("completion,answer,acc,fmt", [
    ("<answer>High</answer>", "high", 1, 1),                   # case
    ("  <answer> high </answer>\n", "high", 1, 1),             # surrounding whitespace
    ("<answer>high</answer><answer>low</answer>", "high", 1, 0),  # two tags: first counts, format fails
    ("high", "high", 0, 0),                                    # no tag
    ("The answer: <answer>high</answer>", "high", 1, 0),       # text outside the tags
    ("<answer>higher</answer>", "high", 0, 1),                 # exact match only
    ("<answer>high", "high", 0, 0),                            # unclosed
])
def test_rewards_match_the_paper(completion, answer, acc, fmt):
    assert accuracy_reward(completion, answer) == acc and format_reward(completion) == fmt
    assert total_reward(completion, answer)[0] == pytest.approx(2.0 * acc + 0.5 * fmt)


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> Path:
    return write_pitch_task(tmp_path_factory.mktemp("pitch"), 64)


def test_stage_selection_is_disjoint_and_counted(task, tmp_path):
    examples = load_examples(task)
    mixed = load_recipe(REPO / "trainers" / "mixed_sft_strong_grpo.yaml")
    (sft, grpo), counts = select_stages(examples, mixed["stages"])
    assert counts["overlap_between_stages"] == 0 and not {e.record.id for e in sft} & {e.record.id for e in grpo}
    assert counts["sft"]["n"] == 32 and {e.label for e in grpo} == {"strong"}
    assert counts["grpo"]["n"] == 32 - counts["sft"].get("strong", 0)
    assert to_ms_swift(grpo, tmp_path / "g.jsonl") == len(grpo)
    row = json.loads((tmp_path / "g.jsonl").read_text().splitlines()[0])
    assert row["messages"][1]["content"].startswith("<audio>") and row["solution"] == grpo[0].record.answer
    assert row["messages"][2]["content"] == f"<answer>{grpo[0].record.answer}</answer>"


def test_recipes_and_overrides():
    for path in sorted((REPO / "trainers").glob("*.yaml")):
        recipe = load_recipe(path)
        assert recipe["stages"] and all(stage_config(s).lr == 1e-6 for s in recipe["stages"])  # the paper's lr
    recipe = load_recipe(RECIPE, ["stages.grpo.lr=3e-5", "base_model=/x", "stages.sft.select.fraction=0.5"])
    assert stage_config(recipe["stages"][1]).lr == 3e-5 and recipe["base_model"] == "/x" and recipe["stages"][0]["select"]["fraction"] == 0.5
    assert stage_config({**recipe["stages"][1], "beta": "1e-3"}).beta == 1e-3  # YAML's string floats coerced
    with pytest.raises(ValueError, match="no stage named 'rl'"):
        apply_override(recipe, "stages.rl.lr=1")
    with pytest.raises(ValueError, match="unknown setting"):
        stage_config({"name": "x", "kind": "sft", "learning_rate": 1})
    with pytest.raises(ValueError, match="is not a float"):
        stage_config({"name": "x", "kind": "grpo", "beta": "much"})
    # a shipped recipe by name (what a wheel's users have), and a clear error for a name that is neither
    assert load_recipe("weak_sft_strong_grpo") == load_recipe(REPO / "trainers" / "weak_sft_strong_grpo.yaml")
    with pytest.raises(FileNotFoundError, match="not a shipped recipe .*weak_sft_strong_grpo"):
        load_recipe("weak_to_strong")


def test_audio_reaches_every_grpo_forward(backend, task):
    """Generation, policy log-probs and reference log-probs all see the audio; gradients reach the encoder."""
    import copy

    from ac_eval.evaluation.conditions import SilentCondition
    from ac_eval.evaluation.records import AudioRef
    from ac_eval.training.grpo import (
        completion_logprobs,
        grpo_loss,
        repeat_inputs,
        sample,
    )

    examples = load_examples(task)[:2]
    kept, audios, _ = load_example_audio(examples, 16000)
    silence = [SilentCondition().audio_for(AudioRef("x"), 16000) for _ in kept]
    prompts = [backend.chat_prompt(e.user_text, PROMPTS["audiomcq"].system) for e in kept]
    cfg = GRPOStageConfig(num_generations=2, max_completion_length=6, temperature=1.0, top_k=50)
    with_audio = repeat_inputs(backend.encode(prompts, audios), 2)
    without = repeat_inputs(backend.encode(prompts, silence), 2)
    assert "input_features" in with_audio and with_audio["input_features"].shape[0] == 4
    completion, mask = sample(backend, backend.model, with_audio, cfg)
    a = completion_logprobs(backend, backend.model, with_audio, completion, mask)
    b = completion_logprobs(backend, backend.model, without, completion, mask)
    assert (a - b).abs().max() > 1e-5  # the policy log-probs depend on the audio

    model = copy.deepcopy(backend.model).train()
    ref = copy.deepcopy(backend.model).eval()
    # the reference pass sees the audio too
    r = completion_logprobs(backend, ref, with_audio, completion, mask)
    assert (r - completion_logprobs(backend, ref, without, completion, mask)).abs().max() > 1e-5
    # gradients of the policy log-probs reach the audio encoder
    completion_logprobs(backend, model, with_audio, completion, mask).sum().backward()
    encoder = [p.grad for n, p in model.named_parameters() if "audio_tower" in n and p.grad is not None]
    assert encoder and any(g.abs().sum() > 0 for g in encoder)
    # and the whole GRPO loss is finite and carries its metrics
    loss, metrics = grpo_loss(backend, copy.deepcopy(backend.model).train(), ref, kept, audios, cfg)
    assert torch.isfinite(loss) and {"reward", "kl", "reward_format"} <= set(metrics)


@pytest.fixture(scope="module")
def trained(task, tmp_path_factory):
    """The weak-to-strong recipe, SFT then GRPO, on a tiny Qwen2-Audio."""
    from ac_eval.models.tiny_checkpoints import build_qwen2_audio
    from ac_eval.training.recipe import run_recipe

    root = tmp_path_factory.mktemp("w2s")
    base = build_qwen2_audio(root / "base", seed=0)
    recipe = load_recipe(RECIPE, [f"base_model={base}", f"data={task}", "stages.sft.max_steps=60",
                                  "stages.grpo.max_steps=40", "stages.sft.save_steps=1000", *FAST])
    return base, run_recipe(recipe, root / "out"), root / "out", recipe


def _log(stage_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (stage_dir / "log.jsonl").read_text().splitlines()]


def _sampled_reward(path: Path, task: Path) -> float:
    from ac_eval.models import load_backend
    from ac_eval.training.grpo import repeat_inputs, sample

    backend = load_backend(str(path))
    strong = [e for e in load_examples(task) if e.label == "strong"]
    kept, audios, _ = load_example_audio(strong, 16000)
    cfg = GRPOStageConfig(num_generations=4, max_completion_length=12, temperature=1.0, top_k=50)
    torch.manual_seed(0)
    inputs = repeat_inputs(backend.encode([backend.chat_prompt(e.user_text, PROMPTS["audiomcq"].system) for e in kept], audios), 4)
    completion, mask = sample(backend, backend.model, inputs, cfg)
    texts = backend.tokenizer.batch_decode(completion * mask + (1 - mask) * backend.tokenizer.pad_token_id, skip_special_tokens=True)
    return sum(total_reward(t, e.record.answer)[0] for t, e in zip(texts, [e for e in kept for _ in range(4)])) / len(texts)


def test_sft_lowers_the_loss_and_grpo_raises_the_reward(trained, task):
    base, final, out, _ = trained
    sft = _log(out / "sft")
    assert len(sft) == 60 and sum(r["loss"] for r in sft[-5:]) < 0.5 * sum(r["loss"] for r in sft[:5])
    grpo = _log(out / "grpo")
    assert len(grpo) == 40 and all({"reward", "reward_accuracy", "reward_format", "kl", "lr"} <= set(r) for r in grpo)
    before, after = _sampled_reward(out / "sft" / "final", task), _sampled_reward(out / "grpo" / "final", task)
    assert after > before + 0.1, (before, after)


def test_trained_model_goes_back_into_the_harness(trained, bench_root, tmp_path):
    from ac_eval.board.leaderboard import entries_from_run
    from ac_eval.evaluation.runner import RunConfig, run

    base, final, out, recipe = trained
    record = json.loads((final / "ac_eval_training.json").read_text())
    selection = json.loads((out / "data_selection.json").read_text())
    assert record["recipe"] == "weak-sft-strong-grpo" and record["base_model"] == base.name  # readable, not a temporary path
    assert [s["data_sha256"] for s in record["stages"]] == [selection["sft"]["sha256"], selection["grpo"]["sha256"]]
    report = run(RunConfig(tasks=["mmau"], model_args=f"pretrained={final},max_new_tokens=32", data_dir=str(bench_root), limit=5,
                           output_path=str(tmp_path)))
    assert report["model"]["training"]["recipe"] == "weak-sft-strong-grpo"
    (entry,) = entries_from_run(tmp_path)
    assert entry["provenance"]["recipe"]["stages"][1]["kind"] == "grpo"


def test_killed_run_resumes_from_its_checkpoint(task, tmp_path):
    from ac_eval.models.tiny_checkpoints import build_qwen2_audio

    base = build_qwen2_audio(tmp_path / "base")
    cmd = [sys.executable, "-m", "ac_eval", "train", "--recipe", str(REPO / "trainers" / "all_sft.yaml"),
           "--output", str(tmp_path / "out"), f"base_model={base}", f"data={task}", "stages.sft.max_steps=24",
           "stages.sft.save_steps=4", "stages.sft.per_device_batch=4", "stages.sft.bf16=false", "stages.sft.lr=5e-3"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while not list((tmp_path / "out" / "sft").glob("checkpoint-*/COMPLETE")):
        assert time.time() < deadline and first.poll() is None, "no checkpoint before the run ended"
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert not (tmp_path / "out" / "final").exists()
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "resumed sft from checkpoint-" in second.stdout + second.stderr  # a note beside the progress (stderr)
    assert (tmp_path / "out" / "final" / "ac_eval_training.json").exists()
    assert (tmp_path / "out" / "final" / "COMPLETE").is_file() and (tmp_path / "out" / "sft" / "final" / "COMPLETE").is_file()
    steps = [r["step"] for r in _log(tmp_path / "out" / "sft")]
    assert steps == list(range(1, 25))  # every step logged once, in order: none lost, none duplicated by the resume


def test_a_stage_killed_while_saving_is_not_taken_for_finished(task, tmp_path):
    """A final/ folder without its COMPLETE marker (the save was cut short) is trained again, not reused."""
    from ac_eval.models.tiny_checkpoints import build_qwen2_audio
    from ac_eval.training.recipe import load_recipe, run_recipe

    base = build_qwen2_audio(tmp_path / "base")
    half = tmp_path / "out" / "sft" / "final"
    half.mkdir(parents=True)
    (half / "config.json").write_text("{}")  # written first by save_pretrained; the weights never came
    recipe = load_recipe(REPO / "trainers" / "all_sft.yaml", [f"base_model={base}", f"data={task}", "stages.sft.max_steps=2",
                                                               "stages.sft.per_device_batch=2", "stages.sft.bf16=false"])
    final = run_recipe(recipe, tmp_path / "out")
    assert (half / "COMPLETE").is_file() and (half / "model.safetensors").is_file()
    assert [r["step"] for r in _log(tmp_path / "out" / "sft")] == [1, 2]
    assert (final / "COMPLETE").is_file()


def test_two_process_training_on_cpu(task, tmp_path):
    from ac_eval.models.tiny_checkpoints import build_qwen2_audio

    base = build_qwen2_audio(tmp_path / "base")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
           "-m", "ac_eval", "train", "--recipe", str(REPO / "trainers" / "all_sft.yaml"), "--output", str(tmp_path / "out"),
           f"base_model={base}", f"data={task}", "stages.sft.max_steps=3", "stages.sft.per_device_batch=2",
           "stages.sft.bf16=false"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert len(_log(tmp_path / "out" / "sft")) == 3  # one log line per step, from the main process only
    from safetensors.torch import load_file

    before = load_file(base / "model.safetensors")
    after = load_file(tmp_path / "out" / "final" / "model.safetensors")
    assert any(not torch.equal(before[k], after[k]) for k in before)
