"""A procedural audio MCQ benchmark with planted truth, built like the real ones, for the offline demo and as an
end-to-end check of the labelling rules (measured against known answers).

Audio-needing questions ask for pitch (high/low), texture (tone/noise), the number of beeps (one/two/three) or
loudness (loud/quiet), each in several wordings, after an irrelevant lead-in, with distractor options drawn from a
pool ("medium", "falling", "four", ...) and clips drawn over ranges (frequencies, levels, beep spacing). So, as in
MMAU and MMAR, items rarely share their text: in the test split at most a few percent have a twin (the same question
and options, another answer). Text-solvable questions come in three kinds, each with a clip that answers none of
the questions (a middle tone under noise, as real benchmarks' text-solvable items come with audio they do not need):
- `named`: the question states the answer ("The recording is a low hum. Is the tone high or low?");
- `fits`: only one option fits the question ("What is the pitch of the tone?" with low / three / noise);
- `common`: common sense gives it ("A foghorn sounds. Is the tone high or low?"), a scene -> answer association
  the voters learn from the train split as real models learn theirs.
The train split plants answer priors: one answer of each audio kind is far more frequent there (high, noise, two,
loud), so under silence voters fall back on them as real models do; the test split's answers are balanced.

Every split is written in the AudioMCQ format (train.jsonl, with "audio-contribution" set from the truth) and in the
MMAU format (mmau-test-mini.json), audio as 16 kHz WAVs next to them; the truth ("needs_audio" per id) is kept in a
separate truth.json. Fixed seed; a few seconds to write.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from ac_eval.demo.sounds import LEVEL, MIDDLE_LEVEL, MIDDLE_PITCH, PITCH, SR, beeps, pick, tone

AUDIO_KINDS = ("pitch", "texture", "count", "loudness")
TEXT_KINDS = ("named", "fits", "common")
ANSWERS = {"pitch": ("high", "low"), "texture": ("tone", "noise"), "count": ("one", "two", "three"),
           "loudness": ("loud", "quiet")}
# Options that are never right for a kind's question: one or two join its answers on each item.
DISTRACTORS = {"pitch": ("medium", "rising", "falling", "wavering", "bending"),
               "texture": ("speech", "music", "a chord", "a click", "birdsong"),
               "count": ("four", "five", "six", "seven", "none"),
               "loudness": ("moderate", "fading", "swelling", "pulsing", "muffled")}
TEMPLATES = {
    "pitch": ("Is the tone high or low?", "What is the pitch of the tone?", "How would you describe the pitch?",
              "Is this a high-pitched or a low-pitched sound?", "Which word fits the tone's pitch?"),
    "texture": ("Is this a pure tone or noise?", "What kind of sound is this?", "Which word fits the texture of the sound?",
                "Is the recording a clean tone or a hiss?", "What does the clip contain?"),
    "count": ("How many beeps are there?", "Count the beeps: how many are there?", "How many times does the beep sound?",
              "What is the number of beeps in the clip?", "How many short tones are in the recording?"),
    "loudness": ("Is the sound loud or quiet?", "How loud is the sound?", "Which word fits the volume of the sound?",
                 "Is this recording loud or soft?", "What is the loudness of the clip?"),
}
LEAD_INS = ("", "Listen to the clip.", "This clip was recorded indoors.", "A short recording from a lab.",
            "Here is a test sound.", "The clip comes from a sound check.", "Listen carefully.",
            "This is one of several test signals.", "Play the recording once.", "A sample from an audio test set.")
# The train split's answer priors: this answer of the kind on 60% of its audio items (count: 50%, the others 25%).
PRIORS = {"pitch": "high", "texture": "noise", "count": "two", "loudness": "loud"}
PRIOR_SHARE = {"pitch": 0.6, "texture": 0.6, "count": 0.5, "loudness": 0.6}
# `named`: a sentence that gives each audio answer away in words, put before a question of its kind.
NAMED = {"high": ("The recording is a high whistle.", "You will hear a high note."),
         "low": ("The recording is a low hum.", "You will hear a low note."),
         "tone": ("The recording is a pure sine tone.", "You will hear a steady tone."),
         "noise": ("The recording is the hiss of white noise.", "You will hear noise only."),
         "one": ("One beep sounds.", "There is only one beep."),
         "two": ("Two beeps sound.", "There are two beeps."),
         "three": ("Three beeps sound.", "There are three beeps."),
         "loud": ("The recording is very loud.", "It is a loud sound."),
         "quiet": ("The recording is very quiet.", "It is a quiet sound.")}
# `common`: scenes whose sound everyone knows (kind, answer), put before a question of that kind.
COMMON = (("A smoke alarm goes off.", "loudness", "loud"), ("A jet engine roars overhead.", "loudness", "loud"),
          ("Someone whispers a secret.", "loudness", "quiet"), ("A feather lands on paper.", "loudness", "quiet"),
          ("A mouse squeaks.", "pitch", "high"), ("A referee blows a whistle.", "pitch", "high"),
          ("A foghorn sounds.", "pitch", "low"), ("A tuba plays its lowest note.", "pitch", "low"),
          ("A radio is tuned between stations.", "texture", "noise"), ("A waterfall rushes.", "texture", "noise"),
          ("A tuning fork rings.", "texture", "tone"), ("A sine-wave generator is switched on.", "texture", "tone"),
          ("A doorbell rings a single time.", "count", "one"), ("A clock strikes three.", "count", "three"),
          ("A car horn is honked twice.", "count", "two"))


def clip_for(kind: str, answer: str, rng: np.random.Generator) -> np.ndarray:
    """A clip whose `kind` is `answer`, everything else drawn from the unnamed middle ranges (a pitch clip is of
    middle loudness, a loudness clip of middle pitch), lengths from 0.8 to 1.6 s."""
    _, freq = pick(rng, {}, MIDDLE_PITCH, "")
    _, amp = pick(rng, {}, MIDDLE_LEVEL, "")
    seconds = float(rng.uniform(0.8, 1.6))
    if kind == "pitch":
        return tone(pick(rng, PITCH, MIDDLE_PITCH, answer)[1], seconds, amp)
    if kind == "texture":
        return amp * rng.standard_normal(int(seconds * SR)) if answer == "noise" else tone(freq, seconds, amp)
    if kind == "count":
        return beeps(rng, ANSWERS["count"].index(answer) + 1, freq, amp)
    return tone(freq, seconds, pick(rng, LEVEL, MIDDLE_LEVEL, answer)[1])


def _options(kind: str, rng: np.random.Generator) -> list[str]:
    return [*ANSWERS[kind], *rng.choice(DISTRACTORS[kind], size=int(rng.integers(1, 3)), replace=False).tolist()]


def _question(kind: str, rng: np.random.Generator, before: str = "") -> str:
    lead = str(rng.choice(LEAD_INS))
    return " ".join(s for s in (lead, before, str(rng.choice(TEMPLATES[kind]))) if s)


def _answer(kind: str, rng: np.random.Generator, with_prior: bool) -> str:
    answers = ANSWERS[kind]
    if not with_prior:
        return str(rng.choice(answers))
    share = PRIOR_SHARE[kind]
    rest = (1 - share) / (len(answers) - 1)
    return str(rng.choice(answers, p=[share if a == PRIORS[kind] else rest for a in answers]))


def make_item(kind: str, rng: np.random.Generator, with_prior: bool = False) -> tuple[str, list[str], str, np.ndarray]:
    """(question, options, answer, clip) of one item of `kind` (an audio or a text kind)."""
    if kind in AUDIO_KINDS:
        answer = _answer(kind, rng, with_prior)
        return _question(kind, rng), _options(kind, rng), answer, clip_for(kind, answer, rng)
    if kind == "common":
        scene, audio_kind, answer = COMMON[int(rng.integers(len(COMMON)))]
        question, options = _question(audio_kind, rng, scene), _options(audio_kind, rng)
    else:
        audio_kind = str(rng.choice(AUDIO_KINDS))
        answer = str(rng.choice(ANSWERS[audio_kind]))
        if kind == "named":
            question, options = _question(audio_kind, rng, str(rng.choice(NAMED[answer]))), _options(audio_kind, rng)
        else:  # fits: the other options are answers to other kinds' questions
            others = [k for k in AUDIO_KINDS if k != audio_kind]
            picked = rng.choice(others, size=2, replace=False)
            question, options = _question(audio_kind, rng), [answer, *(str(rng.choice(ANSWERS[k])) for k in picked)]
    return question, options, answer, neutral_clip(rng)


def neutral_clip(rng: np.random.Generator) -> np.ndarray:
    """What a text-solvable item comes with: audio that answers none of the questions (a steady tone of middle pitch
    under as much noise, at middle level: neither high nor low, tone nor noise, loud nor quiet, and no beeps)."""
    _, freq = pick(rng, {}, MIDDLE_PITCH, "")
    _, amp = pick(rng, {}, MIDDLE_LEVEL, "")
    n = int(float(rng.uniform(0.8, 1.6)) * SR)
    return amp * (0.5 * np.sin(2 * np.pi * freq * np.arange(n) / SR) + 0.5 * rng.standard_normal(n))


def write_synthbench(root: str | Path, n_train: int = 2400, n_test: int = 120, text_share: float = 0.3, seed: int = 0) -> dict:
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
            question, choices, answer, clip = make_item(kind, rng, with_prior=split == "train")
            choices = [choices[j] for j in rng.permutation(len(choices))]
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
