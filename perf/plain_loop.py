"""The baseline ac-eval is measured against: a plain R1-AQA-style evaluation loop, as people write it by hand
(R1-AQA's src/test_mmau.py, with soundfile instead of torchaudio): per batch, read the clips, run the processor,
generate, decode, extract the answer. No harness, no cache, no tricks. With --choice, the plain way to rank
the options instead: one full forward pass (prompt, audio and option) per option, the summed log-probability of the
option's tokens, the best option's "<answer>...</answer>" text as the output.

    python perf/plain_loop.py CHECKPOINT METADATA OUT.json [--batch 16] [--max-new-tokens 32] [--silent] [--choice]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time

START = time.perf_counter()

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402
from transformers import AutoProcessor, Qwen2AudioForConditionalGeneration  # noqa: E402

SYSTEM = "You are an audio understanding model that answers multiple choice questions based on audio content."


def message(row: dict) -> list[dict]:
    question = (f"{row['question']} Please choose the answer from the following options: {row['choices']}. "
                "Output the final answer in <answer> </answer>.")
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": [{"type": "audio", "audio_url": row["audio_id"]}, {"type": "text", "text": question}]}]


def extract(output: str) -> str:
    match = re.search(r"<answer>(.*?)</answer>", output)
    return (match.group(1) if match else output).strip()


def option_scores(processor, model, text: str, audio, choices: list[str]) -> tuple[list[str], list[float]]:
    options = [f"<answer>{c}</answer>" for c in choices]
    inputs = processor(text=[text], audio=[audio], sampling_rate=16000, return_tensors="pt")
    scores = []
    for option in options:
        ids = processor.tokenizer(option, add_special_tokens=False, return_tensors="pt")["input_ids"]
        full = torch.cat([inputs["input_ids"], ids], 1)
        logits = model(input_ids=full, attention_mask=torch.ones_like(full), input_features=inputs["input_features"],
                       feature_attention_mask=inputs["feature_attention_mask"]).logits
        logp = torch.log_softmax(logits[0, -ids.shape[1] - 1 : -1].float(), -1)
        scores.append(logp.gather(-1, ids[0, :, None]).sum().item())
    return options, scores


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint")
    p.add_argument("metadata")
    p.add_argument("out")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--silent", action="store_true", help="30 s of zeros in place of every clip")
    p.add_argument("--choice", action="store_true", help="rank the options by log-likelihood instead of generating")
    args = p.parse_args()

    processor = AutoProcessor.from_pretrained(args.checkpoint)
    processor.tokenizer.padding_side = "left"
    model = Qwen2AudioForConditionalGeneration.from_pretrained(args.checkpoint, dtype=torch.float32).eval()
    loaded = time.perf_counter()
    rows = json.load(open(args.metadata))
    base = os.path.dirname(os.path.abspath(args.metadata))
    out = []
    with torch.inference_mode():
        for i in range(0, len(rows), args.batch):
            batch = rows[i : i + args.batch]
            audios = []
            for row in batch:
                if args.silent:
                    audios.append(np.zeros(480000, dtype=np.float32))
                else:
                    data, sr = sf.read(os.path.join(base, row["audio_id"]), dtype="float32", always_2d=True)
                    audios.append(data[:, 0])
            text = [processor.apply_chat_template(message(r), add_generation_prompt=True, tokenize=False) for r in batch]
            if args.choice:
                for row, t, audio in zip(batch, text, audios):
                    options, scores = option_scores(processor, model, t, audio, row["choices"])
                    best = options[max(range(len(options)), key=scores.__getitem__)]
                    out.append({"id": row["id"], "model_output": best, "model_prediction": extract(best), "scores": scores})
                continue
            inputs = processor(text=text, audio=audios, sampling_rate=16000, return_tensors="pt", padding=True)
            generated = model.generate(**inputs, max_new_tokens=args.max_new_tokens, do_sample=False)
            responses = processor.batch_decode(generated[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
            for row, response in zip(batch, responses):
                out.append({"id": row["id"], "model_output": response, "model_prediction": extract(response)})
    json.dump(out, open(args.out, "w"), indent=1)
    done = time.perf_counter()
    print(json.dumps({"startup_s": loaded - START, "loop_s": done - loaded, "items": len(out)}))


if __name__ == "__main__":
    main()
