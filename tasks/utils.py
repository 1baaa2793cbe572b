# lm-eval resolves `!function utils.X` next to the YAML files; the implementations live in the package.
from ac_eval.evaluation.lm_eval_tasks import (  # noqa: F401
    count_items,
    doc_to_audio,
    doc_to_choice,
    doc_to_target,
    doc_to_text,
    load_docs,
    mean_skipping_none,
    process_results,
)
