"""lm-eval's own command line with ac-eval's models and tasks: `python -m ac_eval.lm_eval <lm_eval arguments>`.

lm-eval 0.4.13 finds models only in its registry, which a plugin fills by being imported (there is no entry-point
hook), so `lm_eval --model ac_hf` cannot work on its own. This entry imports our models, adds the shipped task
folder to `--include_path` (after any folder you give, so yours can add the `*_strong` tasks `ac-eval filter`
writes), and hands everything else to lm-eval's CLI unchanged:

    python -m ac_eval.lm_eval --model ac_hf --model_args pretrained=DIR --tasks mmau \\
        --metadata '{"data_dir": "~/bench"}' --apply_chat_template --log_samples --output_path out
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from lm_eval._cli import HarnessCLI
    from lm_eval.utils import setup_logging

    import ac_eval.models.lm_eval_models  # noqa: F401  registers ac_hf, ac_openai, ac_vllm
    from ac_eval.paths import TASKS_DIR

    argv = list(sys.argv[1:] if argv is None else argv)
    setup_logging()
    cli = HarnessCLI()
    sys.argv = [sys.argv[0], *argv]  # HarnessCLI reads sys.argv (it inserts `run` for the legacy form)
    args = cli.parse_args()
    if hasattr(args, "include_path"):
        # lm-eval's flag takes one folder; its TaskManager takes a list, so both reach it.
        args.include_path = [p for p in (args.include_path, str(TASKS_DIR)) if p]
    cli.execute(args)


if __name__ == "__main__":
    main()
