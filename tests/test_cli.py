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


def test_the_command_exits_with_the_run_left_to_the_os_not_collected():
    """`ac-eval` and `python -m ac_eval` freeze the garbage collector once the command is done (the interpreter's
    exit then skips its collection passes over what torch leaves alive) and keep the command's exit status."""
    probe = ("import atexit, gc, sys\n"
             "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))\n"
             "sys.argv = ['ac_eval'] + sys.argv[1:]\n"
             "import runpy; runpy.run_module('ac_eval', run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", probe, "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and "frozen True" in done.stdout
    failed = subprocess.run([sys.executable, "-c", probe, "--model_args", "pretrained=x", "--tasks", "mmlu"],
                            capture_output=True, text=True)
    assert failed.returncode == 2 and "unknown task 'mmlu'" in failed.stderr
