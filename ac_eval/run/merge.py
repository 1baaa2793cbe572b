"""`ac-eval merge`: the run folders of `--shard 1/N` ... `N/N` joined into one run folder, which `ac-eval labels`,
`report` and the board read as if one process had run every item."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Iterator

from ac_eval.evaluation.task_specs import TaskSpec
from ac_eval.run.chunks import Shard
from ac_eval.run.folder import (RunConfig, new_run_id, publish_staged, read_jsonl, read_run,
                                run_status, write_report, write_samples)

# What may differ between the shards of one run: where each wrote, and which part it took.
PER_SHARD = ("shard", "output_path")


def merge_shards(folders: list[str | Path], output: str | Path) -> dict[str, Any]:
    """Check that `folders` are every shard of one run (same model and settings, shards 1..N once each), then write
    their rows, in shard order, as one run in `output`, its reports computed over all items. Returns results.json."""
    from ac_eval.files import FolderLock

    folders = [Path(f) for f in folders]
    if any(Path(output).resolve() == f.resolve() for f in folders):
        raise ValueError(f"--output {output} is one of the shards: the merged run would replace it; give a new folder")
    runs = [(folder, read_run(folder)) for folder in folders]
    shards = _check_shards(runs)
    runs = [run for _, run in sorted(zip(shards, runs), key=lambda x: x[0].index)]
    first = runs[0][1]
    config = {**first["config"], "shard": None, "output_path": str(output)}
    cfg = RunConfig(**{f.name: config[f.name] for f in dataclasses.fields(RunConfig) if f.name in config})
    plan = [TaskSpec(**{f.name: t.get(f.name) for f in dataclasses.fields(TaskSpec)}) for t in first["tasks_run"]]
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    with FolderLock(out, "ac-eval merge"):
        run_id = new_run_id()
        stage = out / f".staging-{run_id}"
        try:
            rows = _rows_without_run_id([folder for folder, _ in runs])
            tasks_report = write_samples(cfg, plan, rows, stage, run_id, first.get("generation") or {})
            report = _merged_document(first, [run for _, run in runs], [f for f, _ in runs], config, tasks_report, run_id)
            write_report(report, stage, out)
            publish_staged(stage, out)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return report


def _check_shards(runs: list[tuple[Path, dict]]) -> list[Shard]:
    shards = []
    for folder, run in runs:
        given = run["config"].get("shard")
        if not given:
            raise ValueError(f"{folder}: not a shard (its run had no --shard K/N): merge joins the folders of one "
                             "run's shards")
        shards.append(Shard.parse(given))
    counts = {s.count for s in shards}
    if len(counts) > 1:
        raise ValueError("the folders come from different splits of the items (" +
                         ", ".join(f"{f}: {s}" for (f, _), s in zip(runs, shards)) + "): give the N shards of one run")
    n = counts.pop()
    have = sorted(s.index for s in shards)
    if have != list(range(1, n + 1)):
        missing = sorted(set(range(1, n + 1)) - set(have))
        twice = sorted({k for k in have if have.count(k) > 1})
        raise ValueError(f"shards of N={n}: " + "; ".join(
            ([f"missing {', '.join(f'{k}/{n}' for k in missing)}"] if missing else []) +
            ([f"given twice {', '.join(f'{k}/{n}' for k in twice)}"] if twice else [])) +
            ": give each shard's folder once")
    (f0, r0), keys = runs[0], _same_run_keys(runs[0][1])
    for folder, run in runs[1:]:
        for what, value in _same_run_keys(run).items():
            if value != keys[what]:
                raise ValueError(f"{folder} and {f0} are not shards of one run: their {what} differ "
                                 f"({value!r} vs {keys[what]!r})")
    return shards


def _same_run_keys(run: dict) -> dict[str, Any]:
    config = {k: v for k, v in run["config"].items() if k not in PER_SHARD}
    return {"model": (run.get("model") or {}).get("key"), "settings": config,
            "ac-eval version": run.get("ac_eval_version")}


def _rows_without_run_id(folders: list[Path]) -> Iterator[dict]:
    for folder in folders:
        for row in read_jsonl(folder / "samples.jsonl"):
            row.pop("run_id", None)
            yield row


def _merged_document(first: dict, runs: list[dict], folders: list[Path], config: dict, tasks_report: dict,
                     run_id: str) -> dict[str, Any]:
    """The first shard's results.json (model, environment, prompts: checked equal) with what covers all shards."""
    report = {k: v for k, v in first.items() if k not in ("plots", "run_status")}
    caches = [r.get("cache") or {} for r in runs]
    report.update({
        "run_id": run_id,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": config,
        "config_hash": hashlib.sha256(json.dumps({**{k: v for k, v in config.items() if k != "task_names"},
                                                  "output_path": None}, sort_keys=True).encode()).hexdigest()[:16],
        "cache": {k: sum(c.get(k, 0) for c in caches) for k in ("items", "evaluated", "from_cache")},
        "timing": {"shards": [r.get("timing") for r in runs]},
        "lm_eval_results": {"shards": [r.get("lm_eval_results") for r in runs]},
        "merged_from": [{"folder": str(f), "run_id": r["run_id"], "shard": r["config"]["shard"]}
                        for f, r in zip(folders, runs)],
        "tasks": tasks_report,
    })
    report["run_status"] = run_status(tasks_report, config.get("max_error_rate", 0.05))
    return report
