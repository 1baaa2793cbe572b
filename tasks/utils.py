# lm-eval resolves `!function utils.X` next to the YAML files; the implementations live in the package.
# `ac-eval filter` copies this file (and _template_yaml) next to the YAMLs it writes, so a folder of tasks can be
# moved as a whole: a relative `metadata_file` or `audio_root` in a task's metadata is relative to this folder.
from pathlib import Path

from ac_eval.evaluation.lm_eval_hooks import (  # noqa: F401
    count_items,
    doc_to_audio,
    doc_to_choice,
    doc_to_target,
    doc_to_text,
    mean_skipping_none,
    process_results,
)
from ac_eval.evaluation.lm_eval_hooks import load_docs as _load_docs

HERE = Path(__file__).resolve().parent


def load_docs(**kwargs):
    for key in ("metadata_file", "audio_root"):
        value = kwargs.get(key)
        if value and not Path(value).expanduser().is_absolute():
            kwargs[key] = str(HERE / value)
    return _load_docs(**kwargs)
