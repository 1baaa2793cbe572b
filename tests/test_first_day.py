"""What a researcher meets on the first day (issue 23): a mistyped checkpoint or no network is one line at once,
numbers that mean little say so, published files behave as files on a web server should."""

import socket
import subprocess
import sys

import pytest

from ac_eval.cli import main
from ac_eval.models import checkpoints
from ac_eval.models.checkpoints import CheckpointNotFound, check_pretrained


@pytest.fixture
def no_hub(monkeypatch, tmp_path):
    """An empty hub cache, and a record of every attempt to reach the hub (each one refused)."""
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    attempts = []

    def refuse(address, *args, **kwargs):
        attempts.append(address)
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def test_a_mistyped_local_folder_is_not_taken_for_a_hub_id(no_hub, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "tiny-qwen2-audio").mkdir(parents=True)
    (tmp_path / "runs" / "tiny-qwen2-audio" / "config.json").write_text("{}")
    with pytest.raises(CheckpointNotFound, match=r"checkpoint folder not found: runs/tiny-qwen2-audoi .*did you mean runs/tiny-qwen2-audio\?"):
        check_pretrained("runs/tiny-qwen2-audoi")
    assert no_hub == []  # a local path never asks the hub
    check_pretrained("runs/tiny-qwen2-audio")  # the folder itself is fine
    (tmp_path / "runs" / "empty").mkdir()
    with pytest.raises(CheckpointNotFound, match="no config.json"):
        check_pretrained("runs/empty")


def test_a_hub_id_without_network_or_cache_is_one_error(no_hub, monkeypatch):
    with pytest.raises(CheckpointNotFound, match="cannot be reached from this machine"):
        check_pretrained("Org/never-downloaded")
    assert no_hub and no_hub[0][0] == "huggingface.co"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    no_hub.clear()
    with pytest.raises(CheckpointNotFound, match="HF_HUB_OFFLINE is set"):
        check_pretrained("Org/never-downloaded", option="base_model")
    assert no_hub == []  # offline means not even a probe


def test_a_hub_id_in_the_local_cache_needs_no_network(no_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    repo = tmp_path / "hub-cache" / "models--Org--cached-model"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "config.json").write_text("{}")
    check_pretrained("Org/cached-model")
    assert no_hub == []
    # a reachable hub lets an uncached id through to the download
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(checkpoints, "hub_reachable", lambda timeout=1.5: True)
    check_pretrained("Org/not-cached-yet")


def test_run_and_train_end_in_one_line_with_exit_2(no_hub, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    meta = tmp_path / "m.json"
    meta.write_text('[{"id": "a", "question": "q?", "choices": ["x", "y"], "answer": "x", "audio_id": "a.wav"}]')
    code = main(["--model", "hf", "--model_args", "pretrained=runs/tiny-qwen2-audoi", "--tasks", "mmau",
                 "--metadata", f"mmau={meta}", "--conditions", "silent", "--output_path", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "checkpoint folder not found" in err[0]
    assert not (tmp_path / "out").exists()
    code = main(["train", "--recipe", "weak_sft_strong_grpo", "data=x.jsonl", "--output", str(tmp_path / "t")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "base_model=Qwen/Qwen2.5-Omni-7B" in err[0]
    assert not (tmp_path / "t").exists()


def test_train_checks_its_base_before_importing_torch(tmp_path):
    """A wrong base model is reported before the training stack is imported: the point of a one-second check."""
    code = ("import sys; from ac_eval.cli import main; rc = main(['train', '--recipe', 'weak_sft_strong_grpo', "
            "'data=x.jsonl', 'base_model=runs/nowhere/x']); print(rc, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["2", "False"], done.stderr[-2000:]


# ---- numbers that mean little say so --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mumbling_runs(bench_root, tmp_path_factory):
    """Three voters whose generated answers are all unparseable and one that answers, on 12 of 1000 items."""
    from ac_eval.run import RunConfig, run
    from ac_eval.testing.stub_models import write_stub

    root = tmp_path_factory.mktemp("mumble")
    meta = bench_root / "mmau" / "mmau-test-mini.json"
    out = []
    for i, behaviour in enumerate(["mumbler", "mumbler", "mumbler", "listener"]):
        stub = write_stub(root / f"{behaviour}{i}", behaviour, "mmau", meta, "test-mini", seed=i)
        run(RunConfig(tasks=["mmau"], conditions=["original", "silent"], model_args=f"pretrained={stub}",
                      data_dir=str(bench_root), limit=12, output_path=str(root / f"run{i}")))
        out.append(root / f"run{i}")
    return out


def test_reports_flag_partial_runs_and_mostly_unparseable_conditions(mumbling_runs):
    import json

    report = json.loads((mumbling_runs[0] / "results.json").read_text())["tasks"]["mmau_test_mini"]
    assert report["partial"] == {"limit": 12, "n_items": 12, "n_records": 1000}
    caveats = report["caveats"]
    assert any("partial run: 12 of the benchmark's 1000 items" in c for c in caveats)
    assert any(c.startswith("silent: 100% of answers unparseable") and "Δ" in c for c in caveats)
    assert any(c.startswith("original: 100%") for c in caveats)
    md = (mumbling_runs[0] / "report.md").read_text()
    assert md.count("> **Caveat:**") == len(caveats)
    listener = json.loads((mumbling_runs[3] / "results.json").read_text())["tasks"]["mmau_test_mini"]
    assert [c for c in listener["caveats"] if "unparseable" in c] == []  # it answers: only the partial caveat
    assert len(listener["caveats"]) == 1


def test_labels_from_unparseable_voters_warn_and_strict_refuses(mumbling_runs, tmp_path, capsys):
    import json

    out = tmp_path / "labels.jsonl"
    assert main(["labels", *map(str, mumbling_runs[:3]), "--output", str(out)]) == 0
    err = capsys.readouterr().err
    assert "3 of 3 voters answered mostly unparseably" in err and "--strict" in err
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    assert len(summary["voters_mostly_unparseable"]) == 3
    strict_out = tmp_path / "strict.jsonl"
    assert main(["labels", *map(str, mumbling_runs[:3]), "--output", str(strict_out), "--strict"]) == 2
    assert "--strict" in capsys.readouterr().err and not strict_out.exists()
    # voters that answer: nothing to say, --strict passes
    listeners = [str(mumbling_runs[3])] * 1
    assert main(["labels", *listeners, "--k", "1", "--output", str(tmp_path / "ok.jsonl"), "--strict"]) == 0
    assert "unparseabl" not in capsys.readouterr().err


# ---- the board ---------------------------------------------------------------------------------------------------

def test_board_rows_carry_caveats_and_publishing_again_keeps_the_board(mumbling_runs, tmp_path, capsys):
    import json
    import os

    board_dir = tmp_path / "board"
    assert main(["leaderboard", "publish", str(mumbling_runs[0]), "--output", str(board_dir)]) == 0
    first = json.loads((board_dir / "leaderboard.json").read_text())["entries"]
    mine = [e for e in first if e["source"] == "measured"]
    assert len(mine) == 1 and mine[0]["partial"] is True and len(mine[0]["caveats"]) == 3
    capsys.readouterr()
    # publishing another run into the same folder adds to the board; it does not replace it
    assert main(["leaderboard", "publish", str(mumbling_runs[3]), "--output", str(board_dir)]) == 0
    second = json.loads((board_dir / "leaderboard.json").read_text())["entries"]
    assert len(second) == len(first) + 1
    assert f"already held {len(first)} entries: all kept" in capsys.readouterr().err
    assert main(["leaderboard", "publish", str(mumbling_runs[3]), "--output", str(board_dir), "--replace"]) == 0
    assert len(json.loads((board_dir / "leaderboard.json").read_text())["entries"]) == len(first)
    # published files follow the umask (a web server running as another user must read them)
    old = os.umask(0o027)
    try:
        assert main(["leaderboard", "publish", str(mumbling_runs[3]), "--output", str(tmp_path / "b2")]) == 0
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "b2").iterdir()}
    assert modes and set(modes.values()) == {0o640}, modes


def test_runs_on_custom_metadata_are_not_shown_as_the_benchmark(mumbling_runs, bench_root, tmp_path):
    """`--metadata mmau=my.json` with a file that is none of MMAU's published versions is another benchmark."""
    from ac_eval.board.build import entries_from_run
    from ac_eval.run import RunConfig, run
    from ac_eval.testing.stub_models import write_stub

    (entry,) = entries_from_run(mumbling_runs[3])
    assert entry["benchmark"] == "mmau_test_mini"  # the published file: MMAU test-mini
    import json

    custom = tmp_path / "mine.json"
    rows = json.loads((bench_root / "mmau" / "mmau-test-mini.json").read_text())[:12]
    for r in rows:
        r["audio_id"] = str(bench_root / "mmau" / r["audio_id"])
    custom.write_text(json.dumps(rows))
    stub = write_stub(tmp_path / "stub", "listener", "mmau", custom, "test-mini")
    run(RunConfig(tasks=["mmau"], conditions=["original", "silent"], model_args=f"pretrained={stub}",
                  metadata_files={"mmau": str(custom)}, output_path=str(tmp_path / "run"),
                  allow_audio_outside_root=True))
    (entry,) = entries_from_run(tmp_path / "run")
    assert entry["benchmark"].startswith("mmau_test_mini_custom_") and entry["partial"] is False
    assert entry["provenance"]["metadata_version"] == "unknown"


# ---- small things a newcomer notices ---------------------------------------------------------------------------

def test_tiny_model_prints_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "ac_eval", "tiny-model", "--output", str(tmp_path / "t")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.splitlines() == [
        f"wrote a tiny randomly initialised qwen2-audio checkpoint to {tmp_path / 't'}"], repr(done.stdout)


def test_training_progress_names_each_stage_once():
    from ac_eval.post_training.stages import stage_label

    assert stage_label("sft", "sft") == "sft" and stage_label("grpo", "grpo") == "grpo"
    assert stage_label("grpo", "strong-only") == "grpo: strong-only"
