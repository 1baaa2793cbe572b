"""A rerun whose every request is in the request cache loads no model (issue 24, item 3; issue 23's "18 s before
any output"): prompts come from the memo the first run left, lm-eval's unused imports stay unimported, plots are
copied when their figures did not change. Timing is measured by perf/, not here: these tests check what is (not)
done."""

import json
import subprocess
import sys
from pathlib import Path

from ac_eval.models.lazy_backend import SYSTEM, USER, LazyBackend

RUN = """
import json, sys
from ac_eval.cli import main
from ac_eval.run.deferred_imports import is_stand_in
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules,
                  "datasets": "datasets" in sys.modules and not is_stand_in(sys.modules["datasets"]),
                  "pandas": "pandas" in sys.modules and not is_stand_in(sys.modules["pandas"]),
                  "matplotlib_drew": "matplotlib.backends.backend_agg" in sys.modules}))
"""


def _run(args: list[str], cwd: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", RUN, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rows(folder: Path) -> list[tuple]:
    rows = [json.loads(line) for line in (folder / "samples.jsonl").open()]
    return sorted((r["id"], r["condition"], r["prediction"], r["correct"]) for r in rows)


def test_a_fully_cached_rerun_loads_no_model(tiny_ckpt, bench_root, tmp_path):
    out = tmp_path / "run"
    args = ["--model_args", f"pretrained={tiny_ckpt}", "--tasks", "mmau", "--data_dir", str(bench_root),
            "--limit", "4", "--output_path", str(out)]
    first = _run(args, tmp_path)
    assert first["rc"] == 0 and first["torch"]
    memo = next((out / "cache").glob("*-prompts.json"))
    assert json.loads(memo.read_text())["patterns"]["none"].count(USER) == 1
    before, plots = _rows(out), (out / "plots" / "mmau_test_mini.png").read_bytes()
    lm_eval_logs = sorted((out / "lm_eval").rglob("*.json*"))
    again = _run(args, tmp_path)
    assert again == {"rc": 0, "torch": False, "transformers": False, "datasets": False, "pandas": False,
                     "matplotlib_drew": False}
    results = json.loads((out / "results.json").read_text())
    assert results["timing"]["model_loaded"] is False and results["cache"]["evaluated"] == 0
    assert _rows(out) == before and (out / "plots" / "mmau_test_mini.png").read_bytes() == plots
    # the run's one chunk was finished: lm-eval was not asked again, its logs are those of the run that computed it
    assert sorted((out / "lm_eval").rglob("*.json*")) == lm_eval_logs

    # a condition not asked before: the model loads for it alone, and sees the processor's own prompts
    more = _run([*args, "--conditions", "original,silent,silent-no-question"], tmp_path)
    assert more["rc"] == 0 and more["torch"]
    results = json.loads((out / "results.json").read_text())
    assert results["timing"]["model_loaded"] is True and results["cache"]["evaluated"] == 4
    fresh = tmp_path / "fresh"
    assert _run([*args[:-1], str(fresh), "--conditions", "original,silent,silent-no-question"], tmp_path)["rc"] == 0
    assert _rows(out) == _rows(fresh)  # cached, memo-made and fresh answers agree item for item


class _Processor:
    """A backend whose chat template trims the user's text: a pattern cannot reproduce it."""

    arch, audio_token, chat_template = "fake", "<|AUDIO|>", "{{ text | trim }}"

    def __init__(self, trims: bool):
        self.trims = trims

    def chat_prompt(self, user_text: str, system: str | None) -> str:
        text = user_text.strip() if self.trims else user_text
        return f"<s>{system or ''}</s><|AUDIO|><u>{text}</u>"


def test_a_pattern_is_used_only_where_it_reproduced_every_prompt(tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text("{}")
    memo = tmp_path / "memo.json"

    def backend(trims: bool) -> LazyBackend:
        lazy = LazyBackend(lambda: _Processor(trims), str(tmp_path / "ckpt"))
        lazy.memo_path = memo
        return lazy

    first = backend(trims=False)
    assert first.chat_prompt(" q ", "sys") == "<s>sys</s><|AUDIO|><u> q </u>" and first.loaded
    first.save_memo()
    second = backend(trims=False)
    assert second.chat_prompt(" other ", None) == "<s></s><|AUDIO|><u> other </u>" and not second.loaded
    assert second.chat_template == "{{ text | trim }}" and second.arch == "fake" and not second.loaded
    assert second.real_prompt("<s></s><|AUDIO|><u> other </u>") == "<s></s><|AUDIO|><u> other </u>"
    assert second.loaded  # what the model runs is rendered by the processor itself

    # a template the pattern cannot follow: found out while loaded, written down, never used
    (tmp_path / "ckpt" / "chat_template.jinja").write_text("trim")  # another checkpoint: the old memo is void
    third = backend(trims=True)
    assert third.memo() == {}
    assert third.chat_prompt(" q ", None) == "<s></s><|AUDIO|><u>q</u>"
    third.save_memo()
    fourth = backend(trims=True)
    fourth.chat_prompt(" q ", None)
    assert fourth.loaded and fourth.chat_prompt(" q ", None) == "<s></s><|AUDIO|><u>q</u>"
    assert json.loads(memo.read_text())["broken"] is True
    assert SYSTEM in json.loads(memo.read_text())["patterns"]["system"]


def test_deferred_imports_load_the_real_module_when_used():
    code = """
import sys, importlib.util
from ac_eval.run.deferred_imports import defer_heavy_imports, is_stand_in
defer_heavy_imports()
import lm_eval.evaluator, lm_eval.api.task
assert is_stand_in(sys.modules["datasets"]) and "pandas" not in sys.modules, "imported at lm-eval's import"
assert importlib.util.find_spec("datasets") is not None
from lm_eval.loggers.evaluation_tracker import MetadataConfigs
assert type(MetadataConfigs()).__module__ == "datasets.utils.metadata"  # the real class, imported on use
import datasets
assert not is_stand_in(sys.modules["datasets"]) and datasets.Dataset.from_list([{"a": 1}]).num_rows == 1
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "ok", done.stderr[-3000:]
