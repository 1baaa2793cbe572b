"""Our model class for lm-eval: `MULTIMODAL = True`, audio arrives as a lazy reference and is loaded batch by batch.

lm-eval builds every request up front; an audio array per request would be many GB for 10k items, so tasks
pass `{"path", "row", "column", "condition"}` and this class decodes each batch's audio just before it runs
(the next batch is decoded in a background thread while the model works). Each finished item goes to lm-eval's
request cache at once, so a run that dies resumes where it stopped (`--use_cache`).
"""

from __future__ import annotations

import inspect
import os
import sys
import json
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterator

from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

from ac_eval.evaluation.audio import AudioError
from ac_eval.evaluation.records import AudioInput
from ac_eval.evaluation.conditions import get_condition
from ac_eval.evaluation.records import AudioRef
from ac_eval.evaluation.scoring import AUDIO_ERROR_PREFIX, ITEM_ERROR_PREFIX, failure_of
from ac_eval.models import ModelUnusable, load_backend
from ac_eval.models.generation import DEFAULT_MAX_NEW_TOKENS, GenerationSettings

MODEL_NAME = "ac_hf"


def check_known_args(fn, given: dict[str, Any], where: str) -> None:
    """Refuse model_args the backend does not take (a typo must not be silently ignored)."""
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return  # passed on as they are (e.g. vLLM engine args): the engine checks them
    known = [n for n, p in params.items() if n != "self" and p.kind is not inspect.Parameter.VAR_POSITIONAL] + [
        "batch_size", "max_new_tokens"]
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown model_args {', '.join(unknown)}; known: {', '.join(sorted(set(known)))}")


def _describe(request) -> str:
    """Which item a request is, for a warning line: task and item id."""
    doc = getattr(request, "doc", None) or {}
    return f"{getattr(request, 'task_name', None) or '?'} item {doc.get('id', '?')}"


def _warn(message: str) -> None:
    import logging

    logging.getLogger("ac_eval").warning(message)


def _progress(total: int, description: str):
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    from ac_eval.console import progress as make_progress

    progress = make_progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return progress, progress.add_task(description, total=total)


def pick_device(device: str) -> str:
    """lm-eval's own default device is cuda:0; on a machine without CUDA that default (or `auto`) means the CPU.
    A device named in model_args is taken as given (and fails with a clear line where it does not exist)."""
    import torch

    if device == "auto" or (str(device).startswith("cuda") and not torch.cuda.is_available()):
        chosen = "cuda" if device == "auto" and torch.cuda.is_available() else "cpu"
        if chosen != device and device != "auto":
            print(f"ac-eval: no CUDA GPU on this machine (torch {torch.__version__}): running on the CPU instead "
                  f"of {device}, the device lm-eval passed (its default; device= in --model_args is kept as given)",
                  file=sys.stderr)
        return chosen
    return device


class AudioLMBase(LM):
    """What ac-eval's lm-eval models share: lazy audio per batch, choice scoring from one prefix, the request
    cache, data parallel. A subclass names its backend in `make_backend`."""

    MULTIMODAL = True
    MODEL_LABEL = "?"

    def __init__(
        self,
        device: str = "cpu",
        batch_size: int | str = 8,
        max_new_tokens: int | str | None = None,
        name: str | None = None,
        **backend_args: Any,
    ):
        super().__init__()
        self.name = name  # what results, labels and the board call this model (ac_eval.models.identity)
        self.accelerator = None
        if str(batch_size).strip().lower().startswith("auto"):
            raise ValueError("batch_size=auto is not supported by ac-eval's audio models: give a number, e.g. --batch_size 8")
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: give a positive number")
        # The paper's budget (R1-AQA's test_mmau.py): 256 new tokens. A task or --gen_kwargs max_gen_toks may
        # set it per task; an explicit max_new_tokens here must then agree (see generation_settings).
        self.max_new_tokens_explicit = max_new_tokens is not None
        self.max_new_tokens = DEFAULT_MAX_NEW_TOKENS if max_new_tokens is None else int(max_new_tokens)
        check_known_args(self.make_backend, backend_args, f"--model {self.MODEL_LABEL}")
        self.load_hooks: list[Callable[[], None]] = []  # run when a lazily loaded model is loaded (seeding, ...)
        self.before_load_hooks: list[Callable[[], None]] = []  # run as it starts loading (background work)
        device = self._setup_data_parallel(device)
        self.backend = self.make_backend(device=device, **backend_args)
        self.pretrained = self.backend.pretrained
        self.timing = {"model_seconds": 0.0, "audio_wait_seconds": 0.0}
        # (task, doc_id) of every item whose requests reached this model: lm-eval's request cache answers the rest,
        # so a resumed run can say how many items came from the cache.
        self.items_computed: set[tuple[str, int]] = set()

    def generation_settings(self, gen_kwargs: dict) -> GenerationSettings:
        """A request's settings: the task's gen_kwargs, with this model's budget where they set none."""
        asked = gen_kwargs.get("max_gen_toks", gen_kwargs.get("max_new_tokens"))
        if self.max_new_tokens_explicit and asked is not None and int(asked) != self.max_new_tokens:
            raise ValueError(
                f"model_args max_new_tokens={self.max_new_tokens} disagrees with max_gen_toks={asked} from --gen_kwargs "
                "or the task: give the budget in one place"
            )
        return GenerationSettings.from_lm_eval(gen_kwargs, self.max_new_tokens)

    def make_backend(self, **kwargs: Any):
        raise NotImplementedError

    # ---- data parallel (accelerate launch --num_processes N): lm-eval shards requests by rank ----------------
    def _setup_data_parallel(self, device: str) -> str:
        import os

        if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            return device
        from accelerate import Accelerator

        self.accelerator = Accelerator(cpu=device == "cpu")
        self._rank = self.accelerator.process_index
        self._world_size = self.accelerator.num_processes
        return device if device == "cpu" else str(self.accelerator.device)  # one GPU per process

    @property
    def device(self):
        import torch

        return torch.device(self.accelerator.device) if self.accelerator else torch.device("cpu")

    def all_gather(self, tensor):
        return self.accelerator.gather(tensor) if self.accelerator else tensor

    def broadcast_object(self, obj, src: int = 0):
        """Rank `src`'s `obj`, on every rank (every rank calls it)."""
        if not self.accelerator:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=src)
        return box[0]

    def gather_object(self, obj, dst: int = 0):
        if not self.accelerator:
            return [obj]
        import torch.distributed as dist

        out = [None] * self.world_size if self.rank == dst else None
        dist.gather_object(obj, out, dst=dst)
        return out

    def barrier(self) -> None:
        if self.accelerator:
            self.accelerator.wait_for_everyone()

    @classmethod
    def create_from_arg_string(cls, arg_string: str, additional_config: dict | None = None) -> "AudioLMBase":
        from lm_eval.utils import simple_parse_args_string

        return cls.create_from_arg_obj(simple_parse_args_string(arg_string), additional_config)

    @classmethod
    def create_from_arg_obj(cls, arg_dict: dict, additional_config: dict | None = None) -> "AudioLMBase":
        # lm-eval's own settings: batch_size and device apply unless model_args set them; max_batch_size belongs to
        # its auto batch size.
        extra = {k: v for k, v in (additional_config or {}).items() if v is not None and k != "max_batch_size"}
        if "device" in extra and "device" not in arg_dict:
            extra["device"] = pick_device(extra["device"])
        elif str(arg_dict.get("device", "")) == "auto":
            arg_dict = {**arg_dict, "device": pick_device("auto")}
        return cls(**{**extra, **arg_dict})

    # ---- chat template (lm-eval calls these with --apply_chat_template) ---------------------------------------
    @property
    def tokenizer_name(self) -> str:
        return str(self.pretrained).replace("/", "__")

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return self.backend.chat_template

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        system = next((m["content"] for m in chat_history if m["role"] == "system"), None)
        user = "\n\n".join(m["content"] for m in chat_history if m["role"] == "user")
        return self.backend.chat_prompt(user, system)

    def _prompt(self, context: str) -> str:
        # Without lm-eval's chat templating the context is the bare question: wrap it ourselves.
        prompt = context if self.backend.audio_token in context else self.backend.chat_prompt(context, None)
        real = getattr(self.backend, "real_prompt", None)  # a lazy backend's pattern-made prompt, rendered for real
        return real(prompt) if real else prompt

    def backend_loading(self) -> None:
        for hook in self.before_load_hooks:
            hook()

    def backend_loaded(self, backend: Any) -> None:
        for hook in self.load_hooks:
            hook()

    @property
    def model_loaded(self) -> bool:
        return bool(getattr(self.backend, "loaded", True))

    # ---- audio, batch by batch ------------------------------------------------------------------------------
    def _audio(self, payload: dict) -> AudioInput | None | str:
        """The condition's audio for one request; None = no audio (condition `none`); a str = the item's error."""
        audio = payload.get("audio") if isinstance(payload, dict) else None
        if not isinstance(audio, dict) or "path" not in audio:
            raise ValueError(
                "this task gives no audio reference; ac-eval tasks set doc_to_audio to a {'path', 'condition'} dict"
            )
        condition = audio.get("condition", "original")
        try:
            result = get_condition(condition).audio_for(AudioRef.from_dict(audio), self.backend.sample_rate)
            if result is not None:
                result.condition = condition
            return result
        except AudioError as e:
            return f"{AUDIO_ERROR_PREFIX} {e}"

    def _prefetch_in_thread(self) -> bool:
        """Whether the next batch's audio is decoded (and its features computed) in a thread while the model works.
        Not when the model computes on the CPU with a thread per core (torch's default): the thread would take a
        core from torch's parallel regions, which then wait for it. Measured on the 2-core machine, choice mode over
        512 items: 2-3 s slower with the thread than decoding in turn."""
        device = getattr(self.backend, "device", None)
        if getattr(device, "type", device) != "cpu":  # an accelerator, a server: the CPU is free meanwhile
            return True
        import torch

        return torch.get_num_threads() < (os.cpu_count() or 1)

    def _batches(self, payloads: list[dict]) -> Iterator[tuple[range, list[AudioInput | None | str]]]:
        """Yield (index range, decoded audio) per batch, decoding the next batch and computing its features while
        the caller works on this one where that overlaps (see `_prefetch_in_thread`), else in turn."""
        spans = [range(i, min(i + self.batch_size, len(payloads))) for i in range(0, len(payloads), self.batch_size)]

        def load(span: range) -> list[AudioInput | None | str]:
            audios = [self._audio(payloads[i]) for i in span]
            prepare = getattr(self.backend, "prepare", None)  # features too, off the model's critical path
            if prepare is not None:
                try:
                    prepare([a for a in audios if isinstance(a, AudioInput)])
                except Exception:  # noqa: BLE001 - the model's path computes them again and names a failing item
                    pass
            return audios

        if not self._prefetch_in_thread():
            for span in spans:
                t0 = time.perf_counter()
                audios = load(span)
                self.timing["audio_wait_seconds"] += time.perf_counter() - t0
                yield span, audios
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending: Future | None = None
            for k, span in enumerate(spans):
                if pending is None:
                    pending = pool.submit(load, span)
                t0 = time.perf_counter()
                audios = pending.result()
                self.timing["audio_wait_seconds"] += time.perf_counter() - t0
                pending = pool.submit(load, spans[k + 1]) if k + 1 < len(spans) else None
                yield span, audios

    # ---- one bad item never stops a run ----------------------------------------------------------------------
    def _guarded(self, run, items: list) -> list:
        """`run(items)` for a batch; if it raises, each item alone, so one bad item (a prompt longer than the
        context, special tokens in its text, anything the backend chokes on) becomes that item's counted error
        instead of ending the run. Returns per item a result or an ITEM_ERROR string."""
        try:
            return list(run(items))
        except ModelUnusable:
            raise
        except Exception as e:  # noqa: BLE001 - any backend failure is isolated to the items it came from
            if len(items) == 1:  # the caller logs the item's error, naming the item
                return [f"{ITEM_ERROR_PREFIX} {type(e).__name__}: {e}".replace("\n", " ")[:500]]
            return [r for item in items for r in self._guarded(run, [item])]

    def _too_long(self, prompts: list[str], budget: int) -> list[str | None]:
        """Per prompt, an item error when its text alone (before the audio is expanded) leaves no room in the model's
        context for the answer: caught before the model tries to allocate for it. One tokenizer call per batch."""
        context = getattr(self.backend, "max_context", None)
        tokenizer = getattr(self.backend, "tokenizer", None)
        if not context or tokenizer is None or not prompts:
            return [None] * len(prompts)
        out: list[str | None] = []
        for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]:
            n = len(ids)
            out.append(None if n + budget <= context else (
                f"{ITEM_ERROR_PREFIX} the prompt is {n:,} tokens before its audio; with {budget} new tokens that "
                f"exceeds the model's context of {context:,}"))
        return out

    def commit_cache(self) -> None:
        """Commit the request cache's writes of the batch just finished (ac-eval opens it without autocommit, see
        run/drive.py): a killed run loses at most the batch it was computing."""
        db = getattr(getattr(self, "cache_hook", None), "dbdict", None)
        if db is not None:
            db.commit()

    # ---- lm-eval request types ------------------------------------------------------------------------------
    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        results: list[str | None] = [None] * len(requests)
        payloads = [req.args[2] if len(req.args) > 2 else {} for req in requests]
        self.items_computed.update((req.task_name, req.doc_id) for req in requests)
        progress, bar = _progress(len(requests), "generate")
        with progress:
            for span, audios in self._batches(payloads):
                ok = [i for i, a in zip(span, audios) if not isinstance(a, str)]
                for i, a in zip(span, audios):
                    if isinstance(a, str):
                        results[i] = a
                # Requests of one batch may carry different gen_kwargs (several tasks): group them.
                by_settings: dict[str, list[int]] = {}
                for i in ok:
                    by_settings.setdefault(json.dumps(requests[i].args[1], sort_keys=True, default=str), []).append(i)
                for key, idx in by_settings.items():
                    settings = self.generation_settings(json.loads(key))
                    prompts = {i: self._prompt(requests[i].args[0]) for i in idx}
                    for i, too_long in zip(idx, self._too_long([prompts[i] for i in idx], settings.max_new_tokens)):
                        results[i] = too_long
                    todo = [i for i in idx if results[i] is None]
                    t0 = time.perf_counter()
                    texts = self._guarded(
                        lambda batch: self.backend.generate([prompts[i] for i in batch],
                                                            [audios[i - span.start] for i in batch], settings),
                        todo,
                    ) if todo else []
                    self.timing["model_seconds"] += time.perf_counter() - t0
                    for i, text in zip(todo, texts):
                        results[i] = text
                    for i in idx:
                        if failure_of(results[i]):
                            _warn(f"{_describe(requests[i])}: {failure_of(results[i])[1]}")
                        else:  # failures are retried on the next run, not cached
                            self.cache_hook.add_partial("generate_until", requests[i].args, results[i])
                self.commit_cache()
                progress.advance(bar, len(span))
        return results  # type: ignore[return-value]

    def loglikelihood(self, requests, disable_tqdm: bool = False) -> list[tuple]:
        """lm-eval sends one request per option; all options of an item are scored from one shared prefix.
        A failed item gets (NaN, False, reason) for every option: the reason travels with the result to
        process_results (and through lm-eval's gather in a data-parallel run); failures are never cached."""
        items: dict[str, list[int]] = {}
        self.items_computed.update((req.task_name, req.doc_id) for req in requests)
        for i, req in enumerate(requests):
            key = json.dumps([req.args[0], req.args[2] if len(req.args) > 2 else None], sort_keys=True, default=str)
            items.setdefault(key, []).append(i)
        groups = longest_first(list(items.values()), requests)
        payloads = [requests[g[0]].args[2] if len(requests[g[0]].args) > 2 else {} for g in groups]
        results: list[tuple | None] = [None] * len(requests)

        def fail(k: int, message: str) -> None:
            for i in groups[k]:
                results[i] = (float("nan"), False, message)
            _warn(f"{_describe(requests[groups[k][0]])}: {failure_of(message)[1]}")

        progress, bar = _progress(len(groups), "score choices")
        with progress:
            for span, audios in self._batches(payloads):
                heard = []
                for k, a in zip(span, audios):
                    if isinstance(a, str):  # audio error: no score for any option of this item
                        fail(k, a)
                    else:
                        heard.append(k)
                prompts = {k: self._prompt(requests[groups[k][0]].args[0]) for k in heard}
                ok = []
                for k, too_long in zip(heard, self._too_long([prompts[k] for k in heard], 16)):
                    if too_long:
                        fail(k, too_long)
                    else:
                        ok.append(k)
                t0 = time.perf_counter()
                scores = self._guarded(
                    lambda batch: self.backend.choice_logprobs(
                        [prompts[k] for k in batch],
                        [audios[k - span.start] for k in batch],
                        [[requests[i].args[1] for i in groups[k]] for k in batch],
                    ),
                    ok,
                ) if ok else []
                self.timing["model_seconds"] += time.perf_counter() - t0
                for k, item_scores in zip(ok, scores):
                    if isinstance(item_scores, str):
                        fail(k, item_scores)
                        continue
                    for i, score in zip(groups[k], item_scores):
                        results[i] = score
                        self.cache_hook.add_partial("loglikelihood", requests[i].args, score)
                self.commit_cache()
                progress.advance(bar, len(span))
        return results  # type: ignore[return-value]

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("ac-eval's audio LM scores multiple-choice options; rolling log-likelihood is not supported")


def longest_first(groups: list[list[int]], requests) -> list[list[int]]:
    """The order in which choice mode batches its items (`groups`: the request indices of each item's options):
    condition by condition, in the order the conditions first appear (a batch that hears one silence shares its
    cached prefix), and within a condition the longest prompt and option text first, as lm-eval orders its own
    requests. Items of like length go together, so a batch pads little (MMAU test-mini with the tiny test
    tokenizer: prompt padding 1.18x in file order, 1.01x sorted), and a batch that does not fit in memory fails at
    the start of a run, not at its end. Results go back to each request by its index, so the order is not seen."""
    conditions: dict[str, int] = {}

    def key(group: list[int]) -> tuple[int, int]:
        args = requests[group[0]].args
        payload = args[2] if len(args) > 2 and isinstance(args[2], dict) else {}
        audio = payload.get("audio")
        condition = str(audio.get("condition", "original")) if isinstance(audio, dict) else ""
        rank = conditions.setdefault(condition, len(conditions))
        return rank, -(len(args[0]) + max(len(requests[i].args[1]) for i in group))

    return sorted(groups, key=key)  # stable: items of one length keep their order


@register_model(MODEL_NAME, "ac-hf")
class HFAudioLM(AudioLMBase):
    """A local checkpoint through transformers (the architecture read from its config)."""

    MODEL_LABEL = "hf"

    def make_backend(self, pretrained: str, device: str = "cpu", arch: str = "auto", dtype: str = "float32",
                     revision: str | None = None):
        from ac_eval.models.lazy_backend import LazyBackend

        # Loaded when a request misses the cache (see lazy_backend): a fully cached rerun never loads it.
        return LazyBackend(lambda: load_backend(pretrained, arch=arch, dtype=dtype, device=device, revision=revision),
                           pretrained, revision, on_load=self.backend_loaded, before_load=self.backend_loading)


@register_model("ac_openai")
class OpenAIAudioLM(AudioLMBase):
    """Any OpenAI-compatible chat endpoint with audio input (see ac_eval.models.openai_api)."""

    MODEL_LABEL = "openai"

    def make_backend(self, device: str = "cpu", **kwargs: Any):
        from ac_eval.models.openai_api import OpenAIChatBackend

        check_known_args(OpenAIChatBackend.__init__, kwargs, "--model openai")
        return OpenAIChatBackend(**kwargs)


@register_model("ac_vllm")
class VLLMAudioLM(AudioLMBase):
    """vLLM's offline engine (extra `ac-eval[vllm]`, CUDA); parallelism options go straight to vllm.LLM."""

    MODEL_LABEL = "vllm"

    def make_backend(self, pretrained: str, device: str = "cuda", **kwargs: Any):
        from ac_eval.models.vllm_backend import VLLMBackend

        return VLLMBackend(pretrained, **kwargs)
