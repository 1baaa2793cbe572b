"""Prompts: the AudioMCQ/R1-AQA template (default) and benchmarks' own (MMSU's lettered prompt lives in its module).

A prompt style gives the user text, the system prompt, the continuation each choice is scored as in choice mode,
and the scoring rule that reads its outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ac_eval.evaluation.records import Record

AUDIOMCQ_SYSTEM = "You are an audio understanding model that answers multiple choice questions based on audio content."
AUDIOMCQ_TEMPLATE = (
    "{question} Please choose the answer from the following options: {choices}. "
    "Output the final answer in <answer> </answer>."
)


def answer_tags(record: Record) -> list[str]:
    return [f"<answer>{c}</answer>" for c in record.choices]


@dataclass(frozen=True)
class PromptStyle:
    """`template` takes {question}, {choices} (the Python str() of the option list, as R1-AQA writes it) and
    {options} (what `options` renders: a benchmark's own layout)."""

    name: str
    system: str | None
    template: str
    rule: str  # the scoring rule that reads the outputs
    options: Callable[[Record], str] | None = None
    choice_continuations: Callable[[Record], list[str]] = answer_tags  # what choice mode scores, per option

    def user_text(self, record: Record) -> str:
        options = self.options(record) if self.options else ""
        text = self.template.format(question=record.question, choices=str(record.choices), options=options)
        return text if record.question else text.lstrip()  # no question (silent-no-question): no leading space

    def continuations(self, record: Record) -> list[str]:
        return self.choice_continuations(record)

    def to_dict(self) -> dict:
        return {"name": self.name, "system": self.system, "template": self.template, "rule": self.rule}


PROMPTS = {"audiomcq": PromptStyle("audiomcq", AUDIOMCQ_SYSTEM, AUDIOMCQ_TEMPLATE, "string_match")}
