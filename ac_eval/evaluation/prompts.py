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


def prompt_names() -> list[str]:
    """Every prompt `--prompt` accepts: the generic ones, `official`, and the benchmarks' own."""
    from ac_eval.evaluation.benchmarks import BENCHMARKS

    own = [name for b in BENCHMARKS.values() for name in b.prompts]
    return [*PROMPTS, "official", *dict.fromkeys(own)]


def get_prompt(name: str, benchmark: str) -> PromptStyle:
    """`official` means the benchmark's own prompt (MMSU's lettered one), or the AudioMCQ template where the
    benchmark publishes a scorer but no prompt (MMAU, MMAR). A benchmark's own prompt is for it alone."""
    from ac_eval.evaluation.benchmarks import get as get_benchmark

    spec = get_benchmark(benchmark)
    if name == "official":
        name = spec.official_prompt
    if name in spec.prompts:
        return spec.prompts[name]
    if name in PROMPTS:
        return PROMPTS[name]
    owners = [b.name for b in _all() if name in b.prompts]
    if owners:
        raise ValueError(f"--prompt {name} is {', '.join(owners)}'s own prompt; {benchmark} uses "
                         f"{', '.join([*PROMPTS, 'official'])}")
    raise KeyError(f"unknown prompt {name!r}; known: {', '.join(prompt_names())}")


def _all():
    from ac_eval.evaluation.benchmarks import BENCHMARKS

    return BENCHMARKS.values()
