import json
import shutil
from pathlib import Path

import jsonlines
import pytest

from ac_eval.run import RunConfig, run
from ac_eval.evaluation.task_specs import builtin_specs, declared_specs, plan
from ac_eval.paths import TASKS_DIR as TASKS


def names(specs):
    return [s.name for s in specs]


def test_task_names_and_conditions():
    specs = builtin_specs()
    assert {s.base for s in specs.values()} == {"mmau_test_mini", "mmau_test", "mmar", "mmsu", "audiomcq"}
    assert specs["mmau_test"].split == "test" and specs["mmsu"].benchmark == "mmsu" and specs["mmau"].base == "mmau_test_mini"
    assert names(plan(["mmau", "mmar"], ["original", "silent"])) == [
        "mmau_test_mini", "mmau_test_mini_silent", "mmar", "mmar_silent"]
    assert names(plan(["mmsu_silent_matched"], ["original", "silent"])) == ["mmsu_silent_matched"]
    assert names(plan(["mmar"], ["none", "noise", "shuffled"])) == ["mmar_none", "mmar_noise", "mmar_shuffled"]
    (silent,) = plan(["mmau_test_silent"], ["original"], mode="choice")
    assert (silent.base, silent.condition, silent.mode) == ("mmau_test", "silent", "choice")  # parameters, not a name
    with pytest.raises(ValueError, match="unknown task"):
        plan(["mmlu"], ["original"])
    with pytest.raises(ValueError, match="unknown condition"):
        plan(["mmar"], ["loud"])


@pytest.fixture(scope="module")
def generate_run(tiny_ckpt, bench_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = RunConfig(tasks=["mmau_test_mini", "mmar"], model_args=f"pretrained={tiny_ckpt},max_new_tokens=24",
                    data_dir=str(bench_root), limit=50, output_path=str(out), batch_size=8)
    return cfg, run(cfg)


def test_end_to_end_generate_writes_tables_and_samples(generate_run):
    cfg, report = generate_run
    out = Path(cfg.output_path)
    rows = list(jsonlines.open(out / "samples.jsonl"))
    assert len(rows) == 4 * 50
    assert {(r["task"], r["base_task"], r["condition"]) for r in rows} == {
        ("mmau_test_mini", "mmau_test_mini", "original"), ("mmau_test_mini_silent", "mmau_test_mini", "silent"),
        ("mmar", "mmar", "original"), ("mmar_silent", "mmar", "silent")}
    for key in ("id", "task", "condition", "prediction", "correct"):
        assert all(key in r for r in rows)
    assert all(isinstance(r["prediction"], str) for r in rows)
    mmau = report["tasks"]["mmau_test_mini"]
    assert set(mmau["conditions"]) == {"original", "silent"}
    assert mmau["conditions"]["original"]["n_total"] == 50
    assert mmau["metadata_version"] == "test-mini 2025-08-09 (f0a4a97, v05.15.25, latest)"
    assert set(mmau["conditions"]["silent"]["subsets"]) == {"task", "difficulty", "sub-category"}
    assert set(report["tasks"]["mmar"]["conditions"]["original"]["subsets"]) == {"modality", "category", "sub-category"}
    # the headline delta is paired: over the items scored under both conditions, computed here from the samples
    by_cond = {c: {r["id"]: r["correct"] for r in rows if r["base_task"] == "mmau_test_mini" and r["condition"] == c}
               for c in ("original", "silent")}
    both = [i for i in by_cond["original"] if by_cond["original"][i] is not None and by_cond["silent"].get(i) is not None]
    expected = sum(by_cond["original"][i] - by_cond["silent"][i] for i in both) / len(both)
    assert mmau["delta"]["silent"]["official"] == pytest.approx(expected) and mmau["delta"]["silent"]["n"] == len(both)
    saved = json.loads((out / "results.json").read_text())
    assert saved["prompt"]["mmar"]["template"].startswith("{question} Please choose")
    assert saved["tasks"]["mmar"]["generation"]["max_new_tokens"] == 24  # the model_arg took effect
    assert saved["tasks"]["mmar"]["scorer"]["official"] and saved["tasks"]["mmar"]["scorer"]["extraction"] == "r1-aqa"
    assert "<|audio_bos|><|AUDIO|><|audio_eos|>" in saved["chat_template"]
    report_md = (out / "report.md").read_text()
    assert "| Overall | 50 |" in report_md and f"({len(both)}) |" in report_md
    assert saved["run_status"]["exit_code"] == 0
    # lm-eval's own outputs are there too
    lm_files = list((out / "lm_eval").rglob("*.json*"))
    assert any(p.name.startswith("results_") for p in lm_files) and any(p.name.startswith("samples_") for p in lm_files)


def test_rerun_resumes_from_cache(generate_run, monkeypatch):
    """A second run of the same command reads every answer from the cache: the model is never called."""
    from ac_eval.models.qwen2_audio import Qwen2AudioBackend

    cfg, first = generate_run

    def boom(*a, **k):
        raise AssertionError("model called although every item is cached")

    monkeypatch.setattr(Qwen2AudioBackend, "generate", boom)
    again = run(cfg)
    for task in ("mmau_test_mini", "mmar"):
        assert again["tasks"][task]["conditions"] == first["tasks"][task]["conditions"]
    assert first["cache"] == {"items": 200, "evaluated": 200, "from_cache": 0}
    assert again["cache"] == {"items": 200, "evaluated": 0, "from_cache": 200}  # and the run says so


def test_choice_mode(tiny_ckpt, bench_root, tmp_path):
    cfg = RunConfig(tasks=["mmau"], model_args=f"pretrained={tiny_ckpt}", data_dir=str(bench_root), limit=20,
                    output_path=str(tmp_path), mode="choice")
    report = run(cfg)
    rows = list(jsonlines.open(tmp_path / "samples.jsonl"))
    assert len(rows) == 40
    # in choice mode the prediction is always one of the options: nothing is unparseable
    assert all(r["status"] == "ok" and r["prediction"].startswith("<answer>") for r in rows)
    acc = report["tasks"]["mmau_test_mini"]["conditions"]["original"]["accuracy_official"]
    assert acc == sum(r["correct"] for r in rows if r["condition"] == "original") / 20


def test_audio_errors_are_counted_and_the_run_goes_on(tiny_ckpt, bench_root, tmp_path):
    root = tmp_path / "bench"
    shutil.copytree(bench_root / "mmau", root / "mmau")
    records = json.loads((root / "mmau" / "mmau-test-mini.json").read_text())[:6]
    (root / "mmau" / (records[0]["audio_id"])).unlink()  # missing
    (root / "mmau" / (records[1]["audio_id"])).write_bytes(b"not audio")  # corrupt
    cfg = RunConfig(tasks=["mmau"], model_args=f"pretrained={tiny_ckpt},max_new_tokens=8", data_dir=str(root), limit=6,
                    output_path=str(tmp_path / "out"), batch_size=4)
    report = run(cfg)
    original = report["tasks"]["mmau_test_mini"]["conditions"]["original"]
    assert original["n_audio_error"] == 2 and original["n_total"] == 6 and original["n_scored"] == 4
    assert report["tasks"]["mmau_test_mini"]["conditions"]["silent"]["n_audio_error"] == 0  # silence needs no file
    # the delta is over the 4 items scored with audio AND with silence, not 4 against 6
    rows = list(jsonlines.open(tmp_path / "out" / "samples.jsonl"))
    right = {(r["condition"], r["id"]): r["correct"] for r in rows}
    paired = [r["id"] for r in rows if r["condition"] == "original" and r["correct"] is not None]
    delta = report["tasks"]["mmau_test_mini"]["delta"]["silent"]
    assert delta["n"] == 4 and delta["official"] == pytest.approx(
        sum(right[("original", i)] - right[("silent", i)] for i in paired) / 4)
    assert "(4) |" in (tmp_path / "out" / "report.md").read_text().split("| Overall |")[1].split("\n")[0]
    # 2 of 6 items failed: above the default --max-error-rate of 5%, so the run says so (outputs still written)
    status = report["run_status"]
    assert status["exit_code"] == 5 and "2 of 6 items failed" in status["problems"][0]
    assert status["conditions"]["mmau_test_mini"]["original"] == {
        "n_total": 6, "scored": 4, "errors": 2, "skipped": 0, "error_rate": pytest.approx(1 / 3)}
    errors = [r for r in jsonlines.open(tmp_path / "out" / "samples.jsonl") if r["status"] == "audio_error"]
    assert {r["id"] for r in errors} == {records[0]["id"], records[1]["id"]}
    assert any("not found" in r["error"] for r in errors) and any("cannot decode" in r["error"] for r in errors)

    # Fix the missing file and rerun the same command: the failed item is evaluated now (failures are not
    # cached), the other items come from the cache.
    import numpy as np
    import soundfile as sf

    sf.write(root / "mmau" / records[0]["audio_id"], np.zeros(1600, dtype=np.float32) + 0.1, 16000)
    rerun = run(cfg)
    again = rerun["tasks"]["mmau_test_mini"]["conditions"]["original"]
    assert again["n_audio_error"] == 1 and again["n_scored"] == 5
    assert rerun["cache"]["evaluated"] == 2 and rerun["cache"]["from_cache"] == rerun["cache"]["items"] - 2
    assert run(RunConfig(**{**cfg.__dict__, "max_error_rate": 0.5}))["run_status"]["exit_code"] == 0


def test_choice_mode_failures_carry_their_reason(tiny_ckpt, bench_root, tmp_path):
    """Choice mode hands lm-eval numbers: why an item failed travels with its (NaN, False, reason) results into the
    verdict, so samples.jsonl says "not found" or "cannot decode" per item, and nothing failed is cached."""
    root = tmp_path / "bench"
    shutil.copytree(bench_root / "mmau", root / "mmau")
    records = json.loads((root / "mmau" / "mmau-test-mini.json").read_text())[:4]
    (root / "mmau" / (records[0]["audio_id"])).unlink()
    (root / "mmau" / (records[1]["audio_id"])).write_bytes(b"not audio")
    cfg = RunConfig(tasks=["mmau"], conditions=["original"], mode="choice", model_args=f"pretrained={tiny_ckpt}",
                    data_dir=str(root), limit=4, output_path=str(tmp_path / "out"), max_error_rate=1.0)
    report = run(cfg)
    assert report["tasks"]["mmau_test_mini"]["conditions"]["original"]["n_audio_error"] == 2
    errors = {r["id"]: r["error"] for r in jsonlines.open(tmp_path / "out" / "samples.jsonl") if r["status"] == "audio_error"}
    assert set(errors) == {records[0]["id"], records[1]["id"]}
    assert "not found" in errors[records[0]["id"]] and "cannot decode" in errors[records[1]["id"]]
    assert all("option_logprobs" not in r for r in jsonlines.open(tmp_path / "out" / "samples.jsonl") if r["error"])
    rerun = run(cfg)  # the failures were not cached: asked again
    assert rerun["cache"]["evaluated"] == 2


def test_mmau_test_writes_a_submission_instead_of_a_score(tiny_ckpt, bench_root, tmp_path):
    cfg = RunConfig(tasks=["mmau_test"], conditions=["original"], model_args=f"pretrained={tiny_ckpt},max_new_tokens=8",
                    metadata_files={"mmau_test": str(bench_root / "mmau" / "mmau-test-mini.json")},
                    limit=5, output_path=str(tmp_path))
    report = run(cfg)
    assert report["tasks"]["mmau_test"]["conditions"]["original"]["accuracy_official"] is None
    assert report["run_status"]["exit_code"] == 0  # nothing can be scored, but every item was answered
    submission = json.loads((tmp_path / "submission_mmau_test.json").read_text())
    extracted = {r["id"]: r["extracted"] for r in jsonlines.open(tmp_path / "samples.jsonl")}
    # evaluation.py reads model_output now; its README and R1-AQA use model_prediction: both carry the answer
    assert len(submission) == 5 and all("question" in row for row in submission)
    assert all(row["model_output"] == row["model_prediction"] == extracted[row["id"]] for row in submission)


def test_tasks_load_in_lm_eval_with_include_path(tiny_ckpt, bench_root):
    import lm_eval
    from lm_eval.tasks import TaskManager

    import ac_eval.models.lm_eval_models  # noqa: F401  registers ac_hf

    manager = TaskManager(include_path=str(TASKS), include_defaults=False, metadata={"data_dir": str(bench_root)})
    for name in ("mmau", "mmau_test_ac", "mmar_ac", "mmsu_ac"):
        assert name in manager.all_groups
    for name in ("mmau_test_mini", "mmau_test_mini_silent", "mmau_test", "mmar", "mmar_silent", "mmsu", "mmsu_silent"):
        assert name in manager.all_subtasks
    results = lm_eval.simple_evaluate(
        model="ac_hf", model_args=f"pretrained={tiny_ckpt}", tasks=["mmau", "mmar_silent"], task_manager=manager,
        limit=4, log_samples=True,
    )
    assert set(results["results"]) >= {"mmau_test_mini", "mmau_test_mini_silent", "mmar_silent"}
    sample = results["samples"]["mmar_silent"][0]
    audio = sample["arguments"][0][2]["audio"]
    assert audio["condition"] == "silent" and audio["path"].endswith(".wav")  # a reference, not samples


def test_mmsu_parquet_with_official_letter_prompt(tiny_ckpt, tmp_path):
    """MMSU end to end: embedded parquet audio, MMSU's own lettered prompt, letter scoring, no system prompt."""
    import io

    import datasets
    import numpy as np
    import soundfile as sf

    rows = []
    for i in range(4):
        buf = io.BytesIO()
        sf.write(buf, (0.2 * np.sin(np.arange(24000) * (i + 1) / 20)).astype(np.float32), 24000, format="WAV")
        rows.append({"id": f"m{i}", "audio": {"bytes": buf.getvalue(), "path": f"m{i}.wav"}, "question": f"Q{i}?",
                     "choice_a": "yes", "choice_b": "no", "choice_c": "maybe", "choice_d": "", "answer_gt": "no",
                     "category": "Perception", "sub-category": "Phonology"})
    (tmp_path / "mmsu").mkdir()
    datasets.Dataset.from_list(rows).cast_column("audio", datasets.Audio(decode=False)).to_parquet(
        str(tmp_path / "mmsu" / "mmsu.parquet"))
    cfg = RunConfig(tasks=["mmsu"], model_args=f"pretrained={tiny_ckpt}", data_dir=str(tmp_path), prompt="official",
                    output_path=str(tmp_path / "out"), mode="choice")
    report = run(cfg)
    assert report["prompt"]["mmsu"]["rule"] == "mmsu_letter" and report["prompt"]["mmsu"]["system"] is None
    samples = list(jsonlines.open(tmp_path / "out" / "samples.jsonl"))
    assert len(samples) == 8 and {s["prediction"] for s in samples} <= {"A", "B", "C"}
    assert all(s["correct"] == (s["prediction"] == "B") for s in samples)
    assert report["tasks"]["mmsu"]["conditions"]["original"]["n_audio_error"] == 0


def test_generation_budget_and_settings(tiny_ckpt, bench_root, tmp_path, capsys):
    """The paper's budget by default; max_new_tokens (model_args) and --gen_kwargs take effect and are recorded;
    anything unknown or contradictory is an error that names it, before the model loads."""
    from ac_eval.cli import main
    from ac_eval.testing.stub_models import write_stub

    def outputs(out):
        return [r["prediction"] for r in jsonlines.open(out / "samples.jsonl")]

    base = dict(tasks=["mmau"], conditions=["original"], data_dir=str(bench_root), limit=4)
    five = run(RunConfig(model_args=f"pretrained={tiny_ckpt},max_new_tokens=5", output_path=str(tmp_path / "a"), **base))
    assert five["tasks"]["mmau_test_mini"]["generation"]["max_new_tokens"] == 5
    nine = run(RunConfig(model_args=f"pretrained={tiny_ckpt}", gen_kwargs="max_gen_toks=9", output_path=str(tmp_path / "b"),
                         **base))
    assert nine["tasks"]["mmau_test_mini"]["generation"]["max_new_tokens"] == 9
    # greedy: the longer budget continues the shorter one's text, and really goes further
    short, long = outputs(tmp_path / "a"), outputs(tmp_path / "b")
    assert all(b.startswith(a) for a, b in zip(short, long)) and any(len(b) > len(a) for a, b in zip(short, long))
    stub = write_stub(tmp_path / "stub", "guesser", "mmau", bench_root / "mmau" / "mmau-test-mini.json", "test-mini")
    default = run(RunConfig(model_args=f"pretrained={stub}", output_path=str(tmp_path / "c"), **base))
    assert default["tasks"]["mmau_test_mini"]["generation"] == {
        "max_new_tokens": 256, "do_sample": False, "temperature": 1.0, "top_k": None, "top_p": None,
        "until": ["<|im_end|>", "<|endoftext|>"]}

    common = ["--tasks", "mmau", "--data_dir", str(bench_root), "--limit", "2", "--output_path", str(tmp_path / "x")]
    for args, message in [
        (["--model_args", "pretrained=/nonexistent", "--gen_kwargs", "max_gen_tokens=5"], "max_gen_tokens"),
        (["--model_args", "pretrained=/nonexistent,max_new_tokens=5", "--gen_kwargs", "max_gen_toks=9"], "disagree"),
        (["--model_args", f"pretrained={tiny_ckpt},max_new_token=5"], "unknown model_args max_new_token"),
        (["--model_args", f"pretrained={tiny_ckpt},batch_size=auto"], "batch_size=auto is not supported"),
        (["--model_args", "pretrained=/nonexistent", "--extraction", "dotall"], "invalid choice"),
    ]:
        with pytest.raises(SystemExit) if "invalid choice" in message else _no_raise():
            assert main([*args, *common]) == 2
        assert message in capsys.readouterr().err, args


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_task_whose_name_and_condition_disagree_is_an_error(tmp_path):
    from ac_eval.evaluation.task_specs import TaskError

    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "lie.yaml").write_text(f"include: {TASKS / '_template_yaml'}\ntask: mmar_none\nmetadata:\n"
                                     "  benchmark: mmar\n  condition: original\n")
    with pytest.raises(TaskError, match="named as the 'none' condition of 'mmar' but declares condition original"):
        declared_specs([folder])
    (folder / "lie.yaml").write_text(f"include: {TASKS / '_template_yaml'}\ntask: quiet_mmar\nmetadata:\n"
                                     "  benchmark: mmar\n  condition: silent\n")
    with pytest.raises(TaskError, match="must be named <base task>_silent"):
        declared_specs([folder])
    (folder / "lie.yaml").write_text(f"include: {TASKS / '_template_yaml'}\ntask: mmar_strong_silent\nmetadata:\n"
                                     "  benchmark: mmar\n  condition: silent\n")
    (folder / "base.yaml").write_text(f"include: {TASKS / '_template_yaml'}\ntask: mmar_strong\nmetadata:\n"
                                      "  benchmark: mmar\n  condition: original\n")
    declared = declared_specs([folder])
    assert (declared["mmar_strong_silent"].base, declared["mmar_strong_silent"].condition) == ("mmar_strong", "silent")


def test_the_logged_condition_is_the_one_the_model_was_given(bench_root, tmp_path):
    """samples.jsonl takes the condition from each request; a request that carries another condition than its
    task was planned with stops the run instead of being logged under the wrong name."""
    from ac_eval.evaluation.task_specs import TaskError
    from ac_eval.testing.stub_models import write_stub

    stub = write_stub(tmp_path / "stub", "listener", "mmau", bench_root / "mmau" / "mmau-test-mini.json", "test-mini")
    cfg = RunConfig(tasks=["mmau"], model_args=f"pretrained={stub}", data_dir=str(bench_root), limit=4,
                    output_path=str(tmp_path / "ok"))
    run(cfg)
    lm_logs = {}
    for path in (tmp_path / "ok" / "lm_eval").rglob("samples_*.jsonl"):
        for s in jsonlines.open(path):
            lm_logs[(s["doc"]["id"], s["arguments"]["gen_args_0"]["arg_2"]["audio"]["condition"]
                     if isinstance(s["arguments"], dict) else s["arguments"][0][2]["audio"]["condition"])] = True
    ours = {(r["id"], r["condition"]) for r in jsonlines.open(tmp_path / "ok" / "samples.jsonl")}
    assert ours == set(lm_logs) and {c for _, c in ours} == {"original", "silent"}

    # a task whose own doc_to_audio hands the model the real audio although the task declares silence
    folder = tmp_path / "lying_tasks"
    folder.mkdir()
    (folder / "utils.py").write_text("from ac_eval.evaluation.lm_eval_hooks import doc_to_audio\n\n\n"
                                     "def lying_doc_to_audio(doc):\n    return {**doc_to_audio(doc), 'condition': 'original'}\n")
    for name, condition in (("lie", "original"), ("lie_silent", "silent")):
        (folder / f"{name}.yaml").write_text(
            f"include: {TASKS / '_template_yaml'}\ntask: {name}\ndoc_to_audio: !function utils.lying_doc_to_audio\n"
            f"metadata:\n  benchmark: mmau\n  split: test-mini\n  condition: {condition}\n")
    with pytest.raises(TaskError, match=r"planned as condition 'silent' \(generate\) but its requests carried 'original'"):
        run(RunConfig(**{**cfg.__dict__, "tasks": ["lie"], "include_paths": [str(folder)],
                         "output_path": str(tmp_path / "lie")}))


def test_exit_codes_no_audio_at_all_and_nothing_scored(bench_root, tmp_path, capsys):
    import time

    from ac_eval.cli import main

    root = tmp_path / "noaudio"
    (root / "mmau").mkdir(parents=True)
    shutil.copy(bench_root / "mmau" / "mmau-test-mini.json", root / "mmau")
    start = time.perf_counter()
    # a hub id that cannot be downloaded here: exit 4 (not 2) proves the audio was checked before any model was loaded
    assert main(["--model_args", "pretrained=nobody/no-such-model", "--tasks", "mmau", "--data_dir", str(root), "--limit", "5",
                 "--output_path", str(tmp_path / "o")]) == 4
    assert time.perf_counter() - start < 20
    assert "none of the 5 audio files exists" in capsys.readouterr().err

    # metadata whose records name no audio at all: a clear error before anything loads, not an empty run
    rows = json.loads((root / "mmau" / "mmau-test-mini.json").read_text())[:5]
    bare = tmp_path / "bare"
    (bare / "mmau").mkdir(parents=True)
    (bare / "mmau" / "mmau-test-mini.json").write_text(json.dumps([{k: v for k, v in r.items() if k != "audio_id"} for r in rows]))
    assert main(["--model_args", "pretrained=nobody/no-such-model", "--tasks", "mmau", "--conditions", "silent",
                 "--data_dir", str(bare), "--output_path", str(tmp_path / "o")]) == 2
    assert "no usable mmau records, 5 skipped (first: record 0: malformed: missing field 'audio_id')" in capsys.readouterr().err

    # clips that exist but cannot be decoded: the run happens, writes everything, and exits 4
    from ac_eval.evaluation.benchmarks import load_benchmark
    from ac_eval.testing.stub_models import write_stub

    for r in load_benchmark("mmau", root / "mmau" / "mmau-test-mini.json", "test-mini").records[:5]:
        Path(r.audio.path).parent.mkdir(parents=True, exist_ok=True)
        Path(r.audio.path).write_bytes(b"not audio")
    stub = write_stub(tmp_path / "stub", "listener", "mmau", root / "mmau" / "mmau-test-mini.json", "test-mini")
    out = tmp_path / "corrupt"
    code = main(["--model_args", f"pretrained={stub}", "--tasks", "mmau", "--data_dir", str(root), "--limit", "5",
                 "--output_path", str(out)])
    captured = capsys.readouterr()
    assert code == 4 and "no clip could be loaded" in captured.err
    assert "mmau_test_mini / silent: scored 5 of 5, errors 0, skipped 0" in captured.out
    assert "mmau_test_mini / original: scored 0 of 5, errors 5, skipped 0" in captured.out
    assert len(list(jsonlines.open(out / "samples.jsonl"))) == 10 and (out / "report.md").is_file()
    assert json.loads((out / "results.json").read_text())["run_status"]["exit_code"] == 4

    # a condition that scored nothing (MMSU, every answer in the wrong format: excluded officially): exit 3
    rows = [{"id": f"m{i}", "audio_path": f"m{i}.wav", "question": f"Q{i}?", "choice_a": "yes", "choice_b": "no",
             "answer_gt": "no", "category": "Perception", "sub-category": "Phonology"} for i in range(3)]
    (tmp_path / "mmsu" / "mmsu").mkdir(parents=True)
    (tmp_path / "mmsu" / "mmsu" / "mmsu.json").write_text(json.dumps(rows))
    import numpy as np
    import soundfile as sf

    for r in rows:
        sf.write(tmp_path / "mmsu" / "mmsu" / r["audio_path"], np.zeros(800, dtype=np.float32) + 0.1, 16000)
    with_stub_prompt = write_stub(tmp_path / "stub2", "guesser", "mmsu", tmp_path / "mmsu" / "mmsu" / "mmsu.json")
    code = main(["--model_args", f"pretrained={with_stub_prompt}", "--tasks", "mmsu", "--conditions", "original",
                 "--data_dir", str(tmp_path / "mmsu"), "--output_path", str(tmp_path / "m")])
    # the stub answers "<answer>option</answer>": under the AudioMCQ prompt that is scored (token rule) ...
    assert code == 0
    status = json.loads((tmp_path / "m" / "results.json").read_text())
    assert status["tasks"]["mmsu"]["scorer"]["kind"] == "token-rule"
    assert status["tasks"]["mmsu"]["conditions"]["original"]["accuracy_official"] is None
