"""What SFT and GRPO share: configs with the paper's defaults, model setup on accelerate, checkpoints that resume,
jsonl + terminal logging, and loading an example's audio."""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ac_eval.evaluation.audio import AudioError
from ac_eval.evaluation.records import AudioInput
from ac_eval.evaluation.conditions import OriginalCondition
from ac_eval.files import write_text


@dataclass
class StageConfig:
    """Hyper-parameters shared by both stages. Defaults: the paper's (ms-swift, Qwen2.5-Omni-7B, full fine-tuning)."""

    name: str = "stage"
    kind: str = "sft"
    select: dict = field(default_factory=dict)
    lr: float = 1e-6
    warmup_ratio: float = 0.05
    per_device_batch: int = 20
    grad_accum: int = 1
    epochs: float = 2.0
    max_steps: int | None = None  # overrides epochs when set
    max_length: int = 1024
    # ms-swift's defaults, which the paper's scripts keep: AdamW with weight decay 0.1 and betas (0.9, 0.95).
    weight_decay: float = 0.1
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    max_grad_norm: float = 1.0
    bf16: bool = False
    gradient_checkpointing: bool = False
    freeze_audio_encoder: bool = False  # the paper trains it
    # "clip": the audio encoder runs over each clip's own frames (the values of the padded forward, a fraction of
    # the work: tests check loss and gradients agree); "padded": the model's own forward over 30 s windows.
    encoder_frames: str = "clip"
    lora_r: int = 0  # > 0: LoRA adapters (needs peft) instead of full fine-tuning
    save_steps: int = 50
    log_steps: int = 1
    seed: int = 0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "StageConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"stage {d.get('name', '?')!r}: unknown setting(s) {unknown}; known: {sorted(known)}")
        cfg = cls(**{k: _coerce(cls, k, v, d.get("name", "?")) for k, v in d.items()})
        if cfg.encoder_frames not in ("clip", "padded"):
            raise ValueError(f"stage {cfg.name!r}: encoder_frames={cfg.encoder_frames!r}: use clip or padded")
        impossible = [f"{name}={getattr(cfg, name)!r} ({need})" for name, need, ok in cfg.limits()
                      if getattr(cfg, name) is not None and not ok(getattr(cfg, name))]
        if impossible:  # a stage that cannot train must not write a `final` that looks trained
            raise ValueError(f"stage {cfg.name!r}: impossible settings: {'; '.join(impossible)}")
        return cfg

    def limits(self) -> list[tuple[str, str, Any]]:
        """(setting, what it must be, check) for every setting with a range."""
        return [
            ("lr", "a positive number", lambda v: v > 0),
            ("warmup_ratio", "from 0 to below 1", lambda v: 0 <= v < 1),
            ("per_device_batch", "a positive integer", lambda v: v >= 1),
            ("grad_accum", "a positive integer", lambda v: v >= 1),
            ("epochs", "a positive number", lambda v: v > 0),
            ("max_steps", "a positive integer, or unset to use epochs", lambda v: v >= 1),
            ("max_length", "a positive integer", lambda v: v >= 1),
            ("weight_decay", "0 or more", lambda v: v >= 0),
            ("adam_beta1", "from 0 to below 1", lambda v: 0 <= v < 1),
            ("adam_beta2", "from 0 to below 1", lambda v: 0 <= v < 1),
            ("max_grad_norm", "a positive number", lambda v: v > 0),
            ("lora_r", "0 (full fine-tuning) or more", lambda v: v >= 0),
            ("save_steps", "a positive integer", lambda v: v >= 1),
            ("log_steps", "a positive integer", lambda v: v >= 1),
        ]

    def to_dict(self) -> dict:
        return asdict(self)


def _coerce(cls, name: str, value: Any, stage: str) -> Any:
    """YAML 1.1 reads `1e-5` as a string: turn values into the setting's declared type, or say which is wrong."""
    declared = {f.name: f.type for f in fields(cls)}[name]
    if value is None or not isinstance(value, str):
        return value
    for kind, cast in (("bool", lambda v: {"true": True, "false": False}[v.lower()]), ("int", int), ("float", float)):
        if str(declared).startswith(kind):
            try:
                return cast(value)
            except (KeyError, ValueError) as e:
                raise ValueError(f"stage {stage!r}: {name}={value!r} is not a {kind}") from e
    return value


@dataclass
class GRPOStageConfig(StageConfig):
    kind: str = "grpo"
    lr: float = 1e-6
    warmup_ratio: float = 0.01
    per_device_batch: int = 8  # completions per device, as in ms-swift (prompts = batch / generations)
    num_generations: int = 8
    beta: float = 0.001
    temperature: float = 1.5  # sampling, and the log-probs of policy and reference are tempered by it (as ms-swift/TRL)
    top_k: int = 4
    top_p: float = 0.9  # ms-swift pins these; the checkpoint's generation_config must not decide them
    repetition_penalty: float = 1.0
    max_completion_length: int = 128
    max_length: int = 2048
    max_steps: int | None = 2000
    epochs: float = 1.0

    def limits(self) -> list[tuple[str, str, Any]]:
        return [
            *super().limits(),
            ("num_generations", "2 or more (advantages are normalised within a group)", lambda v: v >= 2),
            ("per_device_batch", f"a positive multiple of num_generations ({self.num_generations})",
             lambda v: v >= 1 and v % max(self.num_generations, 1) == 0),
            ("beta", "0 or more", lambda v: v >= 0),
            ("temperature", "a positive number", lambda v: v > 0),
            ("top_k", "0 (off) or more", lambda v: v >= 0),
            ("top_p", "above 0, at most 1", lambda v: 0 < v <= 1),
            ("repetition_penalty", "a positive number", lambda v: v > 0),
            ("max_completion_length", "a positive integer", lambda v: v >= 1),
        ]


def stage_config(d: dict[str, Any]) -> StageConfig:
    kind = d.get("kind", "sft")
    if kind not in ("sft", "grpo"):
        raise ValueError(f"stage {d.get('name')!r}: kind {kind!r} is neither sft nor grpo")
    return (GRPOStageConfig if kind == "grpo" else StageConfig).from_dict(d)


def setup(base: str, cfg: StageConfig, device: str = "cpu"):
    """(accelerator, backend, model) for a stage: the policy loaded from `base` as the harness would load it."""
    from accelerate import Accelerator

    from ac_eval.models import load_backend

    accelerator = Accelerator(cpu=device == "cpu", mixed_precision="bf16" if cfg.bf16 else "no")
    seed_everything(cfg.seed)  # the same on every rank while the model (and any LoRA adapter) is built
    backend = load_backend(base, device=str(accelerator.device))
    backend.clip_frames = cfg.encoder_frames == "clip"
    model = backend.model
    if cfg.freeze_audio_encoder:
        for name, p in model.named_parameters():
            if "audio_tower" in name:
                p.requires_grad_(False)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    if cfg.lora_r:
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError as e:
            raise ImportError("lora_r > 0 needs peft: pip install peft") from e
        model = get_peft_model(model, LoraConfig(r=cfg.lora_r, lora_alpha=2 * cfg.lora_r, target_modules="all-linear",
                                                 lora_dropout=0.0))
        backend.model = model
    model.train()
    # From here on each rank draws its own samples (GRPO completions, dropout): one seed per rank, as TRL does.
    seed_everything(cfg.seed + accelerator.process_index)
    return accelerator, backend, model


def seed_everything(seed: int) -> None:
    import torch  # here, not at the top: `ac-eval train` checks its settings before torch is imported

    torch.manual_seed(seed)  # CPU and every CUDA device
    random.seed(seed)
    np.random.seed(seed)


def optimizer_and_schedule(model, cfg: StageConfig, total_steps: int):
    import torch
    from transformers import get_cosine_schedule_with_warmup

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(cfg.adam_beta1, cfg.adam_beta2))
    schedule = get_cosine_schedule_with_warmup(optimizer, math.ceil(cfg.warmup_ratio * total_steps), total_steps)
    return optimizer, schedule


def load_example_audio(examples, sample_rate: int) -> tuple[list, list[AudioInput], list[str]]:
    """The examples whose audio loads, their audio, and an error line for each that does not."""
    kept, audios, errors = [], [], []
    for e in examples:
        try:
            audios.append(OriginalCondition().audio_for(e.audio, sample_rate))
            kept.append(e)
        except AudioError as err:
            errors.append(f"{e.id}: {err}")
    return kept, audios, errors


# ---- checkpoints --------------------------------------------------------------------------------------------------
def save_model(backend, model, path: Path, accelerator) -> None:
    """Weights + whatever the backend loads its inputs from, so `path` loads like the base checkpoint. Called once,
    when a stage is done: a LoRA model is merged here (in place; training is over)."""
    path.mkdir(parents=True, exist_ok=True)
    unwrapped = accelerator.unwrap_model(model)
    if hasattr(unwrapped, "merge_and_unload"):  # LoRA: save a plain checkpoint the harness can load
        unwrapped = unwrapped.merge_and_unload()
    unwrapped.save_pretrained(path)
    processor = backend.processor
    if hasattr(processor, "save_pretrained"):
        processor.save_pretrained(path)
    else:  # processor parts (Omni without torchvision)
        processor.tokenizer.save_pretrained(path)
        processor.feature_extractor.save_pretrained(path)
    for extra in ("ac_eval_tiny.json",):
        source = Path(backend.pretrained) / extra
        if source.is_file():
            shutil.copy(source, path / extra)


def save_checkpoint(stage_dir: Path, step: int, accelerator, keep: int = 2) -> Path:
    """Everything a resume needs, through accelerate's `save_state` on every rank: the model (LoRA adapters
    unmerged; DeepSpeed's sharded engine state under ZeRO), the optimizer (each rank's shard), the registered
    schedule, and every rank's RNG states (python, numpy, torch CPU and CUDA). COMPLETE is written last."""
    path = stage_dir / f"checkpoint-{step}"
    accelerator.save_state(str(path))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_text(path / "step.json", json.dumps({"step": step}))
        write_text(path / "COMPLETE", str(step))
        for old in sorted(checkpoints(stage_dir), key=_step_of)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return path


def end_step(step: int, steps: int, cfg: StageConfig, stage_dir: Path, model, optimizer, schedule, accelerator) -> None:
    """Clip, step optimizer and schedule, and save a checkpoint every `save_steps` (every rank takes part)."""
    accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
    optimizer.step()
    schedule.step()
    optimizer.zero_grad()
    if (step + 1) % cfg.save_steps == 0 and step + 1 < steps:
        save_checkpoint(stage_dir, step + 1, accelerator)


def finish(stage_dir: Path, backend, model, accelerator) -> Path:
    """The stage's final model in <stage>/final, loadable like any checkpoint; COMPLETE is written last, so a
    stage killed while saving is not taken for finished."""
    final = stage_dir / "final"
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (final / "COMPLETE").unlink(missing_ok=True)
        save_model(backend, model, final, accelerator)
        write_text(final / "COMPLETE", "final")
    accelerator.wait_for_everyone()
    return final


def is_complete(path: Path) -> bool:
    """A checkpoint or final model whose save finished (its COMPLETE marker, written last, is there)."""
    return (path / "COMPLETE").is_file()


def checkpoints(stage_dir: Path) -> list[Path]:
    return [p for p in stage_dir.glob("checkpoint-*") if is_complete(p)]


def latest_checkpoint(stage_dir: Path) -> Path | None:
    found = checkpoints(stage_dir)
    return max(found, key=_step_of) if found else None


def _step_of(path: Path) -> int:
    return int(path.name.split("-")[-1])


def restore(checkpoint: Path, accelerator) -> int:
    """Load a checkpoint's state into the prepared model, optimizer and registered schedule, and every rank's
    RNGs; returns the number of finished steps."""
    accelerator.load_state(str(checkpoint))
    return int(json.loads((checkpoint / "step.json").read_text())["step"])


# ---- batches and logs ---------------------------------------------------------------------------------------------
def batch_order(n: int, batch: int, steps: int, seed: int) -> list[list[int]]:
    """Indices for every optimizer step: epoch after epoch, each a fresh seeded permutation (deterministic, so a
    resumed run continues with the very batches it would have seen)."""
    order: list[int] = []
    epoch = 0
    while len(order) < steps * batch:
        order += np.random.default_rng(seed + epoch).permutation(n).tolist()
        epoch += 1
    return [order[i * batch : (i + 1) * batch] for i in range(steps)]


def stage_label(kind: str, name: str) -> str:
    """What a stage's progress line is called: its name, with its kind only where the name does not say it
    ("sft", "grpo: strong-only", not "sft sft")."""
    return name if kind in name.lower() else f"{kind}: {name}"


class Logger:
    """jsonl file + progress (a rich bar on a terminal, log lines otherwise), on the main process only."""

    def __init__(self, path: Path, total: int, description: str, enabled: bool = True):
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

        from ac_eval.console import progress

        self.path = path
        self.enabled = enabled
        self.progress = progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[info]}"), TimeRemainingColumn(), disable=not enabled)
        self.task = self.progress.add_task(description, total=total, info="")

    def __enter__(self):
        self._last = time.perf_counter()
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def log(self, step: int, metrics: dict[str, float], advance: int = 1, show: tuple[str, ...] = ("loss",)) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        seconds, self._last = now - self._last, now  # the step's wall time (optimizer step and any save included)
        with open(self.path, "a") as f:
            f.write(json.dumps({"step": step, **metrics, "step_seconds": round(seconds, 4)}) + "\n")
        info = " ".join(f"{k} {metrics[k]:.4g}" for k in show if k in metrics)
        self.progress.update(self.task, advance=advance, info=info)

    def skip(self, steps: int) -> None:
        """Resume after `steps` finished steps: lines the interrupted run logged beyond them go (those steps are
        run again), so the log holds every step once."""
        self.progress.update(self.task, advance=steps)
        if self.enabled and self.path.is_file():
            kept = [line for line in self.path.read_text().splitlines(keepends=True)
                    if line.strip() and json.loads(line).get("step", 0) <= steps]
            write_text(self.path, "".join(kept))
