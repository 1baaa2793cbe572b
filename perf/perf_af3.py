"""Audio Flamingo 3 against Qwen2-Audio, time per item on tiny checkpoints of the same size (2 encoder and 2
decoder layers, d_model 64, `ac-eval tiny-model`), whole `ac-eval run` processes, paired rounds, medians.

Configurations, each run in turn within a round: Qwen2-Audio; AF3 on its own backend (Qwen2-Audio's fast paths);
AF3 through the generic processor backend (`arch=hf-processor`: AF3's processor and the model's own forward, what
AF3 ran on before). Data: real MMAU test-mini records pointing at synthetic 10 s clips (as perf_cpu.py), conditions
original + silent, generation with 32 new tokens (`--max-new-tokens`), batch 16, no request cache.

    python perf/perf_af3.py                 # 40 items, 2 rounds, about 10 minutes on 2 cores
    python perf/perf_af3.py --items 16 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from perf_cpu import make_data  # noqa: E402

SHARED = HERE.parent.parent / "shared" / "data" / "mmau" / "mmau-test-mini.json"


def run_once(pretrained: Path, extra: str, data: Path, out: Path, items: int, tokens: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "ac_eval", "run", "--model_args", f"pretrained={pretrained},max_new_tokens={tokens}{extra}",
           "--tasks", "mmau", "--conditions", "original,silent", "--data_dir", str(data), "--limit", str(items),
           "--batch_size", "16", "--no_cache", "--output_path", str(out), "--format", "plain"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    timing = json.loads((out / "results.json").read_text())["timing"]
    return {"wall_s": wall, "model_s": timing.get("model_seconds")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--metadata", default=str(SHARED), help="MMAU test-mini metadata (default: ../shared/data)")
    ap.add_argument("--max-new-tokens", type=int, default=32, help="the budget both models generate to")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    from ac_eval.models.tiny_checkpoints import build_audio_flamingo_3, build_qwen2_audio

    work = Path(tempfile.mkdtemp(prefix="perf-af3-"))
    data = work / "data"
    make_data(data, args.items, Path(args.metadata))
    configs = {
        "qwen2-audio": (build_qwen2_audio(work / "qwen2-audio"), ""),
        "af3": (build_audio_flamingo_3(work / "af3"), ""),
        "af3 via processor (before)": (work / "af3", ",arch=hf-processor"),
    }
    times: dict[str, list[dict]] = {name: [] for name in configs}
    for r in range(args.rounds):
        for name, (ckpt, extra) in configs.items():
            times[name].append(run_once(ckpt, extra, data, work / "out", args.items, args.max_new_tokens))
            print(f"round {r + 1} {name}: {times[name][-1]}", flush=True)
    per_item = {name: {k: statistics.median(t[k] for t in ts) / (2 * args.items) for k in ("wall_s", "model_s")}
                for name, ts in times.items()}
    base = per_item["qwen2-audio"]
    summary = {name: {"wall_s_per_item": round(v["wall_s"], 4), "model_s_per_item": round(v["model_s"], 4),
                      "wall_vs_qwen2_audio": round(v["wall_s"] / base["wall_s"], 2),
                      "model_vs_qwen2_audio": round(v["model_s"] / base["model_s"], 2)}
               for name, v in per_item.items()}
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": platform.platform(), "cpus": os.cpu_count(),
                                               "items": args.items, "max_new_tokens": args.max_new_tokens, "rounds": args.rounds, "runs": times,
                                               "summary": summary}, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
