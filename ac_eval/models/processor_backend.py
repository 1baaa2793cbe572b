"""Any transformers audio-text model whose own processor takes `audio=`: Audio Flamingo 3 today, and the next
architecture that ships a processor, without new code.

The processor builds every input (AF3 cuts audio into 30 s windows, up to 10 minutes); the model class comes
from the checkpoint's `architectures`. Features are computed per item (the processor's internals vary, so
silence is not cached here). Choice mode scores full sequences, prompt + audio + option, one row per option.
"""

from __future__ import annotations

import torch

from ac_eval.evaluation.records import AudioInput
from ac_eval.models.generation import context_length
from ac_eval.models.qwen2_audio import (
    DTYPES,
    _cut,
    audio_chat_prompt,
    find_audio_segment,
)


@torch.inference_mode()
def score_options_full_forward(backend, prompt: str, audio: AudioInput | None, options: list[str]) -> list[tuple[float, bool]]:
    """(sum log-prob, is greedy) of each option after prompt + audio, from one batch of full sequences."""
    prefix = backend.encode([prompt], [audio])
    n_prefix = prefix["input_ids"].shape[1]
    ids = [backend.tokenizer(o, add_special_tokens=False)["input_ids"] for o in options]
    width = max(len(x) for x in ids)
    pad = backend.tokenizer.pad_token_id or 0
    # Options follow the prompt directly; shorter ones are right-padded and the padding is left out of sums.
    rows = torch.tensor([x + [pad] * (width - len(x)) for x in ids], device=backend.device)
    mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids], device=backend.device)
    k = len(options)
    inputs = {key: torch.cat([value] * k) for key, value in prefix.items()}  # audio features too, item by item
    inputs["input_ids"] = torch.cat([inputs["input_ids"], rows], dim=1)
    inputs["attention_mask"] = torch.cat([inputs["attention_mask"], mask], dim=1)
    logits = backend.model(**inputs).logits[:, n_prefix - 1 : -1].float()
    logprobs = torch.log_softmax(logits, dim=-1).gather(-1, rows.unsqueeze(-1)).squeeze(-1)
    totals = (logprobs * mask).sum(-1).tolist()
    greedy = ((logits.argmax(-1) == rows) | (mask == 0)).all(-1).tolist()
    return [(t, bool(g)) for t, g in zip(totals, greedy)]


class ProcessorBackend:
    arch = "hf-processor"

    def __init__(self, pretrained: str, dtype: str = "float32", device: str = "cpu", revision: str | None = None):
        import transformers
        from transformers import AutoConfig, AutoProcessor

        if dtype not in DTYPES:
            raise ValueError(f"dtype={dtype!r}: use one of {', '.join(DTYPES)}")
        self.pretrained = pretrained
        self.device = torch.device(device)
        self.processor = AutoProcessor.from_pretrained(pretrained, revision=revision)
        config = AutoConfig.from_pretrained(pretrained, revision=revision)
        names = config.architectures or []
        model_class = next((getattr(transformers, n) for n in names if hasattr(transformers, n)), None)
        if model_class is None:
            raise ValueError(f"{pretrained}: config.architectures {names} names no transformers class")
        self.model = model_class.from_pretrained(pretrained, revision=revision, dtype=DTYPES[dtype]).to(self.device).eval()
        self.arch = f"hf-processor:{config.model_type}"
        self.max_context = context_length(config)
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"
        self.sample_rate: int = self.processor.feature_extractor.sampling_rate
        self.audio_token: str = self.processor.audio_token
        self.audio_segment = find_audio_segment(self.processor, self.audio_token, pretrained)

    @property
    def chat_template(self) -> str:
        return self.processor.chat_template

    def chat_prompt(self, user_text: str, system: str | None) -> str:
        return audio_chat_prompt(self.processor, user_text, system)

    def encode(self, prompts: list[str], audios: list[AudioInput | None]) -> dict[str, torch.Tensor]:
        texts = [p if a is not None else p.replace(self.audio_segment, "", 1) for p, a in zip(prompts, audios)]
        arrays = [a.array for a in audios if a is not None]
        kwargs = {"audio": arrays, "sampling_rate": self.sample_rate} if arrays else {}
        inputs = self.processor(text=texts, return_tensors="pt", **kwargs)  # its own padding rules, audio included
        return {k: v.to(self.device, self.model.dtype) if v.is_floating_point() else v.to(self.device) for k, v in inputs.items()}

    def generate(self, prompts, audios, settings) -> list[str]:
        """Items with and without audio run as separate batches (processors such as AF3's want 1:1 text/audio)."""
        out: list[str] = [""] * len(prompts)
        for has_audio in (True, False):
            idx = [i for i, a in enumerate(audios) if (a is not None) == has_audio]
            if idx:
                for i, text in zip(idx, self._generate([prompts[i] for i in idx], [audios[i] for i in idx], settings)):
                    out[i] = text
        return out

    @torch.inference_mode()
    def _generate(self, prompts, audios, settings) -> list[str]:
        inputs = self.encode(prompts, audios)
        kwargs = {"max_new_tokens": settings.max_new_tokens, "do_sample": settings.do_sample}
        if settings.do_sample:
            kwargs.update(temperature=settings.temperature, top_k=settings.top_k, top_p=settings.top_p)
        out = self.model.generate(**inputs, **kwargs, pad_token_id=self.tokenizer.pad_token_id)
        texts = self.tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        return [_cut(t, settings.until) for t in texts]

    def choice_logprobs(self, prompts, audios, continuations):
        return [score_options_full_forward(self, p, a, opts) for p, a, opts in zip(prompts, audios, continuations)]
