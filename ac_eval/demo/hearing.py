"""A base that hears before it answers: free-form audio description data, and the tiny Qwen2-Audio pre-trained on it.

Real audio language models perceive sounds before AudioMCQ's post-training ever shows them a multiple-choice
question. The demo's base does too: a randomly initialised tiny Qwen2-Audio, trained by our own SFT on
"What do you hear?" -> "a loud high tone", "three beeps", "noise", "silence", ... in ms-swift's chat format
(`{"messages": [...], "audios": [...]}`). Clips vary in frequency, level, length and beep count over wider ranges
than the planted benchmark uses, and nothing here is multiple choice or asks the benchmark's questions.

    ac-eval demo --train-models --output runs/demo     # rebuilds this base, then the voters from it
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from ac_eval.demo.sounds import COUNTS, LEVEL, MIDDLE_LEVEL, MIDDLE_PITCH, PITCH, SR, beeps, pick, tone

QUESTIONS = ("What do you hear?", "Describe the sound.", "What is in this recording?")


def describe_clip(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One random sound and its description."""
    kind = str(rng.choice(["tone", "noise", "beeps", "silence"], p=[0.3, 0.15, 0.45, 0.1]))
    level_word, amp = pick(rng, LEVEL, MIDDLE_LEVEL)
    if kind == "silence":
        seconds = float(rng.choice([1.0, 1.5, 30.0], p=[0.45, 0.45, 0.1]))
        return np.zeros(int(seconds * SR)), "silence"
    if kind == "noise":
        seconds = float(rng.uniform(0.8, 1.6))
        return amp * rng.standard_normal(int(seconds * SR)), f"{level_word} noise".strip()
    pitch_word, freq = pick(rng, PITCH, MIDDLE_PITCH)
    if kind == "tone":
        clip = tone(freq, float(rng.uniform(0.8, 1.6)), amp)
        return clip, " ".join(w for w in ("a", level_word, pitch_word, "tone") if w)
    n = int(rng.integers(1, 4))
    return beeps(rng, n, freq, amp), " ".join(w for w in (COUNTS[n - 1], level_word, pitch_word, "beeps" if n > 1 else "beep") if w)


def write_description_data(root: str | Path, n: int = 2400, seed: int = 0) -> Path:
    """`n` described clips as ms-swift chat jsonl (`describe.jsonl`, audio paths relative to it) under root."""
    root = Path(root)
    audio = root / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        clip, description = describe_clip(rng)
        name = f"describe-{i:05d}.wav"
        sf.write(audio / name, clip.astype(np.float32), SR, subtype="PCM_16")
        rows.append({"id": f"describe-{i:05d}", "audios": [f"./audio/{name}"],
                     "messages": [{"role": "user", "content": "<audio>" + str(rng.choice(QUESTIONS))},
                                  {"role": "assistant", "content": description}]})
    path = root / "describe.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# The settings of the tiny base's description stage (a 0.35 M-parameter model learns at a far higher rate than the
# paper's 7B one; AdamW beta2 0.999 and no weight decay, as the tests' tiny settings).
DESCRIBE_SETTINGS = ["stages.describe.per_device_batch=8", "stages.describe.lr=3e-3", "stages.describe.weight_decay=0",
                     "stages.describe.adam_beta2=0.999", "stages.describe.bf16=false", "stages.describe.save_steps=100000"]


BASE_STEPS = 1600  # the shipped base's description steps


def build_hearing_base(output: str | Path, steps: int = BASE_STEPS, seed: int = 0, n_clips: int = 2400) -> Path:
    """The tiny Qwen2-Audio that hears: random start (`build_qwen2_audio`), then the `audio_description` recipe
    through our own trainer. Deterministic on CPU for a given seed. Returns the loadable model folder."""
    import shutil

    from ac_eval.models.tiny_checkpoints import build_qwen2_audio
    from ac_eval.post_training.recipe import load_recipe, run_recipe

    output = Path(output)
    data = write_description_data(output / "describe-data", n_clips, seed)
    start = build_qwen2_audio(output / "random-start", seed=seed)
    recipe = load_recipe("audio_description", [f"base_model={start}", f"data={data}", f"seed={seed}",
                                               f"stages.describe.max_steps={steps}", f"stages.describe.seed={seed}",
                                               *DESCRIBE_SETTINGS])
    final = run_recipe(recipe, output / "train")
    target = output / "hearing-base"
    shutil.copytree(final, target, dirs_exist_ok=True)
    return target
