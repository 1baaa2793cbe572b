"""Generation settings: what every backend takes, built from lm-eval's gen_kwargs or an API request."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

DEFAULT_MAX_NEW_TOKENS = 256  # R1-AQA's test_mmau.py, the paper's protocol
GEN_KWARGS = ("until", "max_gen_toks", "max_new_tokens", "do_sample", "temperature", "top_k", "top_p")


@dataclass
class GenerationSettings:
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    until: list[str] = field(default_factory=list)

    @classmethod
    def from_lm_eval(cls, gen_kwargs: dict, default_max: int) -> "GenerationSettings":
        """From lm-eval's gen_kwargs (task YAML merged with --gen_kwargs). An unknown key is an error: a setting
        that silently does nothing makes a number that is not what it says."""
        unknown = sorted(set(gen_kwargs) - set(GEN_KWARGS))
        if unknown:
            raise ValueError(f"unknown generation setting(s) {', '.join(unknown)} (from --gen_kwargs or the task); "
                             f"known: {', '.join(GEN_KWARGS)}")
        kw = dict(gen_kwargs)
        until = kw.get("until") or []
        until = [until] if isinstance(until, str) else list(until)
        max_new = int(kw.get("max_gen_toks", kw.get("max_new_tokens", default_max)))
        if max_new < 1:
            raise ValueError(f"max_gen_toks={max_new}: give a positive number of new tokens")
        temperature = float(kw.get("temperature", 0.0) or 0.0)
        do_sample = _bool(kw.get("do_sample", temperature > 0))
        top_k = None if kw.get("top_k") is None else int(kw["top_k"])
        top_p = None if kw.get("top_p") is None else float(kw["top_p"])
        return cls(max_new, do_sample, temperature if do_sample else 1.0, top_k, top_p, until)

    def to_dict(self) -> dict:
        return asdict(self)


def _bool(value) -> bool:
    if isinstance(value, str):
        if value.strip().lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"do_sample={value!r}: use true or false")
        return value.strip().lower() in ("true", "1")
    return bool(value)


def context_length(config) -> int | None:
    """The model's context (max positions) from a transformers config, wherever the architecture keeps it."""
    for cfg in (config, getattr(config, "text_config", None), getattr(getattr(config, "thinker_config", None), "text_config", None)):
        value = getattr(cfg, "max_position_embeddings", None) if cfg is not None else None
        if isinstance(value, int) and value > 0:
            return value
    return None
