"""ms-swift's audio chat format as training data: read as AudioMCQ's released files and ms-swift users have it,
written back by `--export-ms-swift`, trained on by the same SFT path as multiple-choice records."""

import json
from pathlib import Path

import pytest

from ac_eval.demo.hearing import write_description_data
from ac_eval.testing.synthetic_audio import write_pitch_task
from ac_eval.post_training.data import load_examples, read_ms_swift, select_stages, to_ms_swift


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_ms_swift_rows_are_read_as_conversations(tmp_path):
    (tmp_path / "a").mkdir()
    path = _write(tmp_path / "a" / "chat.jsonl", [
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "<audio>What do you hear?"},
                      {"role": "assistant", "content": "a high tone"}], "audios": ["./clips/x.wav"]},
        {"messages": [{"role": "user", "content": "<audio>Describe it."}, {"role": "assistant", "content": "<answer>dog</answer>"}],
         "audios": ["/abs/y.wav"], "solution": "dog", "id": "y", "audio-contribution": "strong"},
    ])
    first, second = load_examples(path)
    assert (first.system, first.user_text, first.target, first.answer, first.label) == (
        "Be brief.", "What do you hear?", "a high tone", None, None)
    assert first.id == "chat:1" and first.audio.path == str(tmp_path / "a" / "clips" / "x.wav")  # relative to the file
    assert (second.id, second.answer, second.label, second.audio.path, second.system) == ("y", "dog", "strong", "/abs/y.wav", None)
    # no labels asked for: a stage takes every conversation
    (chosen,), counts = select_stages([first, second], [{"name": "describe", "select": {}}])
    assert len(chosen) == 2 and counts["not_selected"] == 0


@pytest.mark.parametrize("row,reason", [
    ({"messages": [{"role": "user", "content": "What?"}, {"role": "assistant", "content": "x"}], "audios": ["a.wav"]}, "<audio>"),
    ({"messages": [{"role": "user", "content": "Q <audio>"}, {"role": "assistant", "content": "x"}], "audios": ["a.wav"]}, "start"),
    ({"messages": [{"role": "user", "content": "<audio>Q"}, {"role": "assistant", "content": "x"}], "audios": []}, "exactly one audio"),
    ({"messages": [{"role": "user", "content": "<audio>Q"}, {"role": "assistant", "content": "x"}], "audios": ["a", "b"]}, "exactly one audio"),
    ({"messages": [{"role": "user", "content": "<audio>Q"}], "audios": ["a.wav"]}, "one user turn then one assistant"),
    ({"messages": [{"role": "user", "content": "<audio>Q"}, {"role": "assistant", "content": "x"},
                   {"role": "user", "content": "more"}, {"role": "assistant", "content": "y"}], "audios": ["a.wav"]}, "one user turn"),
    ({"messages": [{"role": "user", "content": ["<audio>"]}, {"role": "assistant", "content": "x"}], "audios": ["a.wav"]}, "string content"),
    ({"messages": "hello", "audios": ["a.wav"]}, "messages"),
])
def test_a_conversation_the_trainers_cannot_use_is_refused_by_line(tmp_path, row, reason):
    good = {"messages": [{"role": "user", "content": "<audio>Q"}, {"role": "assistant", "content": "x"}], "audios": ["a.wav"]}
    path = _write(tmp_path / "chat.jsonl", [good, row])
    with pytest.raises(ValueError, match=reason) as error:
        load_examples(path)
    assert "chat.jsonl" in str(error.value) and "line 2" in str(error.value) and "1 of 2" in str(error.value)


def test_export_and_read_back_give_the_same_examples(tmp_path):
    task = write_pitch_task(tmp_path / "task", 12)
    examples = load_examples(task)
    assert to_ms_swift(examples, tmp_path / "out.jsonl") == 12
    again = read_ms_swift(tmp_path / "out.jsonl")
    assert again == examples  # prompt, system, target, audio, answer, label: nothing lost either way


def test_description_data_is_free_form_and_never_multiple_choice(tmp_path):
    path = write_description_data(tmp_path, n=300, seed=1)
    examples = load_examples(path)
    targets = {e.target for e in examples}
    assert len(examples) == 300 and all(Path(e.audio.path).is_file() for e in examples)
    assert not any("answer" in e.user_text.lower() or "option" in e.user_text.lower() or "<answer>" in e.target
                   for e in examples)
    # every planted sound is described: pitch, level, texture, counts, silence
    words = {w for t in targets for w in t.split()}
    assert {"high", "low", "loud", "quiet", "tone", "noise", "one", "two", "three", "silence"} <= words
    assert write_description_data(tmp_path / "again", n=300, seed=1).read_text() == path.read_text()
