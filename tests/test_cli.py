import subprocess
import sys

from ac_eval.cli import build_parser, main


def test_module_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "ac_eval", "--help"], capture_output=True, text=True, check=True)
    for word in ("run", "score", "tiny-model", "demo", "report"):
        assert word in out.stdout


def test_plain_flags_mean_run():
    args = build_parser().parse_args(["run", "--tasks", "mmau,mmar", "--limit", "50"])
    assert args.func.__name__ == "cmd_run" and args.conditions == "original,silent" and args.model == "hf"


def test_tiny_model_command(tmp_path):
    assert main(["tiny-model", "--arch", "qwen2-audio", "--output", str(tmp_path / "ck"), "--seed", "3"]) == 0
    assert (tmp_path / "ck" / "model.safetensors").stat().st_size < 5_000_000
    assert (tmp_path / "ck" / "chat_template.jinja").exists()


def test_bad_metadata_override_is_a_clear_error(capsys):
    assert main(["--model", "hf", "--model_args", "pretrained=x", "--tasks", "mmau", "--metadata", "nonsense"]) == 2
    assert "expected NAME=FILE" in capsys.readouterr().err


def test_unknown_task_is_a_clear_error(capsys):
    assert main(["--model_args", "pretrained=x", "--tasks", "mmlu"]) == 2
    assert "unknown task 'mmlu'" in capsys.readouterr().err
