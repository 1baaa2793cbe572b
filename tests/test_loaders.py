import json

import pytest
from conftest import shared_file, write_json

from ac_eval.evaluation.benchmarks import MetadataError, load_benchmark, metadata_path
from ac_eval.evaluation.records import AudioRef


def test_mmau_test_mini_real_metadata():
    path = shared_file("mmau", "mmau-test-mini.json")
    loaded = load_benchmark("mmau", path, "test-mini")
    assert len(loaded.records) == 1000 and not loaded.skipped
    assert loaded.version == "test-mini 2025-08-09 (f0a4a97, v05.15.25, latest)"
    assert loaded.issue_counts() == {"duplicate_choices": 27}
    counts = {}
    for r in loaded.records:
        counts[len(r.choices)] = counts.get(len(r.choices), 0) + 1
    assert counts == {4: 948, 2: 27, 5: 24, 8: 1}
    first = loaded.records[0]
    assert first.audio.path == str(path.parent / "test-mini-audios" / f"{first.id}.wav")
    assert set(first.subsets) == {"task", "difficulty", "sub-category"}
    # category is a list in 13 records: kept verbatim in fields
    assert sum(isinstance(r.fields["category"], list) for r in loaded.records) == 13


def test_mmau_older_version_is_recognised():
    loaded = load_benchmark("mmau", shared_file("mmau", "mmau-test-mini.pre-v05.15.25.2025-03-25.json"), "test-mini")
    assert loaded.version == "test-mini 2025-03-25 (1f675a9, pre-v05.15.25)"


def test_every_published_metadata_version_is_named():
    """All 17 MMAU test-mini versions and both MMAR files, from the shared sha256 table (the package ships a copy)."""
    from ac_eval.evaluation.benchmarks.versions import (
        identify,
        known_versions,
        version_label,
    )

    table = json.loads(shared_file("metadata_versions.json").read_text())
    from importlib import resources

    shipped = json.loads((resources.files("ac_eval") / "data" / "metadata_versions.json").read_text())
    assert shipped == table
    labels = set()
    for v in table["mmau_test_mini"]:
        found = identify(v["sha256"])
        assert found["benchmark"] == "mmau" and found["date"] == v["date"] and found["commit"] == v["commit"]
        assert v["date"] in found["version"] and v["commit"][:7] in found["version"]
        labels.add(found["version"])
    assert len(labels) == 17 == len(known_versions("mmau"))
    assert sum(identify(v["sha256"])["latest"] for v in table["mmau_test_mini"]) == 1
    assert {version_label(v["sha256"]) for v in table["mmar"]} == {
        "MMAR-meta.json (2025-05-11, 6249700)", "MMAR-meta.jsonl (2026-02-16, a355584)"}
    assert version_label("0" * 64) == "unknown"
    assert load_benchmark("mmar", shared_file("mmar", "MMAR-meta.jsonl")).version == "MMAR-meta.jsonl (2026-02-16, a355584)"


def test_a_public_split_record_without_answer_is_a_load_issue(tmp_path):
    rows = json.loads(shared_file("mmau", "mmau-test-mini.json").read_text())[:5]
    del rows[1]["answer"]
    rows[3]["answer"] = None
    loaded = load_benchmark("mmau", write_json(tmp_path / "m.json", rows), "test-mini")
    assert [r.id for r in loaded.records] == [rows[i]["id"] for i in (0, 2, 4)]
    assert [(s["id"], s["reason"]) for s in loaded.skipped] == [
        (rows[i]["id"], "malformed: no answer, although this split publishes its answers") for i in (1, 3)]
    assert loaded.issue_counts() == {"skipped: malformed": 2}
    # the same file as MMAU test (answers withheld): nothing is missing
    assert len(load_benchmark("mmau", tmp_path / "m.json", "test").records) == 5
    mmar = [{"id": "a", "audio_path": "a.wav", "question": "q", "choices": ["x", "y"], "answer": None}]
    assert load_benchmark("mmar", write_json(tmp_path / "r.json", mmar)).skipped[0]["id"] == "a"


def test_mmau_test_split_withholds_answers():
    loaded = load_benchmark("mmau", shared_file("mmau", "mmau-test-mini.json"), "test")
    assert all(r.answer is None for r in loaded.records)


def test_mmar_json_and_jsonl():
    current = load_benchmark("mmar", shared_file("mmar", "MMAR-meta.jsonl"))
    original = load_benchmark("mmar", shared_file("mmar", "MMAR-meta.json"))
    assert len(current.records) == len(original.records) == 1000
    assert original.issue_counts() == {"answer_not_in_choices": 6}
    assert "answer_not_in_choices" not in current.issue_counts()
    assert {len(r.choices) for r in current.records} == {2, 3, 4, 5, 6}
    assert set(current.records[0].subsets) == {"modality", "category", "sub-category"}
    assert "rubric" in current.records[0].fields  # jsonl extras kept verbatim


def test_mmsu_json_fixture_resolves_leading_slash_paths():
    path = shared_file("mmsu", "mmsu-single-record-from-third-party-fixture.json")
    (record,) = load_benchmark("mmsu", path).records
    assert record.choices == ["A cake.", "Chocolate.", "A fruit basket.", "A drink."]
    assert record.answer == "Chocolate." and record.answer_index == 1
    assert record.audio.path == str(path.parent / "audio" / f"{record.id}.wav")
    # mmsu_evaluation.py groups by (category, sub-category): Linguistics appears under both categories
    assert record.subsets == {"category": "Reasoning", "category/sub-category": "Reasoning / Linguistics"}


def test_mmsu_parquet_with_embedded_audio(tmp_path):
    import io

    import datasets
    import numpy as np
    import soundfile as sf

    from ac_eval.evaluation.audio import load_audio

    def wav(freq):
        buf = io.BytesIO()
        sf.write(buf, 0.1 * np.sin(np.arange(8000) * freq / 8000).astype(np.float32), 8000, format="WAV")
        return buf.getvalue()

    rows = [
        {"id": "a", "audio": {"bytes": wav(300), "path": "a.wav"}, "question": "Q1?", "choice_a": "x", "choice_b": "y",
         "choice_c": "z", "choice_d": "", "answer_gt": "y", "task_name": "t", "category": "Perception",
         "sub-category": "Phonetics", "sub-sub-category": "s", "linguistics_sub_discipline": "l"},
        {"id": "b", "audio": {"bytes": wav(900), "path": "b.wav"}, "question": "Q2?", "choice_a": "p", "choice_b": "q",
         "choice_c": None, "choice_d": None, "answer_gt": "p", "task_name": "t", "category": "Reasoning",
         "sub-category": "Semantics", "sub-sub-category": "s", "linguistics_sub_discipline": "l"},
    ]
    ds = datasets.Dataset.from_list(rows).cast_column("audio", datasets.Audio(decode=False))
    (tmp_path / "mmsu" / "data").mkdir(parents=True)
    ds.to_parquet(str(tmp_path / "mmsu" / "data" / "test-00000.parquet"))

    path = metadata_path("mmsu", "test", tmp_path)
    loaded = load_benchmark("mmsu", path)
    a, b = loaded.records
    assert a.choices == ["x", "y", "z"] and b.choices == ["p", "q"]  # empty / missing c, d dropped
    assert a.audio == AudioRef(str(path), row=0) and b.audio.row == 1
    clip = load_audio(b.audio, 16000)
    assert clip.shape == (16000,)  # 8 kHz, 1 s -> resampled to 16 kHz


def test_duplicate_ids_renamed_and_counted(tmp_path):
    row = {"id": "x", "audio_path": "./audio/x.wav", "question": "q", "choices": ["a", "b"], "answer": "a"}
    loaded = load_benchmark("mmar", write_json(tmp_path / "m.json", [row, row, {**row, "answer": "b"}]))
    assert [r.id for r in loaded.records] == ["x", "x#dup2", "x#dup3"]
    assert loaded.issue_counts() == {"duplicate_id": 2}


def test_malformed_records_are_skipped_with_reasons(tmp_path):
    good = {"id": "ok", "audio_path": "./a.wav", "question": "q", "choices": ["a", "b"], "answer": "a"}
    rows = [
        good,
        {"id": "no-choices", "audio_path": "./a.wav", "question": "q", "answer": "a"},
        {"id": "one-choice", "audio_path": "./a.wav", "question": "q", "choices": ["a"], "answer": "a"},
        {"id": "bad-choices", "audio_path": "./a.wav", "question": "q", "choices": "a,b", "answer": "a"},
        "not an object",
    ]
    loaded = load_benchmark("mmar", write_json(tmp_path / "m.json", rows))
    assert [r.id for r in loaded.records] == ["ok"]
    reasons = {s["id"]: s["reason"] for s in loaded.skipped}
    assert "choices" in reasons["no-choices"] and "at least 2" in reasons["one-choice"]
    assert "list of strings" in reasons["bad-choices"] and len(loaded.skipped) == 4
    assert loaded.issue_counts()["skipped: malformed"] == 4


def test_unreadable_metadata_names_file_and_line(tmp_path):
    bad = tmp_path / "MMAR-meta.jsonl"
    bad.write_text(json.dumps({"id": "a"}) + "\n{oops\n")
    with pytest.raises(MetadataError, match=r"MMAR-meta.jsonl:2"):
        load_benchmark("mmar", bad)
    with pytest.raises(MetadataError, match="not found"):
        load_benchmark("mmau", tmp_path / "missing.json", "test-mini")
    with pytest.raises(MetadataError, match="--data_dir"):
        metadata_path("mmau", "test-mini", None)
