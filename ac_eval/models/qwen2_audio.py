"""Hugging Face transformers backend for the Qwen2-Audio architecture (Qwen2-Audio-7B-Instruct, R1-AQA, fine-tunes).

Two modes:
- `generate`: batched greedy (or sampled) generation; the raw text goes to the official scorer.
- `choice_logprobs`: rank all options of an item from one forward pass over the shared prompt + audio
  (the prefix's KV cache is reused for every option instead of re-encoding prompt and audio per option).

What makes it faster than the model's own `generate(**processor(...))`, with the same outputs (tests compare):
- audio features are computed by `prepare` for the next batch while the model works on this one; inputs that
  are the same for every item (silence) are computed once per backend;
- the audio encoder runs over each clip's own frames: Qwen2-Audio pads every clip to 30 s and masks the padding
  out of attention, so attending over the clip's frames alone gives the same embeddings (to float rounding) at a
  fraction of the cost for short clips;
- where every item of a batch shares its prompt up to the end of the audio (silence, fixed noise), the KV cache
  of that prefix (system prompt + 750 audio positions) is computed once and reused for every item;
- `<|AUDIO|>` is expanded in token ids (the prompt is tokenized with it once), not in the text: 750 special tokens
  per silent prompt were most of the tokenizer's work;
- choice mode runs the prompts padded on the right (causal attention without a padding mask) and the output head
  on each prompt's last token only.
`<|AUDIO|>` is expanded exactly as the processor does, which a test checks token for token against
`processor(text=..., audio=...)`.
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict

import numpy as np
import torch

from ac_eval.evaluation.records import AudioInput
from ac_eval.models.generation import GenerationSettings, context_length
from ac_eval.models.whisper_features import WhisperFeatures

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class Qwen2AudioBackend:
    arch = "qwen2-audio"
    # The encoder runs over each clip's own frames, audio embeddings go in as inputs_embeds, shared prefixes are
    # cached. Subclasses whose audio encoder or positions work otherwise (Qwen2.5-Omni's thinker) turn it off.
    fast_audio = True
    # Training passes run the encoder over each clip's own frames too (False: the model's own padded forward,
    # kept to check the two agree and to measure what the fast path saves).
    clip_frames = True
    feature_mask_key = "feature_attention_mask"  # what the model's forward calls the frame mask
    PREFIX_CACHE_SIZE = 4
    SHARED_INPUT_CACHE_SIZE = 64  # features are 1.5 MB each: silent-matched has one per distinct clip length

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
        # The Whisper front end, computed over each clip's own frames (same features, a fraction of the work).
        self._whisper = (WhisperFeatures(self.feature_extractor)
                         if type(self.feature_extractor).__name__ == "WhisperFeatureExtractor" else None)
        self.sample_rate: int = self.feature_extractor.sampling_rate
        self.audio_token: str = self.processor.audio_token
        # Inputs shared across items (silence, fixed noise; silent-matched: one per clip length), most recent kept.
        self._feature_cache: BoundedCache = BoundedCache(self.SHARED_INPUT_CACHE_SIZE)
        self._embed_cache: BoundedCache = BoundedCache(self.SHARED_INPUT_CACHE_SIZE)
        self._prefix_cache: BoundedCache = BoundedCache(self.PREFIX_CACHE_SIZE)
        self.audio_segment = self._find_audio_segment()
        # The token that closes the audio segment ("<|audio_eos|>"): a prompt's prefix up to it is shared by every
        # item that hears the same audio.
        tail = self.tokenizer(self.audio_segment.split(self.audio_token)[-1].strip(), add_special_tokens=False)["input_ids"]
        self.audio_end_id = tail[0] if len(tail) == 1 else None
        audio_ids = self.tokenizer(self.audio_token, add_special_tokens=False)["input_ids"]
        self._audio_id = audio_ids[0] if len(audio_ids) == 1 else None
        self._pad_id = self.tokenizer.pad_token_id or 0
        self.stats = {"feature_cache_hits": 0, "feature_computes": 0, "prefix_cache_hits": 0,
                      "prefill_seconds": 0.0, "decode_seconds": 0.0}

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
    def prepare(self, audios: list[AudioInput | None]) -> None:
        """Compute the features of a batch ahead of time (the model adapter calls this in its prefetch thread)."""
        todo = [a for a in audios if a is not None and a.features is None]
        for a in todo:
            if a.cache_key is not None and a.cache_key in self._feature_cache:
                a.features = self._feature_cache.get(a.cache_key)
                self.stats["feature_cache_hits"] += 1
        todo = [a for a in todo if a.features is None]
        if not todo:
            return
        # A clip shorter than one analysis window (25 ms) gives the encoder too few frames for a single audio token:
        # it is heard with silence after it, up to one window (zeros add nothing to the other frames' features).
        arrays = [np.pad(a.array, (0, max(0, self.feature_extractor.n_fft - len(a.array)))) for a in todo]
        if self._whisper is not None:
            features, mask = self._whisper(arrays)
        else:
            out = self.feature_extractor(arrays, sampling_rate=self.sample_rate, padding="max_length",
                                         return_attention_mask=True, return_tensors="pt")
            features, mask = out["input_features"], out["attention_mask"]
        self.stats["feature_computes"] += len(todo)
        for j, a in enumerate(todo):
            a.features = (features[j], mask[j])
            if a.cache_key is not None:
                self._feature_cache[a.cache_key] = a.features

    def _features(self, audios: list[AudioInput]) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Per clip its features (a list: the fast path reads each clip's own frames, so the padded batch is never
        stacked unless the model's own forward needs it) and the stacked frame masks."""
        self.prepare(audios)  # a no-op for what was prepared ahead
        return [a.features[0] for a in audios], torch.stack([a.features[1] for a in audios])

    def _audio_embeds(self, audios: list[AudioInput], features: list[torch.Tensor],
                      feature_mask: torch.Tensor) -> list[torch.Tensor]:
        """Per clip, its audio embeddings (one per `<|AUDIO|>` token), over the clip's own frames; inputs shared
        across items (silence) are encoded once."""
        out: list[torch.Tensor | None] = [self._embed_cache.get(a.cache_key) if a.cache_key else None for a in audios]
        todo = [i for i, e in enumerate(out) if e is None]
        if todo:
            for i, embeds in zip(todo, clip_embeddings(self.model, [features[i] for i in todo], feature_mask[todo])):
                out[i] = embeds
                if audios[i].cache_key:
                    self._embed_cache[audios[i].cache_key] = embeds
        return out  # type: ignore[return-value]

    def _inputs_embeds(self, input_ids: torch.Tensor, audio_embeds: list[torch.Tensor]) -> torch.Tensor:
        return merge_audio_embeds(self.model, input_ids, audio_embeds)

    def _expand(self, prompts: list[str], audios: list[AudioInput | None]):
        """Per item the prompt's text (the template's audio part taken out where the audio is None) and how many
        `<|AUDIO|>` tokens its clip is (one per encoder frame, as the processor counts; None without audio), and the
        features of the items that have audio."""
        present = [a for a in audios if a is not None]
        features = feature_mask = None
        lengths = iter([])
        if present:
            features, feature_mask = self._features(present)
            lengths = iter(feature_mask.sum(-1).tolist())
        texts, counts = [], []
        for prompt, audio in zip(prompts, audios):
            if audio is None:
                texts.append(self._strip_audio(prompt))
                counts.append(None)
                continue
            if prompt.count(self.audio_token) != 1:
                raise ValueError(f"prompt must hold exactly one {self.audio_token}: {prompt[:200]!r}")
            length = next(lengths)
            texts.append(prompt)
            counts.append((((length - 1) // 2 + 1) - 2) // 2 + 1)  # conv stride 2, then avg-pool 2 (as the processor)
        return texts, counts, features, feature_mask

    def _ids(self, texts: list[str], counts: list[int | None], add_special_tokens: bool = True) -> list[list[int]]:
        """Token ids of each text with its one audio token repeated `count` times, as the processor expands it. The
        text is tokenized with the token once: it is a special token, which the tokenizer splits the text around,
        so the ids are the same as the expanded text's (tests compare with the processor) at a fraction of the cost
        (750 audio tokens for 30 s of silence)."""
        if self._audio_id is None:  # the audio token is not one token: expand the text instead
            texts = [t if n is None else t.replace(self.audio_token, self.audio_token * n)
                     for t, n in zip(texts, counts)]
            return self.tokenizer(texts, add_special_tokens=add_special_tokens)["input_ids"]
        rows = self.tokenizer(texts, add_special_tokens=add_special_tokens)["input_ids"]
        out = []
        for row, n in zip(rows, counts):
            if n is not None:
                k = row.index(self._audio_id)
                row = row[:k] + [self._audio_id] * n + row[k + 1 :]
            out.append(row)
        return out

    def _with_features(self, inputs: dict, features, feature_mask) -> dict[str, torch.Tensor]:
        if features is not None:
            inputs["input_features"] = torch.stack(features).to(self.device, self.model.dtype)
            inputs[self.feature_mask_key] = feature_mask.to(self.device)
        return inputs

    def _token_inputs(self, rows: list[list[int]], right_padded: bool = False) -> dict[str, torch.Tensor]:
        """Left-padded ids and attention mask (the tokenizer's own padding, from ids already made), or right-padded."""
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            if r:
                span = slice(0, len(r)) if right_padded else slice(width - len(r), width)
                ids[i, span] = torch.tensor(r)
                mask[i, span] = 1
        return {"input_ids": ids.to(self.device), "attention_mask": mask.to(self.device)}

    def encode(self, prompts: list[str], audios: list[AudioInput | None]) -> dict[str, torch.Tensor]:
        """The model's own inputs for a batch (left-padded): token ids, attention mask, audio features. Training
        uses these (gradients flow through the model's own forward); evaluation uses `inference_inputs`."""
        texts, counts, features, feature_mask = self._expand(prompts, audios)
        inputs = self._token_inputs(self._ids(texts, counts))
        return self._with_features(inputs, features, feature_mask)

    def inference_inputs(self, prompts: list[str], audios: list[AudioInput | None],
                         right_padded: bool = False) -> dict[str, torch.Tensor]:
        """Inputs for generation and scoring: on the fast path the audio goes in as `inputs_embeds` (the encoder run
        over each clip's own frames), with the same ids and mask as `encode` (or padded on the right); else
        `encode`'s."""
        if not self.fast_audio:
            return self.encode(prompts, audios)
        texts, counts, features, feature_mask = self._expand(prompts, audios)
        inputs = self._token_inputs(self._ids(texts, counts), right_padded)
        present = [a for a in audios if a is not None]
        embeds = self._audio_embeds(present, features, feature_mask) if present else []
        inputs["inputs_embeds"] = self._inputs_embeds(inputs["input_ids"], embeds)
        return inputs

    # ---- a prompt prefix shared by a whole batch (silence): its KV cache once --------------------------------
    def _shared_prefix(self, prompts: list[str], audios: list[AudioInput | None]):
        """(prefix ids, per-item suffix ids, prefix cache) when every item has the same audio (one cache key) and
        the same tokens up to the end of the audio segment; else None."""
        if not self.fast_audio or not audios or any(a is None for a in audios):
            return None
        if len({a.cache_key for a in audios}) != 1 or audios[0].cache_key is None:
            return None
        texts, counts, features, feature_mask = self._expand(prompts, audios)
        rows = self._ids(texts, counts, add_special_tokens=False)
        end = self._prefix_end(rows[0])
        if end is None:
            return None
        prefix = rows[0][:end]
        if any(r[:end] != prefix for r in rows):
            return None
        key = (tuple(prefix), audios[0].cache_key)
        cache = self._prefix_cache.get(key)
        if cache is not None:
            self.stats["prefix_cache_hits"] += 1
        else:
            ids = torch.tensor([prefix], device=self.device)
            embeds = self._inputs_embeds(ids, self._audio_embeds(audios[:1], features[:1], feature_mask[:1]))
            out = self.model(inputs_embeds=embeds, attention_mask=torch.ones_like(ids), use_cache=True)
            cache = self._prefix_cache[key] = getattr(out, "cache", None) or out.past_key_values
        return prefix, [r[end:] for r in rows], cache

    def _prefix_end(self, ids: list[int]) -> int | None:
        """Where the part of a prompt that every item hearing the same audio shares ends: after the token that
        closes the audio segment."""
        return ids.index(self.audio_end_id) + 1 if self.audio_end_id is not None and self.audio_end_id in ids else None

    def _after_prefix(self, prefix: list[int], suffixes: list[list[int]], cache):
        """A batch that continues a cached prefix: ids and mask laid out as [prefix | padding | suffix] (positions come
        from the mask, so the padding in the middle changes nothing), and the prefix cache copied once per item."""
        tail = self._token_inputs(suffixes)
        n = len(suffixes)
        ids = torch.cat([torch.tensor([prefix], device=self.device).expand(n, -1), tail["input_ids"]], dim=1)
        ones = torch.ones((n, len(prefix)), dtype=torch.long, device=self.device)
        mask = torch.cat([ones, tail["attention_mask"]], dim=1)
        batch_cache = copy.deepcopy(cache)
        batch_cache.batch_repeat_interleave(len(suffixes))
        return ids, mask, batch_cache

    def training_batch(self, prompts: list[str], audios: list[AudioInput | None], targets: list[str]) -> dict[str, torch.Tensor]:
        """Right-padded prompt + target sequences; `labels` are -100 everywhere but the target (and its end token)."""
        texts, counts, features, feature_mask = self._expand(prompts, audios)
        eos = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        rows, labels = [], []
        targets_ids = self.tokenizer(list(targets), add_special_tokens=False)["input_ids"] if targets else []
        for p, t in zip(self._ids(texts, counts, add_special_tokens=False), targets_ids):
            t = t + [eos]
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

    def model_inputs(self, model, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """`inputs` (from `encode` or `training_batch`) as the training passes feed them to `model`: on the fast path
        the audio goes through `model`'s own encoder over each clip's own frames and in as `inputs_embeds`, with
        gradients (the same values as the padded forward, tested); with `clip_frames` off, unchanged."""
        if not (self.fast_audio and self.clip_frames) or "input_features" not in inputs:
            return inputs
        core = core_model(model)
        rest = {k: v for k, v in inputs.items() if k not in ("input_features", self.feature_mask_key)}
        embeds = clip_embeddings(core, inputs["input_features"], inputs[self.feature_mask_key])
        rest["inputs_embeds"] = merge_audio_embeds(core, inputs["input_ids"], embeds)
        return rest

    def append_tokens(self, model, inputs: dict[str, torch.Tensor], ids: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """`inputs` followed by token `ids` (a sampled completion), in whichever form `inputs` is."""
        full = dict(inputs)
        full["input_ids"] = torch.cat([inputs["input_ids"], ids], dim=1)
        full["attention_mask"] = torch.cat([inputs["attention_mask"], mask], dim=1)
        if "inputs_embeds" in inputs:
            tail = core_model(model).get_input_embeddings()(ids).to(inputs["inputs_embeds"].dtype)
            full["inputs_embeds"] = torch.cat([inputs["inputs_embeds"], tail], dim=1)
        return full

    def forward(self, model, inputs: dict[str, torch.Tensor]):
        """Logits of a (training) batch, through `model` (possibly wrapped by accelerate/DDP/peft). Qwen2-Audio's
        decoder takes positions from the attention mask, as `generate` does, so left- and right-padded rows see the
        same positions."""
        kwargs = {k: v for k, v in self.model_inputs(model, inputs).items() if k != "labels"}
        kwargs["position_ids"] = (inputs["attention_mask"].cumsum(-1) - 1).clamp(min=0)
        if "inputs_embeds" in kwargs:
            kwargs.pop("input_ids")
        return model(**kwargs).logits

    # ---- generation -----------------------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(self, prompts: list[str], audios: list[AudioInput | None], settings: GenerationSettings) -> list[str]:
        kwargs = {"max_new_tokens": settings.max_new_tokens, "do_sample": settings.do_sample}
        if settings.do_sample:
            kwargs.update(temperature=settings.temperature, top_k=settings.top_k, top_p=settings.top_p)
        shared = self._shared_prefix(prompts, audios)
        if shared:
            ids, mask, cache = self._after_prefix(*shared)
            inputs = {"input_ids": ids, "attention_mask": mask, "cache": cache}
        else:
            inputs = self.inference_inputs(prompts, audios)
        clock = FirstTokenClock()
        out = self.model.generate(
            **inputs, **kwargs, pad_token_id=self.tokenizer.pad_token_id, eos_token_id=self._eos_ids(), streamer=clock
        )
        clock.stop(self.stats)
        texts = self.tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        return [_cut(t, settings.until) for t in texts]

    def _last_logits(self, last: torch.Tensor | None = None, **inputs) -> tuple[torch.Tensor, object]:
        """The prompt's forward for choice scoring: (logits of each row's last token (position `last`, default the
        final one), the KV cache). The output head runs on those positions only: over every position it would cost
        a 7B model's 152k-word vocabulary times the prompt's length (hundreds of audio tokens) for logits nobody
        reads."""
        out = self.model.model(**inputs, use_cache=True)
        hidden = out.last_hidden_state
        hidden = hidden[:, -1, :] if last is None else hidden[torch.arange(len(hidden), device=hidden.device), last]
        logits = self.model.get_output_embeddings()(hidden).float()
        return logits, getattr(out, "cache", None) or out.past_key_values

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
        shared = self._shared_prefix(prompts, audios)
        if shared:  # only the part after the cached prefix goes through the model
            ids, mask, cache = self._after_prefix(*shared)
            start = len(shared[0])
            positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, start:]
            last_logits, cache = self._last_logits(input_ids=ids[:, start:], attention_mask=mask,
                                                   position_ids=positions, cache=cache)
        else:
            inputs = self.inference_inputs(prompts, audios, right_padded=True)
            mask = inputs["attention_mask"]
            if "inputs_embeds" in inputs:
                # Padded on the right: a causal mask alone keeps every real token from the padding (which only
                # follows it), so attention needs no padding mask and takes its causal kernel (half the work); each
                # row's next-token logits are at its own last token; the options' mask hides the padding's cache.
                positions = torch.arange(mask.shape[1], device=self.device).expand(len(prompts), -1)
                last_logits, cache = self._last_logits(inputs_embeds=inputs["inputs_embeds"], position_ids=positions,
                                                       last=mask.sum(-1) - 1)
            else:  # the model's own inputs (left-padded)
                positions = (mask.cumsum(-1) - 1).clamp(min=0)
                last_logits, cache = self._last_logits(**inputs, position_ids=positions)

        owner = [i for i, conts in enumerate(continuations) for _ in conts]
        flat = [c for conts in continuations for c in conts]
        ids = self.tokenizer(flat, add_special_tokens=False)["input_ids"] if flat else []
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


def core_model(model):
    """The transformers model inside accelerate's DDP/DeepSpeed wrapper (`.module`) or a peft model."""
    while True:
        if isinstance(getattr(model, "module", None), torch.nn.Module):
            model = model.module
        elif hasattr(model, "get_base_model"):
            model = model.get_base_model()
        else:
            return model


def clip_embeddings(model, features: torch.Tensor | list[torch.Tensor],
                    feature_mask: torch.Tensor) -> list[torch.Tensor]:
    """Per clip (`features`: a batch, or a list of each clip's (n_mels, frames)), its audio embeddings (one per
    `<|AUDIO|>` token) from `model`'s encoder and projector, computed over the clip's own frames. Qwen2-Audio pads
    every clip to 30 s and masks the padding out of attention, so the transformer layers see the same thing over the clip's positions alone; the convolutions are local, so the
    frames just past the clip are all they need of the padding. Differentiable (training calls it too)."""
    tower, projector = model.model.audio_tower, model.model.multi_modal_projector
    gelu = torch.nn.functional.gelu
    positions, tokens = tower._get_feat_extract_output_lengths(feature_mask.sum(-1))
    out: list[torch.Tensor | None] = [None] * len(features)
    for length in sorted(set(positions.tolist())):  # clips of one length go through together
        group = [k for k, n in enumerate(positions.tolist()) if n == length]
        # encoder position j (conv2, stride 2) reads conv1 outputs up to 2j + 1, which read frames up to 2j + 2
        frames = min(features[0].shape[-1], 2 * length + 2)
        # the same clip twice in a batch (30 s of silence in training data) is encoded once
        rows: list[int] = []
        source = {}
        for k in group:
            same = next((r for r in rows if _same_frames(features[r], features[k], frames)), None)
            if same is None:
                rows.append(k)
            source[k] = rows.index(k if same is None else same)
        x = torch.stack([features[r][:, :frames] for r in rows]).to(tower.conv1.weight.device, tower.conv1.weight.dtype)
        hidden = gelu(tower.conv2(gelu(tower.conv1(x)))).permute(0, 2, 1)[:, :length]
        hidden = hidden + tower.embed_positions.weight[:length]
        for layer in tower.layers:
            hidden = layer(hidden, None)
        hidden = tower.layer_norm(tower.avg_pooler(hidden.permute(0, 2, 1)).permute(0, 2, 1))
        embeds = projector(hidden)
        for k in group:
            out[k] = embeds[source[k], : int(tokens[k])]
    return out  # type: ignore[return-value]


def _same_frames(a: torch.Tensor, b: torch.Tensor, frames: int) -> bool:
    """Whether two clips' features agree over their first `frames` frames. Every 16th frame is compared first:
    different clips differ there, so a batch of 16 distinct clips costs 120 small comparisons instead of 120 whole
    ones (0.3 s per 512 items on the 2-core CPU machine); only clips that agree there are compared whole."""
    if a is b:
        return True
    return torch.equal(a[:, :frames:16], b[:, :frames:16]) and torch.equal(a[:, :frames], b[:, :frames])


def merge_audio_embeds(model, input_ids: torch.Tensor, audio_embeds: list[torch.Tensor]) -> torch.Tensor:
    """Token embeddings of `input_ids` with each `<|AUDIO|>` slot holding its clip's embedding, in order."""
    embeds = model.get_input_embeddings()(input_ids)
    if audio_embeds:
        slots = (input_ids == model.config.audio_token_id).unsqueeze(-1)
        embeds = embeds.masked_scatter(slots, torch.cat(audio_embeds).to(embeds.dtype))
    return embeds


class FirstTokenClock:
    """A `generate` streamer that notes when the first new token exists: the time before it is the prompt's (audio
    encoding, prefill), the time after it is decoding alone. What bounds a pass whose prefill is cached (silence):
    `results.json` timing reports both, and perf_cpu.py compares the silent pass with its decode time."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None
        self.calls = 0

    def put(self, value) -> None:
        self.calls += 1  # the first call hands over the prompt, the second the first new token
        if self.calls == 2:
            self.first = time.perf_counter()

    def end(self) -> None:
        pass

    def stop(self, stats: dict) -> None:
        now = time.perf_counter()
        first = self.first or now
        stats["prefill_seconds"] += first - self.start
        stats["decode_seconds"] += now - first


class BoundedCache(OrderedDict):
    """A dict that keeps the `size` most recently used entries."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get(self, key, default=None):
        if key in self:
            self.move_to_end(key)
            return self[key]
        return default

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


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
