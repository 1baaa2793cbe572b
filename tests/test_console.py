"""Output that survives pipes: full-width tables, plain and json formats, progress as log lines on stderr."""

import io
import json
import subprocess
import sys

from ac_eval.cli import main
from ac_eval.console import LogProgress, progress
from ac_eval.models.catalogue import CATALOGUE


def _ac_eval(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "ac_eval", *args], capture_output=True, text=True, check=True)
    return done.stdout


def test_piped_tables_are_full_width_and_greppable():
    out = _ac_eval("models")
    for entry in CATALOGUE.values():
        lines = [line for line in out.splitlines() if f" {entry.name} " in line]
        assert len(lines) == 1, (entry.name, lines)  # one row, one line: `ac-eval models | grep NAME` works
        model_id = next(iter(entry.model_args.split(",")))
        assert model_id.split("=", 1)[1] in lines[0]
    assert "…" not in out


def test_models_as_json_and_plain():
    rows = json.loads(_ac_eval("models", "--json"))
    assert [r["name"] for r in rows] == list(CATALOGUE) and all(isinstance(r["ready_here"], bool) for r in rows)
    plain = _ac_eval("models", "--format", "plain").splitlines()
    assert plain[0].startswith("# Model catalogue") and plain[1].split("\t")[:3] == ["name", "backend", "model"]
    assert len(plain) == 2 + len(CATALOGUE) and all(line.count("\t") == 5 for line in plain[1:])


def test_progress_is_log_lines_when_not_interactive():
    stream = io.StringIO()
    with LogProgress(every=1000, stream=stream) as bar:
        task = bar.add_task("generate", total=4)
        for _ in range(3):
            bar.advance(task)
        assert stream.getvalue() == ""  # nothing yet: less than `every` seconds passed
        bar.advance(task)
    assert stream.getvalue().splitlines() == [stream.getvalue().splitlines()[0]]  # one line at completion, not two
    assert stream.getvalue().startswith("generate: 4/4 (100%)")
    stream = io.StringIO()
    with LogProgress(every=0, stream=stream) as bar:
        task = bar.add_task("train", total=10, info="")
        bar.update(task, advance=5, info="loss 0.5")
    assert stream.getvalue().splitlines()[0].startswith("train: 5/10 (50%)") and "loss 0.5" in stream.getvalue()
    assert isinstance(progress(), LogProgress)  # pytest's stderr is not a terminal


def test_run_as_json_keeps_stdout_for_the_report(tiny_ckpt, bench_root, tmp_path, capsys):
    assert main(["--model_args", f"pretrained={tiny_ckpt},name=my-model", "--tasks", "mmau", "--mode", "choice", "--limit", "3",
                 "--data_dir", str(bench_root), "--output_path", str(tmp_path), "--format", "json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # nothing but the report on stdout
    assert report["tasks"]["mmau_test_mini"]["conditions"]["original"]["n_total"] == 3
    assert report["model"]["name"] == "my-model" and report["model"]["key"] == str(tiny_ckpt.resolve())
    assert "score choices: 6/6 (100%)" in captured.err  # progress reached stderr as a log line
    assert main(["report", str(tmp_path), "--format", "plain"]) == 0
    plain = capsys.readouterr().out
    assert any(line.split("\t")[0] == "Overall" for line in plain.splitlines())


def test_a_piped_table_keeps_its_title_on_one_line():
    from rich.table import Table

    from ac_eval.console import OutputConsole

    stream = io.StringIO()
    table = Table(title="a title much longer than the narrow table below it, which rich would wrap at its width")
    table.add_column("n")
    table.add_row("1")
    OutputConsole(file=stream).print(table)
    assert stream.getvalue().splitlines()[0].strip() == table.title and table.title  # restored afterwards


def test_piped_output_has_no_trailing_padding():
    out = _ac_eval("models")
    assert out and not [line for line in out.splitlines() if line != line.rstrip()]


def _terminal(width: int):
    from ac_eval.console import OutputConsole

    stream = io.StringIO()
    return OutputConsole(file=stream, width=width, force_terminal=True, color_system=None), stream


def _four_condition_report() -> dict:
    def stats(n, acc):
        return {"n_total": n, "n_scored": n, "accuracy": acc, "accuracy_official": acc, "accuracy_strict": acc,
                "random_guess": 0.27, "n_unparseable": 0, "n_empty": 0, "n_audio_error": 0, "n_ambiguous_hits": 0,
                "subsets": {"sub-category": {"loudness": {"n_total": 21, "n_scored": 21, "accuracy": acc,
                                                          "random_guess": 0.28}}}}
    conds = {"original": stats(120, 0.975), "silent": stats(120, 0.642), "silent-rotated": stats(457, 0.626),
             "silent-no-question": stats(120, 0.517)}
    delta = {"delta": 0.333, "n": 120, "subsets": {"sub-category": {"loudness": {"delta": 0.476, "n": 21}}}}
    return {"tasks": {"synthbench_test": {
        "benchmark": "mmau", "subset_keys": ["sub-category"], "conditions": conds,
        "delta": {"silent": delta, "silent-no-question": delta}}}}


def test_a_four_condition_table_at_100_columns_hides_nothing():
    from ac_eval.analysis.report import print_report

    console, stream = _terminal(100)
    print_report(_four_condition_report(), console)
    text = stream.getvalue()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 100
    for word in ("rotated", "question", "Random", "sub-category:", "loudness", "+33.3", "+47.6"):
        assert word in text, word


def test_the_catalogue_on_a_narrow_terminal_keeps_hub_ids_whole(monkeypatch):
    import ac_eval.console

    console, stream = _terminal(100)
    monkeypatch.setattr(ac_eval.console, "make_console", lambda fmt="rich", stderr=False: console)
    assert main(["models"]) == 0
    lines = stream.getvalue().splitlines()
    for entry in CATALOGUE.values():
        model_id = next(iter(entry.model_args.split(","))).split("=", 1)[1]
        assert any(model_id in line for line in lines), model_id
    assert max(len(line) for line in lines) <= 100
