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
from ac_eval.post_training.data import load_examples, select_stages, to_ms_swift
from ac_eval.post_training.recipe import apply_override, load_recipe
from ac_eval.post_training.rewards import accuracy_reward, format_reward, total_reward
from ac_eval.post_training.stages import GRPOStageConfig, load_example_audio, stage_config

REPO = Path(__file__).resolve().parent.parent
RECIPE = REPO / "trainers" / "weak_sft_strong_grpo.yaml"
# Settings for a 0.35 M-parameter model on CPU, not the paper's: at 1000x the paper's learning rate, its optimizer
# (AdamW beta2 0.95, weight decay 0.1) and top-p 0.9 make this tiny model's GRPO diverge (measured: sampled reward
# 1.07 -> 0.00 with all three, 1.17 -> 1.43 with these), so the tests set them here; the recipes keep the paper's.
TINY_OPTIMIZER = [f"stages.{s}.{k}" for s in ("sft", "grpo") for k in ("adam_beta2=0.999", "weight_decay=0")]
FAST = ["stages.sft.per_device_batch=8", "stages.sft.bf16=false", "stages.sft.lr=5e-3",
        "stages.grpo.per_device_batch=8", "stages.grpo.num_generations=4", "stages.grpo.max_completion_length=12",
        "stages.grpo.bf16=false", "stages.grpo.temperature=1.0", "stages.grpo.top_k=50", "stages.grpo.lr=1e-3",
        "stages.grpo.top_p=1.0", *TINY_OPTIMIZER]


@pytest.mark.parametrize("completion,answer,acc,fmt", [
    ("<answer>High</answer>", "high", 1, 1),                   # case
    ("  <answer> high </answer>\n", "high", 1, 1),             # surrounding whitespace
    ("<answer>high</answer><answer>low</answer>", "high", 1, 0),  # two tags: first counts, format fails
    ("high", "high", 1, 0),                                    # no tag: the whole completion is compared
    (" High \n", "high", 1, 0),                                # ... stripped, in any case
    ("it is high", "high", 0, 0),                              # ... and must equal the option
    ("<ANSWER>high</Answer>", "high", 1, 0),                   # tags in any case count for accuracy, not format
    ("The answer: <answer>high</answer>", "high", 1, 0),       # text outside the tags
    ("<answer>higher</answer>", "high", 0, 1),                 # exact match only
    ("<answer>high", "high", 0, 0),                            # unclosed: the whole text is not the option
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
    assert counts["overlap_between_stages"] == 0 and not {e.id for e in sft} & {e.id for e in grpo}
    assert counts["sft"]["n"] == 32 and {e.label for e in grpo} == {"strong"}
    assert counts["grpo"]["n"] == 32 - counts["sft"].get("strong", 0)
    assert to_ms_swift(grpo, tmp_path / "g.jsonl") == len(grpo)
    row = json.loads((tmp_path / "g.jsonl").read_text().splitlines()[0])
    assert row["messages"][1]["content"].startswith("<audio>") and row["solution"] == grpo[0].answer
    assert row["messages"][2]["content"] == f"<answer>{grpo[0].answer}</answer>"


def test_recipes_and_overrides():
    for path in sorted((REPO / "trainers").glob("*.yaml")):
        recipe = load_recipe(path)
        paper = path.stem != "audio_description"  # the perception stage before post-training is ours, not the paper's
        assert recipe["stages"] and all((stage_config(s).lr == 1e-6) == paper for s in recipe["stages"])
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


def _grpo_audio_effect(backend, task, monkeypatch, condition: str = "original") -> dict:
    """Run `grpo_loss` twice on the same items: once with what the product's `condition` makes of each clip, once
    with silence of the clip's length (same token ids), the same sampled completions both times. Returns, per pass,
    how much the audio changed what the pass computed, and whether `model.generate` (inside `grpo.sample`) was
    given the clip: spied where generation happens, so audio lost anywhere before it is caught. A product
    condition that drops the audio (`silent-matched`) must show no effect at all: the control goes through product
    code, not through a deaf stand-in written here."""
    import copy

    import numpy as np

    import ac_eval.post_training.grpo as grpo
    from ac_eval.evaluation.records import AudioInput
    from ac_eval.evaluation.conditions import get_condition

    kept = load_examples(task)[:2]
    heard = [get_condition(condition).audio_for(e.audio, 16000) for e in kept]
    silent = [AudioInput(np.zeros_like(a.array)) for a in heard]
    clips = [AudioInput(a.array) for a in load_example_audio(kept, 16000)[1]]
    prompts = [backend.chat_prompt(e.user_text, e.system) for e in kept]
    assert torch.equal(backend.encode(prompts, heard)["input_ids"], backend.encode(prompts, silent)["input_ids"])
    cfg = GRPOStageConfig(num_generations=2, max_completion_length=6, temperature=1.5, top_k=50)
    policy, ref = copy.deepcopy(backend.model).train(), copy.deepcopy(backend.model).eval()
    given: list[dict] = []
    generate = policy.generate

    def spy(**kwargs):
        given.append(kwargs)
        out = generate(**kwargs)
        return given[0].setdefault("_out", out)  # the second run continues the first run's completions

    monkeypatch.setattr(policy, "generate", spy)
    seen: list[torch.Tensor] = []
    original_logprobs = grpo.completion_logprobs

    def logprobs(*args, **kwargs):
        out = original_logprobs(*args, **kwargs)
        seen.append(out.detach())
        return out

    monkeypatch.setattr(grpo, "completion_logprobs", logprobs)
    for audios in (heard, silent):
        torch.manual_seed(0)
        loss, _ = grpo.grpo_loss(backend, policy, ref, kept, audios, cfg)
        assert torch.isfinite(loss)
    policy_real, ref_real, policy_quiet, ref_quiet = seen

    def audio_given(kwargs: dict) -> torch.Tensor:  # the audio generation received, in whichever form it took
        if "inputs_embeds" in kwargs:
            return kwargs["inputs_embeds"][kwargs["input_ids"] == backend.model.config.audio_token_id]
        return kwargs["input_features"]

    with torch.no_grad():  # what the clip itself gives, computed apart from the trainer
        expected = audio_given(grpo.repeat_inputs(backend.model_inputs(policy, backend.encode(prompts, clips)), 2))
    return {
        "generation_got_the_clip": torch.allclose(audio_given(given[0]), expected, atol=1e-5),
        "generation_inputs_differ": not torch.equal(audio_given(given[0]), audio_given(given[1])),
        "policy": (policy_real - policy_quiet).abs().max().item(),
        "reference": (ref_real - ref_quiet).abs().max().item(),
    }


@pytest.mark.parametrize("frames", ["clip", "padded"])
def test_audio_reaches_generation_policy_and_reference_through_grpo_loss(backend, task, monkeypatch, frames):
    monkeypatch.setattr(backend, "clip_frames", frames == "clip")
    effect = _grpo_audio_effect(backend, task, monkeypatch)
    assert effect["generation_got_the_clip"] and effect["generation_inputs_differ"], effect
    assert effect["policy"] > 1e-4 and effect["reference"] > 1e-4, effect


def test_the_audio_check_catches_audio_that_was_dropped(backend, task, monkeypatch):
    effect = _grpo_audio_effect(backend, task, monkeypatch, condition="silent-matched")
    assert not effect["generation_got_the_clip"] and not effect["generation_inputs_differ"], effect
    assert effect["policy"] == 0 and effect["reference"] == 0, effect


def _batch(backend, task, n=4):
    kept, audios, _ = load_example_audio(load_examples(task)[:n], 16000)
    return kept, audios


def _grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _same_grads(a: dict, b: dict) -> bool:
    """Every gradient equal to float rounding, measured against its tensor's own scale."""
    return a.keys() == b.keys() and all(((a[k] - b[k]).abs().max() <= 1e-4 * b[k].abs().max() + 1e-10) for k in a)


@pytest.mark.parametrize("kind", ["sft", "grpo"])
def test_training_over_each_clips_own_frames_equals_the_padded_forward(backend, task, monkeypatch, kind):
    """Loss and every gradient (audio encoder, projector, decoder) of the fast path equal those of the model's own
    forward over the processor's 30 s windows; a clip of 30 s of silence sits in the batch too."""
    import copy

    import numpy as np

    from ac_eval.evaluation.conditions import SilentCondition
    from ac_eval.post_training.grpo import completion_logprobs, repeat_inputs, sample
    from ac_eval.post_training.sft import sft_loss

    kept, audios = _batch(backend, task)
    audios[-1] = SilentCondition().audio_for(kept[-1].audio, 16000)
    assert len({a.array.size for a in audios}) > 1
    prompts = [backend.chat_prompt(e.user_text, e.system) for e in kept]
    encoded = backend.encode(prompts, audios)
    if kind == "grpo":  # completions sampled once, then scored by both paths
        monkeypatch.setattr(backend, "clip_frames", False)
        cfg = GRPOStageConfig(num_generations=2, max_completion_length=6, temperature=1.5, top_k=50)
        torch.manual_seed(0)
        completion, mask = sample(backend, backend.model, repeat_inputs(encoded, 2), cfg)
    results = {}
    for frames in ("clip", "padded"):
        monkeypatch.setattr(backend, "clip_frames", frames == "clip")
        model = copy.deepcopy(backend.model).train()
        if kind == "sft":
            loss, _ = sft_loss(backend, model, kept, audios)
        else:
            weights = torch.linspace(-1, 1, completion.numel()).view_as(completion)  # any fixed advantage-like weights
            logprobs = completion_logprobs(backend, model, repeat_inputs(backend.model_inputs(model, encoded), 2),
                                           completion, mask, 1.5)
            loss = (logprobs * weights * mask).sum()
        loss.backward()
        results[frames] = (loss.detach(), _grads(model))
    (clip_loss, clip_grads), (padded_loss, padded_grads) = results["clip"], results["padded"]
    assert torch.allclose(clip_loss, padded_loss, rtol=1e-5), (clip_loss, padded_loss)
    assert any("audio_tower" in k for k in clip_grads) and any("language_model" in k for k in clip_grads)
    worst = max(((clip_grads[k] - padded_grads[k]).abs().max() / padded_grads[k].abs().max().clamp(min=1e-12)).item()
                for k in padded_grads)
    assert _same_grads(clip_grads, padded_grads), worst
    # the comparison can fail: gradients of another batch are not equal
    model = copy.deepcopy(backend.model).train()
    sft_loss(backend, model, kept[:2], audios[:2])[0].backward()
    assert not _same_grads(_grads(model), padded_grads)


def test_grpo_gradients_reach_the_audio_encoder(backend, task):
    import copy

    from ac_eval.post_training.grpo import completion_logprobs, repeat_inputs, sample

    kept, audios = _batch(backend, task, 2)
    prompts = [backend.chat_prompt(e.user_text, e.system) for e in kept]
    encoded = backend.encode(prompts, audios)
    cfg = GRPOStageConfig(num_generations=2, max_completion_length=6, temperature=1.5, top_k=50)
    completion, mask = sample(backend, backend.model, repeat_inputs(encoded, 2), cfg)
    model = copy.deepcopy(backend.model).train()
    inputs = repeat_inputs(backend.model_inputs(model, encoded), 2)
    completion_logprobs(backend, model, inputs, completion, mask, cfg.temperature).sum().backward()
    encoder = [p.grad for n, p in model.named_parameters() if "audio_tower" in n and p.grad is not None]
    assert encoder and any(g.abs().sum() > 0 for g in encoder)


def test_logprobs_are_tempered_and_sampling_is_pinned(backend, task, monkeypatch):
    """Log-probs under the sampling temperature (ms-swift, TRL); top-p 0.9 and repetition penalty 1.0 pinned."""
    from ac_eval.post_training.grpo import completion_logprobs, repeat_inputs, sample

    kept, audios, _ = load_example_audio(load_examples(task)[:1], 16000)
    inputs = repeat_inputs(backend.encode([backend.chat_prompt(kept[0].user_text, None)], audios), 2)
    cfg = GRPOStageConfig(num_generations=2, max_completion_length=4)
    assert (cfg.temperature, cfg.top_p, cfg.repetition_penalty, cfg.weight_decay, cfg.adam_beta2) == (1.5, 0.9, 1.0, 0.1, 0.95)
    asked = {}
    generate = backend.model.generate
    monkeypatch.setattr(backend.model, "generate", lambda **kw: asked.update(kw) or generate(**kw))
    completion, mask = sample(backend, backend.model, inputs, cfg)
    assert asked["top_p"] == 0.9 and asked["repetition_penalty"] == 1.0 and asked["temperature"] == 1.5
    with torch.no_grad():
        logits = backend.forward(backend.model, {**inputs, "input_ids": torch.cat([inputs["input_ids"], completion], 1),
                                                 "attention_mask": torch.cat([inputs["attention_mask"], mask], 1)})
        expected = torch.log_softmax(logits[:, inputs["input_ids"].shape[1] - 1 : -1].float() / 1.5, -1)
        expected = expected.gather(-1, completion.unsqueeze(-1)).squeeze(-1)
        got = completion_logprobs(backend, backend.model, inputs, completion, mask, 1.5)
    assert torch.allclose(got, expected, atol=1e-6)
    assert not torch.allclose(got, completion_logprobs(backend, backend.model, inputs, completion, mask, 1.0))


@pytest.fixture(scope="module")
def trained(task, tmp_path_factory):
    """The weak-to-strong recipe, SFT then GRPO, on a tiny Qwen2-Audio."""
    from ac_eval.models.tiny_checkpoints import build_qwen2_audio
    from ac_eval.post_training.recipe import run_recipe

    root = tmp_path_factory.mktemp("w2s")
    base = build_qwen2_audio(root / "base", seed=0)
    recipe = load_recipe(RECIPE, [f"base_model={base}", f"data={task}", "stages.sft.max_steps=60",
                                  "stages.grpo.max_steps=40", "stages.sft.save_steps=1000", *FAST])
    return base, run_recipe(recipe, root / "out"), root / "out", recipe


def _log(stage_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (stage_dir / "log.jsonl").read_text().splitlines()]


def _sampled_reward(path: Path, task: Path) -> float:
    from ac_eval.models import load_backend
    from ac_eval.post_training.grpo import repeat_inputs, sample

    backend = load_backend(str(path))
    strong = [e for e in load_examples(task) if e.label == "strong"]
    kept, audios, _ = load_example_audio(strong, 16000)
    cfg = GRPOStageConfig(num_generations=4, max_completion_length=12, temperature=1.0, top_k=50)
    torch.manual_seed(0)
    inputs = repeat_inputs(backend.encode([backend.chat_prompt(e.user_text, PROMPTS["audiomcq"].system) for e in kept], audios), 4)
    completion, mask = sample(backend, backend.model, inputs, cfg)
    texts = backend.tokenizer.batch_decode(completion * mask + (1 - mask) * backend.tokenizer.pad_token_id, skip_special_tokens=True)
    return sum(total_reward(t, e.answer)[0] for t, e in zip(texts, [e for e in kept for _ in range(4)])) / len(texts)


def test_sft_lowers_the_loss_and_grpo_raises_the_reward(trained, task):
    base, final, out, _ = trained
    sft = _log(out / "sft")
    assert len(sft) == 60 and sum(r["loss"] for r in sft[-5:]) < 0.5 * sum(r["loss"] for r in sft[:5])
    grpo = _log(out / "grpo")
    assert len(grpo) == 40 and all({"reward", "reward_accuracy", "reward_format", "kl", "lr"} <= set(r) for r in grpo)
    before, after = _sampled_reward(out / "sft" / "final", task), _sampled_reward(out / "grpo" / "final", task)
    assert after > before + 0.1, (before, after)


def test_trained_model_goes_back_into_the_harness(trained, bench_root, tmp_path):
    from ac_eval.board.build import entries_from_run
    from ac_eval.run import RunConfig, run

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
    from ac_eval.post_training.recipe import load_recipe, run_recipe

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
           "stages.sft.bf16=false", "stages.sft.save_steps=1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert len(_log(tmp_path / "out" / "sft")) == 3  # one log line per step, from the main process only
    # a checkpoint holds both ranks' RNG states (each rank samples with its own seed) and the optimizer state
    checkpoint = tmp_path / "out" / "sft" / "checkpoint-2"
    assert {p.name for p in checkpoint.glob("random_states_*.pkl")} == {"random_states_0.pkl", "random_states_1.pkl"}
    assert (checkpoint / "optimizer.bin").is_file() and (checkpoint / "COMPLETE").is_file()
    states = [torch.load(checkpoint / f"random_states_{r}.pkl", weights_only=False) for r in (0, 1)]
    assert not torch.equal(states[0]["torch_manual_seed"], states[1]["torch_manual_seed"])  # not one seed for all
    from safetensors.torch import load_file

    before = load_file(base / "model.safetensors")
    after = load_file(tmp_path / "out" / "final" / "model.safetensors")
    assert any(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("kind", ["sft", "grpo"])
def test_a_resumed_stage_ends_exactly_where_an_uninterrupted_one_does(kind, task, trained, tmp_path, monkeypatch):
    """Stop a stage after its checkpoint at step 4, rerun it: the final weights equal those of a run that never
    stopped (model, optimizer, schedule and RNG state all came back; GRPO samples the same completions)."""
    from safetensors.torch import load_file

    from ac_eval.post_training import stages
    from ac_eval.post_training.recipe import run_recipe

    # GRPO starts from the SFT model of the `trained` fixture: its rewards vary, so every step moves the weights.
    base = trained[0] if kind == "sft" else trained[2] / "sft" / "final"
    recipe_name = "all_sft" if kind == "sft" else "all_grpo"
    settings = [f"base_model={base}", f"data={task}", f"stages.{kind}.max_steps=6", f"stages.{kind}.save_steps=2",
                *[f for f in FAST if f.startswith(f"stages.{kind}.")]]

    def recipe():
        return load_recipe(recipe_name, settings)

    straight = run_recipe(recipe(), tmp_path / "straight")
    log = stages.Logger.log

    def stop_at_five(self, step, *args, **kwargs):
        if step == 5:
            raise KeyboardInterrupt("stopped after checkpoint-4")
        return log(self, step, *args, **kwargs)

    monkeypatch.setattr(stages.Logger, "log", stop_at_five)
    with pytest.raises(KeyboardInterrupt):
        run_recipe(recipe(), tmp_path / "resumed")
    assert (tmp_path / "resumed" / kind / "checkpoint-4" / "COMPLETE").is_file()
    monkeypatch.setattr(stages.Logger, "log", log)
    resumed = run_recipe(recipe(), tmp_path / "resumed")
    a, b = load_file(straight / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    start = load_file(Path(base) / "model.safetensors")
    assert any(not torch.equal(start[k], a[k]) for k in a)  # the stage did train
    assert [r["step"] for r in _log(tmp_path / "resumed" / kind)] == list(range(1, 7))
    if kind == "grpo":
        rewards = [r["reward"] for r in _log(tmp_path / "straight" / "grpo")]
        assert len(set(rewards)) > 1


def test_rows_are_grouped_by_length_and_settings_are_checked():
    from ac_eval.post_training.sft import length_groups

    # a 30 s clip's 800-token row does not pad the short rows: it goes in a group of its own
    assert length_groups([100, 810, 95, 120, 790]) == [[2, 0, 3], [4, 1]]
    assert sorted(i for g in length_groups([5, 1, 9, 30, 2]) for i in g) == [0, 1, 2, 3, 4]
    assert stage_config({"name": "s", "encoder_frames": "padded"}).encoder_frames == "padded"
    with pytest.raises(ValueError, match="encoder_frames='whole'"):
        stage_config({"name": "s", "encoder_frames": "whole"})
