import io
import json
from pathlib import Path

import jsonlines
import numpy as np
import pytest
import soundfile as sf

from ac_eval.analysis.labels import import_audiomcq, read_labels
from ac_eval.analysis.subsets import filter_file
from ac_eval.cli import main


def _audiomcq(tmp_path: Path) -> Path:
    rows = []
    for i in range(12):
        rows.append({"source_dataset": ["Clotho", "AudioCaps", "MusicCaps"][i % 3], "id": f"q{i}",
                     "question_type": "sound", "audio_path": f"./audio/q{i}.wav", "question": f"What is {i}?",
                     "choices": ["a", "b", "c", "d"], "answer": "a",
                     "audio-contribution": "weak" if i % 4 == 0 else "strong"})
    path = tmp_path / "audiomcq" / "train.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_audiomcq_own_labels_filter_and_counts(tmp_path, capsys):
    src = _audiomcq(tmp_path)
    out = tmp_path / "out" / "strong.jsonl"
    assert main(["filter", "--keep", "strong", "--benchmark", "audiomcq", "--metadata", str(src), "--output", str(out)]) == 0
    kept = list(jsonlines.open(out))
    assert [r["id"] for r in kept] == [f"q{i}" for i in range(12) if i % 4]
    assert all(r["audio-contribution"] == "strong" for r in kept)
    assert kept[0]["audio_path"] == str((src.parent / "audio" / "q1.wav").resolve())  # still points at the clip
    printed = capsys.readouterr().out
    assert "kept 9 of 12" in printed and "Clotho: 3 of 4" in printed
    summary = filter_file("audiomcq", src, None, "weak", tmp_path / "weak.jsonl")
    assert summary["per_source"] == {"AudioCaps": {"kept": 1, "total": 4}, "Clotho": {"kept": 1, "total": 4},
                                     "MusicCaps": {"kept": 1, "total": 4}}


def test_import_audiomcq_labels(tmp_path):
    labels = import_audiomcq(_audiomcq(tmp_path))
    assert [lbl.label for lbl in labels[:4]] == ["weak", "strong", "strong", "strong"]
    out = tmp_path / "labels.jsonl"
    assert main(["labels", "--from-audiomcq", str(_audiomcq(tmp_path / "again")), "--output", str(out)]) == 0
    assert read_labels(out)["q4"] == "weak"


def test_mmsu_parquet_subset_stays_parquet(tmp_path):
    import datasets

    rows = []
    for i in range(6):
        buf = io.BytesIO()
        sf.write(buf, np.full(800, 0.1 * i, dtype=np.float32), 8000, format="WAV")
        rows.append({"id": f"m{i}", "audio": {"bytes": buf.getvalue(), "path": f"m{i}.wav"}, "question": "?",
                     "choice_a": "x", "choice_b": "y", "choice_c": "", "choice_d": "", "answer_gt": "x",
                     "category": "Perception", "sub-category": "s"})
    src = tmp_path / "mmsu.parquet"
    datasets.Dataset.from_list(rows).cast_column("audio", datasets.Audio(decode=False)).to_parquet(str(src))
    out = tmp_path / "sub" / "mmsu-strong.parquet"
    summary = filter_file("mmsu", src, {"m1": "strong", "m2": "weak", "m4": "strong"}, "strong", out)
    assert summary["n_kept"] == 2 and summary["n_unlabelled"] == 3 and summary["tasks"] == ["mmsu_strong", "mmsu_strong_silent"]
    from ac_eval.evaluation.benchmarks import load_benchmark

    kept = load_benchmark("mmsu", out).records
    assert [r.id for r in kept] == ["m1", "m4"]
    from ac_eval.evaluation.audio import load_audio

    assert load_audio(kept[1].audio, 8000)[0] == pytest.approx(0.4, abs=1e-3)  # m4's own embedded clip


def test_filter_refuses_bad_input(tmp_path):
    src = _audiomcq(tmp_path)
    with pytest.raises(ValueError, match="--labels is required"):
        filter_file("mmau", src, None, "strong", tmp_path / "x.json")
    bad = tmp_path / "labels.jsonl"
    bad.write_text('{"id": "q1", "label": "medium"}\n')
    with pytest.raises(ValueError, match="is not one of weak, strong, undetermined"):
        read_labels(bad)


def test_three_tiny_checkpoints_labels_subset_run_report_picture(bench_root, tmp_path):
    """The pipeline on real MMAU test-mini metadata: three seeds vote, the strong subset runs as its own task."""
    from ac_eval.models.tiny_checkpoints import build_qwen2_audio

    runs = []
    for seed in (0, 1, 2):
        ckpt = build_qwen2_audio(tmp_path / f"tiny{seed}", seed=seed)
        out = tmp_path / f"run{seed}"
        assert main(["--model_args", f"pretrained={ckpt}", "--tasks", "mmau", "--mode", "choice", "--limit", "30",
                     "--data_dir", str(bench_root), "--output_path", str(out)]) == 0
        runs.append(out)
        assert (out / "plots" / "mmau_test_mini.png").stat().st_size > 1000 and (out / "plots" / "mmau_test_mini.svg").exists()
    labels = tmp_path / "labels.jsonl"
    assert main(["labels", *map(str, runs), "--output", str(labels)]) == 0
    rows = list(jsonlines.open(labels))
    assert len(rows) == 30 and all(len(r["models"]) == 3 for r in rows)
    assert all((r["label"] == "weak") == (r["votes"] >= 2) for r in rows)
    subset = tmp_path / "strong" / "mmau.json"
    assert main(["filter", "--labels", str(labels), "--keep", "strong", "--benchmark", "mmau",
                 "--metadata", str(bench_root / "mmau" / "mmau-test-mini.json"), "--output", str(subset)]) == 0
    n_strong = sum(r["label"] == "strong" for r in rows)
    assert len(json.loads(subset.read_text())) == n_strong
    out = tmp_path / "strong-run"
    assert main(["--model_args", f"pretrained={tmp_path / 'tiny0'}", "--tasks", "mmau_test_mini_strong", "--mode", "choice",
                 "--include_path", str(subset.parent), "--output_path", str(out)]) == 0
    report = json.loads((out / "results.json").read_text())
    assert report["tasks"]["mmau_test_mini_strong"]["conditions"]["silent"]["n_total"] == n_strong
    assert main(["split-report", *map(str, runs), "--labels", str(labels), "--output", str(tmp_path / "split")]) == 0
    assert (tmp_path / "split" / "split_report.md").exists()


def test_audiomcq_is_a_runnable_task_whose_silent_runs_label_it(tmp_path):
    """The paper labels its training data as it labels benchmarks: each item asked with silence, k of 3 voters."""
    from ac_eval.testing.stub_models import write_stub

    src = _audiomcq(tmp_path)
    planted = ["q1", "q2", "q5"]  # answered without the audio by every listener
    runs = []
    for i, (behaviour, seed) in enumerate([("listener", 1), ("listener", 2), ("guesser", 3)]):
        stub = write_stub(tmp_path / f"stub{i}", behaviour, "audiomcq", src, "train", planted, seed)
        out = tmp_path / f"run{i}"
        assert main(["run", "--model_args", f"pretrained={stub}", "--tasks", "audiomcq", "--conditions", "silent",
                     "--data_dir", str(tmp_path), "--output_path", str(out)]) == 0
        runs.append(str(out))
    rows = [json.loads(line) for line in (tmp_path / "run0" / "samples.jsonl").open()]
    assert len(rows) == 12 and {r["benchmark"] for r in rows} == {"audiomcq"}
    results = json.loads((tmp_path / "run0" / "results.json").read_text())["tasks"]["audiomcq"]
    assert results["conditions"]["silent"]["accuracy_official"] is None  # AudioMCQ has no official scorer
    assert main(["labels", *runs, "--output", str(tmp_path / "labels.jsonl")]) == 0
    labels = read_labels(tmp_path / "labels.jsonl")
    assert len(labels) == 12 and {i for i, lbl in labels.items() if lbl == "weak"} >= set(planted)
