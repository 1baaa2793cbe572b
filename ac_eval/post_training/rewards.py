"""The paper's GRPO rewards (AudioMCQ's ms-swift plugin: R1-AQA's definitions with the paper's weights).

- accuracy (weight 2.0): the text inside the first <answer>...</answer> (tags in any case), or the whole
  completion when there is no tag pair, stripped, equals the option text, ignoring case.
- format (weight 0.5): the whole stripped completion starts with <answer>, ends with </answer>, and holds
  exactly one of each tag.
"""

from __future__ import annotations

from ac_eval.evaluation.scoring import tag_contents

ACCURACY_WEIGHT = 2.0
FORMAT_WEIGHT = 0.5


def answer_text(completion: str) -> str:
    """What the accuracy reward compares: the first tag's content, else the whole completion (the plugin's fallback)."""
    first = tag_contents(completion, first_only=True)  # the plugin's re.search, DOTALL and IGNORECASE, in linear time
    return (first[0] if first else completion).strip()


def accuracy_reward(completion: str, answer: str) -> float:
    return float(answer_text(completion).lower() == answer.strip().lower())


def format_reward(completion: str) -> float:
    text = completion.strip()
    ok = (text.startswith("<answer>") and text.endswith("</answer>")
          and text.count("<answer>") == 1 and text.count("</answer>") == 1)
    return float(ok)


def total_reward(completion: str, answer: str) -> tuple[float, float, float]:
    """(total, accuracy, format) with the paper's weights."""
    acc, fmt = accuracy_reward(completion, answer), format_reward(completion)
    return ACCURACY_WEIGHT * acc + FORMAT_WEIGHT * fmt, acc, fmt
