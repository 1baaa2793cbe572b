"""MMAU (test-mini with answers, test with answers withheld: a run writes a submission file instead of a score)."""

from __future__ import annotations

from ac_eval.evaluation.benchmarks.base import Benchmark, Split

BENCHMARK = Benchmark(
    name="mmau",
    description="MMAU: sound, music and speech questions (test-mini with answers, test with answers withheld)",
    splits=(Split("test-mini", "mmau-test-mini.json"), Split("test", "mmau-test.json", answers_public=False)),
    subset_keys=("task", "difficulty", "sub-category"),
    audio_key="audio_id",  # the clip's path, relative to the metadata file
    # Where the official evaluation.py reads the prediction: `model_output` now, `model_prediction` before
    # 2025-01-29 (and in R1-AQA's test_mmau.py output). The first one a file holds is used.
    prediction_keys=("model_output", "model_prediction"),
)
