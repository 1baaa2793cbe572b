"""Data-parallel evaluation: 2 CPU processes give the same result, item by item, as 1.

Launched with torchrun (what `accelerate launch --multi_gpu` runs underneath); our LM takes its rank from
accelerate's Accelerator. `accelerate launch --cpu --num_processes 2` would start a single process here:
accelerate's multi-CPU launcher needs mpirun."""

import subprocess
import sys

import jsonlines


def test_two_processes_equal_one(tiny_ckpt, bench_root, tmp_path):
    common = ["--model_args", f"pretrained={tiny_ckpt},max_new_tokens=32", "--tasks", "mmau", "--data_dir", str(bench_root),
              "--limit", "16", "--batch_size", "1"]
    one = subprocess.run([sys.executable, "-m", "ac_eval", "run", *common, "--output_path", str(tmp_path / "one")],
                         capture_output=True, text=True)
    assert one.returncode == 0, one.stderr[-2000:]
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517"]
    two = subprocess.run([*launch, "-m", "ac_eval", "run", *common, "--output_path", str(tmp_path / "two")],
                         capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-2000:]

    def items(run):
        return [(r["task"], r["id"], r["prediction"], r["correct"]) for r in jsonlines.open(tmp_path / run / "samples.jsonl")]

    assert len(items("one")) == 32 and items("two") == items("one")
    import json

    timing = json.loads((tmp_path / "two" / "results.json").read_text())["timing"]
    assert timing["world_size"] == 2  # really sharded over two processes
    # each process kept its own resumable cache
    assert len(list((tmp_path / "two" / "cache").glob("*_rank*.db"))) == 2
