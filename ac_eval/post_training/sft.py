"""Supervised fine-tuning on AudioMCQ-style items: the prompt the harness evaluates with, target <answer>option</answer>."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from ac_eval.post_training.stages import (
    Logger,
    StageConfig,
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


def sft_loss(backend, model, examples, audios, max_length: int | None = None) -> tuple[torch.Tensor | None, int]:
    """(mean token cross-entropy on the targets, rows dropped for exceeding max_length)."""
    prompts = [backend.chat_prompt(e.user_text, e.system) for e in examples]
    inputs = backend.training_batch(prompts, audios, [e.target for e in examples])
    lengths = inputs["attention_mask"].sum(1)
    dropped = 0
    if max_length:
        keep = lengths <= max_length
        dropped = int((~keep).sum())
        if dropped:  # every tensor of the batch is row-aligned (audio features included)
            inputs, lengths = {k: v[keep] for k, v in inputs.items()}, lengths[keep]
            if not keep.any():
                return None, dropped
    total = torch.zeros((), device=lengths.device)
    for rows in length_groups(lengths.tolist()):
        # Rows are right-padded: each group is cut to its own longest row, so a 30 s clip's 750 audio tokens do
        # not pad every short row of the batch (the sum over target tokens is the same).
        width = int(lengths[rows].max())
        part = {k: v[rows, :width] if v.dim() == 2 and k != "feature_attention_mask" else v[rows] for k, v in inputs.items()}
        logits = backend.forward(model, part)
        total = total + F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), part["labels"][:, 1:].flatten(),
                                        ignore_index=-100, reduction="sum")
    return total / (inputs["labels"][:, 1:] != -100).sum().clamp(min=1), dropped


def length_groups(lengths: list[int], ratio: float = 2.0) -> list[list[int]]:
    """Row indices in groups of similar length (no row more than `ratio` times its group's shortest)."""
    groups: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        if groups and lengths[i] <= ratio * lengths[groups[-1][0]]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def total_steps(cfg: StageConfig, n: int, world: int) -> int:
    per_step = cfg.per_device_batch * cfg.grad_accum * world
    return cfg.max_steps or max(1, math.ceil(cfg.epochs * n / per_step))


def train_sft(base: str, examples: list, cfg: StageConfig, stage_dir: Path, device: str = "cpu") -> Path:
    """Run (or resume) one SFT stage; returns the folder of the final model."""
    stage_dir.mkdir(parents=True, exist_ok=True)
    resume = latest_checkpoint(stage_dir)
    accelerator, backend, model = setup(base, cfg, device)
    steps = total_steps(cfg, len(examples), accelerator.num_processes)
    optimizer, schedule = optimizer_and_schedule(model, cfg, steps)
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(schedule)  # not prepared: that would step it once per process
    start = restore(resume, accelerator) if resume else 0
    global_batch = cfg.per_device_batch * accelerator.num_processes
    order = batch_order(len(examples), global_batch, steps * cfg.grad_accum, cfg.seed)
    main = accelerator.is_main_process
    with Logger(stage_dir / "log.jsonl", steps, stage_label("sft", cfg.name), enabled=main) as logger:
        if resume and main:
            logger.progress.console.print(f"resumed {cfg.name} from {resume.name} (step {start} of {steps})")
        logger.skip(start)
        for step in range(start, steps):
            losses, errors, too_long = [], 0, 0
            for micro in range(cfg.grad_accum):
                idx = order[step * cfg.grad_accum + micro]
                mine = idx[accelerator.process_index :: accelerator.num_processes]
                batch, audios, failed = load_example_audio([examples[i] for i in mine], backend.sample_rate)
                errors += len(failed)
                if not batch:
                    continue
                loss, dropped = sft_loss(backend, model, batch, audios, cfg.max_length)
                too_long += dropped
                if loss is None:
                    continue
                accelerator.backward(loss / cfg.grad_accum)
                losses.append(loss.item())
            end_step(step, steps, cfg, stage_dir, model, optimizer, schedule, accelerator)
            metrics = {"loss": sum(losses) / max(1, len(losses)), "lr": schedule.get_last_lr()[0], "audio_errors": errors,
                       "skipped_too_long": too_long}
            logger.log(step + 1, metrics)
    return finish(stage_dir, backend, model, accelerator)
