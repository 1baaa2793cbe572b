"""Hostile input, one parametrized test: each case names a kind of bad input (metadata, audio, command line, API
reply, server request) and the outcome it must get: a clear error naming what was wrong, a counted and named
item error, or a correct answer. Nothing may crash, hang or pass silently."""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import shutil
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import soundfile as sf
from conftest import shared_file

from ac_eval.cli import main
from ac_eval.evaluation.audio import AudioError
from ac_eval.evaluation.benchmarks import MetadataError, load_benchmark
from ac_eval.evaluation.conditions import get_condition
from ac_eval.evaluation.records import AudioRef
from ac_eval.evaluation.scoring import REQUEST_ERROR_PREFIX
from ac_eval.models import ModelUnusable


@dataclass
class Case:
    kind: str
    name: str
    run: Callable[["Ctx"], Any]
    expect: Callable[[Any, "Ctx"], None]


CASES: list[Case] = []


def case(kind: str, name: str, run: Callable, expect: Callable) -> None:
    CASES.append(Case(kind, name, run, expect))


def raises(exc: type, fragment: str) -> Callable:
    def check(outcome, ctx):
        assert isinstance(outcome, exc), f"expected {exc.__name__}, got {outcome!r}"
        assert fragment in str(outcome), f"{fragment!r} not in {outcome}"
    return check


def returns(predicate: Callable[[Any], bool], what: str) -> Callable:
    def check(outcome, ctx):
        assert not isinstance(outcome, BaseException), f"expected {what}, got {outcome!r}"
        assert predicate(outcome), f"expected {what}, got {outcome!r}"
    return check


def exits(code: int, fragment: str) -> Callable:
    def check(outcome, ctx):
        assert outcome == code, f"exit {outcome}, expected {code}; stderr: {ctx.err()}"
        err = ctx.err()
        assert fragment in err, f"{fragment!r} not in stderr: {err}"
        assert "Traceback" not in err
    return check


def http_status(status: int, fragment: str = "") -> Callable:
    def check(outcome, ctx):
        code, body = outcome
        assert code == status, f"HTTP {code}, expected {status}: {body[:300]!r}"
        if status >= 400:
            assert json.loads(body)["error"]["message"], body  # a JSON error body that says something
        assert fragment in body, f"{fragment!r} not in {body[:300]!r}"
    return check


class Ctx:
    """What the cases need, made on first use: a folder, the real metadata, a tiny checkpoint, servers."""

    def __init__(self, tmp: Path, request: pytest.FixtureRequest, capsys):
        self.tmp = tmp
        self.request = request
        self.capsys = capsys
        self._err = ""

    def fixture(self, name: str):
        return self.request.getfixturevalue(name)

    def err(self) -> str:
        self._err += self.capsys.readouterr().err
        return self._err

    def cli(self, *args: str) -> int:
        self.capsys.readouterr()
        return main([str(a) for a in args])


# ---- metadata ---------------------------------------------------------------------------------------------------

def _row() -> dict:
    return dict(json.loads(shared_file("mmau", "mmau-test-mini.json").read_text())[0])


def load_text(text: str | bytes, suffix: str = ".json", benchmark: str = "mmau"):
    def run(ctx):
        path = ctx.tmp / f"meta{suffix}"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return load_benchmark(benchmark, path)
    return run


def load_rows(make_rows: Callable[[dict], list], benchmark: str = "mmau", suffix: str = ".json"):
    def run(ctx):
        rows = make_rows(_row() if benchmark == "mmau" else json.loads(
            shared_file("mmsu", "mmsu-single-record-from-third-party-fixture.json").read_text())[0])
        path = ctx.tmp / f"meta{suffix}"
        path.write_text(json.dumps(rows) if suffix == ".json" else "".join(json.dumps(r) + "\n" for r in rows))
        return load_benchmark(benchmark, path)
    return run


def skipped(reason: str, n_records: int = 0) -> Callable:
    return returns(lambda loaded: len(loaded.records) == n_records and any(reason in s["reason"] for s in loaded.skipped),
                   f"{n_records} records and a skip for {reason!r}")


def loaded(n: int, check: Callable = lambda loaded: True, what: str = "") -> Callable:
    return returns(lambda lb: len(lb.records) == n and not lb.skipped and check(lb), f"{n} records {what}")


def without(key):
    return lambda r: [{k: v for k, v in r.items() if k != key}]


def with_(**kw):
    return lambda r: [{**r, **kw}]


case("metadata", "not JSON", load_text("{oops"), raises(MetadataError, "not valid JSON"))
case("metadata", "empty file", load_text(""), raises(MetadataError, "not valid JSON"))
case("metadata", "empty list", load_text("[]"), loaded(0))
case("metadata", "top-level string", load_text('"hello"'), raises(MetadataError, "expected a JSON list"))
case("metadata", "top-level number", load_text("42"), raises(MetadataError, "expected a JSON list"))
case("metadata", "list wrapped in an object", load_rows(lambda r: {"data": [r]}), loaded(1))
case("metadata", "a row that is a number", load_rows(lambda r: [5, r]), returns(
    lambda lb: len(lb.records) == 1 and "not an object" in lb.skipped[0]["reason"], "the number skipped"))
case("metadata", "missing id", load_rows(without("id")), skipped("missing field 'id'"))
case("metadata", "empty id", load_rows(with_(id="")), skipped("empty id"))
case("metadata", "numeric id", load_rows(with_(id=17)), loaded(1, lambda lb: lb.records[0].id == "17", "with id '17'"))
case("metadata", "missing question", load_rows(without("question")), skipped("missing field 'question'"))
case("metadata", "question is a list", load_rows(with_(question=["a"])), skipped("question is not a string"))
case("metadata", "missing choices", load_rows(without("choices")), skipped("missing field 'choices'"))
case("metadata", "choices is a string", load_rows(with_(choices="a, b")), skipped("choices is not a list of strings"))
case("metadata", "a choice is a number", load_rows(with_(choices=["a", 2])), skipped("choices is not a list of strings"))
case("metadata", "one choice", load_rows(with_(choices=["a"], answer="a")), skipped("at least 2 are needed"))
case("metadata", "public answer missing", load_rows(without("answer")), skipped("no answer, although"))
case("metadata", "public answer null", load_rows(with_(answer=None)), skipped("no answer, although"))
case("metadata", "answer is a number", load_rows(with_(answer=3)), skipped("answer is not a string"))
case("metadata", "answer not among the choices", load_rows(with_(answer="zebra")),
     loaded(1, lambda lb: lb.records[0].issues == ["answer_not_in_choices"], "flagged answer_not_in_choices"))
case("metadata", "duplicate ids", load_rows(lambda r: [r, dict(r)]),
     loaded(2, lambda lb: lb.records[1].id.endswith("#dup2") and "duplicate_id" in lb.records[1].issues, "renamed"))
case("metadata", "duplicate choices", load_rows(lambda r: [{**r, "choices": [r["answer"], r["answer"].upper()]}]),
     loaded(1, lambda lb: "duplicate_choices" in lb.records[0].issues, "flagged duplicate_choices"))
case("metadata", "audio field missing", load_rows(without("audio_id")), skipped("missing field 'audio_id'"))
case("metadata", "audio field a number", load_rows(with_(audio_id=5)), skipped("audio_id is not a path string"))
case("metadata", "audio field empty", load_rows(with_(audio_id="")), skipped("audio_id is not a path string"))
case("metadata", "not UTF-8", load_text('[{"id": "\xe9"}]'.encode("latin-1")), raises(MetadataError, "not UTF-8"))
case("metadata", "UTF-8 with a byte-order mark", lambda ctx: load_text(b"\xef\xbb\xbf" + json.dumps([_row()]).encode())(ctx),
     loaded(1))
case("metadata", "jsonl with a broken line", load_text('{"id": "a"}\n{broken\n', ".jsonl", "mmar"),
     raises(MetadataError, "meta.jsonl:2: not valid JSON"))
case("metadata", "jsonl with blank lines", load_rows(lambda r: [r, {**r, "id": "second"}], suffix=".jsonl"), loaded(2))
case("metadata", "a 400,000-character question", load_rows(with_(question="why? " * 80_000)),
     loaded(1, lambda lb: len(lb.records[0].question) == 400_000, "kept whole"))
case("metadata", "special tokens in the question", load_rows(with_(question="what is <|AUDIO|> <|im_end|>?")), loaded(1))
case("metadata", "a subset field that is a list", load_rows(with_(task=["sound", "music"])),
     loaded(1, lambda lb: lb.records[0].subsets["task"] == "sound; music", "joined"))
case("metadata", "a subset field that is null", load_rows(with_(**{"sub-category": None})),
     loaded(1, lambda lb: lb.records[0].subsets["sub-category"] is None, "left out of that breakdown"))
case("metadata", "a file path that is a folder", lambda ctx: load_benchmark("mmar", ctx.tmp), raises(MetadataError, "not a regular file"))
case("metadata", "MMSU option c null", load_rows(with_(choice_c=None), "mmsu"),
     loaded(1, lambda lb: len(lb.records[0].choices) == 3, "three options"))
case("metadata", "MMSU without answer_gt", load_rows(without("answer_gt"), "mmsu"), skipped("missing field 'answer_gt'"))


# ---- audio ------------------------------------------------------------------------------------------------------

def audio(make: Callable[[Path], AudioRef], condition: str = "original"):
    def run(ctx):
        return get_condition(condition).audio_for(make(ctx.tmp), 16000)
    return run


def wav(samples, sr=16000, subtype=None, name="a.wav"):
    def make(tmp):
        sf.write(tmp / name, np.asarray(samples, dtype=np.float32 if subtype != "DOUBLE" else np.float64), sr, subtype=subtype)
        return AudioRef(str(tmp / name))
    return make


def file_bytes(data: bytes, name="a.wav"):
    def make(tmp):
        (tmp / name).write_bytes(data)
        return AudioRef(str(tmp / name))
    return make


def fifo(tmp):
    os.mkfifo(tmp / "pipe.wav")
    return AudioRef(str(tmp / "pipe.wav"))


def parquet(row: int, audio_cell: dict):
    def make(tmp):
        import datasets

        ds = datasets.Dataset.from_list([{"id": "x", "audio": audio_cell}])
        ds.to_parquet(str(tmp / "p.parquet"))
        return AudioRef(str(tmp / "p.parquet"), row=row)
    return make


def wav_bytes(seconds=0.1):
    buf = io.BytesIO()
    sf.write(buf, np.zeros(int(16000 * seconds), dtype=np.float32) + 0.1, 16000, format="WAV")
    return buf.getvalue()


def samples(n: int, what: str = "samples") -> Callable:
    return returns(lambda a: a is not None and len(a.array) == n and np.all(np.isfinite(a.array)), f"{n} {what}")


tone = np.sin(np.arange(1600) / 5) * 0.3
case("audio", "missing file", audio(lambda tmp: AudioRef(str(tmp / "nope.wav"))), raises(AudioError, "audio file not found"))
case("audio", "a folder", audio(lambda tmp: AudioRef(str(tmp))), raises(AudioError, "not a regular file"))
case("audio", "a FIFO (would block forever)", audio(fifo), raises(AudioError, "not a regular file"))
case("audio", "an empty file", audio(file_bytes(b"")), raises(AudioError, "cannot decode"))
case("audio", "garbage bytes", audio(file_bytes(b"not audio at all" * 10)), raises(AudioError, "cannot decode"))
case("audio", "zero samples", audio(wav(np.zeros(0))), raises(AudioError, "is empty (0 samples)"))
case("audio", "NaN samples", audio(wav(np.array([0.1, np.nan, 0.2]), subtype="FLOAT")), raises(AudioError, "NaN or infinite"))
case("audio", "infinite samples", audio(wav(np.array([0.1, np.inf, 0.2]), subtype="FLOAT")), raises(AudioError, "NaN or infinite"))
case("audio", "stereo", audio(wav(np.stack([tone, tone], axis=1))), samples(1600, "mono samples"))
case("audio", "8 kHz", audio(wav(tone, sr=8000)), samples(3200, "samples at 16 kHz"))
case("audio", "48 kHz", audio(wav(np.tile(tone, 3), sr=48000)), samples(1600, "samples at 16 kHz"))
case("audio", "24-bit PCM", audio(wav(tone, subtype="PCM_24")), samples(1600))
case("audio", "float64", audio(wav(tone, subtype="DOUBLE")), samples(1600))
case("audio", "one sample", audio(wav(np.array([0.5]))), samples(1))
case("audio", "a path outside the data root (..)", audio(lambda tmp: AudioRef(str(tmp / ".." / "x.wav")).confined_to(tmp)),
     raises(AudioError, "is outside the data root"))
case("audio", "an absolute path elsewhere", audio(lambda tmp: AudioRef("/etc/passwd").confined_to(tmp)),
     raises(AudioError, "is outside the data root"))
case("audio", "inside the root stays readable", audio(lambda tmp: wav(tone)(tmp).confined_to(tmp)), samples(1600))
case("audio", "parquet row out of range", audio(parquet(5, {"bytes": wav_bytes(), "path": "x.wav"})),
     raises(AudioError, "no audio at"))
case("audio", "parquet cell without bytes", audio(parquet(0, {"bytes": None, "path": "x.wav"})),
     raises(AudioError, "no embedded audio bytes"))
case("audio", "silent-matched on a broken header", audio(file_bytes(b"RIFF0000WAVEjunk"), "silent-matched"),
     raises(AudioError, "cannot read audio header"))
case("audio", "silence needs no file", audio(lambda tmp: AudioRef(str(tmp / "nope.wav")), "silent"), samples(480000, "zeros"))


# ---- the command line -------------------------------------------------------------------------------------------

def cli(*args, needs=()):
    def run(ctx):
        resolved = []
        for a in args:
            resolved.append(a(ctx) if callable(a) else a)
        return ctx.cli(*resolved)
    return run


def bench(ctx):
    return ctx.fixture("bench_root")


def ckpt(ctx):
    return ctx.fixture("tiny_ckpt")


def ckpt_args(ctx):
    return f"pretrained={ckpt(ctx)},max_new_tokens=4"


def stub(ctx):
    from ac_eval.testing.stub_models import write_stub

    return write_stub(ctx.tmp / "stub", "guesser", "mmau", bench(ctx) / "mmau" / "mmau-test-mini.json", "test-mini")


def a_file(ctx):
    (ctx.tmp / "afile").write_text("x")
    return ctx.tmp / "afile"


def meta_file(content: bytes):
    def make(ctx):
        root = ctx.tmp / "root"
        (root / "mmau").mkdir(parents=True, exist_ok=True)
        (root / "mmau" / "mmau-test-mini.json").write_bytes(content)
        return root
    return make


def run_folder(name: str, run_id: str, model_key: str = "k", metadata_version: str = "v1",
               samples_run_id: str | None = None):
    """A finished run folder as `ac-eval run` writes it (one silent row), for the commands that read runs;
    `samples_run_id`: its samples.jsonl from another run (an interrupted write)."""
    def make(ctx):
        folder = ctx.tmp / name
        folder.mkdir(exist_ok=True)
        (folder / "results.json").write_text(json.dumps({
            "run_id": run_id, "config": {"model_args": f"pretrained={name}"}, "config_hash": "c", "prompt": {},
            "model": {"name": name, "key": model_key},
            "tasks": {"mmau_test_mini": {"benchmark": "mmau", "metadata_version": metadata_version, "conditions": {}}}}))
        (folder / "samples.jsonl").write_text(json.dumps({"run_id": samples_run_id or run_id, "id": "a",
                                                          "condition": "silent", "benchmark": "mmau", "status": "ok",
                                                          "correct": True, "n_choices": 4, "subsets": {}}) + "\n")
        (folder / "report.md").write_text(f"run {run_id}\n")
        return folder
    return make


def fake_run(run_id_samples: str = "A", run_id_results: str = "B"):
    return run_folder("run", run_id_results, samples_run_id=run_id_samples)


def free_port_taken(ctx):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    ctx.request.addfinalizer(s.close)
    return str(s.getsockname()[1])


def locked_output(ctx):
    from ac_eval.files import FolderLock

    lock = FolderLock(ctx.tmp / "locked")
    lock.__enter__()
    ctx.request.addfinalizer(lambda: lock.__exit__(None, None, None))
    return ctx.tmp / "locked"


RUN = ["--data_dir", bench, "--limit", "2"]
case("cli", "--tasks empty", cli("--model_args", "pretrained=x/y", "--tasks", "", *RUN), exits(2, "--tasks is empty"))
case("cli", "--conditions empty", cli("--model_args", "pretrained=x/y", "--tasks", "mmau", "--conditions", "", *RUN),
     exits(2, "--conditions is empty"))
case("cli", "unknown task", cli("--model_args", "pretrained=x/y", "--tasks", "mmlu", *RUN), exits(2, "unknown task 'mmlu'"))
case("cli", "unknown condition", cli("--model_args", "pretrained=x/y", "--tasks", "mmau", "--conditions", "loud", *RUN),
     exits(2, "unknown condition 'loud'"))
case("cli", "--metadata without =", cli("--model_args", "pretrained=x/y", "--tasks", "mmau", "--metadata", "nonsense"),
     exits(2, "expected NAME=FILE"))
case("cli", "--metadata file missing", cli("--model_args", "pretrained=x/y", "--tasks", "mmar", "--metadata",
                                           "mmar=/nonexistent/m.json"), exits(2, "file not found: /nonexistent/m.json"))
case("cli", "--limit 0", cli("--model_args", "pretrained=x/y", "--tasks", "mmau", "--data_dir", bench, "--limit", "0"),
     exits(2, "--limit 0"))
case("cli", "--limit -5", cli("--model_args", "pretrained=x/y", "--tasks", "mmau", "--data_dir", bench, "--limit", "-5"),
     exits(2, "--limit -5"))
case("cli", "--batch_size 0", cli("--model_args", "pretrained=x/y", "--tasks", "mmau", *RUN, "--batch_size", "0"),
     exits(2, "--batch_size 0: give a positive number"))
case("cli", "--batch_size -3", cli("--model_args", "pretrained=x/y", "--tasks", "mmau", *RUN, "--batch_size", "-3"),
     exits(2, "--batch_size -3"))
case("cli", "--output_path is a file", cli("--model_args", "pretrained=x/y", "--tasks", "mmau", *RUN, "--output_path", a_file),
     exits(2, "is a file"))
case("cli", "no pretrained", cli("--tasks", "mmau", *RUN), exits(2, "needs model_args pretrained"))
case("cli", "pretrained without =", cli("--model_args", "pretrained", "--tasks", "mmau", *RUN), exits(2, "needs model_args pretrained"))
case("cli", "checkpoint folder missing", cli("--model_args", "pretrained=/nonexistent/ckpt", "--tasks", "mmau", *RUN),
     exits(2, "checkpoint folder not found: /nonexistent/ckpt"))
case("cli", "a folder that is no checkpoint", cli("--model_args", lambda ctx: f"pretrained={ctx.tmp}", "--tasks", "mmau", *RUN),
     exits(2, "not a checkpoint folder"))
case("cli", "device=cuda without a GPU", cli("--model_args", "pretrained=x/y", "--tasks", "mmau", *RUN, "--device", "cuda"),
     exits(2, "no CUDA GPU"))
case("cli", "unknown gen_kwarg", cli("--model_args", "pretrained=x/y", "--tasks", "mmau", *RUN, "--gen_kwargs", "beams=4"),
     exits(2, "unknown generation setting(s) beams"))
case("cli", "budget given twice, differently", cli("--model_args", "pretrained=x/y,max_new_tokens=8", "--tasks", "mmau", *RUN,
                                                   "--gen_kwargs", "max_gen_toks=9"), exits(2, "disagree"))
case("cli", "--max-error-rate 2", cli("--model_args", "pretrained=x/y", "--tasks", "mmau", *RUN, "--max-error-rate", "2"),
     exits(2, "--max-error-rate 2"))
case("cli", "unknown model_arg", cli("--model_args", lambda ctx: f"pretrained={ckpt(ctx)},temprature=0", "--tasks", "mmau",
                                     *RUN, "--output_path", lambda ctx: ctx.tmp / "o"), exits(2, "unknown model_args temprature"))
case("cli", "batch_size=auto", cli("--model_args", lambda ctx: f"pretrained={ckpt(ctx)},batch_size=auto", "--tasks", "mmau",
                                   *RUN, "--output_path", lambda ctx: ctx.tmp / "o"), exits(2, "batch_size=auto is not supported"))
case("cli", "an empty metadata list", cli("--model_args", "pretrained=x/y", "--tasks", "mmau", "--data_dir", meta_file(b"[]")),
     exits(2, "holds no records"))
case("cli", "non-UTF-8 metadata", cli("--model_args", "pretrained=x/y", "--tasks", "mmau", "--data_dir",
                                      meta_file('[{"a": "\xe9"}]'.encode("latin-1"))), exits(2, "mmau-test-mini.json: not UTF-8"))
case("cli", "no audio at all", cli("--model_args", "pretrained=x/y", "--tasks", "mmau", "--data_dir",
                                   lambda ctx: meta_file(shared_file("mmau", "mmau-test-mini.json").read_bytes())(ctx)),
     exits(4, "none of the 1000 audio files exists"))
case("cli", "a second run on a locked output folder", cli("--model_args", lambda ctx: f"pretrained={stub(ctx)}", "--tasks", "mmau",
                                                          *RUN, "--output_path", locked_output), exits(2, "is in use by another"))
case("cli", "score: predictions missing", cli("score", "--benchmark", "mmau", "--predictions", "/nonexistent.json", "--output",
                                              lambda ctx: ctx.tmp / "s.json"), exits(2, "predictions file not found"))
case("cli", "score: predictions not JSON", cli("score", "--benchmark", "mmau", "--predictions",
                                               lambda ctx: (ctx.tmp / "p.json").write_text("[{") and ctx.tmp / "p.json",
                                               "--output", lambda ctx: ctx.tmp / "s.json"), exits(2, "not valid JSON"))
case("cli", "score: ids without --metadata", cli("score", "--benchmark", "mmau", "--predictions",
                                                 lambda ctx: (ctx.tmp / "p.jsonl").write_text('{"id": "a", "prediction": "x"}\n')
                                                 and ctx.tmp / "p.jsonl", "--output", lambda ctx: ctx.tmp / "s.json"),
     exits(2, "give --metadata"))
case("cli", "score: official form without the field", cli("score", "--benchmark", "mmar", "--predictions",
                                                          lambda ctx: (ctx.tmp / "p.json").write_text(json.dumps([_row()]))
                                                          and ctx.tmp / "p.json", "--output", lambda ctx: ctx.tmp / "s.json"),
     exits(2, "--prediction-key"))
case("cli", "score: a line without prediction", cli("score", "--benchmark", "mmau", "--metadata",
                                                    lambda ctx: shared_file("mmau", "mmau-test-mini.json"), "--predictions",
                                                    lambda ctx: (ctx.tmp / "p.jsonl").write_text('{"id": "a"}\n') and ctx.tmp / "p.jsonl",
                                                    "--output", lambda ctx: ctx.tmp / "s.json"), exits(2, 'needs "id" and "prediction"'))
case("cli", "labels: no runs", cli("labels", "--output", lambda ctx: ctx.tmp / "l.jsonl"), exits(2, "give RUN_DIR"))
case("cli", "labels: k above the runs", cli("labels", fake_run("A", "A"), "--output", lambda ctx: ctx.tmp / "l.jsonl"),
     exits(2, "--k 2 with 1 run(s)"))
case("cli", "labels: not a run folder", cli("labels", lambda ctx: ctx.tmp, lambda ctx: ctx.tmp, "--output",
                                            lambda ctx: ctx.tmp / "l.jsonl"), exits(2, "no results.json"))
case("cli", "labels: files of two runs", cli("labels", fake_run(), fake_run(), "--output", lambda ctx: ctx.tmp / "l.jsonl"),
     exits(2, "was not written by one finished run"))
case("cli", "report: files of two runs", cli("report", fake_run()), exits(2, "was not written by one finished run"))
case("cli", "report: not a run folder", cli("report", lambda ctx: ctx.tmp), exits(2, "no results.json"))
case("cli", "leaderboard: publish files of two runs", cli("leaderboard", "publish", fake_run(), "--output",
                                                          lambda ctx: ctx.tmp / "b"), exits(2, "was not written by one finished run"))
case("cli", "leaderboard: validate a non-JSON file", cli("leaderboard", "validate", a_file), exits(2, "not a JSON leaderboard"))
case("cli", "leaderboard: validate a missing file", cli("leaderboard", "validate", "/nonexistent/l.json"), exits(2, "no such file"))
case("cli", "leaderboard: validate a JSON list", cli("leaderboard", "validate",
                                                     lambda ctx: (ctx.tmp / "l.json").write_text("[]") and ctx.tmp / "l.json"),
     exits(2, "not a list"))
case("cli", "leaderboard: add without --board", cli("leaderboard", "add", lambda ctx: ctx.tmp), exits(2, "--board DIR"))
case("cli", "filter: a label that is no label", cli("filter", "--labels",
                                                    lambda ctx: (ctx.tmp / "l.jsonl").write_text('{"id": "a", "label": "medium"}\n')
                                                    and ctx.tmp / "l.jsonl", "--keep", "strong", "--benchmark", "mmau",
                                                    "--metadata", lambda ctx: shared_file("mmau", "mmau-test-mini.json"),
                                                    "--output", lambda ctx: ctx.tmp / "f.json"), exits(2, "is not one of weak"))
case("cli", "filter: no labels for a benchmark", cli("filter", "--keep", "strong", "--benchmark", "mmau", "--metadata",
                                                     lambda ctx: shared_file("mmau", "mmau-test-mini.json"), "--output",
                                                     lambda ctx: ctx.tmp / "f.json"), exits(2, "--labels is required"))
case("cli", "serve: port taken", cli("serve", "--model_args", "pretrained=x/y", "--port", free_port_taken),
     exits(2, "is taken"))
case("cli", "serve: no pretrained", cli("serve", "--model_args", "dtype=float32"), exits(2, "pretrained=DIR_OR_HUB_ID is required"))
case("cli", "train: recipe missing", cli("train", "--recipe", "/nonexistent/r.yaml"), exits(2, "r.yaml"))


# ---- API replies (the OpenAI client against a fake server) -----------------------------------------------------

def api(kind: str):
    def run(ctx):
        from ac_eval.models.generation import GenerationSettings
        from ac_eval.models.openai_api import OpenAIChatBackend

        fake = ctx.fixture("fake_api")
        os.environ.setdefault("AC_EVAL_FAKE_KEY", "k")
        backend = OpenAIChatBackend(kind, base_url=fake.base_url, api_key_env="AC_EVAL_FAKE_KEY", max_retries=1, timeout=1,
                                    cache_dir=str(ctx.tmp / "cache"))
        try:
            return backend.generate([backend.chat_prompt("q?", None)], [None], GenerationSettings(max_new_tokens=4))[0]
        except Exception as e:  # noqa: BLE001 - the expectation says which
            return e
    return run


def request_error(fragment: str) -> Callable:
    return returns(lambda text: isinstance(text, str) and text.startswith(REQUEST_ERROR_PREFIX) and fragment in text,
                   f"a counted request error mentioning {fragment!r}")


case("api", "a good reply", api("ok"), returns(lambda text: text == "<answer>ok</answer>", "the answer"))
case("api", "malformed JSON", api("bad-json"), request_error("gave up after 2 attempts"))
case("api", "empty choices", api("empty-choices"), request_error("no choices"))
case("api", "null content", api("null-content"), request_error("no text content"))
case("api", "an HTML body", api("html"), request_error("gave up after 2 attempts"))
case("api", "HTTP 400", api("400"), request_error("HTTP 400"))
case("api", "HTTP 404", api("404"), request_error("HTTP 404"))
case("api", "HTTP 422", api("422"), request_error("HTTP 422"))
case("api", "HTTP 429", api("429"), request_error("HTTP 429"))
case("api", "HTTP 500", api("500"), request_error("HTTP 500"))
case("api", "HTTP 503", api("503"), request_error("HTTP 503"))
case("api", "a dropped connection", api("drop"), request_error("APIConnectionError"))
case("api", "a reply slower than the timeout", api("hang"), request_error("Timeout"))
case("api", "a reply that trickles (1 MB promised, 5 bytes a second)", api("trickle"), request_error("ReplyTimeout"))
case("api", "HTTP 401 stops the run", api("401"), raises(ModelUnusable, "refused the credentials (HTTP 401)"))
case("api", "HTTP 403 stops the run", api("403"), raises(ModelUnusable, "refused the credentials (HTTP 403)"))


# ---- round two (issue 22) --------------------------------------------------------------------------------------

def _first_mmau_id() -> str:
    return _row()["id"]


def predictions_file(prediction: str):
    def make(ctx):
        path = ctx.tmp / "p.jsonl"
        path.write_text(json.dumps({"id": _first_mmau_id(), "prediction": prediction}) + "\n")
        return path
    return make


def scored_as(status: str) -> Callable:
    def check(outcome, ctx):
        exits(0, "")(outcome, ctx)
        first = _first_mmau_id()
        items = [i for i in json.loads((ctx.tmp / "s.json").read_text())["items"] if i["id"] == first]
        assert [i["status"] for i in items] == [status], items
    return check


def untouched(path: Callable, code: int, fragment: str) -> Callable:
    """The command refused (exit code, message) and the input file is as it was."""
    def check(outcome, ctx):
        exits(code, fragment)(outcome, ctx)
        assert json.loads(path(ctx).read_text().splitlines()[0])["run_id"] == "A"
    return check


MMAU_META = ["--metadata", lambda ctx: shared_file("mmau", "mmau-test-mini.json")]
case("cli", "score: 80,000 unclosed answer tags", cli("score", "--benchmark", "mmau", *MMAU_META, "--predictions",
                                                      predictions_file("<answer>" * 80_000), "--output",
                                                      lambda ctx: ctx.tmp / "s.json"), scored_as("unparseable"))
case("cli", "score: 80,000 unclosed tags, lenient", cli("score", "--benchmark", "mmau", *MMAU_META, "--extraction",
                                                        "lenient", "--predictions", predictions_file("<ANSWER>x" * 80_000),
                                                        "--output", lambda ctx: ctx.tmp / "s.json"),
     scored_as("unparseable"))
case("cli", "score: --output is --predictions", cli("score", "--benchmark", "mmau", *MMAU_META, "--predictions",
                                                    predictions_file("x"), "--output", lambda ctx: ctx.tmp / "p.jsonl"),
     exits(2, "is also an input"))
case("cli", "labels: --output is a run's samples.jsonl",
     cli("labels", run_folder("A", "A"), "--k", "1", "--output", lambda ctx: ctx.tmp / "A" / "samples.jsonl"),
     untouched(lambda ctx: ctx.tmp / "A" / "samples.jsonl", 2, "is also an input"))
case("cli", "labels: one run three times", cli("labels", run_folder("A", "A"), run_folder("A", "A"), run_folder("A", "A"),
                                               "--output", lambda ctx: ctx.tmp / "l.jsonl"), exits(2, "are one run"))
case("cli", "labels: one model and configuration in two folders",
     cli("labels", run_folder("A", "A"), run_folder("B", "B"), "--output", lambda ctx: ctx.tmp / "l.jsonl"),
     exits(2, "are one run (of model and configuration"))
case("cli", "labels: runs on different metadata versions",
     cli("labels", run_folder("A", "A", "ka", "v1"), run_folder("B", "B", "kb", "v2"), "--output",
         lambda ctx: ctx.tmp / "l.jsonl"), exits(0, "different metadata versions (A: v1, B: v2)"))
case("metadata", "ids X, X, X#dup2", load_rows(lambda r: [{**r, "id": "X"}, {**r, "id": "X"}, {**r, "id": "X#dup2"}]),
     loaded(3, lambda lb: len({r.id for r in lb.records}) == 3 and "X#dup2" in {r.id for r in lb.records},
            "with three distinct ids, X#dup2 kept for the record that has it"))
for setting, fragment in [("stages.sft.per_device_batch=0", "per_device_batch=0"),
                          ("stages.sft.max_steps=-3", "max_steps=-3"), ("stages.sft.epochs=-1", "epochs=-1")]:
    case("cli", f"train: {setting}", cli("train", "--recipe", "all_sft", setting, "data=x.jsonl", "--output",
                                         lambda ctx: ctx.tmp / "out"), exits(2, f"impossible settings: {fragment}"))


def two_runs(between: Callable, second_model: str = "stub"):
    """Run a stub model into OUT, do `between(out)`, then run `second_model` there: the second run's exit code."""
    def run(ctx):
        from ac_eval.testing.stub_models import write_stub

        out = ctx.tmp / "out"
        models = {name: write_stub(ctx.tmp / name, "guesser", "mmau", bench(ctx) / "mmau" / "mmau-test-mini.json",
                                   "test-mini") for name in {"stub", second_model}}
        args = ["--tasks", "mmau", "--data_dir", bench(ctx), "--limit", "2", "--output_path", out]
        assert ctx.cli("--model_args", f"pretrained={models['stub']}", *args) == 0, ctx.err()
        between(out)
        return ctx.cli("--model_args", f"pretrained={models[second_model]}", *args)
    return run


def refused_and_last_run_readable(fragment: str, model: str = "stub") -> Callable:
    def check(outcome, ctx):
        exits(2, fragment)(outcome, ctx)
        from ac_eval.run import read_run

        results = read_run(ctx.tmp / "out")  # the last complete run, whole and coherent
        assert results["model"]["name"] == model
        assert not list((ctx.tmp / "out").glob(".staging-*")), "the staged run was left behind"
    return check


def plots_become_a_file(out: Path) -> None:
    shutil.rmtree(out / "plots")
    (out / "plots").write_text("not a folder")


case("cli", "a rerun where plots/ is a file", two_runs(plots_become_a_file),
     refused_and_last_run_readable("is a file where the run writes its plots"))
case("cli", "a second model into the same --output_path", two_runs(lambda out: None, "other-stub"),
     refused_and_last_run_readable("holds a finished run of another model (stub"))


def tiny_clips(ctx):
    """The benchmark with its first two clips 1 sample and 10 ms long (shorter than one 25 ms analysis window)."""
    root = ctx.tmp / "root"
    shutil.copytree(bench(ctx) / "mmau", root / "mmau")
    records = json.loads((root / "mmau" / "mmau-test-mini.json").read_text())[:2]
    for record, n in zip(records, (1, 160)):
        sf.write(root / "mmau" / record["audio_id"], np.full(n, 0.1, dtype=np.float32), 16000)
    return root


def scored_without_item_errors(outcome, ctx):
    exits(0, "")(outcome, ctx)
    rows = [json.loads(line) for line in (ctx.tmp / "out" / "samples.jsonl").read_text().splitlines()]
    assert rows and all(r["status"] in ("ok", "unparseable", "empty") for r in rows), [r["error"] for r in rows]


case("cli", "run: clips of 1 sample and 10 ms", cli("--model_args", ckpt_args, "--tasks", "mmau", "--conditions",
                                                    "original", "--data_dir", tiny_clips, "--limit", "2", "--output_path",
                                                    lambda ctx: ctx.tmp / "out"), scored_without_item_errors)


def original_only(ctx):
    folder = run_folder("A", "A")(ctx)
    text = (folder / "samples.jsonl").read_text().replace('"condition": "silent"', '"condition": "original"')
    (folder / "samples.jsonl").write_text(text)
    return folder


case("cli", "labels: runs with no silent condition", cli("labels", original_only, "--k", "1", "--output",
                                                         lambda ctx: ctx.tmp / "l.jsonl"),
     exits(2, "none of the runs has answers under the 'silent' condition"))


def flac_declaring(total_samples: int, seconds: float = 3.0) -> bytes:
    """A FLAC of `seconds` of a tone whose STREAMINFO declares `total_samples` (0: a stream that declares no length,
    as an encoder writing to a pipe leaves it; legal FLAC)."""
    buf = io.BytesIO()
    sf.write(buf, (0.1 * np.sin(np.arange(int(16000 * seconds)) / 10)).astype(np.float32), 16000, format="FLAC")
    data = bytearray(buf.getvalue())
    assert data[:4] == b"fLaC"
    fields = int.from_bytes(data[18:26], "big") & ~((1 << 36) - 1)  # rate, channels, bits; then 36 bits of length
    data[18:26] = (fields | total_samples).to_bytes(8, "big")
    data[26:42] = bytes(16)  # the MD5 of the samples: unknown
    return bytes(data)


def with_limit(seconds: float, make: Callable) -> Callable:
    def run(ctx):
        ctx.fixture("monkeypatch").setattr("ac_eval.evaluation.audio.MAX_AUDIO_SECONDS", seconds)
        return make(ctx)
    return run


DAY = 24 * 3600 * 16000
case("audio", "a streamed FLAC (no length in its header)", audio(file_bytes(flac_declaring(0), "s.flac")), samples(48000))
case("audio", "a streamed FLAC under silent-matched", audio(file_bytes(flac_declaring(0), "s.flac"), "silent-matched"),
     samples(48000, "zeros"))
case("audio", "a FLAC whose header says 24 h", audio(file_bytes(flac_declaring(DAY), "d.flac")),
     raises(AudioError, "is 86,400 s long (its header says)"))
case("audio", "silent-matched on a header that says 24 h", audio(file_bytes(flac_declaring(DAY), "d.flac"),
                                                                 "silent-matched"), raises(AudioError, "is 86,400 s long"))
case("audio", "a streamed FLAC longer than the limit", with_limit(2, audio(file_bytes(flac_declaring(0), "s.flac"))),
     raises(AudioError, "runs past 2 s (decoding stopped there)"))
case("audio", "a WAV at 1 Hz (10,000 s in 40 KB)", audio(wav(np.zeros(10_000) + 0.1, sr=1)),
     raises(AudioError, "is 10,000 s long (its header says)"))


def patched(target: str, value: Any, make: Callable) -> Callable:
    def run(ctx):
        ctx.fixture("monkeypatch").setattr(target, value)
        return make(ctx)
    return run


def read_only(*args, **kwargs):
    import errno

    raise OSError(errno.EROFS, "Read-only file system", str(kwargs.get("dir", "")))


def garbage_cache(out: Path) -> None:
    for db in (out / "cache").glob("*.db"):
        db.write_bytes(b"this is not a database, it only looks like one" * 20)


def cache_is_a_file(out: Path) -> None:
    shutil.rmtree(out / "cache")
    (out / "cache").write_text("x")


def without_tasks(make: Callable) -> Callable:
    def run(ctx):
        folder = make(ctx)
        results = json.loads((folder / "results.json").read_text())
        del results["tasks"]
        (folder / "results.json").write_text(json.dumps(results))
        return folder
    return run


def cut_mid_line(make: Callable) -> Callable:
    def run(ctx):
        folder = make(ctx)
        text = (folder / "samples.jsonl").read_text()
        (folder / "samples.jsonl").write_text(text + text[: len(text) // 2])
        return folder
    return run


case("cli", "score: a read-only output folder", patched("ac_eval.files.tempfile.mkstemp", read_only, cli(
    "score", "--benchmark", "mmau", *MMAU_META, "--predictions", predictions_file("x"), "--output",
    lambda ctx: ctx.tmp / "s.json")), exits(2, "Read-only file system"))
case("cli", "run: a cache file that is not a database", two_runs(garbage_cache), exits(2, "not a readable database"))
case("cli", "run: OUT/cache is a file", two_runs(cache_is_a_file), exits(2, "is a file where the run keeps its request cache"))
case("metadata", "100,000 nested brackets", load_text("[" * 100_000), raises(MetadataError, "nested too deeply"))
case("cli", "score: metadata of 100,000 brackets", cli("score", "--benchmark", "mmau", "--metadata",
                                                       lambda ctx: (ctx.tmp / "m.json").write_text("[" * 100_000)
                                                       and ctx.tmp / "m.json", "--predictions", predictions_file("x"),
                                                       "--output", lambda ctx: ctx.tmp / "s.json"),
     exits(2, "nested too deeply"))
case("cli", "report: results.json without tasks", cli("report", without_tasks(run_folder("A", "A"))),
     exits(2, "not an ac-eval results file (no tasks)"))
case("cli", "labels: samples.jsonl cut mid-line", cli("labels", cut_mid_line(run_folder("A", "A")), "--k", "1",
                                                      "--output", lambda ctx: ctx.tmp / "l.jsonl"),
     exits(2, "samples.jsonl:2: not a JSON line"))
case("metadata", "an unpaired surrogate in a question", load_rows(with_(question="What is \ud800 this?")),
     skipped("unpaired surrogate"))
case("audio", "a clip without read permission", patched("ac_eval.evaluation.audio.os.access", lambda *a: False,
                                                         audio(wav(tone))), raises(AudioError, "permission denied"))
case("audio", "an MP3 that is only an ID3 tag", audio(file_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00", "t.mp3")),
     raises(AudioError, "no audio libsndfile can read"))


def finished_stub_run(edit: Callable[[dict], None] | None = None):
    """A real run of a stub model (2 items), its results.json then edited by `edit`."""
    def make(ctx):
        from ac_eval.testing.stub_models import write_stub

        model = write_stub(ctx.tmp / "stub", "guesser", "mmau", bench(ctx) / "mmau" / "mmau-test-mini.json", "test-mini")
        out = ctx.tmp / "out"
        assert ctx.cli("--model_args", f"pretrained={model}", "--tasks", "mmau", "--data_dir", bench(ctx), "--limit", "2",
                       "--output_path", out) == 0, ctx.err()
        if edit:
            results = json.loads((out / "results.json").read_text())
            edit(results)
            (out / "results.json").write_text(json.dumps(results))
        return out
    return make


def accuracy_to(value: float) -> Callable[[dict], None]:
    def edit(results):
        results["tasks"]["mmau_test_mini"]["conditions"]["original"]["accuracy"] = value
    return edit


def no_run_id(results: dict) -> None:
    del results["run_id"]


def board_is_json(outcome, ctx):
    exits(0, "")(outcome, ctx)
    json.loads((ctx.tmp / "b" / "leaderboard.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the board"))


case("cli", "leaderboard: a hand-edited accuracy", cli("leaderboard", "publish", finished_stub_run(accuracy_to(0.97)),
                                                       "--output", lambda ctx: ctx.tmp / "b"),
     exits(2, "the files disagree"))
case("cli", "leaderboard: results.json without a run id", cli("leaderboard", "publish", finished_stub_run(no_run_id),
                                                              "--output", lambda ctx: ctx.tmp / "b"),
     exits(2, "no run id"))
case("cli", "labels: results.json without a run id", cli("labels", finished_stub_run(no_run_id), "--k", "1",
                                                         "--output", lambda ctx: ctx.tmp / "l.jsonl"), exits(2, "no run id"))
case("cli", "leaderboard: a NaN accuracy", cli("leaderboard", "validate", lambda ctx: (ctx.tmp / "l.json").write_text(
    json.dumps({"entries": [{"model": "m", "accuracy_audio": {"official": float("nan")}}]})) and ctx.tmp / "l.json"),
     exits(2, "is nan: a figure must be a finite number"))
case("cli", "leaderboard: publish writes strict JSON", cli("leaderboard", "publish", finished_stub_run(), "--output",
                                                           lambda ctx: ctx.tmp / "b"), board_is_json)
case("metadata", "an id that is an object", load_rows(with_(id={"a": 1})), skipped("ids are text or whole numbers"))
case("metadata", "an id that is a boolean", load_rows(with_(id=True)), skipped("ids are text or whole numbers"))
case("metadata", "a NaN subset value", load_rows(with_(difficulty=float("nan"))),
     loaded(1, lambda lb: lb.records[0].subsets["difficulty"] is None, "left out of the subset, not a 'nan' group"))


def scored_with_warning(fragment: str) -> Callable:
    def check(outcome, ctx):
        exits(0, fragment)(outcome, ctx)
    return check


def repeated_predictions(ctx):
    path = ctx.tmp / "p.jsonl"
    line = json.dumps({"id": _first_mmau_id(), "prediction": "x"}) + "\n"
    path.write_text(line * 3)
    return path


def metadata_with_a_repeated_id(ctx):
    rows = json.loads(shared_file("mmau", "mmau-test-mini.json").read_text())[:3]
    rows.append(dict(rows[0]))
    (ctx.tmp / "m.json").write_text(json.dumps(rows))
    return ctx.tmp / "m.json"


def answer_without_words(ctx):
    rows = json.loads(shared_file("mmau", "mmau-test-mini.json").read_text())[:2]
    rows[0] = {**rows[0], "choices": ["!!!", *rows[0]["choices"][1:]], "answer": "!!!"}
    (ctx.tmp / "m.json").write_text(json.dumps(rows))
    return ctx.tmp / "m.json"


case("cli", "score: repeated prediction ids", cli("score", "--benchmark", "mmau", *MMAU_META, "--predictions",
                                                  repeated_predictions, "--output", lambda ctx: ctx.tmp / "s.json"),
     scored_with_warning("2 lines repeat an id already predicted"))
case("cli", "score: a metadata id that appears twice", cli("score", "--benchmark", "mmau", "--metadata",
                                                           metadata_with_a_repeated_id, "--predictions",
                                                           predictions_file("x"), "--output", lambda ctx: ctx.tmp / "s.json"),
     scored_with_warning("1 metadata records repeat an id"))
case("cli", "score: an answer with no words", cli("score", "--benchmark", "mmau", "--metadata", answer_without_words,
                                                  "--predictions", predictions_file("anything"), "--output",
                                                  lambda ctx: ctx.tmp / "s.json"),
     lambda code, ctx: (code == 0 or pytest.fail(f"exit {code}")) and _shown_in_the_output(
         ctx, "answers without words (any output matches) 1"))


def _shown_in_the_output(ctx, fragment: str) -> bool:
    out = ctx.capsys.readouterr().out
    assert fragment in out, out
    return True


# ---- requests to ac-eval serve --------------------------------------------------------------------------------

def post(body: bytes | dict | list, headers: dict | None = None, path: str = "/v1/chat/completions", method: str = "POST"):
    def run(ctx):
        port = ctx.fixture("tiny_server")
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        hdrs = {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}
        conn.putrequest(method, path)
        for k, v in hdrs.items():
            if v is not None:
                conn.putheader(k, v)
        conn.endheaders()
        if method == "POST":
            try:
                conn.send(data)
            except OSError:
                pass  # the server may answer (413) and close before reading
        reply = conn.getresponse()
        return reply.status, reply.read().decode(errors="replace")
    return run


def chat(content: Any, **kw) -> dict:
    return {"model": "tiny", "messages": [{"role": "user", "content": content}], "max_tokens": 2, **kw}


def audio_part(data: bytes) -> dict:
    return {"type": "input_audio", "input_audio": {"data": base64.b64encode(data).decode(), "format": "wav"}}


def float_wav(values) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.asarray(values, dtype=np.float32), 16000, format="WAV", subtype="FLOAT")
    return buf.getvalue()


case("server", "a JSON array body", post([1, 2]), http_status(400, "not an object"))
case("server", "a small FLAC whose header says 3 h", post(chat([{"type": "text", "text": "q"},
                                                              audio_part(flac_declaring(3 * 3600 * 16000, 1.0))])),
     http_status(400, "is 10,800 s long (its header says)"))
case("server", "a message that is a number", post({"messages": [5]}), http_status(400, "messages[0] is a int"))
case("server", "a string content part", post(chat(["hello"])), http_status(400, "not a content part object"))
case("server", "max_tokens 'abc'", post(chat("hi", max_tokens="abc")), http_status(400, "max_tokens"))
case("server", "max_tokens -5", post(chat("hi", max_tokens=-5)), http_status(400, "max_tokens -5"))
case("server", "max_tokens 0", post(chat("hi", max_tokens=0)), http_status(400, "max_tokens 0"))
case("server", "max_tokens true", post(chat("hi", max_tokens=True)), http_status(400, "max_tokens True"))
case("server", "temperature 'hot'", post(chat("hi", temperature="hot")), http_status(400, "temperature"))
case("server", "temperature -1", post(chat("hi", temperature=-1)), http_status(400, "temperature -1"))
case("server", "temperature NaN", post(b'{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}'),
     http_status(400, "temperature nan"))
case("server", "top_p 2", post(chat("hi", top_p=2)), http_status(400, "top_p 2"))
case("server", "stop is a number", post(chat("hi", stop=5)), http_status(400, "stop"))
def refused_by_the_parser(outcome, ctx):
    """h11 answers 400 and closes at once, without reading the body: the client may see the 400 or, when its body
    arrives after the close, a reset. Either way the request is refused and nothing else is served."""
    if isinstance(outcome, (ConnectionResetError, http.client.RemoteDisconnected)):
        return
    assert not isinstance(outcome, BaseException), outcome
    assert outcome[0] == 400, f"HTTP {outcome[0]}, expected 400 from the HTTP parser"


case("server", "Content-Length not a number", post(chat("hi"), {"Content-Length": "lots"}), refused_by_the_parser)
case("server", "no Content-Length", post(chat("hi"), {"Content-Length": None}), http_status(411, "Content-Length"))
case("server", "a body that is not JSON", post(b"{not json"), http_status(400, "not JSON"))
case("server", "a body that is not UTF-8", post('{"a": "\xe9"}'.encode("latin-1")), http_status(400, "not JSON"))
case("server", "a body over the limit", post(chat("x" * 300_000)), http_status(413, "at most"))
case("server", "an unknown route", post(chat("hi"), path="/v1/embeddings"), http_status(404, "no route"))
case("server", "stream: true", post(chat("hi", stream=True)), http_status(200, "data: [DONE]"))
case("server", "stream: 'yes'", post(chat("hi", stream="yes")), http_status(400, "stream"))
case("server", "audio that is not base64", post(chat([{"type": "input_audio", "input_audio": {"data": "%%%", "format": "wav"}}])),
     http_status(400, "not base64"))
case("server", "audio bytes that are no audio", post(chat([audio_part(b"garbage" * 20)])), http_status(400, "could not be decoded"))
case("server", "NaN audio samples", post(chat([audio_part(float_wav([0.1, float("nan"), 0.2]))])), http_status(400, "NaN or infinite"))
case("server", "empty audio", post(chat([audio_part(float_wav([]))])), http_status(400, "empty"))
case("server", "two audio parts", post(chat([audio_part(float_wav([0.1] * 160)), audio_part(float_wav([0.1] * 160))])),
     http_status(400, "at most one input_audio"))
case("server", "an unknown part type", post(chat([{"type": "image_url", "image_url": {"url": "x"}}])),
     http_status(400, "unsupported content part type 'image_url'"))
case("server", "an unknown role", post({"messages": [{"role": "robot", "content": "hi"}]}), http_status(400, "role 'robot'"))
case("server", "no messages", post({"model": "tiny"}), http_status(400, "'messages'"))
case("server", "a prompt longer than the context", post(chat("why " * 5000)), http_status(400, "exceeds the model's context"))
case("server", "a good request", post(chat([{"type": "text", "text": "hi"}, audio_part(float_wav([0.1] * 1600))])),
     http_status(200, '"content"'))
case("server", "the model list", post(b"", path="/v1/models", method="GET"), http_status(200, '"tiny"'))
case("server", "an unknown GET", post(b"", path="/v1/nothing", method="GET"), http_status(404, "no route"))



def raw(data: bytes):
    """Send raw bytes on one connection; every HTTP response the server sent before closing it (or 10 s passed)."""
    import socket

    def run(ctx):
        port = ctx.fixture("tiny_server")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(data)
            received = b""
            try:
                while chunk := conn.recv(65536):
                    received += chunk
            except TimeoutError:
                pass
        return received.decode(errors="replace")
    return run


def responses(*statuses: int, fragment: str = "") -> Callable:
    def check(outcome, ctx):
        assert not isinstance(outcome, BaseException), outcome
        import re

        found = [int(code) for code in re.findall(r"HTTP/1\.1 (\d{3}) ", outcome)]  # a body ends with no newline
        assert found == list(statuses), f"responses {found}, expected {list(statuses)}: {outcome[:400]!r}"
        assert fragment in outcome, outcome[:400]
    return check


SMUGGLED = b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
BODY = json.dumps(chat("hi")).encode()


def _chunked(body: bytes) -> bytes:
    return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


def _post_head(*headers: str) -> bytes:
    return ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + "".join(h + "\r\n" for h in headers) + "\r\n").encode()


case("server", "Content-Length beside chunked, a request hidden in the body",
     raw(_post_head("Content-Length: 4", "Transfer-Encoding: chunked") + _chunked(BODY) + SMUGGLED),
     responses(400))
case("server", "two different Content-Lengths", raw(_post_head(f"Content-Length: {len(BODY)}", "Content-Length: 4")
                                                    + BODY + SMUGGLED), responses(400))
case("server", "a chunked body, then a second request on the connection",
     raw(_post_head("Transfer-Encoding: chunked") + _chunked(BODY) + SMUGGLED.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")),
     responses(200, 200, fragment='"tiny"'))
def slow_head(ctx):
    """A client that sends half a request line and waits (slowloris), with the head deadline at 1 s."""
    import time

    ctx.fixture("monkeypatch").setattr("ac_eval.models.serve.HEAD_TIMEOUT_S", 1.0)
    start = time.monotonic()
    received = raw(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Le")(ctx)
    return received, time.monotonic() - start


case("server", "a head that never ends (slowloris)", slow_head,
     returns(lambda outcome: outcome[0] == "" and outcome[1] < 8, "the connection closed after the 1 s deadline"))
case("server", "100,000 nested arrays", post(b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
     http_status(400, "nested too deeply"))

# ---- the test ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fake_api():
    from fake_openai import FakeOpenAI

    fake = FakeOpenAI(hang_seconds=2.5)
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def tiny_server(backend):
    from ac_eval.models.serve import make_server

    server = make_server(backend, "127.0.0.1", 0, "tiny", max_body_mb=0.2)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch):
    import types

    import ac_eval.models.openai_api as api_module

    # Backoff is not what these cases test: the client's sleeps go (only the client's: the fake server still hangs).
    monkeypatch.setattr(api_module, "time", types.SimpleNamespace(sleep=lambda s: None))


def test_the_corpus_is_large_and_covers_every_kind():
    kinds = {c.kind for c in CASES}
    assert kinds == {"metadata", "audio", "cli", "api", "server"} and len(CASES) >= 100
    assert len({(c.kind, c.name) for c in CASES}) == len(CASES)


CASE_DEADLINE_S = 120


class CaseDeadline(Exception):
    pass


def _deadline_passed(signum, frame):
    raise CaseDeadline()


@pytest.mark.parametrize("bad", CASES, ids=[f"{c.kind}: {c.name}" for c in CASES])
def test_bad_input(bad: Case, tmp_path, request, capsys):
    ctx = Ctx(tmp_path, request, capsys)
    signal.signal(signal.SIGALRM, _deadline_passed)
    signal.alarm(CASE_DEADLINE_S)  # a hang fails this case instead of stopping the suite
    try:
        outcome = bad.run(ctx)
    except Exception as e:  # noqa: BLE001 - the expectation decides whether an exception was the right outcome
        outcome = e
    finally:
        signal.alarm(0)
    assert not isinstance(outcome, CaseDeadline), f"hung: no outcome after {CASE_DEADLINE_S} s"
    bad.expect(outcome, ctx)
    if bad.kind == "cli" and bad.name.startswith("train:"):
        assert not (tmp_path / "out").exists(), "a refused training wrote its output folder"
    shutil.rmtree(tmp_path / "root", ignore_errors=True)
