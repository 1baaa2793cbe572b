"""AudioMCQ-scale labelling: peak memory and items/s of `ac-eval run --tasks audiomcq --conditions silent` with a
model that costs nothing, at 10k, 100k and 571,118 items (AudioMCQ's size), against the same command asking lm-eval
for every item at once (`--chunk-size` above the item count: what every run did before chunks).

Data: AudioMCQ-format jsonl (its keys: source_dataset, id, question_type, audio_path, question, choices, answer,
audio-contribution), generated under WORK/data<N>/audiomcq/ once and reused. The silent condition reads no clip,
so no audio files are written. Model: the `guesser` stub (ac_eval.testing.stub_models: a seeded choice, no table of
answers), through the same `--model hf` path, lm-eval model class and request cache as a checkpoint.

Each configuration is one whole `ac-eval` process; its peak RSS is the kernel's (wait4 ru_maxrss), wall time is
the process's. `python perf/perf_scale.py --work /tmp/scale-bench` (about 35 minutes on 2 cores);
`--sizes 10000,100000 --rounds 1` for a quick look; `--json F` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

AUDIOMCQ_ITEMS = 571_118
SOURCES = ["Clotho", "AudioCaps", "CompA-R", "MusicCaps", "LP-MusicCaps", "SpeechCraft", "TACOS"]
TYPES = ["sound", "music", "speech", "temporal"]


def write_audiomcq(root: Path, n: int) -> Path:
    """n AudioMCQ-format items under root/audiomcq/audiomcq.jsonl (kept when it already holds n lines)."""
    path = root / "audiomcq" / "audiomcq.jsonl"
    if path.is_file() and sum(1 for _ in path.open("rb")) == n:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(n)
    with path.open("w") as f:
        for i in range(n):
            source = SOURCES[i % len(SOURCES)]
            choices = [f"{word} {rng.randrange(1000)}" for word in ("a dog barking", "rain", "a violin", "speech")]
            f.write(json.dumps({
                "source_dataset": source, "id": f"audiomcq-{i:07d}", "question_type": TYPES[i % len(TYPES)],
                "audio_path": f"./audio/{source}/{i:07d}.wav",
                "question": f"What can be heard in recording {i}, and what is the most likely source of the sound?",
                "choices": choices, "answer": choices[rng.randrange(4)],
                "audio-contribution": rng.choice(["weak", "strong"])}) + "\n")
    return path


def run_once(stub: Path, data: Path, out: Path, chunk_size: int | None, batch_size: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "ac_eval", "run", "--model_args", f"pretrained={stub}", "--tasks", "audiomcq",
           "--conditions", "silent", "--data_dir", str(data), "--output_path", str(out), "--batch_size", str(batch_size),
           "--format", "plain"]
    if chunk_size:
        cmd += ["--chunk-size", str(chunk_size)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    results = json.loads((out / "results.json").read_text())
    n = results["cache"]["items"]
    return {"items": n, "wall_s": round(wall, 1), "items_per_s": round(n / wall, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024), "chunk_size": chunk_size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/ac-eval-scale", help="data, stub and run folders")
    ap.add_argument("--sizes", default=f"10000,100000,{AUDIOMCQ_ITEMS}")
    ap.add_argument("--whole-up-to", type=int, default=100_000,
                    help="also run the one-chunk baseline at sizes up to this (it grows with the items)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    from ac_eval.testing.stub_models import write_stub

    work = Path(args.work)
    figures = []
    for n in map(int, args.sizes.split(",")):
        data = work / f"data{n}"
        meta = write_audiomcq(data, n)
        stub = write_stub(work / f"stub{n}", "guesser", "audiomcq", meta, "train", seed=1)
        configs = [("chunked", None)] + ([("one chunk", n + 1)] if n <= args.whole_up_to else [])
        for name, chunk in configs:
            row = {"config": name, **run_once(stub, data, work / f"out{n}", chunk, args.batch_size)}
            figures.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": os.uname().nodename, "cpus": os.cpu_count(),
                                               "load_before": os.getloadavg(), "figures": figures}, indent=2))


if __name__ == "__main__":
    main()
