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
from ac_eval.analysis.report import build_task_report, print_report, to_markdown
from ac_eval.evaluation.benchmarks import get as get_benchmark
from ac_eval.evaluation.prompts import get_prompt
from ac_eval.evaluation.records import text_key
from ac_eval.evaluation.tasks import TaskError, TaskSpec, lm_eval_config
from ac_eval.evaluation.tasks import plan as plan_tasks
from ac_eval.paths import TASKS_DIR

MODEL_ALIASES = {"hf": "ac_hf", "openai": "ac_openai", "vllm": "ac_vllm"}  # our audio LMs stand in for lm-eval's text-only ones


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
    allow_audio_outside_root: bool = False  # read clips whose paths leave the data root
    max_error_rate: float = 0.05  # share of item errors in a condition above which the run exits non-zero


def _cache_prefix(cfg: RunConfig) -> str:
    from ac_eval.models import format_model_args, parse_model_args

    # A model's display name does not change its answers: renaming it keeps the cache.
    model_args = format_model_args({k: v for k, v in parse_model_args(cfg.model_args).items() if k != "name"})
    key = json.dumps([cfg.model, model_args, cfg.mode, ac_eval.__version__], sort_keys=True)
    return str(Path(cfg.output_path) / "cache" / hashlib.sha256(key.encode()).hexdigest()[:16])


def check_settings(cfg: RunConfig) -> None:
    """Mistakes that would otherwise show only after the model is loaded (or never): say them now."""
    from lm_eval.utils import simple_parse_args_string

    from ac_eval.evaluation.scoring import EXTRACTIONS
    from ac_eval.models import parse_model_args
    from ac_eval.models.generation import DEFAULT_MAX_NEW_TOKENS, GenerationSettings

    if cfg.extraction not in EXTRACTIONS:
        raise ValueError(f"--extraction {cfg.extraction!r}: use one of {', '.join(EXTRACTIONS)}")
    if cfg.limit is not None and not cfg.limit > 0:
        raise ValueError(f"--limit {cfg.limit}: give a number of items (>= 1) or a fraction between 0 and 1")
    if cfg.batch_size < 1:
        raise ValueError(f"--batch_size {cfg.batch_size}: give a positive number")
    out = Path(cfg.output_path)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--output_path {out} is a file: give a folder (it is created if missing)")
    if not 0 <= cfg.max_error_rate <= 1:
        raise ValueError(f"--max-error-rate {cfg.max_error_rate}: give a share between 0 and 1, e.g. 0.05")
    gen = simple_parse_args_string(cfg.gen_kwargs or "")
    GenerationSettings.from_lm_eval(gen, DEFAULT_MAX_NEW_TOKENS)  # unknown keys and bad values fail here
    model_args = parse_model_args(cfg.model_args)
    asked = gen.get("max_gen_toks", gen.get("max_new_tokens"))
    if "max_new_tokens" in model_args and asked is not None and int(asked) != int(model_args["max_new_tokens"]):
        raise ValueError(f"model_args max_new_tokens={model_args['max_new_tokens']} and --gen_kwargs "
                         f"max_gen_toks={asked} disagree: give the budget in one place")
    _check_model(cfg)


def _check_model(cfg: RunConfig) -> None:
    """What can be known about the model before loading it: its arguments parse, a local checkpoint exists, the
    device it asks for is there."""
    from ac_eval.models import parse_model_args
    from ac_eval.models.catalogue import resolve

    model, model_args, _ = resolve(cfg.model, cfg.model_args)
    args = parse_model_args(model_args)
    if MODEL_ALIASES.get(model, model) in ("ac_hf", "ac_vllm"):
        pretrained = args.get("pretrained")
        if not pretrained:
            raise ValueError(f"--model {cfg.model} needs model_args pretrained=DIR_OR_HUB_ID (got {cfg.model_args!r})")
        path = Path(pretrained).expanduser()
        if path.exists() and not (path / "config.json").is_file():
            raise ValueError(f"{pretrained}: not a checkpoint folder (no config.json in it)")
        if not path.exists() and (pretrained.startswith(("/", ".", "~")) or pretrained.count("/") > 1):
            raise ValueError(f"checkpoint folder not found: {pretrained} (give a local folder or a hub id like Org/Name)")
    device = str(args.get("device", ""))
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"device={device} but this machine has no CUDA GPU (torch {torch.__version__}): "
                             "use --device cpu")


class NoAudioError(RuntimeError):
    """Not one clip of a task that needs them can be found: found before the model is loaded."""


def preflight_audio(cfg: RunConfig, plan: list[TaskSpec]) -> list[str]:
    """Check that the clips exist before anything heavy happens. Every clip missing: NoAudioError (the user learns
    in seconds, not after the model has loaded); some missing: a warning line (they become counted audio errors)."""
    from ac_eval.evaluation import lm_eval_tasks as lm_tasks
    from ac_eval.evaluation.benchmarks import MetadataError
    from ac_eval.evaluation.conditions import get_condition

    warnings = []
    for base, task in {s.base: s for s in plan}.items():
        path = lm_tasks.resolve_metadata(task.benchmark, task.split, cfg.data_dir, cfg.metadata_files,
                                         task.metadata_file)
        loaded = lm_tasks.load_cached(task.benchmark, str(path), task.split)
        if not loaded.records and not loaded.skipped:
            raise MetadataError(f"{path}: holds no records (an empty list)")
        if not loaded.records:
            first = f"record {loaded.skipped[0]['index']}: {loaded.skipped[0]['reason']}"
            raise MetadataError(f"{path}: no usable {task.benchmark} records, {len(loaded.skipped)} skipped (first: {first})")
        if not any(get_condition(s.condition).reads_clip for s in plan if s.base == base):
            continue
        records = lm_tasks.confine_audio(lm_tasks.select_records(loaded.records, cfg.limit),
                                         task.audio_root or path.parent, cfg.allow_audio_outside_root)
        outside = [r.audio.path for r in records if r.audio.outside_root]
        if outside:
            warnings.append(f"{base}: {len(outside)} audio paths leave the data root {task.audio_root or path.parent} "
                            f"(e.g. {outside[0]}): refused, counted as audio errors (--allow-audio-outside-root reads them)")
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


def _clip_exists(ref) -> bool:
    return bool(ref.path) and not ref.outside_root and Path(ref.path).is_file()


def run(cfg: RunConfig, console=None) -> dict[str, Any]:
    """Evaluate, then write every output. The output folder is locked for the run (a second run there refuses);
    every file is written whole under a temporary name and renamed, results.json last, all stamped with one run id."""
    import os

    from ac_eval.console import make_console
    from ac_eval.files import FolderLock

    console = console or make_console()
    check_settings(cfg)
    plan = plan_tasks(cfg.tasks, cfg.conditions, cfg.mode, cfg.include_paths)
    for line in preflight_audio(cfg, plan):
        console.print(f"warning: {line}", style="yellow")
    if int(os.environ.get("RANK", "0")) != 0:  # data parallel: rank 0 holds the lock and writes the outputs
        return _run(cfg, plan, console)
    with FolderLock(cfg.output_path):
        return _run(cfg, plan, console)


def _run(cfg: RunConfig, plan: list[TaskSpec], console) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    # Work that mostly waits (lm-eval's environment report runs a dozen subprocesses: 0.8 s) or that the end of the
    # run needs (matplotlib's import, 0.4-0.8 s) starts now, beside the model's loading (which spends much of its time
    # in C, outside the GIL), instead of after it. Measured: 1 s less per run on 2 cores.
    background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ac-eval-startup")
    env_info = background.submit(_lm_eval_env_info)
    background.submit(_import_plotting)

    import lm_eval
    import lm_eval.evaluator
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    import ac_eval.models.lm_eval_models  # noqa: F401  registers the model with lm-eval

    lm_eval.evaluator.add_env_info = lambda storage: storage.update(env_info.result())
    lm_eval.evaluator.get_git_commit_hash = _quiet_git_hash  # lm-eval's prints "fatal: not a git repository"

    out = Path(cfg.output_path)
    (out / "cache").mkdir(parents=True, exist_ok=True)
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    run_settings = {
        "data_dir": cfg.data_dir,
        "metadata_files": cfg.metadata_files,
        "prompt": cfg.prompt,
        "extraction": cfg.extraction,
        "limit_items": cfg.limit,  # applied to items, not docs: see lm_eval_tasks.load_docs
        "allow_audio_outside_root": cfg.allow_audio_outside_root,
    }
    # The system prompt is a run-level setting in lm-eval: run once per distinct system prompt.
    by_system: dict[str | None, list[TaskSpec]] = defaultdict(list)
    for spec in plan:
        by_system[get_prompt(cfg.prompt, spec.benchmark).system].append(spec)

    from ac_eval.models.catalogue import resolve

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
            tasks=[lm_eval_config(spec, run_settings) for spec in group],
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
    computed = lm.gather_object(len(getattr(lm, "items_computed", ())))  # every rank, before the others leave
    if lm.rank != 0:
        return {}
    n_items = sum(len(v) for v in samples.values())
    n_computed = min(n_items, sum(computed))
    lm_results["cache"] = {"items": n_items, "evaluated": n_computed, "from_cache": n_items - n_computed}
    if n_items - n_computed:
        console.print(f"resumed: {n_items - n_computed} of {n_items} items came from the request cache "
                      f"({out / 'cache'}); {n_computed} evaluated now")
    lm_results["model"] = _model_provenance(cfg, lm)
    lm_results["timing"] = {**getattr(lm, "timing", {}), "world_size": lm.world_size}
    lm_results["chat_template"] = lm.chat_template() if hasattr(lm, "chat_template") else None
    lm_results["generation"] = {
        spec.name: (lm.generation_settings(lm_results["configs"].get(spec.name, {}).get("generation_kwargs") or {}).to_dict()
                    if spec.mode == "generate" and hasattr(lm, "generation_settings") else None)
        for spec in plan
    }
    report = write_outputs(cfg, plan, samples, lm_results, out)
    print_report(report, console)
    return report


def _lm_eval_env_info() -> dict[str, Any]:
    """What lm-eval's `add_env_info` puts in its results (torch's environment report, versions, git hash)."""
    from lm_eval.loggers.utils import add_env_info

    info: dict[str, Any] = {}
    add_env_info(info)
    return info


def _quiet_git_hash() -> str | None:
    """The git commit of the current folder, as lm-eval records it, without git's complaint on stderr outside a
    repository (ac-eval runs anywhere; piped logs should carry only what matters)."""
    import subprocess

    try:
        done = subprocess.run(["git", "describe", "--always"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def _import_plotting() -> None:
    import matplotlib.figure  # noqa: F401


def request_parameters(sample: dict, spec: TaskSpec) -> tuple[str, str]:
    """(condition, mode) as the request itself carried them to the model (lm-eval logs each request's arguments:
    a list of argument tuples, or {"gen_args_0": {"arg_2": ...}} once its tracker has saved them). They must be
    the task's own: anything else means a task definition lied about what the model heard."""
    args = sample.get("arguments")
    first = args.get("gen_args_0", {}).get("arg_2") if isinstance(args, dict) else (args[0][2] if args and len(args[0]) > 2 else None)
    audio = first.get("audio") if isinstance(first, dict) else None
    if not isinstance(audio, dict) or "condition" not in audio:
        raise TaskError(f"task {spec.name!r}: its requests carry no audio condition (doc_to_audio must return "
                        "ac-eval's {'path', 'condition', 'mode'} reference)")
    given = (audio["condition"], audio.get("mode", spec.mode))
    if given != (spec.condition, spec.mode):
        raise TaskError(f"task {spec.name!r} was planned as condition {spec.condition!r} ({spec.mode}) but its "
                        f"requests carried {given[0]!r} ({given[1]}): its YAML's metadata, name or doc_to_audio disagree")
    return given


def write_outputs(cfg: RunConfig, plan: list[TaskSpec], samples: dict[str, list], lm_results: dict, out: Path) -> dict:
    """samples.jsonl, results.json, report.md, plots and MMAU test submissions, from the verdicts lm-eval logged
    (each item was scored once, in lm_eval_tasks.process_results)."""
    from ac_eval.evaluation import lm_eval_tasks as lm_tasks
    from ac_eval.evaluation.scoring import ItemScore
    from ac_eval.files import write_jsonl, write_text

    run_id = new_run_id()
    by_base: dict[str, dict[str, tuple[list, list]]] = defaultdict(dict)
    scorers: dict[str, Any] = {}
    rows: list[dict] = []
    for spec in plan:
        records, scores = [], []
        for s in sorted(samples.get(spec.name, []), key=lambda s: s["doc_id"]):
            condition, mode = request_parameters(s, spec)
            record = lm_tasks.record_from_doc(s["doc"])
            scorers.setdefault(spec.base, lm_tasks.doc_scorer(s["doc"]))
            verdict = dict(s["item_score"])
            raw = verdict.pop("prediction")
            likelihoods = {k: verdict.pop(k) for k in ("option_logprobs", "gold_option") if k in verdict}
            score = ItemScore(**verdict)
            records.append(record)
            scores.append(score)
            rows.append(
                {
                    "run_id": run_id,
                    "id": record.id,
                    "task": spec.name,
                    "base_task": spec.base,
                    "benchmark": record.benchmark,
                    "condition": condition,
                    "mode": mode,
                    "prediction": raw,
                    "correct": score.correct,
                    "correct_strict": score.correct_strict,
                    "status": score.status,
                    "extracted": score.extracted,
                    "chosen": score.chosen,
                    "answer": record.answer,
                    "n_choices": len(record.choices),
                    "text_key": text_key(record),
                    "subsets": record.subsets,
                    "error": score.error,
                    **likelihoods,  # choice mode only
                }
            )
        by_base[spec.base][spec.condition] = (records, scores)
        if not get_benchmark(spec.benchmark).answers_public(spec.split):  # answers withheld (MMAU test)
            _write_mmau_submission(out / f"submission_{spec.name}.json", records, scores)
    write_jsonl(out / "samples.jsonl", rows)

    tasks_report = {}
    for base, by_condition in by_base.items():
        spec = next(s for s in plan if s.base == base)
        meta_path = lm_tasks.resolve_metadata(spec.benchmark, spec.split, cfg.data_dir, cfg.metadata_files,
                                              spec.metadata_file)
        loaded = lm_tasks.load_cached(spec.benchmark, str(meta_path), spec.split)
        scorer = scorers.get(base)
        tasks_report[base] = build_task_report(
            spec.benchmark,
            by_condition,
            {
                "split": spec.split,
                "answers_withheld": not get_benchmark(spec.benchmark).answers_public(spec.split),
                "scorer": scorer.to_dict() if scorer else None,
                "metadata_file": str(meta_path),
                "metadata_sha256": loaded.sha256,
                "metadata_version": loaded.version,
                "load_issues": loaded.issue_counts(),
                "skipped_records": loaded.skipped,
                "generation": next((lm_results.get("generation", {}).get(s.name) for s in plan if s.base == base), None),
            },
            official=scorer.official if scorer else True,
        )
    report = {
        "run_id": run_id,
        "ac_eval_version": ac_eval.__version__,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": {**asdict(cfg), "model_args": _redact(cfg.model_args), "task_names": [s.name for s in plan]},
        "tasks_run": [{"name": s.name, **{k: v for k, v in asdict(s).items() if k != "yaml"}} for s in plan],
        "prompt": {s.name: get_prompt(cfg.prompt, s.benchmark).to_dict() for s in plan},
        "environment": _environment(),
        "model": lm_results.get("model"),
        "config_hash": hashlib.sha256(json.dumps(
            {**asdict(cfg), "model_args": _redact(cfg.model_args), "output_path": None}, sort_keys=True
        ).encode()).hexdigest()[:16],
        "chat_template": lm_results.get("chat_template"),
        "timing": lm_results.get("timing"),
        "cache": lm_results.get("cache"),
        "generation": lm_results.get("generation"),
        "lm_eval_results": lm_results["results"],
        "tasks": tasks_report,
    }
    report["run_status"] = run_status(tasks_report, cfg.max_error_rate)
    from ac_eval.analysis.plots import plot_task

    report["plots"] = {t: [str(p) for p in plot_task(t, tr, out / "plots")] for t, tr in tasks_report.items()}
    write_text(out / "report.md", to_markdown(report))
    write_text(out / "results.json", json.dumps(report, indent=2, default=str))  # last: it commits the run
    return report


def new_run_id() -> str:
    import uuid

    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


class RunFolderError(RuntimeError):
    """A run folder whose files do not belong to one run (an interrupted write, or files mixed by hand)."""


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """results.json of a finished run, after checking that samples.jsonl and report.md come from the same run:
    nothing downstream (labels, reports, the board) may publish numbers from a folder whose files disagree."""
    run_dir = Path(run_dir)
    results_file = run_dir / "results.json"
    if not results_file.is_file():
        raise RunFolderError(f"{run_dir}: no results.json (is this an ac-eval run folder, and did the run finish?)")
    try:
        results = json.loads(results_file.read_text())
    except json.JSONDecodeError as e:
        raise RunFolderError(f"{results_file}: not valid JSON ({e.msg}); rerun the same command to rewrite it") from e
    run_id = results.get("run_id")
    if run_id is None:
        return results  # written before run ids existed
    samples = run_dir / "samples.jsonl"
    ids = {row.get("run_id") for row in jsonlines.open(samples)} if samples.is_file() else {"(missing)"}
    report = run_dir / "report.md"
    problems = []
    if ids != {run_id}:
        problems.append(f"samples.jsonl is from run {', '.join(sorted(map(str, ids)))}")
    if not report.is_file() or f"run {run_id}" not in report.read_text():
        problems.append("report.md is from another run" if report.is_file() else "report.md is missing")
    if problems:
        raise RunFolderError(f"{run_dir}: results.json is from run {run_id} but {'; '.join(problems)}: the folder "
                             "was not written by one finished run; rerun the same command (finished items come from "
                             "the cache) before using it")
    return results


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
            errors = stats["n_audio_error"] + stats["n_request_error"] + stats["n_item_error"]
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
    from ac_eval.files import write_json

    write_json(path, rows)


def _model_provenance(cfg: RunConfig, lm: Any) -> dict[str, Any]:
    """Who was evaluated: a readable name and a join key (ac_eval.models.identity), model id and revision, backend,
    and (for checkpoints our trainers wrote) the training record they carry in `ac_eval_training.json`."""
    from ac_eval.models import parse_model_args
    from ac_eval.models.catalogue import CATALOGUE, resolve
    from ac_eval.models.identity import model_identity

    args = parse_model_args(resolve(cfg.model, cfg.model_args)[1])
    pretrained = args.get("pretrained") or args.get("model")
    backend = getattr(lm, "backend", None)
    identity = model_identity(args, cfg.model if cfg.model in CATALOGUE else None)
    info: dict[str, Any] = {
        "name": identity.name,
        "key": identity.key,
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

    from ac_eval.evaluation.scoring import failure_of

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
    from ac_eval.models import format_model_args, parse_model_args

    args = parse_model_args(model_args)
    return format_model_args({k: "***" if any(s in k.lower() for s in ("key", "token", "secret")) else v
                              for k, v in args.items()})


def _environment() -> dict[str, str]:
    import importlib.metadata as md

    versions = {}
    for pkg in ("lm-eval", "transformers", "torch", "datasets", "soundfile", "soxr"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {"python": platform.python_version(), **versions}
