"""The former name of `lm_eval_hooks`. Task folders that earlier versions of `ac-eval filter` wrote carry a copy
of utils.py importing from here; this keeps them loading. New code imports `ac_eval.evaluation.lm_eval_hooks`."""

from ac_eval.evaluation.lm_eval_hooks import *  # noqa: F401,F403
