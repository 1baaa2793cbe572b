"""Prompts: the AudioMCQ/R1-AQA template (default) and the benchmarks' own (MMSU's lettered prompt).

A prompt style gives the user text, the system prompt, the continuation each choice is scored as in
choice mode, and the scoring rule that reads its outputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ac_eval.benchmarks.mmsu import LETTERS as MMSU_LETTERS
from ac_eval.benchmarks.mmsu import shown_slots
from ac_eval.records import Record

AUDIOMCQ_SYSTEM = "You are an audio understanding model that answers multiple choice questions based on audio content."
AUDIOMCQ_TEMPLATE = (
    "{question} Please choose the answer from the following options: {choices}. "
    "Output the final answer in <answer> </answer>."
)
MMSU_INSTRUCTION = (
    "Choose the most suitable answer from options A, B, C, and D. You must respond with only A, B, C, or D."
)

@dataclass(frozen=True)
class PromptStyle:
    name: str
    system: str | None
    template: str
    rule: str  # "string_match" (MMAU/MMAR official) or "mmsu_letter" (MMSU official)

    def user_text(self, record: Record) -> str:
        if self.name == "audiomcq":
            # R1-AQA writes the Python str() of the list, quotes and brackets included.
            return self.template.format(question=record.question, choices=str(record.choices))
        # mmsu_inference.py: always A-D, each letter fixed to its field, a blank option shown blank.
        options = "\n".join(f"{letter}. {text}" for letter, text in zip(MMSU_LETTERS, shown_slots(record)))
        return self.template.format(question=record.question, options=options)

    def continuations(self, record: Record) -> list[str]:
        """What the model is scored on producing for each choice in choice mode (MMSU: the letters of the
        non-blank options, in the order of `record.choices`)."""
        if self.rule == "mmsu_letter":
            return [letter for letter, text in zip(MMSU_LETTERS, shown_slots(record)) if text.strip()]
        return [f"<answer>{c}</answer>" for c in record.choices]

    def to_dict(self) -> dict:
        return asdict(self)


PROMPTS = {
    "audiomcq": PromptStyle("audiomcq", AUDIOMCQ_SYSTEM, AUDIOMCQ_TEMPLATE, "string_match"),
    # MMSU's official prompt. Its letter rule reads A-D only, so it is offered for MMSU alone.
    "mmsu": PromptStyle("mmsu", None, MMSU_INSTRUCTION + "\n\nQuestion: {question}\n\n{options}", "mmsu_letter"),
}


def get_prompt(name: str, benchmark: str) -> PromptStyle:
    """`official` means the benchmark's own prompt: MMSU's lettered one, or the AudioMCQ template elsewhere
    (MMAU and MMAR publish a scorer, not a prompt)."""
    if name == "official":
        name = "mmsu" if benchmark == "mmsu" else "audiomcq"
    if name not in PROMPTS:
        raise KeyError(f"unknown prompt {name!r}; known: {', '.join(PROMPTS)}, official")
    if name == "mmsu" and benchmark != "mmsu":
        raise ValueError(f"--prompt mmsu is MMSU's lettered prompt (scored A-D); {benchmark} uses audiomcq or official")
    return PROMPTS[name]
