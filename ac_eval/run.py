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
from ac_eval.benchmarks import get as get_benchmark
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


@dataclass(frozen=True)
class DeclaredTask:
    """A task a YAML declares: its condition comes from its metadata, and its name must agree with it."""

    name: str
    base: str
    condition: str


class TaskError(ValueError):
    """A task definition contradicts itself (e.g. its name says one condition, its metadata another)."""


def task_index(include_paths: list[str | Path] = ()) -> tuple[dict[str, BaseTask], dict[str, DeclaredTask]]:
    """Base tasks and every declared task, read from the YAMLs in tasks/ and any extra include paths
    (`ac-eval filter` writes subset tasks such as mmau_test_mini_strong there).

    A YAML's condition is its metadata's `condition`; a task of another condition than `original` must be
    named `<base task><suffix>` (e.g. mmar_silent), and a name with a condition suffix must declare that
    condition: `task: x_silent` with `condition: original` would feed real audio under a silent name."""
    from lm_eval.tasks._yaml_loader import load_yaml

    bases: dict[str, BaseTask] = {}
    declared: dict[str, tuple[str, str, Path]] = {}
    for folder in [TASKS_DIR, *map(Path, include_paths)]:
        for path in sorted(Path(folder).expanduser().glob("*.yaml")):
            cfg = load_yaml(path, resolve_func=False)
            meta = cfg.get("metadata") or {}
            if "task" not in cfg or "benchmark" not in meta:
                continue
            condition = meta.get("condition", "original")
            if condition not in CONDITIONS:
                raise TaskError(f"{path}: condition {condition!r} is unknown; known: {', '.join(CONDITIONS)}")
            declared[cfg["task"]] = (condition, meta.get("benchmark"), path)
            if condition == "original":
                bases[cfg["task"]] = BaseTask(cfg["task"], meta["benchmark"], meta.get("split", "test"), path)
    tasks: dict[str, DeclaredTask] = {}
    for name, (condition, _, path) in declared.items():
        named = _condition_in_name(name, bases)
        if condition == "original":
            if named is not None and named[1] != "original":
                raise TaskError(f"{path}: task {name!r} is named as the {named[1]!r} condition of {named[0]!r} but "
                                "declares condition original; rename it or declare the condition it runs")
            tasks[name] = DeclaredTask(name, name, condition)
            continue
        base = name[: -len(task_suffix(condition))] if name.endswith(task_suffix(condition)) else None
        if base not in bases:
            raise TaskError(f"{path}: task {name!r} declares condition {condition!r}, so it must be named "
                            f"<base task>{task_suffix(condition)} after a task with the original audio")
        tasks[name] = DeclaredTask(name, base, condition)
    return bases, tasks


def _condition_in_name(name: str, bases: dict[str, BaseTask]) -> tuple[str, str] | None:
    """(base, condition) when the name is a base task plus a condition suffix; the longest suffix wins."""
    for cond in sorted(CONDITIONS, key=lambda c: len(task_suffix(c)), reverse=True):
        suffix = task_suffix(cond)
        if suffix and name.endswith(suffix) and name[: -len(suffix)] in bases:
            return name[: -len(suffix)], cond
    return None


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
    extraction: str = "r1-aqa"  # r1-aqa (the paper's protocol, official), none (official, output as given), lenient
    max_error_rate: float = 0.05  # share of item errors in a condition above which the run exits non-zero


def split_task(name: str, bases: dict[str, BaseTask], declared: dict[str, DeclaredTask] | None = None) -> tuple[str, str]:
    """'mmar_silent_matched' -> ('mmar', 'silent-matched'); 'mmau' -> ('mmau_test_mini', 'original').
    A declared task's condition is its YAML's; other names are the user-facing alias `<base><suffix>`."""
    name = ALIASES.get(name, name)
    if declared and name in declared:
        return declared[name].base, declared[name].condition
    if name in bases:
        return name, "original"
    found = _condition_in_name(name, bases)
    if found:
        return found
    known = ", ".join(sorted(bases) + list(ALIASES))
    raise ValueError(f"unknown task {name!r}; known: {known} (a condition suffix such as _silent picks one condition)")


def expand_tasks(
    tasks: list[str], conditions: list[str], bases: dict[str, BaseTask], declared: dict[str, DeclaredTask] | None = None
) -> list[str]:
    """Each base task under each condition; a task named with a condition suffix keeps just that condition."""
    return [name for name, _, _ in plan_tasks(tasks, conditions, bases, declared)]


def plan_tasks(
    tasks: list[str], conditions: list[str], bases: dict[str, BaseTask], declared: dict[str, DeclaredTask] | None = None
) -> list[tuple[str, str, str]]:
    """(task name, base task, condition) for every task to run: the condition is decided here, once, and carried
    from the task to each request and into every log line."""
    if not tasks:
        raise ValueError("--tasks is empty: name at least one task, e.g. --tasks mmau")
    if not conditions:
        raise ValueError(f"--conditions is empty: name at least one of {', '.join(CONDITIONS)}")
    for c in conditions:
        if c not in CONDITIONS:
            raise ValueError(f"unknown condition {c!r}; known: {', '.join(CONDITIONS)}")
    out: list[tuple[str, str, str]] = []
    for t in tasks:
        base, cond = split_task(t, bases, declared)
        explicit = ALIASES.get(t, t) != base
        for c in [cond] if explicit else conditions:
            name = base + task_suffix(c)
            if all(name != n for n, _, _ in out):
                out.append((name, base, c))
    return out


def _task_spec(name: str, base: str, condition: str, mode: str, bases: dict[str, BaseTask],
               declared: dict[str, DeclaredTask]) -> str | dict:
    """A task name lm-eval knows, or an inline config: conditions without a YAML of their own are the base
    task's config with another condition; choice mode turns generation into option ranking."""
    if mode not in ("generate", "choice"):
        raise ValueError(f"mode {mode!r}: use generate or choice")
    if mode == "generate" and name in declared:
        return name
    from lm_eval.tasks._yaml_loader import load_yaml

    from ac_eval import lm_tasks

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


def check_settings(cfg: RunConfig) -> None:
    """Mistakes that would otherwise show only after the model is loaded (or never): say them now."""
    from lm_eval.utils import simple_parse_args_string

    from ac_eval.models.qwen2_audio import DEFAULT_MAX_NEW_TOKENS, GenerationSettings
    from ac_eval.scoring import EXTRACTIONS

    if cfg.extraction not in EXTRACTIONS:
        raise ValueError(f"--extraction {cfg.extraction!r}: use one of {', '.join(EXTRACTIONS)}")
    if not 0 <= cfg.max_error_rate <= 1:
        raise ValueError(f"--max-error-rate {cfg.max_error_rate}: give a share between 0 and 1, e.g. 0.05")
    gen = simple_parse_args_string(cfg.gen_kwargs or "")
    GenerationSettings.from_lm_eval(gen, DEFAULT_MAX_NEW_TOKENS)  # unknown keys and bad values fail here
    model_args = simple_parse_args_string(cfg.model_args or "")
    asked = gen.get("max_gen_toks", gen.get("max_new_tokens"))
    if "max_new_tokens" in model_args and asked is not None and int(asked) != int(model_args["max_new_tokens"]):
        raise ValueError(f"model_args max_new_tokens={model_args['max_new_tokens']} and --gen_kwargs "
                         f"max_gen_toks={asked} disagree: give the budget in one place")


class NoAudioError(RuntimeError):
    """Not one clip of a task that needs them can be found: found before the model is loaded."""


def preflight_audio(cfg: RunConfig, plan: list[tuple[str, str, str]], bases: dict[str, BaseTask]) -> list[str]:
    """Check that the clips exist before anything heavy happens. Every clip missing: NoAudioError (the user learns
    in seconds, not after the model has loaded); some missing: a warning line (they become counted audio errors)."""
    from ac_eval import lm_tasks
    from ac_eval.conditions import get_condition

    from ac_eval.benchmarks import MetadataError

    warnings = []
    for base in dict.fromkeys(b for _, b, _ in plan):
        task = bases[base]
        path = lm_tasks.resolve_metadata(task.benchmark, task.split, cfg.data_dir, cfg.metadata_files,
                                         _metadata_file(task))
        loaded = lm_tasks.load_cached(task.benchmark, str(path), task.split)
        if not loaded.records:
            first = f" (first: record {loaded.skipped[0]['index']}: {loaded.skipped[0]['reason']})" if loaded.skipped else ""
            raise MetadataError(f"{path}: no usable {task.benchmark} records, {len(loaded.skipped)} skipped{first}")
        if not any(get_condition(c).reads_clip for _, b, c in plan if b == base):
            continue
        records = lm_tasks.select_records(loaded.records, cfg.limit)
        missing = [r.audio.describe() for r in records if not _clip_exists(r.audio)]
        if records and len(missing) == len(records):
            raise NoAudioError(
                f"{base}: none of the {len(records)} audio files exists (e.g. {missing[0]}). Check --data_dir "
                f"(clips are looked up relative to {path}); conditions that need no clip: silent, none, noise"
            )
        if missing:
            warnings.append(f"{base}: {len(missing)} of {len(records)} audio files are missing (e.g. {missing[0]}); "
                            "they will be counted as audio errors")
    return warnings


def _metadata_file(task: BaseTask) -> str | None:
    from lm_eval.tasks._yaml_loader import load_yaml

    return (load_yaml(task.yaml, resolve_func=False).get("metadata") or {}).get("metadata_file")


def _clip_exists(ref) -> bool:
    return bool(ref.path) and Path(ref.path).is_file()


def run(cfg: RunConfig, console=None) -> dict[str, Any]:
    from rich.console import Console

    console = console or Console()
    check_settings(cfg)
    bases, declared = task_index(cfg.include_paths)
    plan = plan_tasks(cfg.tasks, cfg.conditions, bases, declared)
    for line in preflight_audio(cfg, plan, bases):
        console.print(f"warning: {line}", style="yellow")

    import lm_eval
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    import ac_eval.models.lm_eval_adapter  # noqa: F401  registers the model with lm-eval

    out = Path(cfg.output_path)
    (out / "cache").mkdir(parents=True, exist_ok=True)
    manager = TaskManager(
        include_path=[str(TASKS_DIR), *cfg.include_paths],
        include_defaults=False,
        metadata={
            "data_dir": cfg.data_dir,
            "metadata_files": cfg.metadata_files,
            "prompt": cfg.prompt,
            "extraction": cfg.extraction,
            "limit_items": cfg.limit,  # applied to items, not docs: see lm_tasks.load_docs
        },
    )
    # The system prompt is a run-level setting in lm-eval: run once per distinct system prompt.
    by_system: dict[str | None, list[tuple[str, str, str]]] = defaultdict(list)
    for task in plan:
        by_system[get_prompt(cfg.prompt, bases[task[1]].benchmark).system].append(task)

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
            tasks=[_task_spec(name, base, cond, cfg.mode, bases, declared) for name, base, cond in group],
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
    lm_results["generation"] = {
        name: (lm.generation_settings(lm_results["configs"].get(name, {}).get("generation_kwargs") or {}).to_dict()
               if cfg.mode == "generate" and hasattr(lm, "generation_settings") else None)
        for name, _, _ in plan
    }
    report = write_outputs(cfg, plan, bases, samples, lm_results, out)
    print_report(report, console)
    return report


def _sample_condition(sample: dict, name: str, expected: str) -> str:
    """The condition the model was given, read from the request itself (lm-eval logs each request's arguments:
    a list of argument tuples, or {"gen_args_0": {"arg_2": ...}} once its tracker has saved them); it must be the
    condition the task was planned with."""
    args = sample.get("arguments")
    first = args.get("gen_args_0", {}).get("arg_2") if isinstance(args, dict) else (args[0][2] if args and len(args[0]) > 2 else None)
    given = first.get("audio", {}).get("condition") if isinstance(first, dict) else None
    if given is None:
        raise TaskError(f"task {name!r}: its requests carry no audio condition (doc_to_audio must return ac-eval's "
                        "{'path', 'condition'} reference)")
    if given != expected:
        raise TaskError(f"task {name!r} was planned as condition {expected!r} but its requests carried {given!r}: "
                        "its YAML's metadata, name or doc_to_audio disagree")
    return given


def write_outputs(
    cfg: RunConfig, plan: list[tuple[str, str, str]], bases: dict[str, BaseTask], samples: dict[str, list],
    lm_results: dict, out: Path,
) -> dict:
    from ac_eval import lm_tasks
    from ac_eval.scoring import score_item

    by_base: dict[str, dict[str, tuple[list, list]]] = defaultdict(dict)
    scorers: dict[str, Any] = {}
    with jsonlines.open(out / "samples.jsonl", "w") as writer:
        for name, base, planned in plan:
            records, scores = [], []
            for s in sorted(samples.get(name, []), key=lambda s: s["doc_id"]):
                doc = s["doc"]
                condition = _sample_condition(s, name, planned)
                record = lm_tasks.record_from_doc(doc)
                scorer = scorers.setdefault(base, lm_tasks.doc_scorer(doc))
                raw = lm_tasks.raw_prediction(doc, s["filtered_resps"])
                score = score_item(record, raw, scorer)
                records.append(record)
                scores.append(score)
                writer.write(
                    {
                        "id": record.id,
                        "task": name,
                        "base_task": base,
                        "benchmark": record.benchmark,
                        "condition": condition,
                        "mode": cfg.mode,
                        "prediction": raw,
                        "correct": score.correct,
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
            by_base[base][planned] = (records, scores)
            if (bases[base].benchmark, bases[base].split) == ("mmau", "test"):  # answers withheld
                _write_mmau_submission(out / f"submission_{name}.json", records, scores)

    tasks_report = {}
    for base, by_condition in by_base.items():
        benchmark, split = bases[base].benchmark, bases[base].split
        names = [n for n, b, _ in plan if b == base]
        lm_cfg = next((lm_results["configs"][n] for n in names if n in lm_results["configs"]), {})
        meta_path = lm_tasks.resolve_metadata(
            benchmark, split, cfg.data_dir, cfg.metadata_files, lm_cfg.get("metadata", {}).get("metadata_file")
        )
        loaded = lm_tasks.load_cached(benchmark, str(meta_path), split)
        scorer = scorers.get(base)
        tasks_report[base] = build_task_report(
            benchmark,
            by_condition,
            {
                "split": split,
                "answers_withheld": not get_benchmark(benchmark).answers_public(split),
                "scorer": scorer.to_dict() if scorer else None,
                "metadata_file": str(meta_path),
                "metadata_sha256": loaded.sha256,
                "metadata_version": loaded.version,
                "load_issues": loaded.issue_counts(),
                "skipped_records": loaded.skipped,
                "generation": next((lm_results.get("generation", {}).get(n) for n in names), None),
            },
            official=scorer.official if scorer else True,
        )
    report = {
        "ac_eval_version": ac_eval.__version__,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": {**asdict(cfg), "model_args": _redact(cfg.model_args), "task_names": [n for n, _, _ in plan]},
        "prompt": {n: get_prompt(cfg.prompt, bases[b].benchmark).to_dict() for n, b, _ in plan},
        "environment": _environment(),
        "model": lm_results.get("model"),
        "config_hash": hashlib.sha256(json.dumps(
            {**asdict(cfg), "model_args": _redact(cfg.model_args), "output_path": None}, sort_keys=True
        ).encode()).hexdigest()[:16],
        "chat_template": lm_results.get("chat_template"),
        "timing": lm_results.get("timing"),
        "generation": lm_results.get("generation"),
        "lm_eval_results": lm_results["results"],
        "tasks": tasks_report,
    }
    report["run_status"] = run_status(tasks_report, cfg.max_error_rate)
    from ac_eval.plot import plot_task

    report["plots"] = {t: [str(p) for p in plot_task(t, tr, out / "plots")] for t, tr in tasks_report.items()}
    (out / "results.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "report.md").write_text(to_markdown(report))
    return report


EXIT_OK = 0
EXIT_NOTHING_SCORED = 3  # a condition scored no item
EXIT_NO_AUDIO = 4  # no clip could be loaded (pre-flight, or every original-audio item failed)
EXIT_TOO_MANY_ERRORS = 5  # a condition's share of item errors is above --max-error-rate
EXIT_CODES = {
    EXIT_OK: "every condition scored items, item errors within --max-error-rate",
    2: "a usage or input error (bad flag, unknown task, unreadable metadata): nothing was run",
    EXIT_NOTHING_SCORED: "a condition scored no item",
    EXIT_NO_AUDIO: "no clip could be loaded (found before the model loads when no audio file exists)",
    EXIT_TOO_MANY_ERRORS: "a condition's share of item errors is above --max-error-rate",
}


def run_status(tasks_report: dict[str, Any], max_error_rate: float) -> dict[str, Any]:
    """Per task and condition: scored / errors / skipped, and the exit code the run ends with. Answers withheld
    (MMAU test): "scored" counts the items answered (the submission holds them)."""
    conditions: dict[str, dict[str, dict]] = {}
    problems: list[tuple[int, str]] = []
    for task, tr in tasks_report.items():
        for cond, stats in tr["conditions"].items():
            errors = stats["n_audio_error"] + stats["n_request_error"]
            scored = (stats["n_total"] - stats["n_missing"] - stats["n_invalid_prediction"] - errors
                      if tr.get("answers_withheld") else stats["n_scored"])
            entry = {"n_total": stats["n_total"], "scored": scored, "errors": errors,
                     "skipped": stats["n_total"] - scored - errors,
                     "error_rate": errors / stats["n_total"] if stats["n_total"] else 0.0}
            conditions.setdefault(task, {})[cond] = entry
            where = f"{task} / {cond}"
            if stats["n_total"] and stats["n_audio_error"] == stats["n_total"]:
                problems.append((EXIT_NO_AUDIO, f"{where}: no clip could be loaded ({stats['n_total']} audio errors)"))
            elif scored == 0:
                problems.append((EXIT_NOTHING_SCORED, f"{where}: no item was scored (of {stats['n_total']})"))
            elif entry["error_rate"] > max_error_rate:
                problems.append((EXIT_TOO_MANY_ERRORS, f"{where}: {errors} of {stats['n_total']} items failed "
                                 f"({100 * entry['error_rate']:.1f}% > --max-error-rate {100 * max_error_rate:g}%)"))
    code = min((c for c, _ in problems), default=EXIT_OK)
    return {"exit_code": code, "meaning": EXIT_CODES[code], "problems": [p for _, p in problems], "conditions": conditions}


def _write_mmau_submission(path: Path, records, scores) -> None:
    """MMAU's test answers are withheld: every record, with the extracted prediction under both keys the
    benchmark's evaluation has read: `model_output` (evaluation.py now) and `model_prediction` (its README,
    R1-AQA). Items that failed (audio or request errors) keep their record without either key, so the
    official script skips them; the run's status line counts them."""
    rows = []
    for r, s in zip(records, scores):
        row = dict(r.fields)
        if s.extracted is not None:  # the model answered (even if with nothing readable)
            row["model_output"] = row["model_prediction"] = s.extracted
        rows.append(row)
    path.write_text(json.dumps(rows, indent=2, ensure_ascii=False))


def _model_provenance(cfg: RunConfig, lm: Any) -> dict[str, Any]:
    """Who was evaluated: model id and revision, backend, and (for checkpoints our trainers wrote) the training
    record they carry in `ac_eval_training.json`."""
    from lm_eval.utils import simple_parse_args_string

    args = {k: str(v) for k, v in simple_parse_args_string(cfg.model_args or "").items()}
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
