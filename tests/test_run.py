import json
import shutil
from pathlib import Path

import jsonlines
import pytest

from ac_eval.run import RunConfig, expand_tasks, run, split_task, task_index

TASKS = Path(__file__).resolve().parent.parent / "tasks"


def test_task_names_and_conditions():
    bases, names = task_index()
    assert set(bases) == {"mmau_test_mini", "mmau_test", "mmar", "mmsu"}
    assert bases["mmau_test"].split == "test" and bases["mmsu"].benchmark == "mmsu"
    assert "mmar_silent_matched" in names
    assert expand_tasks(["mmau", "mmar"], ["original", "silent"], bases) == [
        "mmau_test_mini", "mmau_test_mini_silent", "mmar", "mmar_silent"]
    assert expand_tasks(["mmsu_silent_matched"], ["original", "silent"], bases) == ["mmsu_silent_matched"]
    assert expand_tasks(["mmar"], ["none", "noise", "shuffled"], bases) == ["mmar_none", "mmar_noise", "mmar_shuffled"]
    assert split_task("mmau_test_silent", bases) == ("mmau_test", "silent")
    with pytest.raises(ValueError, match="unknown task"):
        expand_tasks(["mmlu"], ["original"], bases)
    with pytest.raises(ValueError, match="unknown condition"):
        expand_tasks(["mmar"], ["loud"], bases)


@pytest.fixture(scope="module")
def generate_run(tiny_ckpt, bench_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = RunConfig(tasks=["mmau_test_mini", "mmar"], model_args=f"pretrained={tiny_ckpt}", data_dir=str(bench_root),
                    limit=50, output_path=str(out), batch_size=8)
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
    assert mmau["metadata_version"] == "test-mini v05.15.25"
    assert set(mmau["conditions"]["silent"]["subsets"]) == {"task", "difficulty", "sub-category"}
    assert set(report["tasks"]["mmar"]["conditions"]["original"]["subsets"]) == {"modality", "category", "sub-category"}
    # the table's delta is exactly original minus silent
    c = mmau["conditions"]
    assert mmau["delta"]["silent"]["official"] == pytest.approx(c["original"]["accuracy_official"] - c["silent"]["accuracy_official"])
    saved = json.loads((out / "results.json").read_text())
    assert saved["prompt"]["mmar"]["template"].startswith("{question} Please choose")
    assert saved["tasks"]["mmar"]["generation_kwargs"]["max_gen_toks"] == 64
    assert "<|audio_bos|><|AUDIO|><|audio_eos|>" in saved["chat_template"]
    assert "| Overall | 50 |" in (out / "report.md").read_text()
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
    cfg = RunConfig(tasks=["mmau"], model_args=f"pretrained={tiny_ckpt}", data_dir=str(root), limit=6,
                    output_path=str(tmp_path / "out"), batch_size=4)
    report = run(cfg)
    original = report["tasks"]["mmau_test_mini"]["conditions"]["original"]
    assert original["n_audio_error"] == 2 and original["n_total"] == 6 and original["n_scored"] == 4
    assert report["tasks"]["mmau_test_mini"]["conditions"]["silent"]["n_audio_error"] == 0  # silence needs no file
    errors = [r for r in jsonlines.open(tmp_path / "out" / "samples.jsonl") if r["status"] == "audio_error"]
    assert {r["id"] for r in errors} == {records[0]["id"], records[1]["id"]}
    assert any("not found" in r["error"] for r in errors) and any("cannot decode" in r["error"] for r in errors)

    # Fix the missing file and rerun the same command: the failed item is evaluated now (failures are not
    # cached), the other items come from the cache.
    import numpy as np
    import soundfile as sf

    sf.write(root / "mmau" / records[0]["audio_id"], np.zeros(1600, dtype=np.float32) + 0.1, 16000)
    again = run(cfg)["tasks"]["mmau_test_mini"]["conditions"]["original"]
    assert again["n_audio_error"] == 1 and again["n_scored"] == 5


def test_mmau_test_writes_a_submission_instead_of_a_score(tiny_ckpt, bench_root, tmp_path):
    cfg = RunConfig(tasks=["mmau_test"], conditions=["original"], model_args=f"pretrained={tiny_ckpt}",
                    metadata_files={"mmau_test": str(bench_root / "mmau" / "mmau-test-mini.json")},
                    limit=5, output_path=str(tmp_path))
    report = run(cfg)
    assert report["tasks"]["mmau_test"]["conditions"]["original"]["accuracy_official"] is None
    submission = json.loads((tmp_path / "submission_mmau_test.json").read_text())
    assert len(submission) == 5 and all("model_prediction" in row and "question" in row for row in submission)


def test_tasks_load_in_lm_eval_with_include_path(tiny_ckpt, bench_root):
    import lm_eval
    from lm_eval.tasks import TaskManager

    import ac_eval.models.lm_eval_adapter  # noqa: F401  registers ac_hf

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
