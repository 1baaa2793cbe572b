"""GPU throughput on a Qwen2-Audio-7B-shaped model, randomly initialised (no download), one process per engine.

    python perf/perf_gpu.py                    # HF backend, vLLM backend, plain HF loops (batch 1 and 16)
    python perf/perf_gpu.py --items 128 --engines hf,loop16 --timeout 240
    python perf/perf_gpu.py --shape tiny --device cpu --items 8 --engines hf,loop1   # the plumbing, on a CPU

What it builds: a folder with the real Qwen2-Audio-7B configuration shape (Whisper-large encoder, a 7B Qwen
decoder), the tokenizer and processor files of `ac-eval tiny-model`, and no weights: the transformers paths
initialise the model randomly from the config in bf16 on the GPU, vLLM loads it with load_format=dummy. The
data: MMAU-shaped prompts with 10 s clips. Each engine runs in its own process (so each has the GPU's memory to
itself), is built once, warmed up on one batch, then timed: items/s for generate (32 new tokens, greedy) and
choice mode, with the audio and with silence, and peak GPU memory. Target: >= 23 items/s with vLLM on one
H100-class GPU (the full protocol, 7,000 items x 2 conditions, in 10 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

# Qwen2-Audio-7B-Instruct's shape (config.json on the hub): Whisper-large-v3 encoder, Qwen-7B decoder.
SHAPE_7B = {
    "audio_config": {"model_type": "qwen2_audio_encoder", "d_model": 1280, "encoder_layers": 32,
                     "encoder_attention_heads": 20, "encoder_ffn_dim": 5120, "num_mel_bins": 128,
                     "max_source_positions": 1500},
    "text_config": {"model_type": "qwen2", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
                    "num_key_value_heads": 32, "intermediate_size": 11008, "vocab_size": 156032,
                    "max_position_embeddings": 8192, "rope_theta": 10000.0, "rms_norm_eps": 1e-5},
}


def build_folder(work: Path, shape: str) -> Path:
    """The tiny checkpoint's tokenizer/processor files; for the 7B shape, its config replaced and no weights."""
    from ac_eval.models.tiny_checkpoints import build_qwen2_audio

    tiny = build_qwen2_audio(work / "tiny")
    if shape == "tiny":
        return tiny
    folder = work / "qwen2-audio-7b-shape"
    folder.mkdir(exist_ok=True)
    for f in tiny.iterdir():
        if f.name not in ("model.safetensors", "config.json"):
            (folder / f.name).write_bytes(f.read_bytes())
    config = json.loads((tiny / "config.json").read_text())
    for part in ("audio_config", "text_config"):
        config[part] = {**config[part], **SHAPE_7B[part]}
    config["text_config"].pop("layer_types", None)  # one per layer of the tiny model: rebuilt from the new depth
    config["vocab_size"] = SHAPE_7B["text_config"]["vocab_size"]
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    return folder


def clips(n: int, seconds: float = 10.0):
    import numpy as np

    t = np.arange(int(seconds * 16000)) / 16000
    return [(0.3 * np.sin(2 * np.pi * (200 + 7 * i) * t)).astype(np.float32) for i in range(n)]


def prompts(n: int) -> list[tuple[str, list[str]]]:
    rows = json.loads((HERE.parent.parent / "shared" / "data" / "mmau" / "mmau-test-mini.json").read_text())
    return [(rows[i % len(rows)]["question"], rows[i % len(rows)]["choices"]) for i in range(n)]


def worker(args) -> dict:
    """One engine, built once, warmed up, timed."""
    import torch

    from ac_eval.evaluation.records import AudioInput
    from ac_eval.evaluation.conditions import get_condition
    from ac_eval.evaluation.benchmarks import get_prompt
    from ac_eval.evaluation.records import AudioRef, Record
    from ac_eval.models.generation import GenerationSettings

    folder = Path(args.folder)
    items = prompts(args.items)
    arrays = clips(args.items)
    style = get_prompt("audiomcq", "mmau")
    records = [Record("mmau", str(i), q, c, c[0], AudioRef("x")) for i, (q, c) in enumerate(items)]
    texts = [style.user_text(r) for r in records]
    settings = GenerationSettings(max_new_tokens=32)
    result: dict = {"engine": args.worker, "items": args.items}
    if args.worker in ("loop1", "loop16"):
        return loop_worker(args, folder, texts, arrays, result)
    if args.worker == "hf":
        from ac_eval.models.qwen2_audio import Qwen2AudioBackend

        def random_init(self, pretrained, revision, dtype):
            from transformers import AutoConfig, Qwen2AudioForConditionalGeneration

            with torch.device(args.device):
                return Qwen2AudioForConditionalGeneration._from_config(AutoConfig.from_pretrained(pretrained), dtype=dtype)

        Qwen2AudioBackend._load_model = random_init
        backend = Qwen2AudioBackend(str(folder), dtype="bfloat16" if args.device == "cuda" else "float32", device=args.device)
        batch = 16
    else:
        from ac_eval.models.vllm_backend import VLLMBackend

        backend = VLLMBackend(str(folder), dtype="bfloat16", load_format="dummy", max_model_len=4096,
                              gpu_memory_utilization=0.85)
        batch = args.items  # vLLM schedules everything it is given
    prompts_text = [backend.chat_prompt(t, style.system) for t in texts]
    options = [style.continuations(r) for r in records]
    for condition in ("original", "silent"):
        def audio(i):
            if condition == "silent":
                return get_condition("silent").audio_for(AudioRef("x"), 16000)
            return AudioInput(arrays[i])

        for mode in ("generate", "choice"):
            def call(idx):
                audios = [audio(i) for i in idx]
                if mode == "generate":
                    return backend.generate([prompts_text[i] for i in idx], audios, settings)
                return backend.choice_logprobs([prompts_text[i] for i in idx], audios, [options[i] for i in idx])

            call(list(range(min(batch, 4))))  # warm-up
            if args.device == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            for k in range(0, args.items, batch):
                call(list(range(k, min(k + batch, args.items))))
            if args.device == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            key = f"{mode}, {condition}"
            result[key] = {"items_per_s": args.items / seconds, "seconds": seconds,
                           "peak_gpu_gb": torch.cuda.max_memory_allocated() / 2**30 if args.device == "cuda" else None}
            print(f"{args.worker:<6} {key:<20} {args.items / seconds:8.2f} items/s", flush=True)
    return result


def loop_worker(args, folder: Path, texts: list[str], arrays, result: dict) -> dict:
    """The plain loop people write (processor + generate), batch 1 or 16, the same random model."""
    import torch
    from transformers import AutoConfig, AutoProcessor, Qwen2AudioForConditionalGeneration

    from ac_eval.evaluation.prompts import AUDIOMCQ_SYSTEM

    processor = AutoProcessor.from_pretrained(folder)
    processor.tokenizer.padding_side = "left"
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
    with torch.device(args.device):
        model = Qwen2AudioForConditionalGeneration._from_config(AutoConfig.from_pretrained(folder), dtype=dtype).eval()
    batch = 1 if args.worker == "loop1" else 16

    def run(idx):
        msgs = [[{"role": "system", "content": AUDIOMCQ_SYSTEM},
                 {"role": "user", "content": [{"type": "audio", "audio_url": "x"}, {"type": "text", "text": texts[i]}]}]
                for i in idx]
        text = [processor.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in msgs]
        inputs = processor(text=text, audio=[arrays[i] for i in idx], sampling_rate=16000, return_tensors="pt",
                           padding=True).to(args.device)
        with torch.inference_mode():
            model.generate(**inputs, max_new_tokens=32, do_sample=False)

    run([0])
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for k in range(0, args.items, batch):
        run(list(range(k, min(k + batch, args.items))))
    seconds = time.perf_counter() - start
    result["generate, original"] = {"items_per_s": args.items / seconds, "seconds": seconds,
                                    "peak_gpu_gb": torch.cuda.max_memory_allocated() / 2**30 if args.device == "cuda" else None}
    print(f"{args.worker:<6} generate, original   {args.items / seconds:8.2f} items/s", flush=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--items", type=int, default=256)
    p.add_argument("--engines", default="hf,vllm,loop1,loop16")
    p.add_argument("--shape", default="7b", choices=["7b", "tiny"])
    p.add_argument("--device", default="cuda")
    p.add_argument("--timeout", type=float, default=420, help="seconds for the whole script; each engine gets its share")
    p.add_argument("--json", default="perf_gpu.json")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        Path(args.out).write_text(json.dumps(worker(args)))
        return
    deadline = time.time() + args.timeout
    work = Path(tempfile.mkdtemp(prefix="ac-eval-gpu-"))
    folder = build_folder(work, args.shape)
    engines = args.engines.split(",")
    results = []
    for n, engine in enumerate(engines):
        share = (deadline - time.time()) / (len(engines) - n)
        out = work / f"{engine}.json"
        cmd = [sys.executable, __file__, "--worker", engine, "--folder", str(folder), "--items", str(args.items),
               "--device", args.device, "--out", str(out)]
        try:
            subprocess.run(cmd, timeout=max(30.0, share), check=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
            results.append(json.loads(out.read_text()))
        except subprocess.TimeoutExpired:
            results.append({"engine": engine, "error": f"ran past its {share:.0f} s"})
            print(f"{engine}: ran past its {share:.0f} s", flush=True)
        except subprocess.CalledProcessError as e:
            results.append({"engine": engine, "error": f"exit {e.returncode}"})
            print(f"{engine}: failed (exit {e.returncode})", flush=True)
    Path(args.json).write_text(json.dumps({"shape": args.shape, "device": args.device, "results": results}, indent=2))
    print(f"numbers in {args.json}")


if __name__ == "__main__":
    main()
