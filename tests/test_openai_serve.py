"""The OpenAI-compatible backend end to end against `ac-eval serve` on loopback, faults included."""

import threading
from pathlib import Path

import jsonlines
import pytest
from fault_proxy import FaultProxy

from ac_eval.run import RunConfig, run
from ac_eval.models.serve import make_server

SECRET = "sk-test-0123456789abcdef-never-written"


@pytest.fixture()
def server(backend):
    """`ac-eval serve` on loopback, reached through a proxy that injects the given faults."""
    servers, proxies = [], []

    def start(faults=None):
        srv = make_server(backend, "127.0.0.1", 0, model_name="tiny")
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        proxies.append(FaultProxy(srv.server_port, faults))
        return proxies[-1]

    yield start
    for proxy in proxies:
        proxy.close()
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _openai_cfg(srv, bench_root, out, cache_dir, **extra):
    args = (f"model=tiny,base_url=http://127.0.0.1:{srv.server_port}/v1,api_key_env=AC_EVAL_TEST_KEY,"
            f"audio_format=wavf32,concurrency=4,cache_dir={cache_dir},max_new_tokens=32")
    for k, v in extra.items():
        args += f",{k}={v}"
    return RunConfig(tasks=["mmau"], model="openai", model_args=args, data_dir=str(bench_root), limit=8,
                     output_path=str(out), use_cache=False)


def _predictions(out: Path) -> dict:
    return {(r["task"], r["id"]): r["prediction"] for r in jsonlines.open(out / "samples.jsonl")}


def test_api_run_survives_faults_and_matches_the_direct_run(server, tiny_ckpt, bench_root, tmp_path, monkeypatch):
    monkeypatch.setenv("AC_EVAL_TEST_KEY", SECRET)
    direct = tmp_path / "direct"
    run(RunConfig(tasks=["mmau"], model_args=f"pretrained={tiny_ckpt},max_new_tokens=32", data_dir=str(bench_root), limit=8,
                  output_path=str(direct)))

    srv = server(faults=["ok", "500", "drop", "ok", "429", "ok", "500"])
    out = tmp_path / "api"
    report = run(_openai_cfg(srv, bench_root, out, tmp_path / "cache"))
    conds = report["tasks"]["mmau_test_mini"]["conditions"]
    assert all(c["n_request_error"] == 0 and c["n_total"] == 8 for c in conds.values())
    rows = list(jsonlines.open(out / "samples.jsonl"))
    assert len(rows) == 16 and len({(r["task"], r["id"]) for r in rows}) == 16  # every item scored once
    assert _predictions(out) == _predictions(direct)  # same model, same prompt, same audio: same answers
    served = srv.request_counter["requests"]
    assert served > 16  # faults forced retries

    # a rerun is answered from the response cache: the server sees nothing new
    run(_openai_cfg(srv, bench_root, tmp_path / "api2", tmp_path / "cache"))
    assert srv.request_counter["requests"] == served

    # the key is in no file we wrote
    for folder in (out, tmp_path / "api2", tmp_path / "cache"):
        for path in Path(folder).rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), path


def test_a_dead_server_gives_counted_request_errors_not_answers(server, bench_root, tmp_path, monkeypatch):
    monkeypatch.setenv("AC_EVAL_TEST_KEY", SECRET)
    srv = server(faults=["500"])
    report = run(_openai_cfg(srv, bench_root, tmp_path / "out", tmp_path / "cache", max_retries=1))
    original = report["tasks"]["mmau_test_mini"]["conditions"]["original"]
    assert original["n_request_error"] == 8 and original["n_scored"] == 0 and original["accuracy_strict"] == 0.0
    assert report["run_status"]["exit_code"] == 3  # nothing scored: the run says so (outputs are written)
    errors = [r for r in jsonlines.open(tmp_path / "out" / "samples.jsonl") if r["status"] == "request_error"]
    assert len(errors) == 16 and ("HTTP 500" in errors[0]["error"] or "InternalServerError" in errors[0]["error"])
    assert srv.request_counter["requests"] == 32  # 16 items x 2 attempts; failures were not cached...
    run(_openai_cfg(srv, bench_root, tmp_path / "out2", tmp_path / "cache", max_retries=1))
    assert srv.request_counter["requests"] == 64  # ...so the next run asks again


def test_server_rejects_bad_requests(server, backend):
    import openai

    srv = server()
    client = openai.OpenAI(api_key="x", base_url=f"http://127.0.0.1:{srv.server_port}/v1", max_retries=0)
    assert [m.id for m in client.models.list()] == ["tiny"]
    with pytest.raises(openai.BadRequestError, match="could not be decoded"):
        client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "bm90IGF1ZGlv", "format": "wav"}}]}])
    reply = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "no audio here"}],
                                           max_tokens=3)
    assert isinstance(reply.choices[0].message.content, str)


def test_unreachable_server_is_a_clear_error_at_start(bench_root, tmp_path, capsys):
    from ac_eval.cli import main

    code = main(["--model", "kimi-audio-7b-instruct", "--model_args", "base_url=http://127.0.0.1:9/v1",
                 "--tasks", "mmau", "--data_dir", str(bench_root), "--limit", "2", "--output_path", str(tmp_path)])
    assert code == 2 and "cannot reach http://127.0.0.1:9/v1" in capsys.readouterr().err
