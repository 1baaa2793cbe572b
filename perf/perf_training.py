"""Training speed: optimizer steps per second with the audio encoder over each clip's own frames (`encoder_frames:
clip`, the default) against the model's own forward over the processor's 30 s windows (`encoder_frames: padded`).

SFT on the demo's planted train split (1-1.5 s clips, and the text items' 30 s silent copies, as the voters are
trained), SFT on its audio items alone, and GRPO on its audio items (as the demo's and the training claim's GRPO),
each through `train_sft` / `train_grpo` with the batch and sampling settings those runs use. The two paths alternate in paired rounds; a step's time is read
from the stage's own log (`step_seconds`), the first steps left out as warm-up; medians.

    python perf/perf_training.py                 # about 8 minutes on two CPU cores
    python perf/perf_training.py --rounds 1 --sft-steps 6 --grpo-steps 4   # a quick look
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

WARMUP = 2  # steps left out of each run: allocator and thread-pool warm-up


def stage_seconds(kind: str, base: Path, data: Path, frames: str, steps: int, out: Path) -> list[float]:
    from ac_eval.post_training.data import load_examples
    from ac_eval.post_training.grpo import train_grpo
    from ac_eval.post_training.sft import train_sft
    from ac_eval.post_training.stages import stage_config

    examples = load_examples(data)
    if kind != "sft":  # the audio items only: 1-1.5 s clips, no 30 s silent copies
        examples = [e for e in examples if e.label == "strong"]
    kind = kind.split("-")[0]
    settings = {"per_device_batch": 32, "num_generations": 8, "max_completion_length": 12, "temperature": 1.5,
                "top_k": 0, "top_p": 1.0} if kind == "grpo" else {"per_device_batch": 8}  # as tiny_recipe_settings
    cfg = stage_config({"name": kind, "kind": kind, "max_steps": steps, "lr": 1e-4, "save_steps": 10**6,
                        "encoder_frames": frames, "weight_decay": 0, "adam_beta2": 0.999, **settings})
    (train_grpo if kind == "grpo" else train_sft)(str(base), examples, cfg, out)
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [r["step_seconds"] for r in log[WARMUP:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sft-steps", type=int, default=20)
    parser.add_argument("--grpo-steps", type=int, default=8)
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()

    from ac_eval.demo.planted_benchmark import write_synthbench
    from ac_eval.demo.walkthrough import shipped_models

    tmp = Path(tempfile.mkdtemp(prefix="perf-training-"))
    data = write_synthbench(tmp / "data")["train"]["audiomcq"]
    # sft: the voters' training data (1-1.5 s clips, and text items' 30 s silent copies: their 750 audio tokens go
    # through the decoder on both paths); sft-clips: the audio items alone; grpo: the audio items, as W2S's GRPO.
    bases = {"sft": shipped_models() / "hearing-base", "sft-clips": shipped_models() / "hearing-base",
             "grpo": shipped_models() / "voter-0"}
    times: dict[str, dict[str, list[float]]] = {k: {"clip": [], "padded": []} for k in bases}
    start = time.perf_counter()
    for r in range(args.rounds):
        for kind, steps in (("sft", args.sft_steps), ("sft-clips", args.sft_steps), ("grpo", args.grpo_steps)):
            for frames in (("clip", "padded") if r % 2 == 0 else ("padded", "clip")):  # alternate who goes first
                seconds = stage_seconds(kind, bases[kind], data, frames, steps, tmp / f"{kind}-{frames}-{r}")
                times[kind][frames].append(statistics.median(seconds))
                print(f"round {r + 1} {kind} {frames}: {1 / times[kind][frames][-1]:.2f} steps/s", flush=True)
    result = {"rounds": args.rounds, "wall_seconds": round(time.perf_counter() - start)}
    print("\n| stage | padded (steps/s) | clip frames (steps/s) | speed-up | target |\n|---|---|---|---|---|")
    for kind in bases:
        padded, clip = (statistics.median(times[kind][f]) for f in ("padded", "clip"))
        result[kind] = {"padded_steps_per_s": 1 / padded, "clip_steps_per_s": 1 / clip, "speedup": padded / clip,
                        "per_round_seconds": times[kind]}
        print(f"| {kind} | {1 / padded:.2f} | {1 / clip:.2f} | {padded / clip:.1f}x | >= 5x |")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
