"""The wheel is the package: built from this checkout, installed into a fresh venv, run from an unrelated folder.

Nothing may come from the checkout or the current directory: the fresh venv sees the project's dependencies (its
site-packages) but not the editable install, and every command runs in a folder outside the repository."""

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import jsonlines
import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _sh(cmd: list[str], cwd: Path, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, **kw)
    assert done.returncode == 0, f"{cmd} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a fresh venv holding only the built wheel (plus a path to the project's dependencies)."""
    root = tmp_path_factory.mktemp("wheel")
    _sh([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-w", str(root / "dist")],
        cwd=root)
    wheel = next((root / "dist").glob("ac_eval-*.whl"))
    base = getattr(sys, "_base_executable", sys.executable)
    _sh([base, "-m", "venv", "--without-pip", str(root / "venv")], cwd=root)
    site = Path(_sh([str(root / "venv" / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=root).stdout.strip())
    # The dependencies, not ac_eval: a .pth line adds the folder but does not run the editable install's own .pth.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _sh([sys.executable, "-m", "pip", "--python", str(root / "venv" / "bin" / "python"), "install", "--no-deps", str(wheel)],
        cwd=root)
    return root / "venv" / "bin"


def test_the_wheel_runs_without_the_checkout(installed, bench_root, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    python, ac_eval = str(installed / "python"), str(installed / "ac-eval")
    where = _sh([python, "-c", "import ac_eval, ac_eval.paths as p; print(ac_eval.__file__); print(p.TASKS_DIR)"], cwd=work)
    package_file, tasks_dir = where.stdout.split()
    assert not Path(package_file).is_relative_to(REPO), package_file
    assert Path(tasks_dir).is_relative_to(Path(package_file).parent) and (Path(tasks_dir) / "_template_yaml").exists()

    _sh([ac_eval, "tiny-model", "--output", "ck"], cwd=work)
    _sh([ac_eval, "--model_args", "pretrained=ck", "--tasks", "mmau", "--mode", "choice", "--limit", "6",
         "--data_dir", str(bench_root), "--output_path", "run"], cwd=work)
    results = json.loads((work / "run" / "results.json").read_text())
    assert results["tasks"]["mmau_test_mini"]["conditions"]["original"]["n_total"] == 6

    _sh([ac_eval, "labels", "run", "--k", "1", "--output", "labels.jsonl"], cwd=work)
    labels = list(jsonlines.open(work / "labels.jsonl"))
    keep = next(lab for lab in ("strong", "weak") if any(r["label"] == lab for r in labels))
    _sh([ac_eval, "filter", "--labels", "labels.jsonl", "--keep", keep, "--benchmark", "mmau",
         "--metadata", str(bench_root / "mmau" / "mmau-test-mini.json"), "--output", "subset/mmau.json"], cwd=work)
    assert "/" not in (work / "subset" / f"mmau_test_mini_{keep}.yaml").read_text().split("include:")[1].split()[0]
    (work / "subset").rename(work / "moved")  # the folder of tasks works wherever it goes
    _sh([ac_eval, "--model_args", "pretrained=ck", "--tasks", f"mmau_test_mini_{keep}", "--mode", "choice",
         "--include_path", "moved", "--output_path", "subset-run"], cwd=work)
    subset = json.loads((work / "subset-run" / "results.json").read_text())
    n_kept = sum(r["label"] == keep for r in labels)
    assert subset["tasks"][f"mmau_test_mini_{keep}"]["conditions"]["silent"]["n_total"] == n_kept

    _sh([ac_eval, "leaderboard", "publish", "run", "--output", "board"], cwd=work)
    assert (work / "board" / "index.html").exists() and (work / "board" / "leaderboard.json").exists()
