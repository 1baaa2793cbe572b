"""vLLM backend: a clear error without the extra; on a CUDA machine with vLLM, it agrees with the HF backend."""

import importlib.util

import pytest

from ac_eval.cli import main

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_missing_extra_is_a_clear_error(tiny_ckpt, bench_root, capsys):
    assert main(["--model", "vllm", "--model_args", f"pretrained={tiny_ckpt}", "--tasks", "mmau", "--data_dir", str(bench_root),
                 "--limit", "1"]) == 2
    assert "pip install 'ac-eval[vllm]'" in capsys.readouterr().err


@pytest.mark.skipif(not (HAS_VLLM and _cuda()), reason="needs vLLM and a CUDA GPU (pip install 'ac-eval[vllm]')")
def test_vllm_matches_hf_greedy(tiny_ckpt, bench_root, tmp_path):
    """Both backends on the same small model: the same greedy text and the same choice ranking."""
    import jsonlines

    from ac_eval.run import RunConfig, run

    for mode in ("generate", "choice"):
        for model in ("hf", "vllm"):
            run(RunConfig(tasks=["mmau"], model=model, model_args=f"pretrained={tiny_ckpt}", data_dir=str(bench_root),
                          limit=8, mode=mode, output_path=str(tmp_path / f"{model}-{mode}"), gen_kwargs="max_gen_toks=8"))
        preds = {m: [r["prediction"] for r in jsonlines.open(tmp_path / f"{m}-{mode}" / "samples.jsonl")]
                 for m in ("hf", "vllm")}
        agree = sum(a == b for a, b in zip(preds["hf"], preds["vllm"])) / len(preds["hf"])
        assert agree >= 0.75, mode  # greedy; kernels differ (bf16/fp32, paged attention), so near-ties may flip


def test_the_vllm_backend_builds_the_transformers_backends_prompts(tiny_ckpt, backend):
    """The same chat template, so the same prompt text, audio segment and stop ids as the transformers backend."""
    from ac_eval.models.qwen2_audio import audio_chat_prompt
    from ac_eval.models.vllm_backend import prompt_parts, stop_token_ids

    processor, segment = prompt_parts(str(tiny_ckpt))
    for system in ("You are an audio model.", None):
        assert audio_chat_prompt(processor, "What is it? Choose.", system) == backend.chat_prompt("What is it? Choose.", system)
    assert segment == backend.audio_segment
    assert stop_token_ids(backend.tokenizer, backend.model.generation_config.eos_token_id) == backend._eos_ids()


def test_the_vllm_backend_refuses_what_vllm_cannot_run(tmp_path):
    import json

    from ac_eval.models.vllm_backend import VLLMBackend, engine_args

    for model_type, message in (("qwen2_5_omni_thinker", "thinker-only"), ("audioflamingo3", "<sound>"),
                                ("llama", "the vllm backend runs qwen2_audio, qwen2_5_omni")):
        (tmp_path / model_type).mkdir()
        (tmp_path / model_type / "config.json").write_text(json.dumps({"model_type": model_type}))
        with pytest.raises(ValueError, match=message):
            VLLMBackend(str(tmp_path / model_type))
    with pytest.raises(ValueError, match="torchrun"):
        engine_args("qwen2_audio", {"data_parallel_size": "2"})
    args = engine_args("qwen2_5_omni", {"tensor_parallel_size": "2", "enforce_eager": "true"})
    assert args["limit_mm_per_prompt"] == {"audio": 1, "image": 0, "video": 0} and args["enable_prefix_caching"]
    assert args["tensor_parallel_size"] == 2 and args["enforce_eager"] is True


def test_each_rank_engine_sees_its_own_gpu(monkeypatch):
    import os

    from ac_eval.models.vllm_backend import pin_to_local_gpu

    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "2")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    pin_to_local_gpu()
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "6"
