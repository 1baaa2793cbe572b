import numpy as np
import pytest
import torch

from ac_eval.evaluation.records import AudioInput
from ac_eval.evaluation.conditions import OriginalCondition, SilentCondition
from ac_eval.evaluation.records import AudioRef
from ac_eval.models import GenerationSettings, detect_arch


def _clip(seed=0, seconds=2.0):
    rng = np.random.default_rng(seed)
    return AudioInput((0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32))


def _silence():
    return SilentCondition().audio_for(AudioRef("unused.wav"), 16000)


def test_checkpoint_loads_like_a_hub_checkpoint(tiny_ckpt):
    from transformers import AutoModelForMultimodalLM, AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_ckpt)
    model = AutoModelForMultimodalLM.from_pretrained(tiny_ckpt)
    assert type(processor).__name__ == "Qwen2AudioProcessor"
    assert type(model).__name__ == "Qwen2AudioForConditionalGeneration"
    assert detect_arch(str(tiny_ckpt)) == "qwen2-audio"


def test_different_seeds_give_different_weights(tmp_path):
    from safetensors.torch import load_file

    from ac_eval.models.tiny_checkpoints import build_qwen2_audio

    a = load_file(build_qwen2_audio(tmp_path / "a", seed=1) / "model.safetensors")
    b = load_file(build_qwen2_audio(tmp_path / "b", seed=2) / "model.safetensors")
    c = load_file(build_qwen2_audio(tmp_path / "c", seed=1) / "model.safetensors")
    key = next(k for k in a if "audio_tower" in k and k.endswith("weight") and a[k].dim() == 2)
    assert not torch.equal(a[key], b[key]) and torch.equal(a[key], c[key])


def test_encode_matches_the_processor(backend):
    prompts = [backend.chat_prompt("What is it? Please choose", "sys"), backend.chat_prompt("A longer question here", None)]
    audios = [_clip(0, 7.3), _silence()]
    theirs = backend.processor(text=prompts, audio=[a.array for a in audios], return_tensors="pt", padding=True, sampling_rate=16000)
    # our features over each clip's own frames equal the feature extractor's (to float rounding), mask exactly
    features, mask = backend._features(audios)
    assert torch.allclose(torch.stack(features), theirs["input_features"], atol=1e-6)
    assert torch.equal(mask, theirs["feature_attention_mask"].to(mask.dtype))
    fast = backend.inference_inputs(prompts, audios)
    for key in ("input_ids", "attention_mask"):
        assert torch.equal(fast[key], theirs[key].to(fast[key].dtype)), key
    # the audio as embeddings (encoder over each clip's own frames) gives the model's own hidden states
    with torch.inference_mode():
        ours = backend.model.model(inputs_embeds=fast["inputs_embeds"], attention_mask=fast["attention_mask"]).last_hidden_state
        model = backend.model.model(**theirs).last_hidden_state
    assert torch.allclose(ours, model, atol=1e-4)
    slow = backend.encode(prompts, audios)  # the model's own inputs (training): exactly the processor's
    assert torch.equal(slow["input_ids"], theirs["input_ids"]) and torch.allclose(slow["input_features"], theirs["input_features"], atol=1e-6)


def test_silence_features_computed_once(backend):
    before = dict(backend.stats)
    prompt = backend.chat_prompt("q", None)
    backend.encode([prompt] * 3, [_silence(), _silence(), _clip(1)])
    backend.encode([prompt] * 2, [_silence(), _silence()])
    computed = backend.stats["feature_computes"] - before["feature_computes"]
    # at most one silence computation (none if an earlier test cached it) + one real clip
    assert computed in (1, 2) and backend.stats["feature_cache_hits"] - before["feature_cache_hits"] >= 3


def test_choice_logprobs_equal_full_forward_per_option(backend):
    prompts = [backend.chat_prompt("Which one?", "sys"), backend.chat_prompt("Another, longer question?", None)]
    audios = [_clip(2), _silence()]
    options = [["<answer>Man</answer>", "<answer>Woman</answer>", "<answer>Robot</answer>"], ["<answer>yes</answer>", "<answer>no</answer>"]]
    fast = backend.choice_logprobs(prompts, audios, options)
    for prompt, audio, opts, scores in zip(prompts, audios, options, fast):
        # the reference: the processor's inputs and the model's own forward, one full pass per option
        inputs = backend.processor(text=[prompt], audio=[audio.array], return_tensors="pt", sampling_rate=16000)
        for option, (score, _) in zip(opts, scores):
            ids = backend.tokenizer(option, add_special_tokens=False, return_tensors="pt")["input_ids"]
            full = torch.cat([inputs["input_ids"], ids], 1)
            with torch.no_grad():
                logits = backend.model(
                    input_ids=full, attention_mask=torch.ones_like(full),
                    input_features=inputs["input_features"], feature_attention_mask=inputs["feature_attention_mask"],
                ).logits
            logp = torch.log_softmax(logits[0, -ids.shape[1] - 1 : -1].float(), -1).gather(-1, ids[0, :, None]).sum()
            assert score == pytest.approx(logp.item(), abs=1e-3)


def test_audio_reaches_the_model(backend, tmp_path, monkeypatch):
    """Log-likelihoods differ between the real clip and silence for the same item; and the same check
    returns no difference when the audio is dropped on the way in (the bug REFERENCE §4 warns about)."""
    import soundfile as sf

    path = tmp_path / "clip.wav"
    sf.write(path, _clip(3).array, 16000)
    prompt = backend.chat_prompt("What sound is it? Please choose", None)
    options = [["<answer>Dog</answer>", "<answer>Cat</answer>"]]
    original = OriginalCondition().audio_for(AudioRef(str(path)), 16000)

    def gap():
        a = backend.choice_logprobs([prompt], [original], options)[0]
        b = backend.choice_logprobs([prompt], [_silence()], options)[0]
        return max(abs(x[0] - y[0]) for x, y in zip(a, b))

    assert gap() > 1e-4

    real_features = backend._features

    def drop_audio(audios):  # what a harness that loses the audio does: every item hears the same thing
        return real_features([_silence() for _ in audios])

    monkeypatch.setattr(backend, "_features", drop_audio)
    assert gap() == 0.0


def test_generate_is_batched_and_cut_at_stop_strings(backend):
    prompts = [backend.chat_prompt(f"Question {i}?", None) for i in range(3)]
    texts = backend.generate(prompts, [_clip(i) for i in range(3)], GenerationSettings(max_new_tokens=6))
    alone = backend.generate(prompts[:1], [_clip(0)], GenerationSettings(max_new_tokens=6))
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)
    assert texts[0] == alone[0]  # left padding does not change greedy output
    assert len(alone[0]) >= 3  # the seeded tiny model writes six tokens of text here
    stop = alone[0][1:3]
    cut = backend.generate(prompts[:1], [_clip(0)], GenerationSettings(max_new_tokens=6, until=[stop]))
    assert cut[0] == alone[0].split(stop, 1)[0] and stop not in cut[0]


def test_whisper_features_equal_the_feature_extractor_for_any_clip_length(backend):
    """WhisperFeatures (one STFT per batch over the clips' own frames) against the feature extractor padding every
    clip to 30 s: clips from a few samples to past 30 s, silence and loud clips in one batch."""
    from ac_eval.models.whisper_features import WhisperFeatures

    fe = backend.feature_extractor
    rng = np.random.default_rng(3)
    lengths = [3, 400, 401, 16000, 116_800, 479_840, 480_000, 496_000]
    arrays = [(rng.standard_normal(n) * (0.3 if k % 2 else 0.01)).astype(np.float32) for k, n in enumerate(lengths)]
    arrays.append(np.zeros(480_000, dtype=np.float32))
    ours, mask = WhisperFeatures(fe)(arrays)
    theirs = fe(arrays, sampling_rate=16000, padding="max_length", return_attention_mask=True, return_tensors="pt")
    assert torch.allclose(ours, theirs["input_features"], atol=1e-5)
    assert torch.equal(mask, theirs["attention_mask"].to(mask.dtype))
    for k, array in enumerate(arrays[:3]):  # a clip alone gives what it gives in the batch
        alone, _ = WhisperFeatures(fe)([array])
        assert torch.allclose(alone[0], ours[k], atol=1e-5)


def test_audio_is_prefetched_in_a_thread_only_where_a_core_is_spare(monkeypatch):
    """On the CPU with a torch thread per core, a prefetch thread takes a core from torch's parallel regions (2-3 s
    slower per 512 items on 2 cores): the next batch is decoded in turn. A GPU or a server leaves the CPU free."""
    import os
    from types import SimpleNamespace

    from ac_eval.models.lm_eval_models import AudioLMBase

    def threaded(device, threads, cores):
        monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
        monkeypatch.setattr(os, "cpu_count", lambda: cores)
        return AudioLMBase._prefetch_in_thread(SimpleNamespace(backend=SimpleNamespace(device=device)))

    assert not threaded(torch.device("cpu"), 2, 2)
    assert not threaded("cpu", 16, 16)
    assert threaded(torch.device("cpu"), 8, 16)  # hyper-threads: a logical core to spare
    assert threaded(torch.device("cuda"), 2, 2)
    assert AudioLMBase._prefetch_in_thread(SimpleNamespace(backend=SimpleNamespace()))  # an API: no device


def test_choice_mode_batches_a_condition_at_a_time_longest_first_and_answers_each_request():
    """Items are batched by condition (silence's shared prefix needs a batch that hears one silence), longest
    first within a condition (little padding); every request still gets its own item's score."""
    from types import SimpleNamespace

    from ac_eval.models.lm_eval_models import AudioLMBase

    class Recording:
        audio_token, sample_rate, pretrained, device = "<|AUDIO|>", 16000, "fake", "cpu"

        def __init__(self):
            self.batches = []

        def choice_logprobs(self, prompts, audios, continuations):
            self.batches.append(list(prompts))
            return [[(float(len(p) + len(c)), len(c) % 2 == 0) for c in conts] for p, conts in zip(prompts, continuations)]

    class LM(AudioLMBase):
        def make_backend(self, device="cpu"):
            return Recording()

    lm = LM(batch_size=2)
    rng = np.random.default_rng(0)
    requests = []
    for condition in ("silent", "none"):  # lm-eval sends one task's requests, then the next one's
        for doc in range(8):
            context = f"<|AUDIO|>{condition} item {doc} " + "x" * int(rng.integers(0, 40))
            for option in ("A", "Bb", "Ccc"):
                payload = {"audio": {"path": f"{doc}.wav", "condition": condition}}
                requests.append(SimpleNamespace(args=(context, option, payload), task_name=condition, doc_id=doc))
    results = lm.loglikelihood(requests)

    assert [r for r, _ in results] == [float(len(q.args[0]) + len(q.args[1])) for q in requests]
    assert [g for _, g in results] == [len(q.args[1]) % 2 == 0 for q in requests]
    batches = lm.backend.batches
    assert sum(map(len, batches)) == 16
    conditions = [p.split()[0].removeprefix("<|AUDIO|>") for b in batches for p in b]
    assert all(len({p.split()[0] for p in b}) == 1 for b in batches)  # one condition per batch
    assert conditions == ["silent"] * 8 + ["none"] * 8  # in the order the conditions came
    for condition in ("silent", "none"):
        lengths = [len(p) for b in batches for p in b if condition in p.split()[0]]
        assert lengths == sorted(lengths, reverse=True)
        assert lengths != sorted(lengths)  # the data does have different lengths to order


@torch.no_grad()
def test_a_clip_repeated_in_a_batch_is_encoded_once_and_only_an_equal_one(backend):
    """The encoder sees a clip that appears twice in a batch (silence in training data) once; a clip equal to
    another on the frames compared first but not on the rest is still its own."""
    from ac_eval.models.qwen2_audio import clip_embeddings

    a, b = _clip(1), _clip(2)
    backend.prepare([a, b])
    (fa, mask), (fb, _) = a.features, b.features
    near = fa.clone()
    near[:, 1] += 1.0  # frame 1: between the frames a quick look compares
    features = [fa, fb, fa.clone(), near]
    masks = torch.stack([mask] * 4)
    rows = []
    hook = backend.model.model.audio_tower.conv1.register_forward_hook(lambda m, i, o: rows.append(i[0].shape[0]))
    try:
        together = clip_embeddings(backend.model, features, masks)
    finally:
        hook.remove()
    assert rows == [3]  # a, b and near; a's copy reuses a's
    for got, f in zip(together, features):
        torch.testing.assert_close(got, clip_embeddings(backend.model, [f], mask[None])[0])
    assert torch.equal(together[0], together[2]) and not torch.equal(together[0], together[3])
