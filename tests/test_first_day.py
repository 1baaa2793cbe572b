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
    with pytest.raises(CheckpointNotFound, match=r"checkpoint folder not found.*did you mean runs/tiny-qwen2-audio\?"):
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
