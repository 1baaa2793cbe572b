"""vLLM offline backend (extra: pip install 'ac-eval[vllm]'; CUDA only) for Qwen2-Audio and the Qwen2.5-Omni thinker.

    --model vllm --model_args pretrained=ID,tensor_parallel_size=2[,data_parallel_size=2,max_model_len=8192,...]
    --batch_size 256   # requests handed to vLLM at once; it schedules them itself

Audio goes in as vLLM's offline multimodal input, `{"prompt": ..., "multi_modal_data": {"audio": [(array, sr)]}}`.
Any other model_args are passed to `vllm.LLM` unchanged (tensor, pipeline and data parallelism included).
Choice mode scores each option from prompt log-probabilities; vLLM's prefix caching shares the prompt + audio.
"""

from __future__ import annotations

from typing import Any

from ac_eval.evaluation.conditions import AudioInput
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


class VLLMBackend:
    arch = "vllm"

    def __init__(self, pretrained: str, dtype: str = "auto", revision: str | None = None, device: str = "cuda",
                 **engine_args: Any):
        try:
            from vllm import LLM
        except ImportError as e:
            raise ImportError(
                "the vllm backend needs vLLM (CUDA only): pip install 'ac-eval[vllm]'; on CPU use --model hf"
            ) from e
        self.pretrained = pretrained
        self.processor = load_audio_processor_parts(pretrained, revision)
        self.tokenizer = self.processor.tokenizer
        self.sample_rate = self.processor.feature_extractor.sampling_rate
        self.audio_token = self.processor.audio_token
        self.audio_segment = find_audio_segment(self.processor, self.audio_token, pretrained)
        engine = {"limit_mm_per_prompt": {"audio": 1}, "enable_prefix_caching": True}
        engine.update({k: _value(v) for k, v in engine_args.items()})
        self.llm = LLM(model=pretrained, revision=revision, dtype=dtype, **engine)

    @property
    def chat_template(self) -> str:
        return self.processor.chat_template

    def chat_prompt(self, user_text: str, system: str | None) -> str:
        return audio_chat_prompt(self.processor, user_text, system)

    def _input(self, prompt: str, audio: AudioInput | None) -> dict:
        if audio is None:
            return {"prompt": prompt.replace(self.audio_segment, "", 1)}
        return {"prompt": prompt, "multi_modal_data": {"audio": [(audio.array, self.sample_rate)]}}

    def generate(self, prompts: list[str], audios: list[AudioInput | None], settings) -> list[str]:
        from vllm import SamplingParams

        params = SamplingParams(
            max_tokens=settings.max_new_tokens,
            temperature=settings.temperature if settings.do_sample else 0.0,
            top_p=settings.top_p or 1.0,
            top_k=settings.top_k or -1,
            stop=settings.until or None,
        )
        outputs = self.llm.generate([self._input(p, a) for p, a in zip(prompts, audios)], params, use_tqdm=False)
        return [_cut(o.outputs[0].text, settings.until) for o in outputs]

    def choice_logprobs(self, prompts, audios, continuations) -> list[list[tuple[float, bool]]]:
        from vllm import SamplingParams

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
