"""Performance of the evaluation core on the tiny Qwen2-Audio checkpoint (CPU). Not a test: it prints numbers.

    python benchmarks/perf_core.py                  # timing (300 items) + memory (1,000 vs 10,000 items)
    python benchmarks/perf_core.py --timing-items 100 --sizes 1000,2000   # quicker

Reports, per mode (generate, choice) and condition (original, silent):
- seconds per item over the whole `ac-eval run` (model load, task building, scoring and writing included);
- the share of that wall time spent outside the processor + model calls (target: under 10 %);
and the peak resident memory of a whole run on a 1,000-item and a 10,000-item MMAU-format input, each in its
own process (target: the larger within 1.2x of the smaller: audio is loaded batch by batch, never all at once).

The inputs are real MMAU test-mini records (replicated with new ids for 10,000) pointing at a pool of
synthetic 5 s clips at 44.1 kHz, so every original item is decoded and resampled as a real one would be.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MMAU = REPO / "ac_eval" / "data" / "mmau-test-mini.json"
POOL = 200  # distinct audio files the records point at


def make_input(root: Path, n_items: int) -> Path:
    """ROOT/mmau/mmau-test-mini.json with n_items records and their (pooled) synthetic audio."""
    import numpy as np
    import soundfile as sf

    rows = json.loads(MMAU.read_text())
    out = []
    for i in range(n_items):
        row = dict(rows[i % len(rows)])
        row["id"] = f"{row['id']}-{i}"
        row["audio_id"] = f"./test-mini-audios/pool-{i % POOL}.wav"
        out.append(row)
    meta = root / "mmau" / "mmau-test-mini.json"
    (meta.parent / "test-mini-audios").mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps(out))
    t = np.arange(5 * 44100) / 44100
    for k in range(POOL):
        path = meta.parent / "test-mini-audios" / f"pool-{k}.wav"
        if not path.exists():
            sf.write(path, (0.3 * np.sin(2 * np.pi * (200 + 7 * k) * t)).astype(np.float32), 44100)
    return root


def timed_run(checkpoint: Path, data_dir: Path, out: Path, condition: str, mode: str, limit: int | None, gen: str | None):
    from ac_eval.evaluation.runner import RunConfig, run

    cfg = RunConfig(
        tasks=["mmau_test_mini"], conditions=[condition], model_args=f"pretrained={checkpoint}", data_dir=str(data_dir),
        mode=mode, limit=limit, output_path=str(out), use_cache=False, gen_kwargs=gen, batch_size=8,
    )
    t0 = time.perf_counter()
    report = run(cfg, console=_null_console())
    wall = time.perf_counter() - t0
    n = report["tasks"]["mmau_test_mini"]["conditions"][condition]["n_total"]
    return wall, report["timing"], n


def _null_console():
    from rich.console import Console

    return Console(file=open("/dev/null", "w"))


def child_memory(n_items: int, checkpoint: Path, work: Path, gen: str) -> None:
    data = make_input(work / f"data-{n_items}", n_items)
    wall, timing, n = timed_run(checkpoint, data, work / f"run-{n_items}", "original", "generate", None, gen)
    print(json.dumps({"n_items": n, "peak_rss_mb": peak_rss_mb(), "wall_s": wall}))


def peak_rss_mb() -> float:
    """This process's peak resident memory. Not ru_maxrss: Linux carries that across execve, so a child would
    report its parent's peak; VmHWM belongs to the current address space only."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: best available


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--timing-items", type=int, default=300)
    p.add_argument("--sizes", default="1000,10000")
    p.add_argument("--memory-gen-kwargs", default="max_gen_toks=4", help="short generations keep the 10k run quick")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--checkpoint", help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    p.add_argument("--json", help="also write the numbers here")
    p.add_argument("--skip-timing", action="store_true")
    args = p.parse_args()

    from ac_eval.cli import _quiet_libraries

    _quiet_libraries(False)
    if args.child:
        child_memory(args.child, Path(args.checkpoint), Path(args.work), args.memory_gen_kwargs)
        return

    from ac_eval.models.tiny_checkpoints import build_qwen2_audio

    work = Path(tempfile.mkdtemp(prefix="ac-eval-bench-"))
    checkpoint = build_qwen2_audio(work / "tiny")
    data = make_input(work / "data-timing", args.timing_items) if not args.skip_timing else None
    results: dict = {"timing": [], "memory": []}
    if not args.skip_timing:
        timing(args, checkpoint, data, work, results)
    memory(args, checkpoint, work, results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def timing(args, checkpoint: Path, data: Path, work: Path, results: dict) -> None:
    print(f"timing: {args.timing_items} items per condition, tiny Qwen2-Audio on CPU")
    print(f"{'mode':<9} {'condition':<9} {'s/item':>8} {'items/s':>8} {'outside model+processor':>24}")
    for mode in ("generate", "choice"):
        for condition in ("original", "silent"):
            wall, spent, n = timed_run(checkpoint, data, work / f"t-{mode}-{condition}", condition, mode, None, None)
            outside = (wall - spent["model_seconds"]) / wall
            row = {"mode": mode, "condition": condition, "n": n, "wall_s": wall, "s_per_item": wall / n,
                   "model_and_processor_s": spent["model_seconds"], "audio_wait_s": spent["audio_wait_seconds"],
                   "outside_share": outside}
            results["timing"].append(row)
            print(f"{mode:<9} {condition:<9} {wall / n:>8.4f} {n / wall:>8.1f} {100 * outside:>23.1f}%")


def memory(args, checkpoint: Path, work: Path, results: dict) -> None:
    print(f"\nmemory: whole run, generate mode, original audio, {args.memory_gen_kwargs}")
    for size in [int(s) for s in args.sizes.split(",")]:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(size), "--checkpoint", str(checkpoint), "--work", str(work),
             "--memory-gen-kwargs", args.memory_gen_kwargs],
            capture_output=True, text=True, check=True,
        )
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        results["memory"].append(row)
        print(f"{row['n_items']:>6} items: peak RSS {row['peak_rss_mb']:.0f} MB, wall {row['wall_s']:.0f} s")
    if len(results["memory"]) >= 2:
        ratio = results["memory"][-1]["peak_rss_mb"] / results["memory"][0]["peak_rss_mb"]
        results["memory_ratio"] = ratio
        print(f"ratio largest/smallest: {ratio:.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    main()
