"""Qwen2.5-Omni thinker (text output) through transformers: Qwen2.5-Omni-7B, the AudioMCQ checkpoints, Omni-R1 and
other fine-tunes of its architecture.

Its audio path is Qwen2-Audio's (Whisper features padded to 30 s, one `<|AUDIO|>` per pooled encoder frame), so
input building, silence caching and generation are shared with `Qwen2AudioBackend`. The AutoProcessor also needs
a video processor (torchvision); where that cannot be built, the same inputs are made from the checkpoint's
tokenizer, feature extractor and chat template directly. Choice mode scores each option with a full forward over
prompt + audio + option: the thinker's multimodal rotary positions are derived per sequence, so the shared-prefix
cache trick of the Qwen2-Audio backend does not apply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ac_eval.evaluation.records import AudioInput
from ac_eval.models.qwen2_audio import Qwen2AudioBackend


@dataclass
class AudioProcessorParts:
    """What the backend uses of a processor, built from the tokenizer and feature extractor alone."""

    tokenizer: Any
    feature_extractor: Any
    chat_template: str
    audio_token: str = "<|AUDIO|>"

    def apply_chat_template(self, messages, add_generation_prompt=True, tokenize=False):
        return self.tokenizer.apply_chat_template(
            messages, chat_template=self.chat_template, add_generation_prompt=add_generation_prompt, tokenize=tokenize
        )


def load_audio_processor_parts(pretrained: str, revision: str | None = None) -> AudioProcessorParts:
    from transformers import AutoTokenizer, WhisperFeatureExtractor

    tokenizer = AutoTokenizer.from_pretrained(pretrained, revision=revision)
    feature_extractor = WhisperFeatureExtractor.from_pretrained(pretrained, revision=revision)
    template = tokenizer.chat_template
    for name in ("chat_template.jinja", "chat_template.json"):
        path = Path(pretrained) / name
        if not template and path.is_file():
            text = path.read_text()
            template = json.loads(text)["chat_template"] if name.endswith(".json") else text
    if not template:
        raise ValueError(f"{pretrained}: no chat template in the tokenizer or chat_template.jinja/json")
    return AudioProcessorParts(tokenizer, feature_extractor, template, getattr(tokenizer, "audio_token", "<|AUDIO|>"))


class Qwen25OmniThinkerBackend(Qwen2AudioBackend):
    arch = "qwen2.5-omni"
    fast_audio = False  # its audio encoder works in windows and its positions come from the ids: the model's own path

    def _load_processor(self, pretrained: str, revision: str | None):
        try:
            from transformers import AutoProcessor

            processor = AutoProcessor.from_pretrained(pretrained, revision=revision)
            if hasattr(processor, "tokenizer") and hasattr(processor, "feature_extractor"):
                return processor
        except Exception:  # torchvision missing or broken (CPU torch wheels): build the audio path directly
            pass
        # (without a processor config AutoProcessor may also hand back just a tokenizer or feature extractor)
        return load_audio_processor_parts(pretrained, revision)

    def _load_model(self, pretrained: str, revision: str | None, dtype: torch.dtype):
        from transformers import (
            AutoConfig,
            Qwen2_5OmniForConditionalGeneration,
            Qwen2_5OmniThinkerForConditionalGeneration,
        )

        config = AutoConfig.from_pretrained(pretrained, revision=revision)
        if config.model_type == "qwen2_5_omni":  # a full Omni checkpoint: keep the thinker, drop the talker
            full = Qwen2_5OmniForConditionalGeneration.from_pretrained(pretrained, revision=revision, dtype=dtype)
            return full.thinker
        return Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(pretrained, revision=revision, dtype=dtype)

    def _language_model(self):
        return self.model.model

    def forward(self, model, inputs):
        """The thinker derives its multimodal positions from input ids and attention mask itself."""
        return model(**{k: v for k, v in inputs.items() if k != "labels"}).logits

    def choice_logprobs(self, prompts, audios: list[AudioInput | None], continuations):
        from ac_eval.models.processor_backend import score_options_full_forward

        return [score_options_full_forward(self, p, a, opts) for p, a, opts in zip(prompts, audios, continuations)]
