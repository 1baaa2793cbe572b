"""GRPO with audio: group-sampled completions, the paper's rewards, group-normalised advantages, KL to a frozen
reference. The audio features go into generation, the policy log-probs and the reference log-probs alike (the
step TRL gets wrong: its log-prob pass drops them and the model trains deaf)."""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path

import torch

from ac_eval.post_training.rewards import total_reward
from ac_eval.post_training.stages import (
    GRPOStageConfig,
    Logger,
    batch_order,
    end_step,
    finish,
    latest_checkpoint,
    load_example_audio,
    optimizer_and_schedule,
    restore,
    setup,
    stage_label,
)

EPS = 1e-4  # R1-AQA's (r - mean) / (std + 1e-4)


def repeat_inputs(inputs: dict[str, torch.Tensor], g: int) -> dict[str, torch.Tensor]:
    """Every batch-aligned tensor (ids, masks, audio features) repeated g times per row, in place order."""
    return {k: v.repeat_interleave(g, dim=0) for k, v in inputs.items()}


def detached(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach() for k, v in inputs.items()}


@torch.no_grad()
def sample(backend, model, inputs: dict, cfg: GRPOStageConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(completion ids, completion mask) sampled with the audio in the inputs (the model's own features, or audio
    embeddings already in `inputs_embeds`); the mask ends at the first end token."""
    eos = backend.tokenizer.convert_tokens_to_ids("<|im_end|>")
    # A sampled audio placeholder would make the log-prob passes expect features for it: never sample one.
    audio_token = getattr(backend, "audio_token", None)
    suppress = [backend.tokenizer.convert_tokens_to_ids(audio_token)] if audio_token else None
    out = model.generate(**inputs, do_sample=True, temperature=cfg.temperature, top_k=cfg.top_k, top_p=cfg.top_p,
                         repetition_penalty=cfg.repetition_penalty, max_new_tokens=cfg.max_completion_length,
                         pad_token_id=backend.tokenizer.pad_token_id, eos_token_id=eos, suppress_tokens=suppress)
    completion = out[:, inputs["input_ids"].shape[1] :]
    is_eos = completion == eos
    first = torch.where(is_eos.any(1), is_eos.int().argmax(1), torch.full_like(is_eos[:, 0], completion.shape[1], dtype=torch.long))
    mask = (torch.arange(completion.shape[1], device=completion.device)[None] <= first[:, None]).long()
    return completion, mask


def completion_logprobs(backend, model, inputs: dict, completion: torch.Tensor, mask: torch.Tensor,
                        temperature: float = 1.0) -> torch.Tensor:
    """Per-token log-probabilities of `completion` after prompt + audio (audio included), under the sampling
    temperature: the distribution the completions were drawn from (ms-swift and TRL divide likewise)."""
    full = backend.append_tokens(model, inputs, completion, mask)
    logits = backend.forward(model, full)[:, inputs["input_ids"].shape[1] - 1 : -1].float() / temperature
    return torch.log_softmax(logits, -1).gather(-1, completion.unsqueeze(-1)).squeeze(-1)


def group_advantages(rewards: torch.Tensor, g: int) -> torch.Tensor:
    grouped = rewards.view(-1, g)
    return ((grouped - grouped.mean(1, keepdim=True)) / (grouped.std(1, keepdim=True) + EPS)).flatten()


def grpo_loss(backend, model, ref_model, examples, audios, cfg: GRPOStageConfig,
              ref_autocast=contextlib.nullcontext) -> tuple[torch.Tensor | None, dict]:
    """The GRPO loss of one batch of prompts. `ref_autocast`: the context the reference runs in (the trainer passes
    accelerate's autocast, so under bf16 the reference computes as the policy does)."""
    g = cfg.num_generations
    encoded = backend.encode([backend.chat_prompt(e.user_text, e.system) for e in examples], audios)
    room = cfg.max_length - cfg.max_completion_length
    if encoded["input_ids"].shape[1] > room:  # prompts that leave no room for a completion are skipped, counted
        return None, {"skipped_too_long": len(examples)}
    # The audio is encoded once per prompt, by the policy (with gradients) and by the reference, then repeated for
    # the prompt's g completions; generation reuses the policy's (detached) prompt inputs.
    policy_prompt = repeat_inputs(backend.model_inputs(model, encoded), g)
    unwrapped = model.module if hasattr(model, "module") else model
    completion, mask = sample(backend, unwrapped, detached(policy_prompt), cfg)
    texts = backend.tokenizer.batch_decode(completion * mask + (1 - mask) * backend.tokenizer.pad_token_id,
                                           skip_special_tokens=True)
    scored = [total_reward(t, e.answer) for t, e in zip(texts, [e for e in examples for _ in range(g)])]
    rewards = torch.tensor([s[0] for s in scored], device=completion.device)
    advantages = group_advantages(rewards, g)
    policy = completion_logprobs(backend, model, policy_prompt, completion, mask, cfg.temperature)
    with torch.no_grad(), ref_autocast():
        ref_prompt = repeat_inputs(backend.model_inputs(ref_model, encoded), g)
        reference = completion_logprobs(backend, ref_model, ref_prompt, completion, mask, cfg.temperature)
    delta = reference - policy
    kl = torch.exp(delta) - delta - 1  # k3 estimator, per token
    per_token = -torch.exp(policy - policy.detach()) * advantages[:, None] + cfg.beta * kl
    m = mask.float()
    loss = ((per_token * m).sum(1) / m.sum(1).clamp(min=1)).mean()
    metrics = {
        "loss": loss.item(),
        "reward": rewards.mean().item(),
        "reward_accuracy": sum(s[1] for s in scored) / len(scored),
        "reward_format": sum(s[2] for s in scored) / len(scored),
        "kl": ((kl * m).sum() / m.sum().clamp(min=1)).item(),
        "completion_length": m.sum(1).mean().item(),
    }
    return loss, metrics


def train_grpo(base: str, examples: list, cfg: GRPOStageConfig, stage_dir: Path, device: str = "cpu") -> Path:
    """Run (or resume) one GRPO stage; returns the folder of the final model."""
    unanswered = [e.id for e in examples if not e.answer]
    if unanswered:
        raise ValueError(f"GRPO stage {cfg.name!r}: {len(unanswered)} items have no answer to reward (first: "
                         f"{unanswered[0]}); AudioMCQ records need `answer`, ms-swift rows `solution`")
    if cfg.per_device_batch % cfg.num_generations:
        raise ValueError(f"per_device_batch {cfg.per_device_batch} must be a multiple of num_generations {cfg.num_generations}")
    stage_dir.mkdir(parents=True, exist_ok=True)
    resume = latest_checkpoint(stage_dir)
    accelerator, backend, model = setup(base, cfg, device)  # a resume loads its state below
    ref_model = copy.deepcopy(backend.model).eval().requires_grad_(False)  # the stage's starting policy, frozen
    prompts_per_device = cfg.per_device_batch // cfg.num_generations
    steps = cfg.max_steps or max(1, int(cfg.epochs * len(examples) / (prompts_per_device * accelerator.num_processes)))
    optimizer, schedule = optimizer_and_schedule(model, cfg, steps)
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(schedule)  # not prepared: that would step it once per process
    start = restore(resume, accelerator) if resume else 0
    order = batch_order(len(examples), prompts_per_device * accelerator.num_processes, steps * cfg.grad_accum, cfg.seed)
    main = accelerator.is_main_process
    with Logger(stage_dir / "log.jsonl", steps, stage_label("grpo", cfg.name), enabled=main) as logger:
        if resume and main:
            logger.progress.console.print(f"resumed {cfg.name} from {resume.name} (step {start} of {steps})")
        logger.skip(start)
        for step in range(start, steps):
            step_metrics: list[dict] = []
            errors = too_long = 0
            for micro in range(cfg.grad_accum):
                idx = order[step * cfg.grad_accum + micro]
                mine = idx[accelerator.process_index :: accelerator.num_processes]
                batch, audios, failed = load_example_audio([examples[i] for i in mine], backend.sample_rate)
                errors += len(failed)
                if not batch:
                    continue
                loss, metrics = grpo_loss(backend, model, ref_model, batch, audios, cfg, accelerator.autocast)
                if loss is None:
                    too_long += metrics["skipped_too_long"]
                    continue
                accelerator.backward(loss / cfg.grad_accum)
                step_metrics.append(metrics)
            end_step(step, steps, cfg, stage_dir, model, optimizer, schedule, accelerator)
            merged = {k: sum(m[k] for m in step_metrics) / max(1, len(step_metrics)) for k in (step_metrics[0] if step_metrics else {})}
            logger.log(step + 1, {**merged, "lr": schedule.get_last_lr()[0], "audio_errors": errors,
                                  "skipped_too_long": too_long},
                       show=("reward", "kl"))
    return finish(stage_dir, backend, model, accelerator)
