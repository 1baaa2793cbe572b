"""`ac-eval score`: score predictions made anywhere with a benchmark's official rule (plus strict accuracy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ac_eval.benchmarks import get as get_benchmark
from ac_eval.benchmarks import load_benchmark
from ac_eval.prompts import get_prompt
from ac_eval.scoring import score_item, summarize_with_subsets


class PredictionsError(Exception):
    pass


def read_predictions(path: Path) -> tuple[dict[str, str], dict[str, int]]:
    """{id: raw prediction} from a jsonl of {"id", "prediction"}; the first line for an id wins, repeats are counted."""
    if not path.is_file():
        raise PredictionsError(f"predictions file not found: {path}")
    predictions: dict[str, str] = {}
    counts = {"n_duplicate_predictions": 0, "n_null_predictions": 0}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise PredictionsError(f"{path}:{lineno}: not valid JSON ({e.msg})") from e
        if not isinstance(row, dict) or "id" not in row or "prediction" not in row:
            raise PredictionsError(f'{path}:{lineno}: each line needs "id" and "prediction" keys')
        if row["prediction"] is None:
            counts["n_null_predictions"] += 1  # same as no line: no prediction
            continue
        if not isinstance(row["prediction"], str):
            raise PredictionsError(f"{path}:{lineno}: prediction must be a string (the raw model output)")
        key = str(row["id"])
        if key in predictions:
            counts["n_duplicate_predictions"] += 1
            continue
        predictions[key] = row["prediction"]
    return predictions, counts


def score_file(benchmark: str, metadata: Path, predictions_path: Path, split: str | None = None, prompt: str = "audiomcq") -> dict[str, Any]:
    split = split or ("test-mini" if benchmark == "mmau" else "test")
    loaded = load_benchmark(benchmark, metadata, split)
    predictions, counts = read_predictions(predictions_path)
    rule = get_prompt(prompt, benchmark).rule
    scores = [score_item(r, predictions.get(r.id), rule) for r in loaded.records]
    known = {r.id for r in loaded.records}
    result = summarize_with_subsets(loaded.records, scores, get_benchmark(benchmark).SUBSET_KEYS)
    return {
        "benchmark": benchmark,
        "split": split,
        "rule": rule,
        "metadata_file": str(metadata),
        "metadata_sha256": loaded.sha256,
        "metadata_version": loaded.version,
        "predictions_file": str(predictions_path),
        **result,
        **counts,
        "n_unknown_ids": sum(1 for k in predictions if k not in known),
        "load_issues": loaded.issue_counts(),
        "skipped_records": loaded.skipped,
        "items": [s.to_dict() for s in scores],
    }
