"""Tiny randomly initialised checkpoints of real architectures, built offline in seconds.

They use the real classes, processor and chat template and a byte-level BPE tokenizer trained locally, and they
load with `AutoProcessor` / `from_pretrained` exactly like a hub checkpoint. Random weights barely use the
audio: they are for plumbing, timing and equivalence tests, not for behaviour.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

from ac_eval.evaluation.benchmarks.mmsu import INSTRUCTION as MMSU_INSTRUCTION
from ac_eval.evaluation.prompts import AUDIOMCQ_SYSTEM, AUDIOMCQ_TEMPLATE

QWEN2_AUDIO_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>"]
OMNI_SPECIAL = QWEN2_AUDIO_SPECIAL + ["<|vision_bos|>", "<|vision_eos|>", "<|IMAGE|>", "<|VIDEO|>"]
# The layout of Qwen2.5-Omni's template (ChatML; audio as <|audio_bos|><|AUDIO|><|audio_eos|> inside the user turn).
OMNI_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'audio' %}<|audio_bos|><|AUDIO|><|audio_eos|>"
    "{% elif content['type'] == 'image' %}<|vision_bos|><|IMAGE|><|vision_eos|>"
    "{% elif content['type'] == 'video' %}<|vision_bos|><|VIDEO|><|vision_eos|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _corpus() -> list[str]:
    words = (
        "the a of and to in is what which sound music speech man woman child robot dog cat bird car rain "
        "voice instrument piano guitar drum violin pitch high low loud quiet fast slow beep tone noise one two "
        "three four five yes no happy sad angry calm question answer options choose final"
    ).split()
    return [AUDIOMCQ_SYSTEM, AUDIOMCQ_TEMPLATE, MMSU_INSTRUCTION, string.printable, " ".join(words)] * 4 + [
        f"<answer>{w.capitalize()}</answer> ['{w}', '{v}']" for w, v in zip(words, reversed(words))
    ]


def build_qwen2_audio(output: str | Path, seed: int = 0, vocab_size: int = 1024, d_model: int = 64,
                      init_std: float = 0.02) -> Path:
    """Write a 2-layer Qwen2-Audio (audio encoder + Qwen2 decoder) checkpoint to `output`. A larger `init_std`
    than transformers' 0.02 makes a random model's greedy text depend strongly on its inputs (audio included), for
    tests that must see a changed input in the predictions themselves."""
    import torch
    from transformers import (
        Qwen2AudioConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        WhisperFeatureExtractor,
    )

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(QWEN2_AUDIO_SPECIAL, vocab_size)
    feature_extractor = WhisperFeatureExtractor(feature_size=128, sampling_rate=16000, chunk_length=30)
    processor = Qwen2AudioProcessor(
        feature_extractor=feature_extractor,
        tokenizer=tokenizer,
        chat_template=Qwen2AudioProcessor.default_chat_template.fget(None),  # the released checkpoints' template
    )
    config = Qwen2AudioConfig(
        audio_config=dict(
            d_model=d_model, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=2 * d_model, num_mel_bins=128,
            initializer_range=init_std,
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
            initializer_range=init_std,
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


def _tokenizer(specials: list[str], vocab_size: int):
    """The real Qwen2 byte-level BPE pre-tokenizer, trained here on a small corpus in milliseconds."""
    from transformers import Qwen2Tokenizer

    tokenizer = Qwen2Tokenizer().train_new_from_iterator(
        _corpus(), vocab_size=vocab_size, new_special_tokens=specials, show_progress=False)  # no blank lines on stdout
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.pad_token = "<|endoftext|>"
    tokenizer.padding_side = "left"
    return tokenizer


def build_qwen2_5_omni_thinker(output: str | Path, seed: int = 0, vocab_size: int = 1024, d_model: int = 64) -> Path:
    """Write a 2-layer Qwen2.5-Omni thinker (audio + vision encoders + Qwen2 decoder with multimodal RoPE).

    The Omni AutoProcessor cannot be built without torchvision, so the checkpoint carries what the audio path
    needs: tokenizer (with chat template) and feature extractor, as ac-eval's Omni backend reads them."""
    import torch
    from transformers import (
        Qwen2_5OmniThinkerConfig,
        Qwen2_5OmniThinkerForConditionalGeneration,
        WhisperFeatureExtractor,
    )

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(OMNI_SPECIAL, vocab_size)
    tokenizer.chat_template = OMNI_CHAT_TEMPLATE
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in OMNI_SPECIAL}
    heads = 4
    config = Qwen2_5OmniThinkerConfig(
        audio_config=dict(d_model=d_model, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=2 * d_model,
                          num_mel_bins=128, output_dim=d_model),
        vision_config=dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=d_model,
                           fullatt_block_indexes=[0]),
        text_config=dict(vocab_size=len(tokenizer), hidden_size=d_model, intermediate_size=2 * d_model,
                         num_hidden_layers=2, num_attention_heads=heads, num_key_value_heads=2,
                         max_position_embeddings=4096,
                         # mrope sections split head_dim / 2 over (time, height, width), as the real 7B's [16, 24, 24]
                         rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]}),
        audio_token_index=ids["<|AUDIO|>"],
        image_token_index=ids["<|IMAGE|>"],
        video_token_index=ids["<|VIDEO|>"],
        audio_start_token_id=ids["<|audio_bos|>"],
        audio_end_token_id=ids["<|audio_eos|>"],
        vision_start_token_id=ids["<|vision_bos|>"],  # real Omni checkpoints need it in the thinker config
    )
    torch.manual_seed(seed)
    model = Qwen2_5OmniThinkerForConditionalGeneration(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    WhisperFeatureExtractor(feature_size=128, sampling_rate=16000, chunk_length=30).save_pretrained(output)
    (output / "ac_eval_tiny.json").write_text(json.dumps({"arch": "qwen2.5-omni", "seed": seed, "d_model": d_model}))
    return output


# ChatML with AF3's <sound> placeholder where the audio goes (the released checkpoint ships its own template).
AF3_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}{% if c['type'] == 'audio' %}<sound>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_audio_flamingo_3(output: str | Path, seed: int = 0, vocab_size: int = 1024, d_model: int = 64) -> Path:
    """Write a 2-layer Audio Flamingo 3 (Whisper-style encoder + Qwen2 decoder) with its real processor."""
    import torch
    from transformers import (
        AudioFlamingo3Config,
        AudioFlamingo3ForConditionalGeneration,
        AudioFlamingo3Processor,
        WhisperFeatureExtractor,
    )

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<sound>"], vocab_size)
    processor = AudioFlamingo3Processor(WhisperFeatureExtractor(feature_size=128), tokenizer, chat_template=AF3_CHAT_TEMPLATE)
    config = AudioFlamingo3Config(
        audio_config=dict(d_model=d_model, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=2 * d_model,
                          num_mel_bins=128),
        text_config=dict(model_type="qwen2", vocab_size=len(tokenizer), hidden_size=d_model, intermediate_size=2 * d_model,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192),
        audio_token_id=tokenizer.convert_tokens_to_ids("<sound>"),
    )
    torch.manual_seed(seed)
    model = AudioFlamingo3ForConditionalGeneration(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(output)
    processor.save_pretrained(output)
    (output / "ac_eval_tiny.json").write_text(json.dumps({"arch": "audio-flamingo-3", "seed": seed, "d_model": d_model}))
    return output


TINY_BUILDERS = {
    "qwen2-audio": build_qwen2_audio,
    "qwen2.5-omni": build_qwen2_5_omni_thinker,
    "audio-flamingo-3": build_audio_flamingo_3,
}
