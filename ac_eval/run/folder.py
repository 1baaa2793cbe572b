"""The run folder: what `ac-eval run` writes, how it is read back, and what its status and exit code are.

Outputs in OUTPUT_PATH:
- `lm_eval/`: lm-eval's own results JSON and per-sample logs (EvaluationTracker, unchanged format)
- `samples.jsonl`: one line per item and condition (id, task, condition, prediction, correct, ...)
- `results.json`: the audio-contribution report + configuration and provenance
- `report.md`: the tables in Markdown
- `submission_<task>.json`: for MMAU test (answers withheld), predictions in the benchmark's format
- `cache/`: lm-eval's request cache; rerunning the same command resumes without redoing finished items

Every file of one run carries its run id; `read_run` refuses a folder whose files disagree. Nothing in
`evaluation/` or `analysis/` imports this module: they are handed rows and reports.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import jsonlines

import ac_eval
from ac_eval.analysis.report import build_task_report, to_markdown
from ac_eval.evaluation import lm_eval_hooks as hooks
from ac_eval.evaluation.benchmarks import get as get_benchmark
from ac_eval.evaluation.benchmarks import get_prompt
from ac_eval.evaluation.records import AudioRef, Record, text_key
from ac_eval.evaluation.scoring import ItemScore, Scorer
from ac_eval.evaluation.task_specs import TaskError, TaskSpec
from ac_eval.files import write_json, write_jsonl, write_text
from ac_eval.models.catalogue import ModelSpec
from ac_eval.run.chunks import DEFAULT_CHUNK_SIZE


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
    chunk_size: int = DEFAULT_CHUNK_SIZE  # items asked of lm-eval at a time (its memory grows with them)
    shard: str | None = None  # "K/N": the K-th of N contiguous ranges of the items (`ac-eval merge` joins them)
    allow_audio_outside_root: bool = False  # read clips whose paths leave the data root
    max_error_rate: float = 0.05  # share of item errors in a condition above which the run exits non-zero


# ---- exit codes -------------------------------------------------------------------------------------------------

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_NOTHING_SCORED = 3  # a condition scored no item
EXIT_NO_AUDIO = 4  # no clip could be loaded (pre-flight, or every original-audio item failed)
EXIT_TOO_MANY_ERRORS = 5  # a condition's share of item errors is above --max-error-rate
EXIT_CODES = {
    EXIT_OK: "every condition scored items, item errors within --max-error-rate",
    EXIT_USAGE: "a usage or input error (bad flag, unknown task, unreadable metadata): nothing was run",
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


# ---- writing ----------------------------------------------------------------------------------------------------

def new_run_id() -> str:
    import uuid

    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


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


def item_rows(spec: TaskSpec, logged: list[dict]) -> list[dict]:
    """One task's items as lm-eval logged them, as samples.jsonl rows (without the run id, given when the run is
    written): each item was scored once, in lm_eval_hooks.process_results."""
    rows = []
    for s in sorted(logged, key=lambda s: s["doc_id"]):
        condition, mode = request_parameters(s, spec)
        record = hooks.record_from_doc(s["doc"])
        verdict = dict(s["item_score"])
        raw = verdict.pop("prediction")
        likelihoods = {k: verdict.pop(k) for k in ("option_logprobs", "gold_option") if k in verdict}
        score = ItemScore(**verdict)
        rows.append({
            "id": record.id, "task": spec.name, "base_task": spec.base,
            "benchmark": record.benchmark, "condition": condition, "mode": mode, "prediction": raw,
            "correct": score.correct, "correct_strict": score.correct_strict, "status": score.status,
            "extracted": score.extracted, "chosen": score.chosen, "answer": record.answer,
            "n_choices": len(record.choices), "text_key": text_key(record), "subsets": record.subsets,
            "error": score.error, "ambiguous": score.ambiguous, "issues": record.issues,
            **likelihoods,  # choice mode only
        })
    return rows


class ReportItems:
    """Per task, what the report needs of each item, read back from its samples.jsonl row: a record without its
    text or audio, and its verdict. Small (the same subsets and choices objects are shared), so the report of a
    571k-item run is built without holding lm-eval's samples."""

    def __init__(self) -> None:
        self.by_task: dict[str, tuple[list[Record], list[ItemScore]]] = defaultdict(lambda: ([], []))
        self._shared: dict[Any, Any] = {}

    def add(self, row: dict) -> None:
        records, scores = self.by_task[row["task"]]
        subsets = self._share(("subsets", *sorted(row["subsets"].items())), row["subsets"])
        choices = self._share(("choices", row["n_choices"]), [""] * row["n_choices"])
        issues = self._share(("issues", *row.get("issues", ())), list(row.get("issues", ())))
        records.append(Record(row["benchmark"], row["id"], "", choices, row["answer"], _NO_AUDIO, subsets, {}, issues))
        scores.append(ItemScore(row["id"], row["status"], row["extracted"], row["chosen"], row["correct"],
                                row["correct_strict"], bool(row.get("ambiguous")), row["error"]))

    def _share(self, key: tuple, value: Any) -> Any:
        return self._shared.setdefault(key, value)


_NO_AUDIO = AudioRef("")


def task_report(cfg: RunConfig, specs: list[TaskSpec], items: ReportItems, generation: dict | None) -> dict:
    """The audio-contribution report of one base task from its conditions' scored items."""
    spec = specs[0]
    meta_path = hooks.resolve_metadata(spec.benchmark, spec.split, cfg.data_dir, cfg.metadata_files,
                                          spec.metadata_file)
    loaded = hooks.load_cached(spec.benchmark, str(meta_path), spec.split)
    logged = [s for s in specs if items.by_task[s.name][0]]
    scorer = Scorer(spec.benchmark, get_prompt(cfg.prompt, spec.benchmark).rule, cfg.extraction) if logged else None
    withheld = not get_benchmark(spec.benchmark).answers_public(spec.split)
    n_items = min(len(items.by_task[s.name][0]) for s in specs)  # items, not asks: silent-rotated asks each k times
    partial = None
    if n_items < len(loaded.records) and (cfg.limit is not None or cfg.shard):
        partial = {"limit": cfg.limit, **({"shard": cfg.shard} if cfg.shard else {}), "n_items": n_items,
                   "n_records": len(loaded.records)}
    return build_task_report(
        spec.benchmark,
        {s.condition: items.by_task[s.name] for s in specs},
        {
            "split": spec.split,
            "answers_withheld": withheld,
            "scorer": scorer.to_dict() if scorer else None,
            "metadata_file": str(meta_path),
            "metadata_sha256": loaded.sha256,
            "metadata_version": loaded.version,
            "load_issues": loaded.issue_counts(),
            "skipped_records": loaded.skipped,
            "generation": generation,
            "partial": partial,
        },
        official=scorer.official if scorer else True,
    )


def write_outputs(cfg: RunConfig, model: ModelSpec, plan: list[TaskSpec], rows: Callable[[], Iterable[dict]],
                  lm_results: dict, out: Path) -> dict:
    """samples.jsonl, MMAU test submissions, plots, report.md and results.json, written beside the folder's last run
    (in `.staging-<run id>/`) and switched into place only once all are whole, results.json last: a rerun that
    fails (disk full, a file where a folder goes) leaves the last complete run readable. `rows()` gives every item's
    row (read from the run's finished chunks as they are written out)."""
    run_id = new_run_id()
    stage = out / f".staging-{run_id}"
    try:
        tasks_report = write_samples(cfg, plan, rows(), stage, run_id, lm_results.get("generation", {}))
        report = results_document(cfg, model, plan, lm_results, tasks_report, run_id)
        write_report(report, stage, out)
        publish_staged(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return report


def write_samples(cfg: RunConfig, plan: list[TaskSpec], rows: Iterable[dict], stage: Path, run_id: str,
                  generation: dict) -> dict[str, dict]:
    """samples.jsonl (each row stamped with the run id) and the MMAU test submissions; returns the task reports."""
    items = ReportItems()

    def stamped() -> Iterator[dict]:
        for row in rows:
            items.add(row)
            yield {"run_id": run_id, **row}

    write_jsonl(stage / "samples.jsonl", stamped())
    for spec in plan:
        if not get_benchmark(spec.benchmark).answers_public(spec.split):  # answers withheld (MMAU test)
            write_mmau_submission(stage / f"submission_{spec.name}.json", full_records(cfg, spec, items),
                                  items.by_task[spec.name][1])
    by_base: dict[str, list[TaskSpec]] = defaultdict(list)
    for spec in plan:
        by_base[spec.base].append(spec)
    return {base: task_report(cfg, specs, items, generation.get(specs[0].name)) for base, specs in by_base.items()}


def full_records(cfg: RunConfig, spec: TaskSpec, items: ReportItems) -> list[Record]:
    """The metadata's own records of a task's items (a submission carries each record as the benchmark gave it)."""
    path = hooks.resolve_metadata(spec.benchmark, spec.split, cfg.data_dir, cfg.metadata_files, spec.metadata_file)
    by_id = {r.id: r for r in hooks.load_cached(spec.benchmark, str(path), spec.split).records}
    return [by_id[r.id] for r in items.by_task[spec.name][0]]


def write_report(report: dict, stage: Path, out: Path) -> None:
    """Plots, report.md and results.json of a run whose samples are staged."""
    from ac_eval.analysis.plots import plot_tasks
    from ac_eval.run import side

    drawn = plot_tasks(report["tasks"], stage / "plots", out / "plots", pool=side.pool(), workers=side.size())
    report["plots"] = {t: [str(out / p.relative_to(stage)) for p in paths] for t, paths in drawn.items()}
    write_text(stage / "report.md", to_markdown(report))
    write_text(stage / "results.json", json.dumps(report, indent=2, default=str))


def publish_staged(stage: Path, out: Path) -> None:
    """Move a staged run's files into `out`, results.json last (it commits the run). Every target is checked first:
    a file where a folder goes (or the reverse) stops the switch before anything moved."""
    entries = sorted(stage.iterdir(), key=lambda p: p.name == "results.json")
    for src in entries:
        dst = out / src.name
        if dst.exists() and dst.is_dir() != src.is_dir():
            raise RunFolderError(f"{dst} is a {'folder' if dst.is_dir() else 'file'} where the run writes its "
                                 f"{src.name}: move it away and rerun the same command (finished items come from the "
                                 "cache); the last complete run in the folder is untouched")
    for src in entries:
        dst = out / src.name
        if src.is_dir() and dst.exists():  # a folder (plots/) is swapped whole: old one aside, new one in, old one gone
            old = out / f".old-{src.name}-{stage.name}"
            dst.rename(old)
            src.rename(dst)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(src, dst)


def check_output_folder(output_path: str | Path, model: ModelSpec) -> None:
    """A folder that holds a finished run of another model is not overwritten: that run's results would be lost
    without a word. The same model resumes there (its cache is there)."""
    from ac_eval.models.identity import model_identity

    results = Path(output_path) / "results.json"
    try:
        previous = json.loads(results.read_text()) if results.is_file() else None
    except (OSError, json.JSONDecodeError):
        return  # no readable run to keep; rerunning rewrites it
    earlier = (previous or {}).get("model") or {}
    this = model_identity(model.args, model.catalogue_name)
    if earlier.get("key") and earlier["key"] != this.key:
        raise ValueError(f"{output_path} holds a finished run of another model ({earlier.get('name')}, run "
                         f"{previous.get('run_id')}); this run is {this.name}: give another --output_path, or move "
                         "that run away first")


def results_document(cfg: RunConfig, model: ModelSpec, plan: list[TaskSpec], lm_results: dict,
                     tasks_report: dict, run_id: str) -> dict:
    """results.json: the configuration (secrets redacted), provenance, lm-eval's figures, the reports, the status."""
    config = {**asdict(cfg), "model_args": model.given_text(redact=True)}
    report = {
        "run_id": run_id,
        "ac_eval_version": ac_eval.__version__,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": {**config, "task_names": [s.name for s in plan]},
        "tasks_run": [{"name": s.name, **{k: v for k, v in asdict(s).items() if k != "yaml"}} for s in plan],
        "prompt": {s.name: get_prompt(cfg.prompt, s.benchmark).to_dict() for s in plan},
        "environment": environment(),
        "model": lm_results.get("model"),
        "config_hash": hashlib.sha256(json.dumps({**config, "output_path": None}, sort_keys=True).encode()).hexdigest()[:16],
        "chat_template": lm_results.get("chat_template"),
        "timing": lm_results.get("timing"),
        "cache": lm_results.get("cache"),
        "generation": lm_results.get("generation"),
        "lm_eval_results": lm_results["results"],
        "tasks": tasks_report,
    }
    report["run_status"] = run_status(tasks_report, cfg.max_error_rate)
    return report


def write_mmau_submission(path: Path, records: list[Record], scores: list[ItemScore]) -> None:
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
    write_json(path, rows)


def model_provenance(model: ModelSpec, lm: Any) -> dict[str, Any]:
    """Who was evaluated: a readable name and a join key (ac_eval.models.identity), model id and revision, backend,
    and (for checkpoints our trainers wrote) the training record they carry in `ac_eval_training.json`."""
    from ac_eval.models.identity import model_identity

    args = model.args
    pretrained = args.get("pretrained") or args.get("model")
    backend = getattr(lm, "backend", None)
    identity = model_identity(args, model.catalogue_name)
    info: dict[str, Any] = {
        "name": identity.name,
        "key": identity.key,
        "id": pretrained,
        "revision": args.get("revision"),
        "lm_eval_model": model.lm_eval_model,
        "arch": getattr(backend, "arch", None),
        "training": None,
    }
    record = Path(pretrained or "") / "ac_eval_training.json"
    if pretrained and record.is_file():
        info["training"] = json.loads(record.read_text())
    return info


def environment() -> dict[str, str]:
    import importlib.metadata as md

    versions = {}
    for pkg in ("lm-eval", "transformers", "torch", "datasets", "soundfile", "soxr"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {"python": platform.python_version(), **versions}


# ---- reading ----------------------------------------------------------------------------------------------------

def read_jsonl(path: Path) -> Iterator[dict]:
    """A run's jsonl rows, one at a time; a line that is not JSON (a file cut mid-line) is a RunFolderError naming
    the file and line."""
    with jsonlines.open(path) as reader:
        try:
            yield from reader
        except jsonlines.InvalidLineError as e:
            raise RunFolderError(f"{path}:{e.lineno}: not a JSON line (the file was cut or edited): rerun the command "
                                 "that wrote it (finished items come from the cache)") from e


RUN_FILES = ("results.json", "samples.jsonl", "report.md")  # what makes a run folder (each stamped with its run id)


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
    missing = [key for key in ("config", "tasks") if not isinstance(results, dict) or key not in results]
    if missing:
        raise RunFolderError(f"{results_file}: not an ac-eval results file (no {' or '.join(missing)}); rerun the "
                             "command that made it")
    run_id = results.get("run_id")
    if run_id is None:
        raise RunFolderError(f"{results_file}: no run id, so nothing shows that samples.jsonl and report.md beside it "
                             "come from the same run; rerun the command that made it (finished items come from the "
                             "cache)")
    samples = run_dir / "samples.jsonl"
    ids = {row.get("run_id") for row in read_jsonl(samples)} if samples.is_file() else {"(missing)"}
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


def check_figures(run_dir: Path, results: dict[str, Any]) -> None:
    """results.json's item counts and accuracies must be what its samples.jsonl gives: a figure edited by hand (or
    a results.json beside another run's samples) must not reach a board."""
    tally: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])  # rows, rows counted, rows right
    for row in read_jsonl(Path(run_dir) / "samples.jsonl"):
        t = tally[(row.get("base_task"), row.get("condition"))]
        t[0] += 1
        if row.get("correct") is not None:
            t[1] += 1
            t[2] += row["correct"] is True
    for task, tr in results["tasks"].items():
        for cond, stats in tr.get("conditions", {}).items():
            n, counted, right = tally.get((task, cond), (0, 0, 0))
            from_samples = right / counted if counted else None
            said = stats.get("accuracy")
            if n != stats.get("n_total") or (from_samples is None) != (said is None) or (
                    said is not None and abs(from_samples - said) > 1e-9):
                raise RunFolderError(
                    f"{run_dir}: results.json says {task} / {cond} has accuracy {said} over {stats.get('n_total')} "
                    f"items, its samples.jsonl gives {from_samples} over {n}: the files disagree (edited by hand?); "
                    "rerun the command that made the run")


@dataclass
class RunSamples:
    """One run's per-item rows and the model's readable name: what the label rules and split reports read. The rows
    are read from samples.jsonl as they are iterated, never held whole (training-data runs have 10^5+ items)."""

    model: str
    folder: Path
    metadata: dict[str, str] = field(default_factory=dict)  # benchmark -> the metadata version its items came from

    @property
    def rows(self) -> Iterator[dict]:
        return read_jsonl(self.folder / "samples.jsonl")


def run_model_name(results: dict[str, Any]) -> str:
    """The readable name of a run's model (runs written before models had one get it from their model_args)."""
    from ac_eval.models import parse_model_args
    from ac_eval.models.identity import model_identity

    return (results.get("model") or {}).get("name") or model_identity(parse_model_args(results["config"]["model_args"])).name


def read_samples(run_dirs: list[str | Path], names: list[str] | None = None) -> list[RunSamples]:
    """samples.jsonl of each run folder (checked to be one finished run when it has a results.json), named by
    `names` or by each run's model. One run given twice (the same folder, run id, or model and configuration) is
    refused: its votes would count twice."""
    run_dirs = [Path(d) for d in run_dirs]
    if names is not None and len(names) != len(run_dirs):
        raise ValueError(f"{len(names)} names for {len(run_dirs)} runs")
    runs: list[RunSamples] = []
    seen: dict[tuple, Path] = {}
    for i, run_dir in enumerate(run_dirs):
        # An unnamed run is named by its results.json (which must be there); a named one is checked when it has one.
        results = read_run(run_dir) if names is None or (run_dir / "results.json").is_file() else None
        samples = run_dir / "samples.jsonl"
        if not samples.is_file():
            raise FileNotFoundError(f"{run_dir}: no samples.jsonl (is this an ac-eval run folder?)")
        for key in _run_keys(run_dir, results):
            if key in seen:
                raise ValueError(f"{seen[key]} and {run_dir} are one run ({key[0]} {key[1]}): its answers would count "
                                 "as two models' votes; give each run once")
            seen[key] = run_dir
        name = names[i] if names is not None else run_model_name(results)
        metadata = {t["benchmark"]: t.get("metadata_version") or t.get("metadata_sha256") or "unknown"
                    for t in (results or {}).get("tasks", {}).values() if isinstance(t, dict) and "benchmark" in t}
        runs.append(RunSamples(name, run_dir, metadata))
    return runs


def _run_keys(run_dir: Path, results: dict | None) -> list[tuple]:
    keys: list[tuple] = [("folder", str(run_dir.resolve()))]
    if results and results.get("run_id"):
        keys.append(("id", results["run_id"]))
    model_key = ((results or {}).get("model") or {}).get("key")
    if model_key and results.get("config_hash"):
        keys.append(("of model and configuration", f"{model_key} / {results['config_hash']}"))
    return keys


def metadata_disagreements(runs: list[RunSamples]) -> list[str]:
    """One line per benchmark whose runs were scored on different metadata versions (their items and answers may
    differ: votes on one id are then votes on different questions)."""
    lines = []
    for benchmark in sorted({b for r in runs for b in r.metadata}):
        versions = {r.model: r.metadata[benchmark] for r in runs if benchmark in r.metadata}
        if len(set(versions.values())) > 1:
            lines.append(f"{benchmark}: the runs used different metadata versions ("
                         + ", ".join(f"{m}: {v}" for m, v in versions.items()) + "); an id may be another question in each")
    return lines
