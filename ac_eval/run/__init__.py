"""A run of `ac-eval run`: `drive.py` checks, plans and drives lm-eval; `folder.py` owns what a run writes and how
it is read back (RunConfig, outputs, `read_run`, status and exit codes, submissions). The domain packages
(`evaluation/`, `analysis/`) import nothing from here."""

from ac_eval.run.drive import NoAudioError, run
from ac_eval.run.folder import EXIT_CODES, RunConfig, RunFolderError, read_run, read_samples

__all__ = ["EXIT_CODES", "NoAudioError", "RunConfig", "RunFolderError", "read_run", "read_samples", "run"]
