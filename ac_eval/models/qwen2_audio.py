"""Hugging Face transformers backend for the Qwen2-Audio architecture (Qwen2-Audio-7B-Instruct, R1-AQA, fine-tunes).

Two modes:
- `generate`: batched greedy (or sampled) generation; the raw text goes to the official scorer.
- `choice_logprobs`: rank all options of an item from one forward pass over the shared prompt + audio
  (the prefix's KV cache is reused for every option instead of re-encoding prompt and audio per option).

Audio features are computed with the model's own feature extractor; inputs that are the same for every item
(silence) are computed once per backend and reused. `<|AUDIO|>` is expanded exactly as the processor does,
which a test checks token for token against `processor(text=..., audio=...)`.
"""

from __future__ import annotations

import torch

from ac_eval.evaluation.conditions import AudioInput
from ac_eval.models.generation import GenerationSettings, context_length

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class Qwen2AudioBackend:
    arch = "qwen2-audio"

    def __init__(self, pretrained: str, dtype: str = "float32", device: str = "cpu", revision: str | None = None):
        if dtype not in DTYPES:
            raise ValueError(f"dtype={dtype!r}: use one of {', '.join(DTYPES)}")
        self.pretrained = pretrained
        self.device = torch.device(device)
        self.processor = self._load_processor(pretrained, revision)
        self.model = self._load_model(pretrained, revision, DTYPES[dtype]).to(self.device)
        self.model.eval()
        self.max_context = context_length(self.model.config)
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"
        self.feature_extractor = self.processor.feature_extractor
        self.sample_rate: int = self.feature_extractor.sampling_rate
        self.audio_token: str = self.processor.audio_token
        self._feature_cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.audio_segment = self._find_audio_segment()
        self.stats = {"feature_cache_hits": 0, "feature_computes": 0}

    def _load_processor(self, pretrained: str, revision: str | None):
        from transformers import AutoProcessor

        return AutoProcessor.from_pretrained(pretrained, revision=revision)

    def _load_model(self, pretrained: str, revision: str | None, dtype: torch.dtype):
        from transformers import Qwen2AudioForConditionalGeneration

        return Qwen2AudioForConditionalGeneration.from_pretrained(pretrained, revision=revision, dtype=dtype)

    def _language_model(self):
        return self.model.model.language_model

    @property
    def chat_template(self) -> str:
        return self.processor.chat_template

    # ---- prompt ---------------------------------------------------------------------------------------------
    def chat_prompt(self, user_text: str, system: str | None) -> str:
        return audio_chat_prompt(self.processor, user_text, system)

    def _find_audio_segment(self) -> str:
        return find_audio_segment(self.processor, self.audio_token, self.pretrained)

    def _strip_audio(self, prompt: str) -> str:
        if self.audio_segment in prompt:
            return prompt.replace(self.audio_segment, "", 1)
        raise ValueError(f"prompt has no audio segment {self.audio_segment!r} to remove: {prompt[:200]!r}")

    # ---- inputs ---------------------------------------------------------------------------------------------
    def _features(self, audios: list[AudioInput]) -> tuple[torch.Tensor, torch.Tensor]:
        out: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(audios)
        todo = []
        for i, a in enumerate(audios):
            if a.cache_key is not None and a.cache_key in self._feature_cache:
                out[i] = self._feature_cache[a.cache_key]
                self.stats["feature_cache_hits"] += 1
            else:
                todo.append(i)
        if todo:
            feats = self.feature_extractor(
                [audios[i].array for i in todo],
                sampling_rate=self.sample_rate,
                padding="max_length",
                return_attention_mask=True,
                return_tensors="pt",
            )
            self.stats["feature_computes"] += len(todo)
            for j, i in enumerate(todo):
                pair = (feats["input_features"][j], feats["attention_mask"][j])
                out[i] = pair
                if audios[i].cache_key is not None:
                    self._feature_cache[audios[i].cache_key] = pair
        return torch.stack([f for f, _ in out]), torch.stack([m for _, m in out])

    def _expand(self, prompts: list[str], audios: list[AudioInput | None]):
        """Prompt texts with `<|AUDIO|>` expanded to one token per encoder frame (as the processor does), and the
        features of the items that have audio. An audio of None: the prompt loses the template's audio part."""
        present = [a for a in audios if a is not None]
        features = feature_mask = None
        lengths = iter([])
        if present:
            features, feature_mask = self._features(present)
            lengths = iter(feature_mask.sum(-1).tolist())
        texts = []
        for prompt, audio in zip(prompts, audios):
            if audio is None:
                texts.append(self._strip_audio(prompt))
                continue
            if prompt.count(self.audio_token) != 1:
                raise ValueError(f"prompt must hold exactly one {self.audio_token}: {prompt[:200]!r}")
            length = next(lengths)
            n = (((length - 1) // 2 + 1) - 2) // 2 + 1  # conv stride 2, then avg-pool 2 (as the processor)
            texts.append(prompt.replace(self.audio_token, self.audio_token * n))
        return texts, features, feature_mask

    def _with_features(self, inputs: dict, features, feature_mask) -> dict[str, torch.Tensor]:
        if features is not None:
            inputs["input_features"] = features.to(self.device, self.model.dtype)
            inputs["feature_attention_mask"] = feature_mask.to(self.device)
        return inputs

    def encode(self, prompts: list[str], audios: list[AudioInput | None]) -> dict[str, torch.Tensor]:
        """Model inputs for a batch (left-padded, for generation and scoring)."""
        texts, features, feature_mask = self._expand(prompts, audios)
        tokens = self.tokenizer(texts, padding=True, return_tensors="pt")
        inputs = {"input_ids": tokens["input_ids"].to(self.device), "attention_mask": tokens["attention_mask"].to(self.device)}
        return self._with_features(inputs, features, feature_mask)

    def training_batch(self, prompts: list[str], audios: list[AudioInput | None], targets: list[str]) -> dict[str, torch.Tensor]:
        """Right-padded prompt + target sequences; `labels` are -100 everywhere but the target (and its end token)."""
        texts, features, feature_mask = self._expand(prompts, audios)
        eos = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        rows, labels = [], []
        for text, target in zip(texts, targets):
            p = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            t = self.tokenizer(target, add_special_tokens=False)["input_ids"] + [eos]
            rows.append(p + t)
            labels.append([-100] * len(p) + t)
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id or 0
        inputs = {
            "input_ids": torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=self.device),
            "attention_mask": torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=self.device),
            "labels": torch.tensor([lab + [-100] * (width - len(lab)) for lab in labels], device=self.device),
        }
        return self._with_features(inputs, features, feature_mask)

    def forward(self, model, inputs: dict[str, torch.Tensor]):
        """Logits of a (training) batch. Qwen2-Audio's decoder takes positions from the attention mask, as
        `generate` does, so left- and right-padded rows see the same positions."""
        kwargs = {k: v for k, v in inputs.items() if k != "labels"}
        kwargs["position_ids"] = (inputs["attention_mask"].cumsum(-1) - 1).clamp(min=0)
        return model(**kwargs).logits

    # ---- generation -----------------------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(self, prompts: list[str], audios: list[AudioInput | None], settings: GenerationSettings) -> list[str]:
        inputs = self.encode(prompts, audios)
        kwargs = {"max_new_tokens": settings.max_new_tokens, "do_sample": settings.do_sample}
        if settings.do_sample:
            kwargs.update(temperature=settings.temperature, top_k=settings.top_k, top_p=settings.top_p)
        out = self.model.generate(
            **inputs, **kwargs, pad_token_id=self.tokenizer.pad_token_id, eos_token_id=self._eos_ids()
        )
        texts = self.tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        return [_cut(t, settings.until) for t in texts]

    def _eos_ids(self) -> list[int]:
        ids = {self.tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")}
        ids.discard(None)
        ids.discard(self.tokenizer.unk_token_id)
        if self.model.generation_config.eos_token_id is not None:
            eos = self.model.generation_config.eos_token_id
            ids.update(eos if isinstance(eos, list) else [eos])
        return sorted(i for i in ids if i is not None)

    # ---- choice scoring -------------------------------------------------------------------------------------
    @torch.inference_mode()
    def choice_logprobs(
        self, prompts: list[str], audios: list[AudioInput | None], continuations: list[list[str]]
    ) -> list[list[tuple[float, bool]]]:
        """(sum of log-probabilities, is greedy) of each continuation after its item's prompt + audio.

        One forward over the batch of prefixes (audio encoded once per item); its KV cache is then reordered so
        every option of every item is scored in one more forward over the option tokens only.
        """
        inputs = self.encode(prompts, audios)
        mask = inputs["attention_mask"]
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        prefix = self.model(**inputs, position_ids=positions, use_cache=True)
        last_logits = prefix.logits[:, -1, :].float()
        cache = getattr(prefix, "cache", None) or prefix.past_key_values

        owner = [i for i, conts in enumerate(continuations) for _ in conts]
        flat = [c for conts in continuations for c in conts]
        ids = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in flat]
        if any(len(x) == 0 for x in ids):
            raise ValueError("an option's continuation tokenizes to nothing")
        width = max(len(x) for x in ids)
        pad = self.tokenizer.pad_token_id or 0
        cont = torch.tensor([x + [pad] * (width - len(x)) for x in ids], device=self.device)
        cont_mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids], device=self.device)
        index = torch.tensor(owner, device=self.device)
        cache.reorder_cache(index)
        full_mask = torch.cat([mask[index], cont_mask], dim=1)
        start = mask.sum(-1)[index].unsqueeze(1)
        cont_positions = start + torch.arange(width, device=self.device).unsqueeze(0)
        # Option tokens only, on top of the reordered prefix cache (audio is already in it).
        hidden = self._language_model()(
            input_ids=cont, attention_mask=full_mask, position_ids=cont_positions, cache=cache
        ).last_hidden_state
        head = self.model.get_output_embeddings()
        logits = torch.cat([last_logits[index].unsqueeze(1), head(hidden[:, :-1]).float()], dim=1)
        logprobs = torch.log_softmax(logits, dim=-1).gather(-1, cont.unsqueeze(-1)).squeeze(-1)
        totals = (logprobs * cont_mask).sum(-1).tolist()
        greedy = ((logits.argmax(-1) == cont) | (cont_mask == 0)).all(-1).tolist()
        result: list[list[tuple[float, bool]]] = [[] for _ in continuations]
        for i, total, is_greedy in zip(owner, totals, greedy):
            result[i].append((total, bool(is_greedy)))
        return result


def audio_chat_prompt(processor, user_text: str, system: str | None) -> str:
    """The model's chat template with the audio first in the user turn (the R1-AQA/AudioMCQ layout)."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": user_text}]})
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def find_audio_segment(processor, audio_token: str, name: str = "model") -> str:
    """What the chat template adds for one audio ("Audio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\n" for
    Qwen2-Audio), found by rendering with and without it, so the `none` condition can take it out again."""
    probe = "\x00probe\x00"

    def render(content):
        return processor.apply_chat_template(
            [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
        )

    with_audio = render([{"type": "audio"}, {"type": "text", "text": probe}])
    without = render([{"type": "text", "text": probe}])
    start = next(i for i, (a, b) in enumerate(zip(with_audio, without)) if a != b)
    segment = with_audio[start : start + len(with_audio) - len(without)]
    if with_audio.replace(segment, "", 1) != without or audio_token not in segment:
        raise ValueError(f"{name}: cannot locate the audio part of the chat template")
    return segment


def _cut(text: str, until: list[str]) -> str:
    for stop in until:
        if stop and stop in text:
            text = text.split(stop, 1)[0]
    return text
