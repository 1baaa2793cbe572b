"""A benchmark is one module plus a registry entry: everything else (tasks, YAMLs, CLI choices, filtering, the board)
follows from the registry. Proved with a small benchmark that lives in one file in a temporary folder."""

import json
import subprocess
import sys

import jsonlines
import pytest

from ac_eval.cli import main
from ac_eval.evaluation import benchmarks
from ac_eval.evaluation.task_specs import generated_files
from ac_eval.paths import TASKS_DIR

PLUGIN = '''
"""A toy benchmark: the whole definition ac-eval needs."""
from ac_eval.evaluation.benchmarks import Benchmark, Split, register

register(Benchmark(name="toybench", description="toy: which animal is it?", splits=(Split("test", "toy.json"),),
                   subset_keys=("kind",), prediction_keys=("model_output",)))
'''


def test_task_yamls_are_generated_from_the_registry_and_current():
    """tasks/ holds exactly what the registry generates (regenerate: ac-eval tasks --write tasks)."""
    files = generated_files()
    on_disk = {p.name for p in TASKS_DIR.iterdir() if p.suffix == ".yaml" or p.name == "_template_yaml"}
    assert on_disk == set(files)
    stale = [name for name, text in files.items() if (TASKS_DIR / name).read_text() != text]
    assert not stale, f"regenerate with `ac-eval tasks --write tasks`: {stale}"
    assert main(["tasks", "--check", str(TASKS_DIR)]) == 0


def test_task_folder_files_have_one_source(tmp_path):
    """utils.py exists once, as tasks/utils.py: `ac-eval tasks --write` copies it (a copy kept in the code drifts, as
    the old UTILS_PY string did), and no module holds its text."""
    from ac_eval.evaluation.task_specs import write_task_files
    from ac_eval.paths import PACKAGE

    write_task_files(tmp_path / "tasks")
    shipped = (TASKS_DIR / "utils.py").read_text()
    assert (tmp_path / "tasks" / "utils.py").read_text() == shipped
    opening = shipped.splitlines()[0]
    holders = [p for p in PACKAGE.rglob("*.py") if "_data" not in p.parts and opening in p.read_text()]
    assert not holders, f"{holders} keep a copy of tasks/utils.py: copy the file instead"


@pytest.fixture()
def toybench(tmp_path, monkeypatch):
    """The plugin module, its data (real-looking records, synthetic clips) and a stub model that knows them."""
    from ac_eval.testing.stub_models import write_stub
    from ac_eval.testing.synthetic_audio import write_synthetic_audio

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "toybench.py").write_text(PLUGIN)
    monkeypatch.setenv("AC_EVAL_PLUGINS", str(plugins / "toybench.py"))
    animals = ["dog", "cat", "cow", "owl"]
    rows = [{"id": f"t{i}", "audio_path": f"./clips/t{i}.wav", "question": f"Which animal is it ({i})?",
             "choices": animals, "answer": animals[i % 4], "kind": ["mammal", "bird"][i % 4 == 3]} for i in range(8)]
    data = tmp_path / "data"
    (data / "toybench").mkdir(parents=True)
    (data / "toybench" / "toy.json").write_text(json.dumps(rows))
    benchmarks.load_plugins()
    write_synthetic_audio(benchmarks.load_benchmark("toybench", data / "toybench" / "toy.json").records)
    stub = write_stub(tmp_path / "stub", "listener", "toybench", data / "toybench" / "toy.json", planted=["t0"])
    yield {"plugins": plugins, "data": data, "stub": stub, "rows": rows}
    benchmarks.BENCHMARKS.pop("toybench", None)
    benchmarks._loaded_plugins.clear()


def test_a_new_benchmark_is_one_module(toybench, tmp_path, capsys):
    assert [p.name for p in toybench["plugins"].iterdir() if p.suffix == ".py"] == ["toybench.py"]  # the module count
    # discovered from a fresh process, listed with its generated task names
    listed = subprocess.run([sys.executable, "-m", "ac_eval", "tasks"], capture_output=True, text=True, check=True)
    assert "toybench\ttoybench test\tconditions: toybench_silent" in listed.stdout

    # run end to end (both conditions), with the registry's defaults: AudioMCQ prompt, official string match
    out = tmp_path / "run"
    assert main(["--model_args", f"pretrained={toybench['stub']}", "--tasks", "toybench", "--data_dir",
                 str(toybench["data"]), "--output_path", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())["tasks"]["toybench"]
    assert results["conditions"]["original"]["accuracy"] == 1.0  # the listener hears every clip
    assert set(results["conditions"]["original"]["subsets"]["kind"]) == {"mammal", "bird"}
    assert results["scorer"]["official"] and results["delta"]["silent"]["n"] == 8
    rows = list(jsonlines.open(out / "samples.jsonl"))
    assert {(r["condition"], r["mode"]) for r in rows} == {("original", "generate"), ("silent", "generate")}

    # score: the benchmark is a choice, and its official prediction field is read
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps([{**r, "model_output": r["answer"]} for r in toybench["rows"]]))
    assert main(["score", "--benchmark", "toybench", "--predictions", str(preds), "--output", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["accuracy_official"] == 1.0

    # labels, filter to the strong subset, and that subset's task runs
    labels = tmp_path / "labels.jsonl"
    assert main(["labels", str(out), "--k", "1", "--names", "a", "--output", str(labels)]) == 0
    subset = tmp_path / "strong" / "toy-strong.json"
    assert main(["filter", "--labels", str(labels), "--keep", "strong", "--benchmark", "toybench",
                 "--metadata", str(toybench["data"] / "toybench" / "toy.json"), "--output", str(subset)]) == 0
    wrong_in_silence = {r["id"] for r in rows if r["condition"] == "silent" and not r["correct"]}
    assert "t0" not in wrong_in_silence  # planted: text-solvable for the stub
    assert {r["id"] for r in json.loads(subset.read_text())} == wrong_in_silence
    strong = tmp_path / "strong-run"
    assert main(["--model_args", f"pretrained={toybench['stub']}", "--tasks", "toybench_strong", "--include_path",
                 str(subset.parent), "--output_path", str(strong)]) == 0

    # the board takes both runs; its rows name the benchmark's tasks
    assert main(["leaderboard", "publish", str(out), str(strong), "--no-reported", "--output", str(tmp_path / "b")]) == 0
    board = json.loads((tmp_path / "b" / "leaderboard.json").read_text())
    assert [(e["benchmark"], e["strong_n"]) for e in board["entries"]] == [("toybench", len(wrong_in_silence))]

    # and lm-eval users get its YAMLs
    assert main(["tasks", "--write", str(tmp_path / "yamls")]) == 0
    assert (tmp_path / "yamls" / "toybench_silent.yaml").is_file() and (tmp_path / "yamls" / "toybench_ac.yaml").is_file()
    capsys.readouterr()


def test_cli_choices_follow_the_registry(toybench):
    from ac_eval.cli import build_parser

    args = build_parser().parse_args(["score", "--benchmark", "toybench", "--predictions", "p", "--output", "o"])
    assert args.benchmark == "toybench"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["score", "--benchmark", "nosuchbench", "--predictions", "p", "--output", "o"])
