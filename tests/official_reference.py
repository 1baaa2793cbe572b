"""The official scripts' rules, written out again here, independently of ac_eval, for the tests to check against.

Each function follows the structure of the script it stands for (read from the benchmarks' repositories):
- `r1aqa_extract`: xiaomi-research/r1-aqa `src/test_mmau.py` (`extract_answer`, then `.strip()`);
- `mmau_evaluate` / `mmar_evaluate`: Sakshi113/MMAU `evaluation.py` and ddlBoJack/MMAR `code/evaluation.py`
  (the same `string_match`, rows without the prediction key skipped, tallies per subset);
- `mmsu_evaluate`: dingdongwang/MMSU `mmsu_evaluation.py`.
Nothing here imports ac_eval: a bug in the code under test cannot hide in its own expectations.
"""

from __future__ import annotations

import re
from collections import defaultdict


def r1aqa_extract(output_str: str) -> str:
    match = re.search(r"<answer>(.*?)</answer>", output_str)
    if match:
        return match.group(1).strip()
    return output_str.strip()


def string_match(answer: str, prediction: str, choices: list[str]) -> bool:
    def tokenize(text):
        return set(re.findall(r"\b\w+\b", text.lower()))

    prediction_tokens = tokenize(prediction)
    answer_tokens = tokenize(answer)
    if not prediction_tokens:
        return False
    incorrect_tokens = set()
    for choice in choices:
        choice_tokens = tokenize(choice)
        if choice_tokens != answer_tokens:
            incorrect_tokens.update(choice_tokens - answer_tokens)
    return answer_tokens.issubset(prediction_tokens) and prediction_tokens.isdisjoint(incorrect_tokens)


def _evaluate(rows: list[dict], output_key: str, fields: tuple[str, ...]) -> dict:
    """The loop both MMAU's and MMAR's evaluation.py run: per row a verdict (None = skipped), tallies per field."""
    verdicts = []
    tallies = {f: defaultdict(lambda: [0, 0]) for f in fields}
    corr = total = 0
    for sample in rows:
        if output_key not in sample:
            verdicts.append(None)
            continue
        match = string_match(sample["answer"], sample[output_key], sample["choices"])
        verdicts.append(match)
        for f in fields:
            value = sample.get(f) if f == "sub-category" else sample[f]
            if value is None:
                continue
            tallies[f][value][0] += int(match)
            tallies[f][value][1] += 1
        corr += int(match)
        total += 1
    return {"verdicts": verdicts, "correct": corr, "total": total,
            "subsets": {f: {k: tuple(v) for k, v in t.items()} for f, t in tallies.items()}}


def mmau_evaluate(rows: list[dict], output_key: str = "model_output") -> dict:
    return _evaluate(rows, output_key, ("task", "difficulty", "sub-category"))


def mmar_evaluate(rows: list[dict]) -> dict:
    return _evaluate(rows, "answer_prediction", ("modality", "category", "sub-category"))


def mmsu_evaluate(rows: list[dict]) -> dict:
    """mmsu_evaluation.py: empty/'None'/missing response counted wrong; wrong format and non-strings skipped."""
    verdicts = []
    tallies = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    total_correct = total_count = 0
    for record in rows:
        task = record.get("category", "")
        category = record.get("sub-category", "")
        model_predict = None
        response = record.get("response", "")
        try:
            predict = response.strip().replace("\n", "")
        except Exception:
            verdicts.append(None)
            continue
        if predict != "None" and predict:
            if predict[0] in "ABCD":
                model_predict = predict[0]
            elif len(predict) > 1:
                if predict[-2] in "ABCD":
                    model_predict = predict[-2]
                else:
                    verdicts.append(None)
                    continue
            else:
                verdicts.append(None)
                continue
        answer_gt = record.get("answer_gt", "")
        choices = {"A": record.get("choice_a", ""), "B": record.get("choice_b", ""),
                   "C": record.get("choice_c", ""), "D": record.get("choice_d", "")}
        right = bool(model_predict) and choices[model_predict] == answer_gt
        verdicts.append(right)
        tallies[task][category][0] += int(right)
        tallies[task][category][1] += 1
        total_correct += int(right)
        total_count += 1
    by_category = {}
    for task, cats in tallies.items():
        by_category[task] = (sum(c for c, _ in cats.values()), sum(t for _, t in cats.values()))
    return {"verdicts": verdicts, "correct": total_correct, "total": total_count,
            "pairs": {(t, c): tuple(v) for t, cats in tallies.items() for c, v in cats.items()},
            "by_category": by_category}


MMSU_PROMPT = (
    "Choose the most suitable answer from options A, B, C, and D. "
    "You must respond with only A, B, C, or D."
)


def mmsu_instruction(item: dict) -> str:
    """mmsu_inference.py's prompt, with a blank (missing or null) option shown blank."""
    def opt(key):
        value = item.get(key, "")
        return "" if value is None else value

    choices = f"A. {opt('choice_a')}\nB. {opt('choice_b')}\nC. {opt('choice_c')}\nD. {opt('choice_d')}"
    return f"{MMSU_PROMPT}\n\nQuestion: {item['question']}\n\n{choices}"
