"""Readable model names and the keys rows join on."""

from ac_eval.models.catalogue import resolve_model
from ac_eval.run.drive import cache_prefix
from ac_eval.run.folder import RunConfig
from ac_eval.models.identity import model_identity


def test_names_are_readable_and_keys_resolve(tmp_path, monkeypatch):
    ck = tmp_path / "voter-0"
    ck.mkdir()
    final = tmp_path / "w2s" / "final"
    final.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    absolute, relative = model_identity({"pretrained": str(ck)}), model_identity({"pretrained": "./voter-0"})
    assert absolute.name == relative.name == "voter-0" and absolute.key == relative.key == str(ck.resolve())
    assert model_identity({"pretrained": str(final)}).name == "w2s/final"  # a generic folder name says nothing alone
    hub = model_identity({"pretrained": "Qwen/Qwen2-Audio-7B-Instruct", "revision": "abc123"})
    assert hub.name == "Qwen/Qwen2-Audio-7B-Instruct@abc123" and hub.key == "Qwen/Qwen2-Audio-7B-Instruct@abc123"
    assert model_identity({"pretrained": "Qwen/Qwen2-Audio-7B-Instruct"}).key.endswith("@main")
    assert model_identity({"pretrained": "mispeech/r1-aqa"}, catalogue_name="r1-aqa").name == "r1-aqa"
    assert model_identity({"pretrained": str(ck), "name": "mine"}) == model_identity({"pretrained": str(ck)}).__class__(
        name="mine", key=str(ck.resolve()))
    api_a = model_identity({"model": "gpt-4o-audio-preview", "base_url": "http://a/v1"})
    api_b = model_identity({"model": "gpt-4o-audio-preview", "base_url": "http://b/v1"})
    assert api_a.name == api_b.name == "gpt-4o-audio-preview" and api_a.key != api_b.key


def test_renaming_a_model_keeps_its_cache():
    plain = RunConfig(tasks=["mmau"], model_args="pretrained=/x/ck,dtype=float32")
    named = RunConfig(tasks=["mmau"], model_args="pretrained=/x/ck,name=my-model,dtype=float32")
    other = RunConfig(tasks=["mmau"], model_args="pretrained=/x/other,dtype=float32")
    def prefix(cfg: RunConfig) -> str:
        return cache_prefix(cfg, resolve_model(cfg.model, cfg.model_args))

    assert prefix(plain) == prefix(named) != prefix(other)
