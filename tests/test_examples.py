"""The commands the README and docs show are run by these tests, so an example that no longer runs as written
fails CI: every `ac-eval` line is parsed by the real parser, the lm-eval example runs on a tiny checkpoint as
written, and the README's real-model example (which needs a GPU and 7B weights) fails in a second with one line
when the weights cannot be had."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ac_eval.cli import build_parser, normalize_argv

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def commands(block: str) -> list[str]:
    """One string per command: continuation lines joined, `&&` chains split."""
    joined = re.sub(r"\\\n\s*", " ", block)
    out = []
    for line in joined.splitlines():
        out += [c.strip() for c in line.split("&&") if c.strip() and not c.strip().startswith("#")]
    return out


def ac_eval_argv(command: str) -> list[str] | None:
    """The arguments `ac-eval` gets from a documented command (also under accelerate/torchrun/python -m);
    `...` (the docs' "and so on") is dropped."""
    tokens = shlex.split(command, comments=True)
    for i, t in enumerate(tokens):
        if t.endswith("ac-eval"):
            rest = tokens[i + 1:]
            break
        if t == "-m" and i + 1 < len(tokens) and tokens[i + 1] == "ac_eval":
            rest = tokens[i + 2:]
            break
    else:
        return None
    return [t for t in rest if t != "..."]


def documented_ac_eval_commands() -> list[tuple[str, str, list[str]]]:
    found = []
    for page in PAGES:
        for block in bash_blocks(page.read_text()):
            for command in commands(block):
                argv = ac_eval_argv(command)
                if argv is not None:
                    found.append((page.name, command, argv))
    return found


def test_every_documented_ac_eval_command_parses():
    found = documented_ac_eval_commands()
    assert len(found) >= 20, "the docs' commands were not found: has the extraction broken?"
    parser = build_parser()
    for page, command, argv in found:
        try:
            parser.parse_args(normalize_argv(argv))
        except SystemExit as e:
            pytest.fail(f"{page}: `{command}` does not parse (exit {e.code})")


def _sandbox(tmp_path: Path, bench_root: Path | None) -> dict:
    """A HOME with ~/bench and an empty hub cache, the project's python first on PATH, the hub offline."""
    home = tmp_path / "home"
    home.mkdir()
    if bench_root:
        (home / "bench").symlink_to(bench_root)
    env = {**os.environ, "HOME": str(home), "HF_HOME": str(home / "hf"), "HF_HUB_OFFLINE": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("HF_HUB_CACHE", None)
    return env


def _run(command: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_the_lm_eval_example_runs_as_written(bench_root, tmp_path):
    block = next(b for b in bash_blocks((ROOT / "docs" / "backends.md").read_text()) if "python -m ac_eval.lm_eval" in b)
    env = _sandbox(tmp_path, bench_root)
    for command in commands(block):
        done = _run(command, tmp_path, env)
        assert done.returncode == 0, f"`{command}` failed:\n{done.stderr[-3000:]}"
    result = next((tmp_path / "out").rglob("results_*.json"))
    assert '"mmau_test_mini_silent"' in result.read_text()
    import torch

    if not torch.cuda.is_available():  # lm-eval's default device is cuda:0: ours says it took the CPU instead
        assert "running on the CPU instead" in done.stderr


def test_the_readme_real_model_example_fails_fast_without_the_weights(bench_root, tmp_path):
    """7B weights on a GPU cannot be had here: the example must still parse and end in one line, exit 2."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Evaluating a real model", 1)[1]
    command = commands(bash_blocks(section)[0])[0]
    done = _run(command.replace("ac-eval", "python -m ac_eval", 1), tmp_path, _sandbox(tmp_path, bench_root))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("ac-eval: error:") and ("Qwen/Qwen2-Audio-7B-Instruct" in lines[0] or "CUDA" in lines[0])
