"""`ac-eval run`: drive lm-eval's `simple_evaluate` over ac-eval's tasks and write every output.

Outputs in OUTPUT_PATH:
- `lm_eval/`: lm-eval's own results JSON and per-sample logs (EvaluationTracker, unchanged format)
- `samples.jsonl`: one line per item and condition (id, task, condition, prediction, correct, ...)
- `results.json`: the audio-contribution report + configuration and provenance
- `report.md`: the tables in Markdown
- `submission_<task>.json`: for MMAU test (answers withheld), predictions in the benchmark's format
- `cache/`: lm-eval's request cache; rerunning the same command resumes without redoing finished items
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jsonlines

import ac_eval
from ac_eval.conditions import CONDITIONS, task_suffix
from ac_eval.prompts import get_prompt
from ac_eval.report import build_task_report, print_report, to_markdown

TASKS_DIR = Path(__file__).resolve().parent.parent / "tasks"
ALIASES = {"mmau": "mmau_test_mini"}
MODEL_ALIASES = {"hf": "ac_hf", "openai": "ac_openai", "vllm": "ac_vllm"}  # our audio LMs stand in for lm-eval's text-only ones


@dataclass(frozen=True)
class BaseTask:
    """A benchmark view with the original audio; every condition of it is `name + task_suffix(condition)`."""

    name: str
    benchmark: str
    split: str
    yaml: Path


def task_index(include_paths: list[str | Path] = ()) -> tuple[dict[str, BaseTask], set[str]]:
    """Base tasks and all task names, read from the YAMLs in tasks/ and any extra include paths
    (`ac-eval filter` writes subset tasks such as mmau_test_mini_strong there)."""
    from lm_eval.tasks._yaml_loader import load_yaml

    bases: dict[str, BaseTask] = {}
    names: set[str] = set()
    for folder in [TASKS_DIR, *map(Path, include_paths)]:
        for path in sorted(Path(folder).expanduser().glob("*.yaml")):
            cfg = load_yaml(path, resolve_func=False)
            meta = cfg.get("metadata") or {}
            if "task" not in cfg or "benchmark" not in meta:
                continue
            names.add(cfg["task"])
            if meta.get("condition", "original") == "original":
                bases[cfg["task"]] = BaseTask(cfg["task"], meta["benchmark"], meta.get("split", "test"), path)
    return bases, names


@dataclass
class RunConfig:
    tasks: list[str]
    model: str = "hf"
    model_args: str = ""
    conditions: list[str] = field(default_factory=lambda: ["original", "silent"])
    data_dir: str | None = None
    metadata_files: dict[str, str] = field(default_factory=dict)
    include_paths: list[str] = field(default_factory=list)
    prompt: str = "audiomcq"
    mode: str = "generate"  # or "choice"
    limit: float | None = None
    batch_size: int = 8
    gen_kwargs: str | None = None
    output_path: str = "runs/latest"
    use_cache: bool = True
    seed: int = 1234


def split_task(name: str, bases: dict[str, BaseTask]) -> tuple[str, str]:
    """'mmar_silent_matched' -> ('mmar', 'silent-matched'); 'mmau' -> ('mmau_test_mini', 'original')."""
    name = ALIASES.get(name, name)
    if name in bases:
        return name, "original"
    for cond in sorted(CONDITIONS, key=len, reverse=True):
        suffix = task_suffix(cond)
        if suffix and name.endswith(suffix) and name[: -len(suffix)] in bases:
            return name[: -len(suffix)], cond
    known = ", ".join(sorted(bases) + list(ALIASES))
    raise ValueError(f"unknown task {name!r}; known: {known} (a condition suffix such as _silent picks one condition)")


def expand_tasks(tasks: list[str], conditions: list[str], bases: dict[str, BaseTask]) -> list[str]:
    """Each base task under each condition; a task named with a condition suffix keeps just that condition."""
    for c in conditions:
        if c not in CONDITIONS:
            raise ValueError(f"unknown condition {c!r}; known: {', '.join(CONDITIONS)}")
    out: list[str] = []
    for t in tasks:
        base, cond = split_task(t, bases)
        explicit = ALIASES.get(t, t) != base
        for c in [cond] if explicit else conditions:
            name = base + task_suffix(c)
            if name not in out:
                out.append(name)
    return out


def _task_spec(name: str, mode: str, bases: dict[str, BaseTask], yaml_names: set[str]) -> str | dict:
    """A task name lm-eval knows, or an inline config: conditions without a YAML of their own are the base
    task's config with another condition; choice mode turns generation into option ranking."""
    if mode not in ("generate", "choice"):
        raise ValueError(f"mode {mode!r}: use generate or choice")
    if mode == "generate" and name in yaml_names:
        return name
    from lm_eval.tasks._yaml_loader import load_yaml

    from ac_eval import lm_tasks

    base, condition = split_task(name, bases)
    cfg = load_yaml(bases[base].yaml, resolve_func=True)
    cfg.pop("include", None)
    cfg["task"] = name
    cfg["metadata"] = {**(cfg.get("metadata") or {}), "condition": condition}
    cfg.pop("tag", None)
    if mode == "choice":
        cfg.update(output_type="multiple_choice", doc_to_choice=lm_tasks.doc_to_choice, target_delimiter="")
        cfg.pop("generation_kwargs", None)
    return cfg


def _cache_prefix(cfg: RunConfig) -> str:
    key = json.dumps([cfg.model, cfg.model_args, cfg.mode, ac_eval.__version__], sort_keys=True)
    return str(Path(cfg.output_path) / "cache" / hashlib.sha256(key.encode()).hexdigest()[:16])


def run(cfg: RunConfig, console=None) -> dict[str, Any]:
    import lm_eval
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    import ac_eval.models.lm_eval_adapter  # noqa: F401  registers the model with lm-eval

    bases, yaml_names = task_index(cfg.include_paths)
    names = expand_tasks(cfg.tasks, cfg.conditions, bases)
    out = Path(cfg.output_path)
    (out / "cache").mkdir(parents=True, exist_ok=True)
    manager = TaskManager(
        include_path=[str(TASKS_DIR), *cfg.include_paths],
        include_defaults=False,
        metadata={
            "data_dir": cfg.data_dir,
            "metadata_files": cfg.metadata_files,
            "prompt": cfg.prompt,
            "limit_items": cfg.limit,  # applied to items, not docs: see lm_tasks.load_docs
        },
    )
    # The system prompt is a run-level setting in lm-eval: run once per distinct system prompt.
    by_system: dict[str | None, list[str]] = defaultdict(list)
    for name in names:
        by_system[get_prompt(cfg.prompt, bases[split_task(name, bases)[0]].benchmark).system].append(name)

    from ac_eval.catalogue import resolve

    model, model_args, entry = resolve(cfg.model, cfg.model_args)
    model = MODEL_ALIASES.get(model, model)
    gen_kwargs = cfg.gen_kwargs or (entry.gen_kwargs if entry else None)
    tracker = EvaluationTracker(output_path=str(out / "lm_eval"))
    lm_results: dict[str, Any] = {"results": {}, "configs": {}}
    samples: dict[str, list] = {}
    from lm_eval.api.registry import get_model

    lm = get_model(model).create_from_arg_string(model_args, {"batch_size": cfg.batch_size})
    cache = _cache_prefix(cfg) if cfg.use_cache else None
    for system, group in by_system.items():
        results = lm_eval.simple_evaluate(
            model=lm,
            tasks=[_task_spec(n, cfg.mode, bases, yaml_names) for n in group],
            task_manager=manager,
            log_samples=True,
            apply_chat_template=True,
            system_instruction=system,
            gen_kwargs=gen_kwargs,
            use_cache=cache,
            random_seed=cfg.seed,
            numpy_random_seed=cfg.seed,
            torch_random_seed=cfg.seed,
            evaluation_tracker=tracker,
        )
        if cache:
            _forget_failures(cache, lm.rank)
        if results is None:  # a non-zero rank of a data-parallel run: rank 0 writes everything
            continue
        group_samples = results.pop("samples")
        tracker.save_results_aggregated(results=results, samples=group_samples)
        for task_name in results["configs"]:
            tracker.save_results_samples(task_name=task_name, samples=group_samples[task_name])
        samples.update(group_samples)
        lm_results["results"].update(results["results"])
        lm_results["configs"].update(results["configs"])
        lm_results.setdefault("versions", {}).update(results.get("versions", {}))
    if lm.rank != 0:
        return {}
    lm_results["model"] = _model_provenance(cfg, lm)
    lm_results["timing"] = {**getattr(lm, "timing", {}), "world_size": lm.world_size}
    lm_results["chat_template"] = lm.chat_template() if hasattr(lm, "chat_template") else None
    report = write_outputs(cfg, names, bases, samples, lm_results, out)
    print_report(report, console)
    return report


def write_outputs(
    cfg: RunConfig, names: list[str], bases: dict[str, BaseTask], samples: dict[str, list], lm_results: dict, out: Path
) -> dict:
    from ac_eval import lm_tasks
    from ac_eval.scoring import score_item

    by_base: dict[str, dict[str, tuple[list, list]]] = defaultdict(dict)
    with jsonlines.open(out / "samples.jsonl", "w") as writer:
        for name in names:
            base, cond = split_task(name, bases)
            records, scores = [], []
            for s in sorted(samples.get(name, []), key=lambda s: s["doc_id"]):
                doc = s["doc"]
                record = lm_tasks.record_from_doc(doc)
                raw = lm_tasks.raw_prediction(doc, s["filtered_resps"])
                score = score_item(record, raw, doc["rule"])
                records.append(record)
                scores.append(score)
                writer.write(
                    {
                        "id": record.id,
                        "task": name,
                        "base_task": base,
                        "benchmark": record.benchmark,
                        "condition": cond,
                        "prediction": raw,
                        "correct": score.correct_official,
                        "correct_strict": score.correct_strict,
                        "status": score.status,
                        "extracted": score.extracted,
                        "chosen": score.chosen,
                        "answer": record.answer,
                        "n_choices": len(record.choices),
                        "subsets": record.subsets,
                        "error": score.error,
                    }
                )
            by_base[base][cond] = (records, scores)
            if (bases[base].benchmark, bases[base].split) == ("mmau", "test"):  # answers withheld
                _write_mmau_submission(out / f"submission_{name}.json", records, scores)

    tasks_report = {}
    for base, by_condition in by_base.items():
        benchmark, split = bases[base].benchmark, bases[base].split
        lm_cfg = next((lm_results["configs"][n] for n in names if split_task(n, bases)[0] == base), {})
        meta_path = lm_tasks.resolve_metadata(
            benchmark, split, cfg.data_dir, cfg.metadata_files, lm_cfg.get("metadata", {}).get("metadata_file")
        )
        loaded = lm_tasks.load_cached(benchmark, str(meta_path), split)
        tasks_report[base] = build_task_report(
            benchmark,
            by_condition,
            {
                "split": split,
                "metadata_file": str(meta_path),
                "metadata_sha256": loaded.sha256,
                "metadata_version": loaded.version,
                "load_issues": loaded.issue_counts(),
                "skipped_records": loaded.skipped,
                "generation_kwargs": lm_cfg.get("generation_kwargs"),
            },
        )
    report = {
        "ac_eval_version": ac_eval.__version__,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": {**asdict(cfg), "model_args": _redact(cfg.model_args), "task_names": names},
        "prompt": {n: get_prompt(cfg.prompt, bases[split_task(n, bases)[0]].benchmark).to_dict() for n in names},
        "environment": _environment(),
        "model": lm_results.get("model"),
        "config_hash": hashlib.sha256(json.dumps(
            {**asdict(cfg), "model_args": _redact(cfg.model_args), "output_path": None}, sort_keys=True
        ).encode()).hexdigest()[:16],
        "chat_template": lm_results.get("chat_template"),
        "timing": lm_results.get("timing"),
        "lm_eval_results": lm_results["results"],
        "tasks": tasks_report,
    }
    from ac_eval.plot import plot_task

    report["plots"] = {t: [str(p) for p in plot_task(t, tr, out / "plots")] for t, tr in tasks_report.items()}
    (out / "results.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "report.md").write_text(to_markdown(report))
    return report


def _write_mmau_submission(path: Path, records, scores) -> None:
    """MMAU's test answers are withheld: the benchmark's evaluation reads its own records + `model_prediction`."""
    rows = [
        {**r.fields, "model_prediction": s.extracted}
        for r, s in zip(records, scores)
        if s.status == "ok" or s.status == "unparseable"
    ]
    path.write_text(json.dumps(rows, indent=2, ensure_ascii=False))


def _model_provenance(cfg: RunConfig, lm: Any) -> dict[str, Any]:
    """Who was evaluated: model id and revision, backend, and (for checkpoints our trainers wrote) the training
    record they carry in `ac_eval_training.json`."""
    args = dict(part.split("=", 1) for part in cfg.model_args.split(",") if "=" in part)
    pretrained = args.get("pretrained") or args.get("model")
    backend = getattr(lm, "backend", None)
    info: dict[str, Any] = {
        "id": pretrained,
        "revision": args.get("revision"),
        "lm_eval_model": MODEL_ALIASES.get(cfg.model, cfg.model),
        "arch": getattr(backend, "arch", None),
        "training": None,
    }
    record = Path(pretrained or "") / "ac_eval_training.json"
    if pretrained and record.is_file():
        info["training"] = json.loads(record.read_text())
    return info


def _forget_failures(cache_prefix: str, rank: int) -> None:
    """lm-eval's CachingLM stores every result of a call, per-item audio failures included. Drop those, so a rerun
    after the audio is fixed evaluates the item instead of replaying the error. Each process owns one file."""
    path = Path(f"{cache_prefix}_rank{rank}.db")
    if path.exists():
        _drop_failed_entries(path)


def _drop_failed_entries(path: Path) -> None:
    import math

    from sqlitedict import SqliteDict

    from ac_eval.scoring import failure_of

    with SqliteDict(str(path), autocommit=False) as db:
        failed = [
            k
            for k, v in db.items()
            if (isinstance(v, str) and failure_of(v))
            or (isinstance(v, (tuple, list)) and v and isinstance(v[0], float) and math.isnan(v[0]))
        ]
        for k in failed:
            del db[k]
        db.commit()


def _redact(model_args: str) -> str:
    parts = []
    for part in filter(None, model_args.split(",")):
        key = part.split("=", 1)[0]
        parts.append(f"{key}=***" if any(s in key.lower() for s in ("key", "token", "secret")) else part)
    return ",".join(parts)


def _environment() -> dict[str, str]:
    import importlib.metadata as md

    versions = {}
    for pkg in ("lm-eval", "transformers", "torch", "datasets", "soundfile", "soxr"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {"python": platform.python_version(), **versions}
