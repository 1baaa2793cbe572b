"""vLLM offline backend (extra: pip install 'ac-eval[vllm]'; CUDA only) for Qwen2-Audio and full Qwen2.5-Omni
checkpoints (vLLM runs their thinker).

    --model vllm --model_args pretrained=ID[,tensor_parallel_size=2,max_model_len=8192,...] --batch_size 256
    torchrun --nproc_per_node 8 -m ac_eval run --model vllm ...   # data parallel: one engine per GPU

Audio goes in as vLLM's offline multimodal input, `{"prompt": ..., "multi_modal_data": {"audio": [(array, sr)]}}`,
with the same chat template (and so the same prompt text) as the transformers backend. Other model_args go to
`vllm.LLM` unchanged. Generation stops on the same token ids the transformers backend stops on (`stop_token_ids`;
stop strings never match text decoded without special tokens). Prefix caching is on, and items are handed over
silent-prefix first so that the shared prompt + silence is computed once.

Data parallel goes through torchrun/accelerate as for the transformers backend: lm-eval shards the items, and
each rank's engine is pinned to its own GPU (LOCAL_RANK). `data_parallel_size` is refused: vLLM's offline engine
takes it only with its `external_launcher` executor, which would make the ranks one engine again.

Not supported, with a clear error: thinker-only Qwen2.5-Omni checkpoints (what `ac-eval train` and `tiny-model`
write; vLLM's registry knows the full Omni model) and Audio Flamingo 3 (its audio placeholder is `<sound>`): use
`--model hf` for them. Choice mode scores each option from prompt log-probabilities, which vLLM computes without
its prefix cache: every option re-reads prompt and audio, so `--mode choice` is much faster with `--model hf`.
"""

from __future__ import annotations

from typing import Any

from ac_eval.evaluation.records import AudioInput
from ac_eval.models.qwen2_5_omni import load_audio_processor_parts
from ac_eval.models.qwen2_audio import _cut, audio_chat_prompt, find_audio_segment


def _value(v: Any) -> Any:
    """model_args arrive as strings: turn numbers and booleans back into them."""
    if not isinstance(v, str):
        return v
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


SUPPORTED = {
    "qwen2_audio": {"audio": 1},
    "qwen2_5_omni": {"audio": 1, "image": 0, "video": 0},  # no room reserved for images and video
}
REFUSED = {
    "qwen2_5_omni_thinker": "a thinker-only Qwen2.5-Omni checkpoint is not in vLLM's model registry (it loads the full "
                            "Omni model): run it with --model hf",
    "audioflamingo3": "Audio Flamingo 3 marks audio with <sound>, which this backend does not place: use --model hf",
}


def model_type(pretrained: str, revision: str | None = None) -> str:
    import json
    from pathlib import Path

    config = Path(pretrained) / "config.json"
    if config.is_file():
        return json.loads(config.read_text()).get("model_type", "?")
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(pretrained, revision=revision).model_type


def prompt_parts(pretrained: str, revision: str | None = None):
    """(processor parts, audio segment): what builds the prompt text, the same as the transformers backend's."""
    processor = load_audio_processor_parts(pretrained, revision)
    return processor, find_audio_segment(processor, processor.audio_token, pretrained)


def engine_args(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """vllm.LLM keyword arguments: ours, then the user's (typed back from model_args strings)."""
    if "data_parallel_size" in given:
        raise ValueError("data_parallel_size: run data parallel through torchrun/accelerate instead (one engine per "
                         "GPU, lm-eval shards the items): torchrun --nproc_per_node N -m ac_eval run --model vllm ...")
    args: dict[str, Any] = {"limit_mm_per_prompt": dict(SUPPORTED[kind]), "enable_prefix_caching": True}
    args.update({k: _value(v) for k, v in given.items()})
    return args


def pin_to_local_gpu() -> None:
    """Under torchrun/accelerate every rank would open GPU 0: each rank's engine sees only its own GPU."""
    import os

    local = os.environ.get("LOCAL_RANK")
    if local is not None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        devices = visible.split(",") if visible else None
        os.environ["CUDA_VISIBLE_DEVICES"] = devices[int(local)] if devices else local


class VLLMBackend:
    arch = "vllm"

    def __init__(self, pretrained: str, dtype: str = "auto", revision: str | None = None, device: str = "cuda",
                 **engine: Any):
        kind = model_type(pretrained, revision)
        if kind in REFUSED:
            raise ValueError(f"{pretrained}: {REFUSED[kind]}")
        if kind not in SUPPORTED:
            raise ValueError(f"{pretrained}: model_type {kind!r}; the vllm backend runs {', '.join(SUPPORTED)}")
        args = engine_args(kind, engine)
        pin_to_local_gpu()
        try:
            from vllm import LLM
        except ImportError as e:
            raise ImportError(
                "the vllm backend needs vLLM (CUDA only): pip install 'ac-eval[vllm]'; on CPU use --model hf"
            ) from e
        self.pretrained = pretrained
        self.processor, self.audio_segment = prompt_parts(pretrained, revision)
        self.tokenizer = self.processor.tokenizer
        self.sample_rate = self.processor.feature_extractor.sampling_rate
        self.audio_token = self.processor.audio_token
        self.llm = LLM(model=pretrained, revision=revision, dtype=dtype, **args)
        self.stop_token_ids = stop_token_ids(self.tokenizer, checkpoint_eos(pretrained, revision))
        self.warned_choice = False

    @property
    def chat_template(self) -> str:
        return self.processor.chat_template

    def chat_prompt(self, user_text: str, system: str | None) -> str:
        return audio_chat_prompt(self.processor, user_text, system)

    def _input(self, prompt: str, audio: AudioInput | None) -> dict:
        if audio is None:
            return {"prompt": prompt.replace(self.audio_segment, "", 1)}
        return {"prompt": prompt, "multi_modal_data": {"audio": [(audio.array, self.sample_rate)]}}

    def _ordered(self, audios: list[AudioInput | None]) -> list[int]:
        """Items with a shared audio (silence) first, together: their common prefix is computed once and then read
        from vLLM's prefix cache."""
        return sorted(range(len(audios)), key=lambda i: (audios[i] is None or audios[i].cache_key is None, i))

    def generate(self, prompts: list[str], audios: list[AudioInput | None], settings) -> list[str]:
        from vllm import SamplingParams

        params = SamplingParams(
            max_tokens=settings.max_new_tokens,
            temperature=settings.temperature if settings.do_sample else 0.0,
            top_p=settings.top_p or 1.0,
            top_k=settings.top_k or -1,
            stop=settings.until or None,
            stop_token_ids=self.stop_token_ids,
            skip_special_tokens=True,
        )
        order = self._ordered(audios)
        outputs = self.llm.generate([self._input(prompts[i], audios[i]) for i in order], params, use_tqdm=False)
        texts: list[str] = [""] * len(prompts)
        for i, out in zip(order, outputs):
            texts[i] = _cut(out.outputs[0].text, settings.until)
        return texts

    def choice_logprobs(self, prompts, audios, continuations) -> list[list[tuple[float, bool]]]:
        """Each option's log-probability from vLLM's prompt log-probabilities (one request per option, which vLLM
        serves without its prefix cache: prompt and audio are read again for every option)."""
        import logging

        from vllm import SamplingParams

        if not self.warned_choice:
            logging.getLogger("ac_eval").warning("--mode choice with --model vllm re-reads prompt and audio for every "
                                                 "option (vLLM computes prompt log-probabilities without its prefix "
                                                 "cache); --model hf scores all options from one prefix")
            self.warned_choice = True
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        requests, spans = [], []
        for prompt, audio, options in zip(prompts, audios, continuations):
            for option in options:
                request = self._input(prompt, audio)
                request["prompt"] += option
                requests.append(request)
                spans.append(len(self.tokenizer(option, add_special_tokens=False)["input_ids"]))
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        scores = []
        for out, n in zip(outputs, spans):
            tail = out.prompt_logprobs[-n:]
            ids = out.prompt_token_ids[-n:]
            total = sum(step[token].logprob for step, token in zip(tail, ids))
            greedy = all(step[token].rank == 1 for step, token in zip(tail, ids))
            scores.append((total, greedy))
        result, i = [], 0
        for options in continuations:
            result.append(scores[i : i + len(options)])
            i += len(options)
        return result


def checkpoint_eos(pretrained: str, revision: str | None = None) -> int | list[int] | None:
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(pretrained, revision=revision).eos_token_id
    except OSError:  # no generation_config.json
        return None


def stop_token_ids(tokenizer, eos: int | list[int] | None = None) -> list[int]:
    """The ids the transformers backend stops on: <|im_end|>, <|endoftext|> and the checkpoint's eos."""
    ids = {tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")}
    ids.update(eos if isinstance(eos, list) else [eos])
    return sorted(i for i in ids if isinstance(i, int) and i != tokenizer.unk_token_id)
