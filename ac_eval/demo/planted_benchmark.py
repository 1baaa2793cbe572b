"""A procedural audio MCQ benchmark with planted truth, for the offline demo and as an end-to-end check of the
method (the paper's labelling rule and the chance-corrected one, measured against known answers).

Audio-needing questions: pitch (high/low), texture (tone/noise), number of beeps (one/two/three), loudness
(loud/quiet). Text-solvable questions give their answer away in the question, about an animal ("You hear a dog
barking. Which animal is it?") or in the audio questions' own words ("The recording is a low hum. Is the tone high
or low?"), and come with irrelevant audio. Every split is written in the AudioMCQ format (train.jsonl, with
"audio-contribution" set from the truth) and in the MMAU format (test-mini.json), audio as 16 kHz WAVs next to
them; the truth ("needs_audio" per id) is kept in a separate truth.json. Fixed seed; a few seconds to write.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000
ANIMALS = {"dog": "barking", "cat": "meowing", "cow": "mooing", "bird": "singing", "frog": "croaking", "horse": "neighing"}


def tone(freq: float, seconds: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return amp * np.sin(2 * np.pi * freq * t)


def _item(kind: str, rng: np.random.Generator) -> tuple[str, list[str], str, np.ndarray]:
    if kind == "pitch":
        high = bool(rng.integers(2))
        return "Is the tone high or low?", ["high", "low"], "high" if high else "low", tone(1500 if high else 250, 1.0)
    if kind == "texture":
        noisy = bool(rng.integers(2))
        clip = 0.3 * rng.standard_normal(SR) if noisy else tone(600, 1.0)
        return "Is this a pure tone or noise?", ["tone", "noise"], "noise" if noisy else "tone", clip
    if kind == "count":
        n = int(rng.integers(1, 4))
        clip = np.zeros(int(1.5 * SR))
        for k in range(n):
            start = int((0.1 + 0.45 * k) * SR)
            clip[start : start + int(0.15 * SR)] = tone(900, 0.15)
        words = ["one", "two", "three"]
        return "How many beeps are there?", words, words[n - 1], clip
    if kind == "loudness":
        loud = bool(rng.integers(2))
        return "Is the sound loud or quiet?", ["loud", "quiet"], "loud" if loud else "quiet", tone(700, 1.0, 0.6 if loud else 0.01)
    if kind == "named":  # text-solvable in the audio questions' own words: the question names the answer
        audio_kind = str(rng.choice(AUDIO_KINDS))
        question, choices, answer, _ = _item(audio_kind, rng)
        # the clip is one of that kind drawn apart from the answer: it tells nothing of it (half the time it agrees)
        return f"{NAMED[answer]} {question}", choices, answer, _item(audio_kind, rng)[3]
    # text-solvable: the question names the animal; the audio is an unrelated tone
    animal = str(rng.choice(list(ANIMALS)))
    others = [a for a in ANIMALS if a != animal]
    choices = [animal, *rng.choice(others, size=2, replace=False).tolist()]
    question = f"You hear a {animal} {ANIMALS[animal]}. Which animal is it?"
    return question, choices, animal, _unrelated_clip(rng)


def _unrelated_clip(rng: np.random.Generator) -> np.ndarray:
    """What a text-solvable item comes with: a soft tone of a random pitch, which answers none of the questions."""
    return tone(float(rng.uniform(200, 2000)), 1.0, 0.1)


# A sentence that gives each audio answer away in words, put before the audio question of its kind.
NAMED = {"high": "The recording is a high whistle.", "low": "The recording is a low hum.",
         "tone": "The recording is a pure sine tone.", "noise": "The recording is the hiss of white noise.",
         "one": "One beep sounds.", "two": "Two beeps sound.", "three": "Three beeps sound.",
         "loud": "The recording is very loud.", "quiet": "The recording is very quiet."}


AUDIO_KINDS = ("pitch", "texture", "count", "loudness")
# Text-solvable kinds: an animal named in the question (answers outside the audio questions' options), and an audio
# question whose answer the question itself states (the same options as the audio items: weak items that share the
# strong items' answers, as in real training data, so "weak first" does not teach another output space).
TEXT_KINDS = ("text", "named")


def write_synthbench(root: str | Path, n_train: int = 400, n_test: int = 120, text_share: float = 0.3, seed: int = 0) -> dict:
    """Write train and test splits under root; returns their paths."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    truth: dict[str, bool] = {}
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        audio_dir = root / split / "audio"
        audio_dir.mkdir(parents=True, exist_ok=True)
        sf.write(audio_dir / "silence-30s.wav", np.zeros(30 * SR, dtype=np.float32), SR, subtype="PCM_16")
        mcq, mmau = [], []
        for i in range(n):
            text_solvable = rng.random() < text_share
            kind = str(rng.choice(TEXT_KINDS)) if text_solvable else AUDIO_KINDS[i % len(AUDIO_KINDS)]
            question, choices, answer, clip = _item(kind, rng)
            order = rng.permutation(len(choices))
            choices = [choices[j] for j in order]
            item = f"{split}-{kind}-{i:04d}"
            sf.write(audio_dir / f"{item}.wav", clip.astype(np.float32), SR, subtype="PCM_16")
            truth[item] = not text_solvable
            label = "strong" if not text_solvable else "weak"
            row = {"source_dataset": f"synth-{kind}", "id": item, "question_type": "sound",
                   "audio_path": f"./audio/{item}.wav", "question": question, "choices": choices, "answer": answer,
                   "audio-contribution": label}
            mcq.append(row)
            mmau.append({"id": item, "audio_id": f"./audio/{item}.wav", "question": question, "choices": choices,
                         "answer": answer, "dataset": "synthbench", "task": "sound", "split": split,
                         "category": "Perception", "sub-category": kind, "difficulty": "easy"})
            if split == "train" and text_solvable:
                # Real training sets hold silent or useless clips too: a text-solvable question is also seen with 30 s
                # of silence, so the model learns that such questions do not need the audio (audio questions never
                # are). The copy is in both formats, so voters' runs label it like any other item.
                mcq.append({**row, "id": item + "-silent", "audio_path": "./audio/silence-30s.wav"})
                mmau.append({**mmau[-1], "id": item + "-silent", "audio_id": "./audio/silence-30s.wav"})
                truth[item + "-silent"] = False
        (root / split / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in mcq))
        (root / split / "mmau-test-mini.json").write_text(json.dumps(mmau, indent=1))
        out[split] = {"audiomcq": root / split / f"{split}.jsonl", "mmau": root / split / "mmau-test-mini.json"}
    (root / "truth.json").write_text(json.dumps({"needs_audio": truth, "seed": seed}, indent=1))
    out["truth"] = root / "truth.json"
    return out
