"""Throughput of the vLLM backend against the transformers backend on a GPU machine (not a test).

    python benchmarks/perf_vllm.py --pretrained Qwen/Qwen2-Audio-7B-Instruct --data_dir ~/bench --items 500
    python benchmarks/perf_vllm.py            # a tiny Qwen2-Audio built here, synthetic audio, MMAU test-mini

Prints items/s per backend, mode and condition. Needs CUDA and `pip install 'ac-eval[vllm]'`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--pretrained")
    p.add_argument("--data_dir")
    p.add_argument("--items", type=int, default=200)
    p.add_argument("--tensor_parallel_size", type=int, default=1)
    args = p.parse_args()

    from rich.console import Console

    from ac_eval.evaluation.runner import RunConfig, run

    work = Path(tempfile.mkdtemp(prefix="ac-eval-vllm-"))
    pretrained, data_dir = args.pretrained, args.data_dir
    if not pretrained:
        from ac_eval.models.tiny_checkpoints import build_qwen2_audio

        pretrained = str(build_qwen2_audio(work / "tiny"))
    if not data_dir:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from perf_core import make_input

        data_dir = str(make_input(work / "data", args.items))
    quiet = Console(file=open("/dev/null", "w"))
    rows = []
    for model, extra, batch in (("hf", ",device=cuda,dtype=bfloat16", 16),
                                ("vllm", f",tensor_parallel_size={args.tensor_parallel_size}", 256)):
        for mode in ("generate", "choice"):
            for condition in ("original", "silent"):
                start = time.perf_counter()
                run(RunConfig(tasks=["mmau"], model=model, model_args=f"pretrained={pretrained}{extra}",
                              conditions=[condition], data_dir=data_dir, limit=args.items, mode=mode, batch_size=batch,
                              output_path=str(work / f"{model}-{mode}-{condition}"), use_cache=False), quiet)
                wall = time.perf_counter() - start
                rows.append({"backend": model, "mode": mode, "condition": condition, "items_per_s": args.items / wall})
                print(f"{model:<5} {mode:<9} {condition:<9} {args.items / wall:8.1f} items/s", flush=True)
    (work / "perf_vllm.json").write_text(json.dumps(rows, indent=2))
    print(f"numbers in {work / 'perf_vllm.json'}")


if __name__ == "__main__":
    main()
