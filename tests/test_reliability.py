"""Reliability end to end: bad items inside a run, an API that fails a fifth of the time, kill -9 at any point
(the final writes included), a burst of requests and an oversized body against `ac-eval serve`."""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import jsonlines
import numpy as np
import pytest
import soundfile as sf

from ac_eval.cli import main
from ac_eval.run import RunConfig, RunFolderError, read_run, run

TESTS = Path(__file__).resolve().parent


def test_one_bad_item_never_stops_a_run(tiny_ckpt, bench_root, tmp_path, capsys, caplog):
    """A 400,000-character question, the audio token inside a question, a FIFO and a path that leaves the data
    root, among good items: each is a counted error naming its item; the rest is scored; the run says so."""
    root = tmp_path / "bench"
    shutil.copytree(bench_root / "mmau", root / "mmau")
    meta = root / "mmau" / "mmau-test-mini.json"
    rows = json.loads(meta.read_text())[:6]
    rows[1]["question"] = "why? " * 80_000
    rows[2]["question"] = "What is <|AUDIO|> here?"
    os.unlink(root / "mmau" / rows[3]["audio_id"])
    os.mkfifo(root / "mmau" / rows[3]["audio_id"])
    rows[4]["audio_id"] = "../../outside.wav"
    sf.write(tmp_path / "outside.wav", np.zeros(1600, dtype=np.float32) + 0.1, 16000)
    meta.write_text(json.dumps(rows))
    for mode in ("generate", "choice"):
        out = tmp_path / mode
        code = main(["--model_args", f"pretrained={tiny_ckpt},max_new_tokens=4", "--tasks", "mmau", "--data_dir", str(root),
                     "--mode", mode, "--output_path", str(out)])
        assert code == 5, capsys.readouterr().err  # errors above --max-error-rate: said, after writing everything
        samples = {(r["condition"], r["id"]): r for r in jsonlines.open(out / "samples.jsonl")}
        assert len(samples) == 12
        ids = [r["id"] for r in rows]
        for cond in ("original", "silent"):
            assert samples[(cond, ids[1])]["status"] == "item_error" and "context" in samples[(cond, ids[1])]["error"]
            assert samples[(cond, ids[2])]["status"] == "item_error" and "<|AUDIO|>" in samples[(cond, ids[2])]["error"]
            for good in (ids[0], ids[5]):
                assert samples[(cond, good)]["status"] == "ok" or samples[(cond, good)]["status"] == "unparseable"
        assert "not a regular file" in samples[("original", ids[3])]["error"]
        assert "outside the data root" in samples[("original", ids[4])]["error"]
        assert samples[("silent", ids[3])]["status"] in ("ok", "unparseable")  # silence needs no file
        assert any(f"item {ids[2]}" in m and "<|AUDIO|>" in m for m in caplog.messages)  # the log names the item
        caplog.clear()


def test_api_faults_of_six_kinds_finish_in_one_invocation(bench_root, tmp_path, monkeypatch):
    """A fifth of the requests fail (429, 500, a hang past the timeout, a dropped connection, malformed JSON, no
    choices): one invocation ends with every item answered once and nothing lost."""
    from fake_openai import FakeOpenAI

    kinds = ("429", "500", "hang", "drop", "bad-json", "empty-choices")
    fake = FakeOpenAI(answer=lambda body: "<answer>x</answer>", fault_rate=0.2, fault_kinds=kinds, hang_seconds=2.0, seed=7)
    monkeypatch.setenv("AC_EVAL_FAKE_KEY", "k")
    try:
        cfg = RunConfig(tasks=["mmau"], model="openai", data_dir=str(bench_root), limit=30, output_path=str(tmp_path / "o"),
                        model_args=f"model=fake,base_url={fake.base_url},api_key_env=AC_EVAL_FAKE_KEY,timeout=1,"
                                   f"max_retries=10,concurrency=4,cache_dir={tmp_path / 'cache'}", use_cache=False)
        report = run(cfg)
    finally:
        fake.close()
    rows = list(jsonlines.open(tmp_path / "o" / "samples.jsonl"))
    assert len(rows) == 60 and len({(r["condition"], r["id"]) for r in rows}) == 60
    assert all(r["status"] != "request_error" for r in rows) and report["run_status"]["exit_code"] == 0
    assert fake.seen["faults"] >= 8 and fake.seen["requests"] >= 60 + fake.seen["faults"]


# ---- kill -9 --------------------------------------------------------------------------------------------------

def _driver(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(TESTS / "kill_driver.py"), *args], env={**os.environ, **env},
                            cwd=str(TESTS), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _items(folder: Path) -> list[tuple]:
    return sorted((r["task"], r["id"], r["prediction"], r["correct"]) for r in jsonlines.open(folder / "samples.jsonl"))


@pytest.mark.slow
def test_kill_9_at_random_points_and_during_the_final_writes(bench_root, tmp_path):
    from ac_eval.testing.stub_models import write_stub

    stub = write_stub(tmp_path / "stub", "listener", "mmau", bench_root / "mmau" / "mmau-test-mini.json", "test-mini",
                      planted=[], seed=1)
    args = ["--model_args", f"pretrained={stub}", "--tasks", "mmau", "--conditions", "original,silent,silent-rotated",
            "--data_dir", str(bench_root), "--limit", "40", "--batch_size", "4"]
    reference = tmp_path / "reference"
    assert main([*args, "--output_path", str(reference)]) == 0
    expected = _items(reference)

    out = tmp_path / "killed"
    signal = tmp_path / "signal"
    rng = random.Random(0)
    kill_points = ["samples.jsonl:before", "samples.jsonl:rename", "report.md:rename", "results.json:before",
                   "results.json:rename"]
    for attempt in range(len(kill_points) + 4):
        signal.unlink(missing_ok=True)
        point = kill_points[attempt] if attempt < len(kill_points) else ""
        proc = _driver([*args, "--output_path", str(out)], {"KILL_AT": point, "KILL_SIGNAL": str(signal)})
        if point:
            deadline = time.time() + 120
            while not signal.exists() and proc.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            assert signal.exists(), f"never reached {point}: {proc.stderr.read()[-2000:]}"
        else:
            time.sleep(rng.uniform(0.5, 6.0))  # anywhere: imports, loading, evaluating, writing
        proc.kill()
        proc.wait()
        # Whatever the folder holds now is coherent, or refused as such: never silently mixed.
        if (out / "results.json").exists():
            try:
                results = read_run(out)
            except RunFolderError:
                pass
            else:
                ids = {r["run_id"] for r in jsonlines.open(out / "samples.jsonl")}
                assert ids == {results["run_id"]}
                assert _items(out) == expected  # a complete earlier run: its items, unchanged
    # One more invocation of the same command finishes the job: nothing lost, duplicated or changed.
    proc = _driver([*args, "--output_path", str(out)], {})
    assert proc.wait(timeout=300) == 0, proc.stderr.read()[-2000:]
    assert _items(out) == expected
    read_run(out)
    assert not list(out.glob(".ac-eval.lock.*"))


# ---- ac-eval serve ----------------------------------------------------------------------------------------------

def _serve(backend, **kw):
    from ac_eval.models.serve import make_server

    server = make_server(backend, "127.0.0.1", 0, "tiny", **kw)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _post(port: int, body: bytes, timeout: float = 120) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
    reply = conn.getresponse()
    return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()  # names are case-insensitive


def _request(text: str = "hello", max_tokens: int = 2) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(1600, dtype=np.float32) + 0.1, 16000, format="WAV")
    part = {"type": "input_audio", "input_audio": {"data": base64.b64encode(buf.getvalue()).decode(), "format": "wav"}}
    return json.dumps({"model": "tiny", "max_tokens": max_tokens,
                       "messages": [{"role": "user", "content": [part, {"type": "text", "text": text}]}]}).encode()


@pytest.mark.slow
def test_serve_answers_a_burst_of_50_and_refuses_an_oversized_body(backend):
    server = _serve(backend, max_body_mb=1.0)
    try:
        results: list = []

        def one(i):
            try:
                results.append(_post(server.server_port, _request(f"question {i}"))[0])
            except OSError as e:  # a reset connection: what must not happen
                results.append(repr(e))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200] * 50
        status, _, body = _post(server.server_port, b"x" * 3_000_000)
        assert status == 413 and b"at most 1 MB" in body
        assert _post(server.server_port, _request())[0] == 200  # and it goes on serving
    finally:
        server.shutdown()
        server.server_close()

    small = _serve(backend, max_queue=2)  # a short queue: the rest are told to come back, never reset
    try:
        results = []
        threads = [threading.Thread(target=lambda: results.append(_post(small.server_port, _request(max_tokens=8))))
                   for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(r[0] for r in results)
        assert len(results) == 20 and set(statuses) <= {200, 503} and 200 in statuses and 503 in statuses
        assert all(r[1].get("retry-after") for r in results if r[0] == 503)
    finally:
        small.shutdown()
        small.server_close()
