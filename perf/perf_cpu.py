"""ac-eval against a plain hand-written loop (perf/plain_loop.py), on the CPU, whole processes, paired runs.

    python perf/perf_cpu.py                       # 512 items, 3 rounds, memory 1,000 vs 10,000 items
    python perf/perf_cpu.py --items 128 --rounds 1 --no-memory     # a quick look

The data: real MMAU test-mini records (replicated with new ids past 1,000) pointing at synthetic 10 s 16 kHz clips;
the model: the tiny Qwen2-Audio checkpoint (`ac-eval tiny-model`); batch 16, 32 new tokens, greedy. Each round runs
every configuration once, in turn, so the machine's drift hits all of them alike; the report gives medians and
these ratios (targets in brackets):
- generation with the audio: plain loop / ac-eval                       (>= 1.5)
- choice mode: plain loop's generation / ac-eval choice mode            (>= 2.5)
- the silent pass: ac-eval silent / ac-eval with the audio              (<= 0.5, or within 10% of its floor: the
  silent pass's own generation with its prefix cached; results.json timing splits each generation at its first
  new token, so the floor, and decoding alone, are measured in the same runs)
- start-up: ac-eval on 1 item - plain loop on 1 item (imports, model load, writing)   (< 1 s)
- a cached rerun: the audio + silent run again, every request in its cache, whole process  (<= 3 s)
- peak memory: 10,000 items / 1,000 items                               (<= 1.2)
and whether ac-eval's predictions equal the plain loop's, item for item.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
POOL = 64  # distinct clips the records point at


def make_data(root: Path, n_items: int, metadata: Path, seconds: float = 10.0, pool: int = POOL,
              lengths: tuple[float, ...] | None = None) -> Path:
    """ROOT/mmau/mmau-test-mini.json with n_items real records (ids made unique) pointing at a pool of synthetic
    clips, all `seconds` long or cycling through `lengths`."""
    import numpy as np
    import soundfile as sf

    rows = json.loads(metadata.read_text())
    out = []
    for i in range(n_items):
        row = dict(rows[i % len(rows)])
        row["id"] = row["id"] if i < len(rows) else f"{row['id']}-{i}"
        row["audio_id"] = f"./clips/pool-{i % pool}.wav"
        out.append(row)
    meta = root / "mmau" / "mmau-test-mini.json"
    (meta.parent / "clips").mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps(out))
    for k in range(pool):
        path = meta.parent / "clips" / f"pool-{k}.wav"
        if not path.exists():
            t = np.arange(int((lengths[k % len(lengths)] if lengths else seconds) * 16000)) / 16000
            sf.write(path, (0.3 * np.sin(2 * np.pi * (200 + 13 * k) * t)).astype(np.float32), 16000, subtype="PCM_16")
    return meta


def timed(cmd: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])}... failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def loop_cmd(ckpt: Path, meta: Path, out: Path, args, silent: bool = False) -> list[str]:
    cmd = [sys.executable, str(HERE / "plain_loop.py"), str(ckpt), str(meta), str(out), "--batch", str(args.batch),
           "--max-new-tokens", str(args.max_new_tokens)]
    return cmd + (["--silent"] if silent else [])


def harness_cmd(ckpt: Path, root: Path, out: Path, args, condition: str, mode: str, limit: int | None = None,
                cache: bool = False) -> list[str]:
    cmd = [sys.executable, "-m", "ac_eval", "run", "--model_args", f"pretrained={ckpt}", "--tasks", "mmau_test_mini",
           "--conditions", condition, "--mode", mode, "--data_dir", str(root), "--batch_size", str(args.batch),
           "--gen_kwargs", f"max_gen_toks={args.max_new_tokens}", "--output_path", str(out)]
    return cmd + (["--limit", str(limit)] if limit else []) + ([] if cache else ["--no_cache"])


def same_predictions(loop_out: Path, harness_out: Path, condition: str) -> tuple[int, int]:
    loop = {r["id"]: r["model_output"] for r in json.loads(loop_out.read_text())}
    ours = {}
    for line in (harness_out / "samples.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["condition"] == condition:
            ours[row["id"]] = row["prediction"]
    return sum(loop[i] == ours.get(i) for i in loop), len(loop)


def peak_rss_mb(cmd: list[str]) -> float:
    """Peak resident memory of a whole child process (VmHWM, read by a wrapper: ru_maxrss would carry the
    parent's peak across execve)."""
    wrapper = ("import runpy, sys, atexit\n"
               "def report():\n"
               "    for line in open('/proc/self/status'):\n"
               "        if line.startswith('VmHWM:'):\n"
               "            sys.stderr.write('PEAK_KB ' + line.split()[1] + '\\n')\n"
               "atexit.register(report)\n"
               "sys.argv = ['ac_eval'] + sys.argv[1:]\n"
               "runpy.run_module('ac_eval', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", wrapper, *cmd[3:]], capture_output=True, text=True)
    line = next(x for x in proc.stderr.splitlines() if x.startswith("PEAK_KB"))
    return int(line.split()[1]) / 1024


def compute_ratios(med: dict[str, float]) -> dict[str, float]:
    """The issue's whole-process ratios, and the same with each side's fixed cost (its 1-item run: imports, model
    load, writing) taken out, which is what a longer run converges to."""
    loop_fixed, ours_fixed = med["loop: 1 item"], med["ac-eval: 1 item"]

    def work(name: str) -> float:
        return med[name] - (loop_fixed if name.startswith("loop") else ours_fixed)

    return {
        "generation with audio: loop / ac-eval (>= 1.5)": med["loop: generate, audio"] / med["ac-eval: generate, audio"],
        "choice mode: loop generation / ac-eval choice (>= 2.5)": med["loop: generate, audio"] / med["ac-eval: choice, audio"],
        "silent pass: ac-eval silent / ac-eval audio (<= 0.5)": med["ac-eval: generate, silent"] / med["ac-eval: generate, audio"],
        "silent pass, choice mode: silent / audio": med["ac-eval: choice, silent"] / med["ac-eval: choice, audio"],
        "start-up overhead, s: ac-eval 1 item - loop 1 item (< 1)": ours_fixed - loop_fixed,
        "cached rerun, s (<= 3)": med["ac-eval: cached rerun (audio + silent)"],
        "cached rerun / the same run computed (audio + silent)": med["ac-eval: cached rerun (audio + silent)"]
        / (med["ac-eval: generate, audio"] + med["ac-eval: generate, silent"]),
        "fixed cost out: generation with audio, loop / ac-eval": work("loop: generate, audio") / work("ac-eval: generate, audio"),
        "fixed cost out: choice mode, loop generation / ac-eval choice": work("loop: generate, audio") / work("ac-eval: choice, audio"),
        "fixed cost out: silent pass, silent / audio": work("ac-eval: generate, silent") / work("ac-eval: generate, audio"),
        "fixed cost out: silent pass, loop silent / ac-eval silent": work("loop: generate, silent") / work("ac-eval: generate, silent"),
    }


def silent_floor(work: Path, rounds: int, med: dict[str, float]) -> dict[str, float]:
    """The silent pass against what the model alone must compute once the silent prefix is cached. Each run's
    results.json says how long `generate` took before each batch's first new token (for silence: the question and
    options after the cached prefix) and after it (decoding). Two floors:
    - generation with the prefix cached (the issue's "the silent pass's own decode time with the prefix already
      cached"): the `generate` calls alone, question prefill + decoding; what is above it is the harness (inputs,
      the prefix once, its cache per batch);
    - decoding alone (stricter): the tokens after the first; what is above it includes the question's own prefill
      over the 750 silent positions, which is the model's work, not the harness's."""
    def timing(prefix: str, key: str) -> float:
        return statistics.median(json.loads((work / f"{prefix}-{r}" / "results.json").read_text())["timing"][key]
                                 for r in range(rounds))

    audio_model, silent_model = timing("gen", "model_seconds"), timing("sil", "model_seconds")
    silent_decode, silent_prefill = timing("sil", "decode_seconds"), timing("sil", "prefill_seconds")
    return {
        "silent pass, model time: silent / audio": silent_model / audio_model,
        "silent generation floor, model time: silent generate calls / audio": (silent_prefill + silent_decode) / audio_model,
        "silent pass / its generation with the prefix cached, model time (<= 1.1)": silent_model / (silent_prefill + silent_decode),
        "silent decode floor, model time: silent decode / audio": silent_decode / audio_model,
        "silent pass / its decoding alone, model time (stricter floor)": silent_model / silent_decode,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--items", type=int, default=512)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--metadata", default=str(REPO.parent / "shared" / "data" / "mmau" / "mmau-test-mini.json"))
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--json", help="write every number here too")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ac-eval-perf-"))
    subprocess.run([sys.executable, "-m", "ac_eval", "tiny-model", "--output", str(work / "tiny")], check=True,
                   capture_output=True)
    ckpt = work / "tiny"
    meta = make_data(work / "data", args.items, Path(args.metadata))
    one = make_data(work / "one", 1, Path(args.metadata))
    configs = {
        "loop: generate, audio": lambda r: loop_cmd(ckpt, meta, work / f"loop-{r}.json", args),
        "loop: generate, silent": lambda r: loop_cmd(ckpt, meta, work / f"loop-silent-{r}.json", args, silent=True),
        "ac-eval: generate, audio": lambda r: harness_cmd(ckpt, work / "data", work / f"gen-{r}", args, "original", "generate"),
        "ac-eval: generate, silent": lambda r: harness_cmd(ckpt, work / "data", work / f"sil-{r}", args, "silent", "generate"),
        "ac-eval: choice, audio": lambda r: harness_cmd(ckpt, work / "data", work / f"cho-{r}", args, "original", "choice"),
        "ac-eval: choice, silent": lambda r: harness_cmd(ckpt, work / "data", work / f"chs-{r}", args, "silent", "choice"),
        "loop: 1 item": lambda r: loop_cmd(ckpt, one, work / f"loop1-{r}.json", args),
        "ac-eval: 1 item": lambda r: harness_cmd(ckpt, work / "one", work / f"one-{r}", args, "original", "generate"),
    }
    # A rerun of a finished run, every request in its cache (target: <= 3 s, no model loaded): filled once here.
    cached = harness_cmd(ckpt, work / "data", work / "cached", args, "original,silent", "generate", cache=True)
    timed(cached)
    configs["ac-eval: cached rerun (audio + silent)"] = lambda r: cached
    times: dict[str, list[float]] = {k: [] for k in configs}
    for r in range(args.rounds):
        for name, cmd in configs.items():
            times[name].append(timed(cmd(r)))
            print(f"round {r + 1}: {name:<28} {times[name][-1]:7.2f} s", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    equal_audio = same_predictions(work / "loop-0.json", work / "gen-0", "original")
    equal_silent = same_predictions(work / "loop-silent-0.json", work / "sil-0", "silent")
    ratios = compute_ratios(med)
    ratios.update(silent_floor(work, args.rounds, med))
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
              "date": time.strftime("%Y-%m-%d %H:%M"), "items": args.items, "rounds": args.rounds,
              "batch": args.batch, "max_new_tokens": args.max_new_tokens, "median_s": med, "all_s": times,
              "ratios": ratios, "same_predictions_audio": equal_audio, "same_predictions_silent": equal_silent}
    if not args.no_memory:
        sizes = (1000, 10000)
        mem = {}
        for n in sizes:
            make_data(work / f"mem-{n}", n, Path(args.metadata), seconds=2.0)
            cmd = harness_cmd(ckpt, work / f"mem-{n}", work / f"mem-run-{n}", argparse.Namespace(
                batch=args.batch, max_new_tokens=2), "original", "generate")
            mem[n] = peak_rss_mb(cmd)
            print(f"memory: {n} items, peak RSS {mem[n]:.0f} MB", flush=True)
        result["peak_rss_mb"] = mem
        result["ratios"]["peak memory: 10,000 / 1,000 items (<= 1.2)"] = mem[10000] / mem[1000]
    print("\nmedians (s): " + ", ".join(f"{k} {v:.2f}" for k, v in med.items()))
    print(f"same predictions as the plain loop: with audio {equal_audio[0]}/{equal_audio[1]}, "
          f"silent {equal_silent[0]}/{equal_silent[1]}")
    for k, v in result["ratios"].items():
        print(f"{k}: {v:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
