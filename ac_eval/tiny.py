"""Tiny randomly initialised checkpoints of real architectures, built offline in seconds.

They use the real classes, processor and chat template and a byte-level BPE tokenizer trained locally, and they
load with `AutoProcessor` / `from_pretrained` exactly like a hub checkpoint. Random weights barely use the
audio: they are for plumbing, timing and equivalence tests, not for behaviour.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

from ac_eval.prompts import AUDIOMCQ_SYSTEM, AUDIOMCQ_TEMPLATE, MMSU_INSTRUCTION

QWEN2_AUDIO_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>"]


def _corpus() -> list[str]:
    words = (
        "the a of and to in is what which sound music speech man woman child robot dog cat bird car rain "
        "voice instrument piano guitar drum violin pitch high low loud quiet fast slow beep tone noise one two "
        "three four five yes no happy sad angry calm question answer options choose final"
    ).split()
    return [AUDIOMCQ_SYSTEM, AUDIOMCQ_TEMPLATE, MMSU_INSTRUCTION, string.printable, " ".join(words)] * 4 + [
        f"<answer>{w.capitalize()}</answer> ['{w}', '{v}']" for w, v in zip(words, reversed(words))
    ]


def build_qwen2_audio(output: str | Path, seed: int = 0, vocab_size: int = 1024, d_model: int = 64) -> Path:
    """Write a 2-layer Qwen2-Audio (audio encoder + Qwen2 decoder) checkpoint to `output`."""
    import torch
    from transformers import (
        Qwen2AudioConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        Qwen2Tokenizer,
        WhisperFeatureExtractor,
    )

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    tokenizer = Qwen2Tokenizer().train_new_from_iterator(
        _corpus(), vocab_size=vocab_size, new_special_tokens=QWEN2_AUDIO_SPECIAL
    )
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.pad_token = "<|endoftext|>"
    tokenizer.padding_side = "left"
    feature_extractor = WhisperFeatureExtractor(feature_size=128, sampling_rate=16000, chunk_length=30)
    processor = Qwen2AudioProcessor(
        feature_extractor=feature_extractor,
        tokenizer=tokenizer,
        chat_template=Qwen2AudioProcessor.default_chat_template.fget(None),  # the released checkpoints' template
    )
    config = Qwen2AudioConfig(
        audio_config=dict(
            d_model=d_model, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=2 * d_model, num_mel_bins=128
        ),
        text_config=dict(
            model_type="qwen2",
            vocab_size=len(tokenizer),
            hidden_size=d_model,
            intermediate_size=2 * d_model,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=4096,
            tie_word_embeddings=True,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        audio_token_index=tokenizer.convert_tokens_to_ids("<|AUDIO|>"),
    )
    torch.manual_seed(seed)
    model = Qwen2AudioForConditionalGeneration(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(output)
    processor.save_pretrained(output)
    (output / "ac_eval_tiny.json").write_text(json.dumps({"arch": "qwen2-audio", "seed": seed, "d_model": d_model}))
    return output


TINY_BUILDERS = {"qwen2-audio": build_qwen2_audio}
