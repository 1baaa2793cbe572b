"""Runs `ac-eval` as a subprocess would, with a pause planted at one chosen write so a test can kill -9 the
process exactly there: `KILL_AT=results.json:rename` pauses after results.json's temporary file is written and
before it is renamed into place (`:before` pauses before the write starts). The pause announces itself by creating
the file named in KILL_SIGNAL. `KILL_AT_BATCH=N`: the process kills itself (SIGKILL) as the stub model starts its
N-th batch (1-based), as a kill -9 would land mid-batch; `KILL_AT_COMMIT=N`: as the request cache is about to commit
the N-th batch's results (written, not committed). Test plumbing only: the product code knows nothing of it."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import ac_eval.files as files
from ac_eval.cli import main

target, _, moment = os.environ.get("KILL_AT", "").partition(":")
signal_file = os.environ.get("KILL_SIGNAL")


def _pause(name: str) -> None:
    if signal_file:
        Path(signal_file).write_text(name)
    time.sleep(600)


if target:
    real_write_text = files.write_text
    real_replace = os.replace

    def write_text(path, text):
        if Path(path).name == target and moment == "before":
            _pause(f"before {target}")
        return real_write_text(path, text)

    class _Os:
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def replace(src, dst):
            if Path(dst).name == target and moment == "rename":
                _pause(f"rename {target}")
            return real_replace(src, dst)

    files.write_text = write_text
    files.os = _Os()
    import ac_eval.run.folder  # noqa: F401  (it imports write_text from files when it writes)

if os.environ.get("KILL_AT_BATCH"):
    import signal

    from ac_eval.testing import stub_models

    real_generate, batches = stub_models.StubBackend.generate, []

    def generate(self, prompts, audios, settings):
        batches.append(len(prompts))
        if len(batches) == int(os.environ["KILL_AT_BATCH"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_generate(self, prompts, audios, settings)

    stub_models.StubBackend.generate = generate

if os.environ.get("KILL_AT_COMMIT"):
    import signal

    from ac_eval.models import lm_eval_models

    real_commit, commits = lm_eval_models.AudioLMBase.commit_cache, []

    def commit_cache(self):
        commits.append(1)
        db = getattr(getattr(self, "cache_hook", None), "dbdict", None)
        if len(commits) == int(os.environ["KILL_AT_COMMIT"]) and db is not None:
            db.conn.select_one("SELECT 1")  # the writer thread has run every queued write (in an open transaction)
            os.kill(os.getpid(), signal.SIGKILL)
        return real_commit(self)

    lm_eval_models.AudioLMBase.commit_cache = commit_cache

sys.exit(main(sys.argv[1:]))
