"""`ac-eval run`: check the settings, plan the tasks, check the audio, drive lm-eval's `simple_evaluate`, and hand
what it logged to the run folder (`folder.py`).

Order matters for the user's time: everything that can fail without the model (flags, model arguments, task
names, metadata, every clip missing) fails before the model loads.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import ac_eval
from ac_eval.analysis.report import print_report
from ac_eval.evaluation import lm_eval_hooks as hooks
from ac_eval.evaluation.benchmarks import MetadataError, get_prompt
from ac_eval.evaluation.conditions import get_condition
from ac_eval.evaluation.task_specs import TaskSpec, lm_eval_config
from ac_eval.evaluation.task_specs import plan as plan_tasks
from ac_eval.models.catalogue import ModelSpec, resolve_model
from ac_eval.models.checkpoints import check_pretrained
from ac_eval.paths import TASKS_DIR
from ac_eval.run.chunks import ChunkStore, Shard, chunk_ranges
from ac_eval.run.deferred_imports import defer_heavy_imports
from ac_eval.run.folder import (RunConfig, check_output_folder, environment, model_provenance, item_rows,
                                write_outputs)


CHECK_BLOCK = 10_000  # records checked at a time before the run (a large jsonl file is read, not held)


class NoAudioError(RuntimeError):
    """Not one clip of a task that needs them can be found: found before the model is loaded."""


def run(cfg: RunConfig, console=None) -> dict[str, Any]:
    """Evaluate, then write every output. The output folder is locked for the run (a second run there refuses);
    every file is written whole under a temporary name and renamed, results.json last, all stamped with one run id."""
    from ac_eval.console import make_console
    from ac_eval.files import FolderLock

    defer_heavy_imports()  # before lm-eval is imported: its datasets and pandas are imported only if used
    console = console or make_console()
    model = resolve_model(cfg.model, cfg.model_args)
    check_settings(cfg, model)
    plan = plan_tasks(cfg.tasks, cfg.conditions, cfg.mode, cfg.include_paths)
    for line in preflight_audio(cfg, plan):
        console.print(f"warning: {line}", style="yellow")
    check_model(model)  # after the tasks and the clips: those mistakes are said before the hub is asked
    if int(os.environ.get("RANK", "0")) == 0:  # a first line at once, before lm-eval and the model (stderr: logs)
        tasks = sorted({spec.base for spec in plan})
        conditions = list(dict.fromkeys(spec.condition for spec in plan))
        who = model.args.get("pretrained") or model.args.get("model") or model.given
        print(f"ac-eval: {who} on {', '.join(tasks)} ({', '.join(conditions)}; {cfg.mode}) -> "
              f"{cfg.output_path}", file=sys.stderr, flush=True)
    if int(os.environ.get("RANK", "0")) != 0:  # data parallel: rank 0 holds the lock and writes the outputs
        return _run(cfg, model, plan, console)
    from ac_eval.run import side

    try:
        with FolderLock(cfg.output_path):
            return _run(cfg, model, plan, console)
    finally:
        side.stop()


# ---- before the model loads -------------------------------------------------------------------------------------

def check_settings(cfg: RunConfig, model: ModelSpec) -> None:
    """Mistakes that would otherwise show only after the model is loaded (or never): say them now."""
    from lm_eval.utils import simple_parse_args_string

    from ac_eval.evaluation.scoring import EXTRACTIONS
    from ac_eval.models.generation import DEFAULT_MAX_NEW_TOKENS, GenerationSettings

    if cfg.extraction not in EXTRACTIONS:
        raise ValueError(f"--extraction {cfg.extraction!r}: use one of {', '.join(EXTRACTIONS)}")
    if cfg.limit is not None and not cfg.limit > 0:
        raise ValueError(f"--limit {cfg.limit}: give a number of items (>= 1) or a fraction between 0 and 1")
    if cfg.batch_size < 1:
        raise ValueError(f"--batch_size {cfg.batch_size}: give a positive number")
    if cfg.chunk_size < 1:
        raise ValueError(f"--chunk-size {cfg.chunk_size}: give a positive number of items, e.g. 10000")
    if cfg.shard:
        Shard.parse(cfg.shard)
    out = Path(cfg.output_path)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--output_path {out} is a file: give a folder (it is created if missing)")
    if not 0 <= cfg.max_error_rate <= 1:
        raise ValueError(f"--max-error-rate {cfg.max_error_rate}: give a share between 0 and 1, e.g. 0.05")
    check_output_folder(cfg.output_path, model)
    if (out / "cache").exists() and not (out / "cache").is_dir():
        raise ValueError(f"{out / 'cache'} is a file where the run keeps its request cache: move it away")
    if cfg.use_cache:
        check_cache(cache_prefix(cfg, model))
    gen = simple_parse_args_string(cfg.gen_kwargs or "")
    GenerationSettings.from_lm_eval(gen, DEFAULT_MAX_NEW_TOKENS)  # unknown keys and bad values fail here
    asked = gen.get("max_gen_toks", gen.get("max_new_tokens"))
    budget = model.given_values.get("max_new_tokens")
    if budget is not None and asked is not None and int(asked) != int(budget):
        raise ValueError(f"model_args max_new_tokens={budget} and --gen_kwargs max_gen_toks={asked} disagree: "
                         "give the budget in one place")


def check_model(model: ModelSpec) -> None:
    """What can be known about the model before loading it: a local checkpoint exists, the device it asks for is
    there."""
    args = model.args
    if model.lm_eval_model in ("ac_hf", "ac_vllm"):
        pretrained = args.get("pretrained")
        if not pretrained:
            raise ValueError(f"--model {model.given} needs model_args pretrained=DIR_OR_HUB_ID "
                             f"(got {model.given_text()!r})")
    device = args.get("device", "")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"device={device} but this machine has no CUDA GPU (torch {torch.__version__}): "
                             "use --device cpu")
    if model.lm_eval_model in ("ac_hf", "ac_vllm"):  # last: it may ask the hub (a second at most)
        check_pretrained(str(args["pretrained"]), args.get("revision"))


def preflight_audio(cfg: RunConfig, plan: list[TaskSpec]) -> list[str]:
    """Check that the clips exist before anything heavy happens. Every clip missing: NoAudioError (the user learns
    in seconds, not after the model has loaded); some missing: a warning line (they become counted audio errors)."""
    warnings = []
    for base, task in {s.base: s for s in plan}.items():
        path = hooks.resolve_metadata(task.benchmark, task.split, cfg.data_dir, cfg.metadata_files,
                                         task.metadata_file)
        loaded = hooks.load_cached(task.benchmark, str(path), task.split)
        if not loaded.records and not loaded.skipped:
            raise MetadataError(f"{path}: holds no records (an empty list)")
        if not loaded.records:
            first = f"record {loaded.skipped[0]['index']}: {loaded.skipped[0]['reason']}"
            raise MetadataError(f"{path}: no usable {task.benchmark} records, {len(loaded.skipped)} skipped (first: {first})")
        if not any(get_condition(s.condition).reads_clip for s in plan if s.base == base):
            continue
        root = task.audio_root or path.parent
        selected = hooks.select_records(loaded.records, cfg.limit)
        n_outside = n_missing = 0  # and the first of each: a block at a time, for files too large to hold
        first_outside = first_missing = None
        for start in range(0, len(selected), CHECK_BLOCK):
            for r in hooks.confine_audio(selected[start:start + CHECK_BLOCK], root, cfg.allow_audio_outside_root):
                if r.audio.outside_root:
                    n_outside += 1
                    first_outside = first_outside or r.audio.path
                if not _clip_exists(r.audio):
                    n_missing += 1
                    first_missing = first_missing or r.audio.describe()
        n = len(selected)
        if n_outside:
            warnings.append(f"{base}: {n_outside} audio paths leave the data root {root} (e.g. {first_outside}): refused, "
                            "counted as audio errors (--allow-audio-outside-root reads them)")
        if n and n_missing == n:
            raise NoAudioError(
                f"{base}: none of the {n} audio files exists (e.g. {first_missing}). Check --data_dir "
                f"(clips are looked up relative to {path}); conditions that need no clip: silent, none, noise"
            )
        if n_missing:
            warnings.append(f"{base}: {n_missing} of {n} audio files are missing (e.g. {first_missing}); "
                            "they will be counted as audio errors")
    return warnings


def _clip_exists(ref) -> bool:
    return bool(ref.path) and not ref.outside_root and Path(ref.path).is_file()


def check_cache(prefix: str) -> None:
    """Each process's cache file must be a database lm-eval can open: a half-written or foreign file stops the run
    here, named, instead of deep in lm-eval after the model has loaded."""
    import sqlite3

    for path in Path(prefix).parent.glob(f"{Path(prefix).name}_rank*.db"):
        try:
            # Read-write, not read-only: a run killed between a batch's writes and their commit leaves a journal that
            # sqlite rolls back on the first read, which a read-only connection cannot do.
            with sqlite3.connect(f"file:{path}?mode=rw", uri=True) as db:
                db.execute("SELECT name FROM sqlite_master").fetchall()
        except sqlite3.DatabaseError as e:
            raise ValueError(f"{path}: the request cache is not a readable database ({e}); delete it (its items are "
                             "evaluated again) or run with --no_cache") from e


def cache_prefix(cfg: RunConfig, model: ModelSpec) -> str:
    # A model's display name does not change its answers: renaming it keeps the cache.
    key = json.dumps([cfg.model, model.given_text(drop=("name",)), cfg.mode, ac_eval.__version__], sort_keys=True)
    return str(Path(cfg.output_path) / "cache" / hashlib.sha256(key.encode()).hexdigest()[:16])


# ---- lm-eval ----------------------------------------------------------------------------------------------------

def _run(cfg: RunConfig, model: ModelSpec, plan: list[TaskSpec], console) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    # Work besides the model starts as the model starts loading instead of after it: lm-eval's environment report (a
    # dozen subprocesses, 2.3 s) in this thread, the plots' side process (run/side.py).
    background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ac-eval-startup")

    from lm_eval.api.registry import get_model

    import ac_eval.models.lm_eval_models  # noqa: F401  registers the model with lm-eval

    out = Path(cfg.output_path)
    (out / "cache").mkdir(parents=True, exist_ok=True)
    lm = get_model(model.lm_eval_model).create_from_arg_obj(dict(model.values), {"batch_size": cfg.batch_size})
    env_info = _when_the_model_loads(cfg, model, lm, background)
    _patch_lm_eval(env_info)
    evaluated = evaluate(cfg, model, plan, lm, out)
    if lm.rank == 0 and hasattr(getattr(lm, "backend", None), "save_memo"):
        lm.backend.save_memo()
    if lm.rank != 0:
        return {}
    lm_results, n_items, n_computed = evaluated.lm_results, evaluated.n_items, evaluated.n_computed
    lm_results["cache"] = {"items": n_items, "evaluated": n_computed, "from_cache": n_items - n_computed}
    if n_items - n_computed:
        console.print(f"resumed: {n_items - n_computed} of {n_items} items came from finished chunks or the request "
                      f"cache ({out / 'cache'}); {n_computed} evaluated now")
    lm_results.update(_about_the_model(model, lm, plan, lm_results["configs"]))
    report = write_outputs(cfg, model, plan, evaluated.rows, lm_results, out)
    print_report(report, console)
    return report


def _when_the_model_loads(cfg: RunConfig, model: ModelSpec, lm: Any, background) -> dict:
    """A lazily loaded model (see models/lazy_backend) is seeded once loaded; lm-eval's environment report (torch's,
    which imports torch: 2 s) and the side processes that draw the plots start as it starts loading, beside it.
    A run that never loads the model reports the versions without torch's report. Returns {"future": ...} for
    `_patch_lm_eval`."""
    from ac_eval.models.lazy_backend import LazyBackend

    env: dict[str, Any] = {}
    if isinstance(getattr(lm, "backend", None), LazyBackend):  # its prompt memo lives beside the request cache
        lm.backend.memo_path = Path(cache_prefix(cfg, model) + "-prompts.json")

    def loaded() -> None:
        import torch

        torch.manual_seed(cfg.seed)  # what lm-eval's torch_random_seed did before the model existed

    def start_background() -> None:
        # Not before a model is needed: a run served from the cache copies its plots and reports no torch. The plots'
        # side processes start on rank 0, the rank that writes the outputs (see run/side.py). torch is imported here,
        # in this thread, first: the report imports it too, and two threads importing torch at once can meet it
        # half-initialized ("cannot import name 'set_module' from partially initialized module 'torch.utils'").
        from ac_eval.run import side

        if lm.rank == 0:
            side.start()
        import torch  # noqa: F401

        env["future"] = background.submit(_lm_eval_env_info)

    if getattr(lm, "model_loaded", True):
        start_background()
    else:  # beside the model's loading, as before it was lazy
        lm.before_load_hooks.append(start_background)
        lm.load_hooks.append(loaded)
    return env


def evaluate(cfg: RunConfig, model: ModelSpec, plan: list[TaskSpec], lm: Any, out: Path) -> "EvaluatedRun":
    """lm-eval's simple_evaluate over the plan, a chunk of items at a time (see run/chunks.py) and once per distinct
    system prompt (a run-level setting in lm-eval); its results and per-sample logs saved by its own tracker. Each
    finished chunk's rows go to disk; a chunk finished by an earlier run of the same command is not asked again."""
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    run_settings = {
        "data_dir": cfg.data_dir,
        "metadata_files": cfg.metadata_files,
        "prompt": cfg.prompt,
        "extraction": cfg.extraction,
        "limit_items": cfg.limit,  # applied to items, not docs: see lm_eval_hooks.load_docs
        "allow_audio_outside_root": cfg.allow_audio_outside_root,
    }
    gen_kwargs = cfg.gen_kwargs or (model.entry.gen_kwargs if model.entry else None)
    tracker = EvaluationTracker(output_path=str(out / "lm_eval"))
    cache = cache_prefix(cfg, model) if cfg.use_cache else None
    n_items = items_per_task(cfg, plan)
    start, stop = item_span(cfg, n_items)
    ranges = chunk_ranges(start, stop, cfg.chunk_size)
    store = ChunkStore(Path(cache_prefix(cfg, model) + "-chunks"),
                       {"tasks": [s.name for s in plan], "settings": run_settings, "gen_kwargs": gen_kwargs,
                        "seed": cfg.seed, "metadata": sorted(_metadata_versions(cfg, plan))})
    if cache:  # a cache written before failures were kept out of it (see _tune_request_cache)
        forget_failures(cache, lm.rank)
    # Rank 0 decides which chunks are left (a data-parallel run's ranks must ask lm-eval for the same ones).
    todo = lm.broadcast_object([r for r in ranges if not (cfg.use_cache and store.done(*r))])
    computed = 0
    for chunk_start, chunk_stop in todo:
        chunk_plan = [spec for spec in plan if n_items[spec.base] > chunk_start]
        settings = {**run_settings, "item_range": [chunk_start, chunk_stop]}
        samples, results = _evaluate_chunk(cfg, chunk_plan, lm, manager, settings, gen_kwargs, tracker, cache)
        computed += len(getattr(lm, "items_computed", ()))
        getattr(lm, "items_computed", set()).clear()  # lm-eval's doc ids start again at 0 in every chunk
        if lm.rank == 0:
            rows = [row for spec in chunk_plan for row in item_rows(spec, samples.get(spec.name, []))]
            store.write(chunk_start, chunk_stop, {"range": [chunk_start, chunk_stop], **results}, rows)
    per_rank = lm.gather_object(computed)  # every rank, before the others leave
    if lm.rank != 0:
        return EvaluatedRun(store, ranges, {}, 0, 0)
    computed = sum(per_rank)
    headers = [store.header(*r) for r in ranges]
    merged: dict[str, Any] = {"configs": {}, "versions": {}}
    for h in headers:
        for key in merged:
            merged[key].update(h.get(key, {}))
    merged["results"] = headers[0]["results"] if len(headers) == 1 else {
        "chunks": [{"items": h["range"], "results": h["results"]} for h in headers]}
    n_rows = sum(h["n_rows"] for h in headers)
    return EvaluatedRun(store, ranges, merged, n_rows, min(computed, n_rows))


@dataclass
class EvaluatedRun:
    """What `evaluate` leaves: the chunks holding every row, lm-eval's figures, and how many items were computed now
    (the rest came from finished chunks or the request cache)."""

    store: ChunkStore
    ranges: list[tuple[int, int]]
    lm_results: dict[str, Any]
    n_items: int
    n_computed: int

    def rows(self) -> Iterator[dict]:
        return self.store.rows(self.ranges)


def _evaluate_chunk(cfg: RunConfig, plan: list[TaskSpec], lm: Any, manager: Any, settings: dict,
                    gen_kwargs: str | None, tracker: Any, cache: str | None) -> tuple[dict[str, list], dict]:
    """One chunk: simple_evaluate per system prompt. Returns (samples by task, lm-eval's results) on rank 0."""
    import lm_eval

    by_system: dict[str | None, list[TaskSpec]] = defaultdict(list)
    for spec in plan:
        by_system[get_prompt(cfg.prompt, spec.benchmark).system].append(spec)
    merged: dict[str, Any] = {"results": {}, "configs": {}, "versions": {}}
    samples: dict[str, list] = {}
    for system, group in by_system.items():
        results = lm_eval.simple_evaluate(
            model=lm,
            tasks=[lm_eval_config(spec, settings) for spec in group],
            task_manager=manager,
            log_samples=True,
            apply_chat_template=True,
            system_instruction=system,
            gen_kwargs=gen_kwargs,
            use_cache=cache,
            random_seed=cfg.seed,
            numpy_random_seed=cfg.seed,
            torch_random_seed=cfg.seed if getattr(lm, "model_loaded", True) else None,  # else seeded on load
            evaluation_tracker=tracker,
        )
        if results is None:  # a non-zero rank of a data-parallel run: rank 0 writes everything
            continue
        group_samples = results.pop("samples")
        tracker.save_results_aggregated(results=results, samples=group_samples)
        for task_name in results["configs"]:
            tracker.save_results_samples(task_name=task_name, samples=group_samples[task_name])
        samples.update(group_samples)
        for key in merged:
            merged[key].update(results.get(key, {}))
    merged["n_rows"] = sum(len(v) for v in samples.values())
    return samples, merged


def items_per_task(cfg: RunConfig, plan: list[TaskSpec]) -> dict[str, int]:
    """How many items each base task asks (after --limit): what chunks and shards divide."""
    out = {}
    for spec in plan:
        path = hooks.resolve_metadata(spec.benchmark, spec.split, cfg.data_dir, cfg.metadata_files, spec.metadata_file)
        out[spec.base] = len(hooks.select_records(hooks.load_cached(spec.benchmark, str(path), spec.split).records,
                                                  cfg.limit))
    return out


def item_span(cfg: RunConfig, n_items: dict[str, int]) -> tuple[int, int]:
    """[start, stop) of the item positions this run asks: all of them, or its --shard's."""
    n = max(n_items.values(), default=0)
    if not cfg.shard:
        return 0, n
    start, stop = Shard.parse(cfg.shard).items(n)
    if start == stop:
        raise ValueError(f"--shard {cfg.shard}: the run has {n} items, so this shard holds none; use at most {n} shards")
    return start, stop


def _metadata_versions(cfg: RunConfig, plan: list[TaskSpec]) -> set[str]:
    """The metadata files' checksums: finished chunks of an edited file are not reused."""
    out = set()
    for spec in plan:
        path = hooks.resolve_metadata(spec.benchmark, spec.split, cfg.data_dir, cfg.metadata_files, spec.metadata_file)
        out.add(hooks.load_cached(spec.benchmark, str(path), spec.split).sha256)
    return out


def _about_the_model(model: ModelSpec, lm: Any, plan: list[TaskSpec], configs: dict) -> dict[str, Any]:
    """Provenance, timing, chat template and the generation settings each task ran with."""
    def generation(spec: TaskSpec) -> dict | None:
        if spec.mode != "generate" or not hasattr(lm, "generation_settings"):
            return None
        return lm.generation_settings(configs.get(spec.name, {}).get("generation_kwargs") or {}).to_dict()

    return {
        "model": model_provenance(model, lm),
        "timing": {**getattr(lm, "timing", {}), **_generate_split(lm), "world_size": lm.world_size,
                   "model_loaded": getattr(lm, "model_loaded", True)},
        "chat_template": lm.chat_template() if hasattr(lm, "chat_template") else None,
        "generation": {spec.name: generation(spec) for spec in plan},
    }


def _generate_split(lm: Any) -> dict[str, float]:
    """The model's generation time before its first new token (audio, prefill) and after it (decoding), where its
    backend keeps them (only a loaded one is asked: asking a lazy backend would load it)."""
    if not getattr(lm, "model_loaded", True):
        return {}
    stats = getattr(getattr(lm, "backend", None), "stats", None) or {}
    return {k: round(stats[k], 3) for k in ("prefill_seconds", "decode_seconds") if k in stats}


def _patch_lm_eval(env_info: dict) -> None:
    """lm-eval's environment report comes from the background thread (or, when no model was loaded, the versions
    without torch's report); its git hash without git's stderr noise."""
    import lm_eval.evaluator

    def add_env_info(storage: dict) -> None:
        future = env_info.get("future")
        storage.update(future.result() if future else {
            "pretty_env_info": "not collected: no model was loaded (every request came from the request cache)",
            **{f"{k}_version" if k != "python" else "python": v for k, v in environment().items()}})

    lm_eval.evaluator.add_env_info = add_env_info
    lm_eval.evaluator.get_git_commit_hash = _quiet_git_hash  # lm-eval's prints "fatal: not a git repository"
    _tune_request_cache()


def _tune_request_cache() -> None:
    """lm-eval's request cache is a SqliteDict opened with autocommit, which waits for a disk commit after every
    stored result (twice per item: lm-eval stores each again when the call ends) and asks the database, through its
    writer thread, whether each request is cached; by default it also captures the caller's stack on every query.
    With a free model those were 2.4 ms of an item's 3 ms. Here: the keys are read once when the cache opens,
    results are committed once per batch by our models (`AudioLMBase.commit_cache`: a kill loses at most the batch
    being computed) and lm-eval commits at the end of each call. A failed item (audio error, request error) is
    never stored, so a rerun after the audio is fixed evaluates it (lm-eval stores every result of a call). lm-eval
    imports the class when it opens the cache, so the module attribute is what it gets."""
    import sqlitedict

    if getattr(sqlitedict.SqliteDict, "_ac_eval_request_cache", False):
        return

    class SqliteDict(sqlitedict.SqliteDict):
        _ac_eval_request_cache = True
        # Each file's keys, read at its first opening and kept up to date by every write since: lm-eval opens the
        # cache again for every call (every chunk), and reading 571k keys each time made a run quadratic. Each
        # process writes its own file (one per rank) under the run folder's lock, so nothing else changes it.
        _keys_of: dict[tuple[str, int, str], set] = {}

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("outer_stack", False)
            kwargs["autocommit"] = False
            super().__init__(*args, **kwargs)
            where = (os.path.abspath(self.filename), os.stat(self.filename).st_ino, self.tablename)
            keys = self._keys_of.get(where)
            if keys is None or len(keys) != len(self):  # first opening, or the file was changed by something else
                keys = self._keys_of[where] = set(self.iterkeys())
            self._keys = keys

        def __contains__(self, key: Any) -> bool:
            return key in self._keys

        def __setitem__(self, key: Any, value: Any) -> None:
            if is_failure(value):
                return
            super().__setitem__(key, value)
            self._keys.add(key)

        def __delitem__(self, key: Any) -> None:
            super().__delitem__(key)
            self._keys.discard(key)

    sqlitedict.SqliteDict = SqliteDict


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


# ---- the request cache ------------------------------------------------------------------------------------------

def forget_failures(cache_prefix: str, rank: int) -> None:
    """lm-eval's CachingLM stores every result of a call, per-item audio failures included; ac-eval's cache keeps
    them out, but a cache written by an older version may hold some. Drop those once (a pass over every entry), so a
    rerun after the audio is fixed evaluates the item instead of replaying the error. Each process owns one file."""
    path = Path(f"{cache_prefix}_rank{rank}.db")
    clean = path.with_name(path.name + ".no-failures")
    if path.exists() and not clean.exists():
        _drop_failed_entries(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean.touch()


def _drop_failed_entries(path: Path) -> None:
    from sqlitedict import SqliteDict

    with SqliteDict(str(path), autocommit=False) as db:
        for k in [k for k, v in db.items() if is_failure(v)]:
            del db[k]
        db.commit()


def is_failure(value: Any) -> bool:
    """A result that says the item failed: a generated text that is a failure message, or log-likelihoods that
    are NaN (choice mode)."""
    from ac_eval.evaluation.scoring import failure_of

    return ((isinstance(value, str) and bool(failure_of(value)))
            or (isinstance(value, (tuple, list)) and bool(value) and isinstance(value[0], float) and value[0] != value[0]))
