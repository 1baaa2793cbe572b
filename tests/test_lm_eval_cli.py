"""lm-eval's own command line runs our tasks and model: `python -m ac_eval.lm_eval <lm_eval arguments>`."""

import json
import subprocess
import sys


def test_lm_eval_cli_runs_our_tasks_and_model(tiny_ckpt, bench_root, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "ac_eval.lm_eval", "--model", "ac_hf", "--model_args", f"pretrained={tiny_ckpt}",
         "--tasks", "mmau_test_mini,mmau_test_mini_silent", "--metadata", json.dumps({"data_dir": str(bench_root)}),
         "--limit", "3", "--apply_chat_template", "--log_samples", "--output_path", str(out), "--device", "cpu"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]
    for task in ("mmau_test_mini", "mmau_test_mini_silent"):
        assert results[task]["item_score,none"] == 3  # every item reached the official scorer
        assert 0.0 <= results[task]["acc,none"] <= 1.0
    samples = [json.loads(line) for line in next(out.rglob("samples_mmau_test_mini_silent_*.jsonl")).open()]
    assert len(samples) == 3 and all(s["doc"]["question"] for s in samples)
