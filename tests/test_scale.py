"""Runs at AudioMCQ's scale, in miniature: metadata read from disk when asked for, a run in chunks, resume after
kill -9, shards and their merge. Memory and items/s are measured by perf/perf_scale.py, never here."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonlines
import pytest

from ac_eval.analysis.labels import read_labels
from ac_eval.cli import main
from ac_eval.evaluation import lm_eval_hooks as hooks
from ac_eval.evaluation.benchmarks import base, load_benchmark
from ac_eval.run.chunks import Shard
from ac_eval.testing.stub_models import write_stub

TESTS = Path(__file__).parent


def _rows(folder: Path) -> list[tuple]:
    return sorted((r["task"], r["id"], r["prediction"], r["correct"], r["status"])
                  for r in jsonlines.open(folder / "samples.jsonl"))


def _tasks(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())["tasks"]


def _odd_audiomcq(path: Path) -> Path:
    """AudioMCQ lines with what loading must get right: a byte-order mark, a blank line, an id three times (and a
    fourth line already named like its renamed copy), a line missing its question, a line that is not an object,
    an answer that is no choice."""
    rows = [{"source_dataset": "Clotho", "id": f"q{i}", "question_type": "sound", "audio_path": f"./a/{i}.wav",
             "question": f"What is heard in {i}?", "choices": ["rain", "a dog", "a car", "speech"], "answer": "rain"}
            for i in range(30)]
    rows[3]["id"] = rows[4]["id"] = rows[2]["id"]
    rows[5]["id"] = rows[2]["id"] + "#dup2"
    del rows[7]["question"]
    rows[9] = [1, 2]
    rows[11]["answer"] = "thunder"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" + ("\n" if i == 20 else "") for i, r in enumerate(rows)),
                    encoding="utf-8-sig")
    return path


def test_a_large_jsonl_is_read_from_disk_as_the_same_records(bench_root, tmp_path, monkeypatch):
    odd = _odd_audiomcq(tmp_path / "audiomcq" / "audiomcq.jsonl")
    for name, path, split in [("mmar", bench_root / "mmar" / "MMAR-meta.jsonl", "test"), ("audiomcq", odd, "train")]:
        eager = load_benchmark(name, path, split)
        monkeypatch.setattr(base, "STREAM_BYTES", 0)  # every jsonl file counts as large
        lazy = load_benchmark(name, path, split)
        monkeypatch.setattr(base, "STREAM_BYTES", 32 << 20)
        assert isinstance(lazy.records, base.LazyRecords) and isinstance(eager.records, list)
        assert len(lazy.records) == len(eager.records) and list(lazy.records) == eager.records
        assert list(lazy.records[5:9]) == eager.records[5:9] and lazy.records[7] == eager.records[7]
        assert (lazy.skipped, lazy.issue_counts(), lazy.sha256) == (eager.skipped, eager.issue_counts(), eager.sha256)
    assert eager.issue_counts() == {"duplicate_id": 2, "answer_not_in_choices": 1, "skipped: malformed": 2}
    assert [r.id for r in eager.records[2:6]] == ["q2", "q2#dup3", "q2#dup4", "q2#dup2"]


def test_a_run_in_chunks_is_the_run_in_one(bench_root, tmp_path, monkeypatch):
    mmau = bench_root / "mmau" / "mmau-test-mini.json"
    planted = [r.id for r in load_benchmark("mmau", mmau, "test-mini").records[:30:3]]
    stub = write_stub(tmp_path / "stub", "listener", "mmau", mmau, "test-mini", planted, seed=1)
    args = ["run", "--model_args", f"pretrained={stub}", "--tasks", "mmau", "--data_dir", str(bench_root),
            "--conditions", "original,silent,silent-rotated", "--limit", "30", "--batch_size", "4"]
    assert main([*args, "--output_path", str(tmp_path / "whole")]) == 0
    assert main([*args, "--chunk-size", "7", "--output_path", str(tmp_path / "chunked")]) == 0
    assert len(list((tmp_path / "chunked" / "cache").glob("*-chunks/*/*.jsonl"))) == 5  # 7+7+7+7+2 items
    assert _rows(tmp_path / "chunked") == _rows(tmp_path / "whole")
    assert _tasks(tmp_path / "chunked") == _tasks(tmp_path / "whole")

    # MMAR's jsonl read from disk a chunk at a time (as a 571k-item file is): the same run
    mmar = bench_root / "mmar" / "MMAR-meta.jsonl"
    guesser = write_stub(tmp_path / "guesser", "guesser", "mmar", mmar, "test", seed=2)
    args = ["run", "--model_args", f"pretrained={guesser}", "--tasks", "mmar", "--data_dir", str(bench_root),
            "--conditions", "silent", "--batch_size", "16"]
    assert main([*args, "--output_path", str(tmp_path / "mmar_whole")]) == 0
    hooks.load_cached.cache_clear()
    monkeypatch.setattr(base, "STREAM_BYTES", 0)
    try:
        assert main([*args, "--chunk-size", "150", "--output_path", str(tmp_path / "mmar_chunked")]) == 0
        assert isinstance(hooks.load_cached("mmar", str(mmar), "test").records, base.LazyRecords)
    finally:
        hooks.load_cached.cache_clear()
    assert _rows(tmp_path / "mmar_chunked") == _rows(tmp_path / "mmar_whole")
    assert len(_rows(tmp_path / "mmar_whole")) == 1000
    assert _tasks(tmp_path / "mmar_chunked") == _tasks(tmp_path / "mmar_whole")


def test_kill_9_mid_chunk_loses_at_most_the_batch_being_computed(bench_root, tmp_path):
    stub = write_stub(tmp_path / "stub", "guesser", "mmau", bench_root / "mmau" / "mmau-test-mini.json",
                      "test-mini", seed=3)
    out = tmp_path / "run"
    args = ["run", "--model_args", f"pretrained={stub}", "--tasks", "mmau", "--conditions", "silent",
            "--data_dir", str(bench_root), "--limit", "40", "--batch_size", "4", "--chunk-size", "10",
            "--output_path", str(out)]
    # Batches of 4: chunk 1 is batches 1-3 (4+4+2 items), chunk 2 starts with batches 4 and 5; killed as batch 6
    # (chunk 2's last) starts.
    killed = subprocess.run([sys.executable, str(TESTS / "kill_driver.py"), *args], cwd=str(TESTS), timeout=300,
                            env={**os.environ, "KILL_AT_BATCH": "6"}, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not (out / "results.json").exists()
    assert main(args) == 0
    # chunk 1 was finished and chunk 2's first two batches committed: 18 items are not computed again
    assert json.loads((out / "results.json").read_text())["cache"] == {"items": 40, "evaluated": 22, "from_cache": 18}
    assert main([*args[:-1], str(tmp_path / "uninterrupted")]) == 0
    assert _rows(out) == _rows(tmp_path / "uninterrupted")

    # Killed after batch 5's results were written to the cache, before they were committed: the rerun rolls the
    # open transaction back (the cache stays readable) and computes batch 5 again, nothing more.
    out = tmp_path / "mid_commit"
    args[-1] = str(out)
    killed = subprocess.run([sys.executable, str(TESTS / "kill_driver.py"), *args], cwd=str(TESTS), timeout=300,
                            env={**os.environ, "KILL_AT_COMMIT": "5"}, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert main(args) == 0
    assert json.loads((out / "results.json").read_text())["cache"] == {"items": 40, "evaluated": 26, "from_cache": 14}
    assert _rows(out) == _rows(tmp_path / "uninterrupted")


def test_shards_merge_into_the_whole_run_and_label_as_one(bench_root, tmp_path, capsys):
    mmau = bench_root / "mmau" / "mmau-test-mini.json"
    planted = [r.id for r in load_benchmark("mmau", mmau, "test-mini").records[:40:4]]
    whole, merged = [], []
    for i, (behaviour, seed) in enumerate([("listener", 1), ("listener", 2), ("guesser", 3)]):
        stub = write_stub(tmp_path / f"stub{i}", behaviour, "mmau", mmau, "test-mini", planted, seed)
        args = ["run", "--model_args", f"pretrained={stub}", "--tasks", "mmau", "--data_dir", str(bench_root),
                "--conditions", "original,silent", "--limit", "40", "--batch_size", "8"]
        assert main([*args, "--output_path", str(tmp_path / f"whole{i}")]) == 0
        for k in (3, 1, 2):
            assert main([*args, "--shard", f"{k}/3", "--output_path", str(tmp_path / f"m{i}_shard{k}")]) == 0
        shards = [str(tmp_path / f"m{i}_shard{k}") for k in (2, 3, 1)]
        assert main(["merge", *shards, "--output", str(tmp_path / f"merged{i}")]) == 0
        whole.append(tmp_path / f"whole{i}")
        merged.append(tmp_path / f"merged{i}")
        assert _rows(merged[-1]) == _rows(whole[-1])
        assert _tasks(merged[-1]) == _tasks(whole[-1])
    shard = json.loads((tmp_path / "m0_shard2" / "results.json").read_text())["tasks"]["mmau_test_mini"]
    assert shard["partial"]["shard"] == "2/3" and shard["partial"]["n_items"] == 13  # 40 = 14 + 13 + 13
    assert any("--shard 2/3" in c for c in shard["caveats"])

    assert main(["labels", *map(str, whole), "--output", str(tmp_path / "whole.jsonl")]) == 0
    assert main(["labels", *map(str, merged), "--output", str(tmp_path / "merged.jsonl")]) == 0
    labels = read_labels(tmp_path / "whole.jsonl")
    assert read_labels(tmp_path / "merged.jsonl") == labels and len(labels) == 40
    # a merged run is the run it joins: given beside it, its votes would count twice
    assert main(["labels", str(whole[0]), str(merged[0]), str(whole[1]), "--output", str(tmp_path / "x.jsonl")]) == 2
    capsys.readouterr()

    # what merge refuses, before it writes anything
    assert main(["merge", str(tmp_path / "m0_shard1"), str(tmp_path / "m0_shard2"), "--output", str(tmp_path / "no")]) == 2
    assert "missing 3/3" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "m0_shard1"), str(tmp_path / "m1_shard2"), str(tmp_path / "m0_shard3"),
                 "--output", str(tmp_path / "no")]) == 2
    assert "not shards of one run" in capsys.readouterr().err
    assert main(["merge", str(whole[0]), "--output", str(tmp_path / "no")]) == 2
    shard_dirs = [str(tmp_path / f"m0_shard{k}") for k in (1, 2, 3)]
    assert main(["merge", *shard_dirs, "--output", shard_dirs[0]]) == 2
    assert not (tmp_path / "no" / "results.json").exists()
    assert main([*args, "--shard", "41/41", "--output_path", str(tmp_path / "empty")]) == 2  # 40 items, 41 shards
    assert "holds none" in capsys.readouterr().err


@pytest.mark.parametrize("n", [0, 1, 7, 40, 571_118])
def test_shards_cover_the_items_once(n):
    spans = [Shard(k, 7).items(n) for k in range(1, 8)]
    assert spans[0][0] == 0 and spans[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert max(b - a for a, b in spans) - min(b - a for a, b in spans) <= 1
    for bad in ("0/3", "4/3", "3", "a/b"):
        with pytest.raises(ValueError, match="K/N"):
            Shard.parse(bad)
