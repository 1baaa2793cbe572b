"""What the end of a process costs once a model was loaded: the interpreter's exit with the garbage collector as
usual against frozen (what `ac-eval` does after its command, see `ac_eval.cli.console_main`). Paired rounds of
whole child processes that import torch and transformers and load the tiny Qwen2-Audio checkpoint; each child
stamps the wall clock in its last atexit handler, the parent when it sees the child end: the difference is the
exit's teardown.

    python perf/perf_exit.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import atexit, gc, sys, time
import torch
from transformers import Qwen2AudioForConditionalGeneration
model = Qwen2AudioForConditionalGeneration.from_pretrained(sys.argv[1])
atexit.register(lambda: (sys.stderr.write(f"EXIT_AT {time.time()}\\n"), sys.stderr.flush()))
if sys.argv[2] == "frozen":
    gc.freeze()
"""


def teardown(checkpoint: Path, mode: str) -> float:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(checkpoint), mode], capture_output=True, text=True)
    end = time.time()
    stamp = next((line for line in proc.stderr.splitlines() if line.startswith("EXIT_AT")), None)
    if proc.returncode != 0 or stamp is None:
        raise RuntimeError(f"the {mode} child failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return end - float(stamp.split()[1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    checkpoint = Path(tempfile.mkdtemp(prefix="ac-eval-exit-")) / "tiny"
    subprocess.run([sys.executable, "-m", "ac_eval", "tiny-model", "--output", str(checkpoint)], check=True,
                   capture_output=True)
    times: dict[str, list[float]] = {"collected (Python's default)": [], "frozen (ac-eval)": []}
    for r in range(args.rounds):
        for name, mode in zip(times, ("default", "frozen")):
            times[name].append(teardown(checkpoint, mode))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print("medians: " + ", ".join(f"{k} {v:.2f} s" for k, v in med.items()))
    collected, frozen = med.values()
    print(f"exit teardown: {collected:.2f} s -> {frozen:.2f} s frozen ({collected - frozen:.2f} s saved)")


if __name__ == "__main__":
    main()
