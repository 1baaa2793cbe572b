"""Stub models with known behaviour, for testing the analysis (not for measuring anything).

A stub is a folder with a `config.json` of model_type `ac_eval_stub`, so it loads through the same path as a
checkpoint (`--model_args pretrained=DIR`). It reads the question and options back from the AudioMCQ prompt,
looks the answer up in the benchmark metadata it was given, and answers:

- `listener`: right whenever it hears audio (any non-zero sample); without audio, right on its `planted`
  item ids (text-solvable for this model), otherwise a seeded guess;
- `guesser`: a seeded guess, always (depends on the option order, so rotations re-roll it);
- `deaf`: a guess that depends only on the question text: the same answer with and without audio;
- `mumbler`: a listener in choice mode, but its generated text names no choice (what a tiny random checkpoint or
  a wrong prompt gives): every generated answer is unparseable.

With no question (silent-no-question) every behaviour guesses from the options alone.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from pathlib import Path

from ac_eval.evaluation.benchmarks import load_benchmark
from ac_eval.evaluation.records import AudioInput

# The question is absent under silent-no-question: the prompt then starts at "Please choose".
PROMPT = re.compile(r"(?s)^(?:(.*) )?Please choose the answer from the following options: (\[.*\])\. Output the final answer")
AUDIO_PART = "<audio><|AUDIO|></audio>"


def write_stub(output: str | Path, behaviour: str, benchmark: str, metadata: str | Path, split: str = "test",
               planted: list[str] = (), seed: int = 0) -> Path:
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    config = {"model_type": "ac_eval_stub", "behaviour": behaviour, "benchmark": benchmark, "metadata": str(metadata),
              "split": split, "planted": list(planted), "seed": seed}
    (output / "config.json").write_text(json.dumps(config))
    return output


class StubBackend:
    arch = "stub"
    audio_token = "<|AUDIO|>"
    sample_rate = 16000

    def __init__(self, pretrained: str, **unused):
        self.pretrained = pretrained
        self.config = json.loads((Path(pretrained) / "config.json").read_text())
        if self.config["behaviour"] not in ("listener", "guesser", "deaf", "mumbler"):
            raise ValueError(f"{pretrained}: unknown stub behaviour {self.config['behaviour']!r}")
        self.answers = {}  # only listeners look answers up: a guesser costs nothing per item, whatever the item count
        if self.config["behaviour"] in ("listener", "mumbler"):
            records = load_benchmark(self.config["benchmark"], self.config["metadata"], self.config["split"]).records
            self.answers = {(r.question, tuple(sorted(r.choices))): (r.id, r.answer) for r in records}
        self.planted = set(self.config["planted"])
        self.chat_template = "stub: <system>{system}</system>" + AUDIO_PART + "<user>{text}</user>"
        self.audio_segment = AUDIO_PART

    def chat_prompt(self, user_text: str, system: str | None) -> str:
        return f"<system>{system or ''}</system>{AUDIO_PART}<user>{user_text}</user>"

    def _answer(self, prompt: str, audio: AudioInput | None) -> int:
        text = prompt.split("<user>", 1)[1].rsplit("</user>", 1)[0]
        match = PROMPT.match(text)
        if not match:
            raise ValueError("the stub reads AudioMCQ-style prompts only")
        question, choices = match.group(1) or "", ast.literal_eval(match.group(2))
        # with no question the stub cannot tell which item it is asked: it guesses, as every behaviour would
        item_id, answer = self.answers[(question, tuple(sorted(choices)))] if question and self.answers else (None, None)
        hears = audio is not None and bool(audio.array.any())
        behaviour = self.config["behaviour"]
        if behaviour in ("listener", "mumbler") and (hears or item_id in self.planted) and answer in choices:
            return choices.index(answer)
        key = question if behaviour == "deaf" else f"{question}|{choices}"
        digest = hashlib.sha256(f"{self.config['seed']}|{key}".encode()).digest()
        return int.from_bytes(digest[:4], "little") % len(choices)

    def generate(self, prompts, audios, settings) -> list[str]:
        out = []
        for prompt, audio in zip(prompts, audios):
            choices = ast.literal_eval(PROMPT.match(prompt.split("<user>", 1)[1]).group(2))
            if self.config["behaviour"] == "mumbler":
                out.append("<answer>Hmm.</answer>")
                continue
            out.append(f"<answer>{choices[self._answer(prompt, audio)]}</answer>")
        return out

    def choice_logprobs(self, prompts, audios, continuations) -> list[list[tuple[float, bool]]]:
        result = []
        for prompt, audio, conts in zip(prompts, audios, continuations):
            best = self._answer(prompt, audio)
            result.append([(0.0 if i == best else -10.0, i == best) for i in range(len(conts))])
        return result
