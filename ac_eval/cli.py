"""The `ac-eval` command line. `ac-eval --model ... --tasks ...` is short for `ac-eval run ...`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ac_eval.evaluation.conditions import CONDITIONS
from ac_eval.evaluation.scoring import EXTRACTIONS
from ac_eval.evaluation.task_specs import MODES
from ac_eval.files import refuse_overwriting, write_json, write_text

EPILOG = """examples:
  ac-eval demo --output runs/demo
  ac-eval labels runs/model-a runs/model-b runs/model-c --output labels.jsonl
  ac-eval filter --labels labels.jsonl --keep strong --benchmark mmau --metadata mmau-test-mini.json --output strong/mmau.json
  ac-eval --model hf --model_args pretrained=Qwen/Qwen2-Audio-7B-Instruct --tasks mmau_test_mini,mmar --data_dir ~/bench
  ac-eval score --benchmark mmau --metadata mmau-test-mini.json --predictions preds.jsonl --output scores.json
  ac-eval tiny-model --arch qwen2-audio --output tiny-ckpt"""


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="hf",
                   help="hf (ac-eval's transformers audio backend), openai, vllm, or a catalogue name (ac-eval models)")
    p.add_argument("--model_args", default="", help="comma-separated, e.g. pretrained=DIR_OR_HUB_ID,dtype=bfloat16")
    p.add_argument("--tasks", required=True,
                   help=f"comma-separated: {', '.join(_task_names())}; a condition suffix (_silent) runs one condition; "
                        "`ac-eval tasks` lists them all")
    p.add_argument(
        "--conditions", default="original,silent", help=f"comma-separated, from: {', '.join(CONDITIONS)} (default: %(default)s)"
    )
    p.add_argument("--data_dir", help="ROOT holding ROOT/<benchmark>/ (mmau, mmar, mmsu, ...) as the benchmarks publish them")
    p.add_argument(
        "--metadata", action="append", default=[], metavar="NAME=FILE",
        help="override one benchmark's metadata file (NAME: mmau, mmau_test_mini, mmau_test, mmar, mmsu); repeatable",
    )
    p.add_argument("--include_path", action="append", default=[], metavar="DIR",
                   help="more task YAMLs (e.g. the *_strong tasks `ac-eval filter` writes); repeatable")
    p.add_argument("--prompt", default="audiomcq", choices=_prompt_names(),
                   help="prompt template: audiomcq (the paper's), official (each benchmark's own), or a benchmark's own "
                        "by name (default: %(default)s)")
    p.add_argument("--mode", default="generate", choices=MODES, help="generate text, or rank the options by log-likelihood")
    p.add_argument("--limit", type=float, help="first N items per task (a fraction if < 1)")
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--device", help="shortcut for model_args device=...")
    p.add_argument("--dtype", help="shortcut for model_args dtype=... (float32, bfloat16, float16)")
    p.add_argument("--gen_kwargs",
                   help="generation settings, e.g. max_gen_toks=512,do_sample=true,temperature=0.7 (default: greedy, "
                        "256 new tokens, the paper's protocol); known: until, max_gen_toks, max_new_tokens, do_sample, "
                        "temperature, top_k, top_p")
    p.add_argument("--extraction", default="r1-aqa", choices=EXTRACTIONS,
                   help="how the answer is read from a generated output before the MMAU/MMAR rule: r1-aqa (default, "
                        "the paper's protocol, official), none (the whole output, as evaluation.py reads a field; "
                        "official), lenient (last tag, across lines; reported as lenient, never official)")
    p.add_argument("--chunk-size", "--chunk_size", dest="chunk_size", type=int,
                   help="items asked of lm-eval at a time, each finished chunk kept on disk: memory stays bounded "
                        "whatever the item count, and a rerun skips finished chunks (default: 10000, so every "
                        "published benchmark is one chunk)")
    p.add_argument("--shard", metavar="K/N",
                   help="run only the K-th of N contiguous ranges of the items (separate machines or processes); "
                        "`ac-eval merge` joins the N run folders into one run")
    p.add_argument("--max-error-rate", "--max_error_rate", dest="max_error_rate", type=float, default=0.05,
                   help="exit non-zero (5) when a condition's share of item errors (audio, request) is above this "
                        "(default: %(default)s); outputs are written either way")
    p.add_argument("--allow-audio-outside-root", "--allow_audio_outside_root", dest="allow_audio_outside_root",
                   action="store_true", help="read clips whose paths leave the data root (the metadata's folder); "
                                             "by default such items are counted audio errors naming the path")
    p.add_argument("--output_path", default="runs/latest")
    p.add_argument("--no_cache", action="store_true", help="do not reuse or write the request cache (no resume)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--format", default="rich", choices=["rich", "plain", "json"],
                   help="the final tables: rich, plain (tab-separated) or json (the whole report on stdout; everything "
                        "else goes to stderr); piped output is never cut at 80 columns")


def _run_config(args):
    from ac_eval.run.folder import RunConfig

    model_args = args.model_args
    for key in ("device", "dtype"):
        value = getattr(args, key)
        if value:
            model_args = f"{model_args},{key}={value}" if model_args else f"{key}={value}"
    metadata_files = {}
    for item in args.metadata:
        if "=" not in item:
            raise ValueError(f"--metadata {item!r}: expected NAME=FILE, e.g. mmar=~/bench/mmar/MMAR-meta.json")
        name, path = item.split("=", 1)
        metadata_files[name] = str(Path(path).expanduser())
    limit = None if args.limit is None else (int(args.limit) if args.limit >= 1 else args.limit)
    return RunConfig(
        tasks=[t for t in args.tasks.split(",") if t],
        model=args.model,
        model_args=model_args,
        conditions=[c for c in args.conditions.split(",") if c],
        data_dir=args.data_dir,
        metadata_files=metadata_files,
        include_paths=[str(Path(p).expanduser()) for p in args.include_path],
        prompt=args.prompt,
        mode=args.mode,
        limit=limit,
        batch_size=args.batch_size,
        gen_kwargs=args.gen_kwargs,
        output_path=args.output_path,
        use_cache=not args.no_cache,
        seed=args.seed,
        shard=args.shard,
        **({"chunk_size": args.chunk_size} if args.chunk_size is not None else {}),  # else RunConfig's default
        extraction=args.extraction,
        max_error_rate=args.max_error_rate,
        allow_audio_outside_root=args.allow_audio_outside_root,
    )


def cmd_run(args) -> int:
    from ac_eval.analysis.report import status_lines
    from ac_eval.console import make_console
    from ac_eval.run.drive import NoAudioError, run
    from ac_eval.run.folder import EXIT_NO_AUDIO

    cfg = _run_config(args)
    fmt = getattr(args, "format", "rich")
    console = make_console(fmt, stderr=fmt == "json")  # json: stdout carries the report alone
    try:
        report = run(cfg, console)
    except NoAudioError as e:
        print(f"ac-eval: error: {e}", file=sys.stderr)
        return EXIT_NO_AUDIO
    if not report:  # the non-zero ranks of a data-parallel run
        return 0
    status = report["run_status"]
    notes = sys.stderr if fmt == "json" else sys.stdout
    print(f"\nwrote {cfg.output_path}/results.json, report.md, samples.jsonl and lm_eval/", file=notes)
    for line in status_lines(status):
        print(line, file=notes)
    if fmt == "json":
        print(json.dumps(report, indent=2, default=str))
    for problem in status["problems"]:
        print(f"ac-eval: {problem}", file=sys.stderr)
    if status["exit_code"]:
        print(f"ac-eval: exit {status['exit_code']}: {status['meaning']}", file=sys.stderr)
    return status["exit_code"]


def cmd_score(args) -> int:
    from ac_eval.evaluation.predictions import score_file

    refuse_overwriting([args.output], [args.predictions, *([args.metadata] if args.metadata else [])])
    result = score_file(args.benchmark, Path(args.metadata) if args.metadata else None, Path(args.predictions),
                        args.split, args.prompt, args.extraction, args.prediction_key)
    write_json(args.output, result)
    acc, strict = result["accuracy"], result["accuracy_strict"]
    kind = result["scorer"]["kind"]
    print(
        f"{args.benchmark}: {kind} {'—' if acc is None else f'{100 * acc:.2f}%'} on {result['n_scored']} scored "
        f"of {result['n_total']}; strict {'—' if strict is None else f'{100 * strict:.2f}%'}; "
        f"unparseable {result['n_unparseable']}, empty {result['n_empty']}, invalid {result['n_invalid_prediction']}; "
        f"ambiguous items {result['n_ambiguous_items']}"
        + (f", answers not among the choices {result['n_answer_not_in_choices']}" if result["n_answer_not_in_choices"] else "")
        + (f", answers without words (any output matches) {result['n_answer_without_words']}"
           if result["n_answer_without_words"] else "")
        + f" -> {args.output}"
    )
    metadata = result["metadata_version"] or "the predictions file's own records"
    print(f"scorer: {result['scorer']['description']}; metadata: {metadata}")
    for warning in result["warnings"]:
        print(f"ac-eval: warning: {warning}", file=sys.stderr)
    return 0


def cmd_tiny(args) -> int:
    from ac_eval.models.tiny_checkpoints import TINY_BUILDERS

    path = TINY_BUILDERS[args.arch](args.output, seed=args.seed)
    print(f"wrote a tiny randomly initialised {args.arch} checkpoint to {path}")
    return 0


def cmd_demo(args) -> int:
    from ac_eval.demo.walkthrough import run_demo

    run_demo(Path(args.output), train_models=args.train_models)
    return 0


def cmd_labels(args) -> int:
    from ac_eval.analysis.labels import (
        LIKELIHOOD_AUDIO_GAIN,
        chance_account,
        import_audiomcq,
        make_labels,
        silent_votes,
        write_labels,
    )
    from ac_eval.console import make_console

    from ac_eval.run.folder import RUN_FILES, metadata_disagreements, read_samples

    console = make_console()
    refuse_overwriting([args.output, Path(args.output).with_suffix(".summary.json")],
                       [*(Path(d) / f for d in args.run_dirs for f in RUN_FILES), *filter(None, [args.from_audiomcq])])
    if args.from_audiomcq:
        labels = import_audiomcq(Path(args.from_audiomcq))
    else:
        if not args.run_dirs:
            raise ValueError("ac-eval labels: give RUN_DIR ... (runs with the silent condition) or --from-audiomcq FILE")
        if args.k > len(args.run_dirs):
            raise ValueError(f"--k {args.k} with {len(args.run_dirs)} run(s): an item is weak when k models are right "
                             "with silence, so k cannot exceed the number of runs (the paper: 2 of 3)")
        names = args.names.split(",") if args.names else None
        runs = read_samples(args.run_dirs, names)
        votes = silent_votes(runs, args.condition)
        if not any(item["silent"] for item in votes.items.values()):
            raise ValueError(f"none of the runs has answers under the {args.condition!r} condition, so there is nothing "
                             f"to vote on: run each model with --conditions original,{args.condition}")
        unreadable = votes.unreadable_warning()
        if unreadable and args.strict:
            raise ValueError(f"--strict: {unreadable}")
        for warning in [*metadata_disagreements(runs), votes.coverage_warning(), unreadable]:
            if warning:
                print(f"ac-eval: warning: {warning}", file=sys.stderr)
        labels = make_labels(votes, k=args.k, rotation_need=args.rotation_need)
    write_labels(labels, Path(args.output))
    account = chance_account(labels, k=args.k, rotation_need=args.rotation_need) if not args.from_audiomcq else {}
    weak = sum(lbl.label == "weak" for lbl in labels)
    undetermined = [lbl.id for lbl in labels if lbl.label == "undetermined"]
    strong = len(labels) - weak - len(undetermined)
    console.print(f"{len(labels)} items: {weak} weak ({100 * weak / max(1, len(labels)):.1f}%), {strong} strong"
                  + (f", {len(undetermined)} undetermined (missing votes could change them: e.g. "
                     f"{', '.join(undetermined[:3])})" if undetermined else "") + f" -> {args.output}")
    if account.get("expected_weak_if_all_guess") is not None:
        console.print(
            f"paper rule ({args.k} of {account['n_voters']}): if every model only guessed, "
            f"{account['expected_weak_if_all_guess']:.1f} items would still be called weak"
            + (f", up to {100 * account['share_of_weak_chance_could_explain']:.0f}% of the weak labels"
               if account["share_of_weak_chance_could_explain"] is not None else "")
        )
    if "rotation" in account:
        r = account["rotation"]
        console.print(
            f"rotation rule ({r['need']} rotations right): {r['weak']} weak of {r['n_items']} "
            f"({100 * r['weak_share']:.1f}%), {r['undetermined']} undetermined; chance alone: "
            f"{r['expected_weak_if_all_guess']:.2f}; "
            f"{r['paper_weak_not_weak_under_rotation']} paper-rule weak items are strong under rotation"
        )
    if "prior" in account:
        r = account["prior"]
        console.print(f"prior rule (silent answer is not the no-question answer): {r['weak']} weak of {r['n_items']} "
                      f"({100 * r['weak_share']:.1f}%), {r['undetermined']} undetermined; "
                      f"{r['paper_weak_explained_by_prior']} paper-rule weak items are explained by the prior")
    if "counterfactual" in account:
        r = account["counterfactual"]
        console.print(f"counterfactual rule (right on every twin with another answer): {r['weak']} weak of "
                      f"{r['n_items']} ({100 * r['weak_share']:.1f}%); {r['items_with_twins']} items have twins; "
                      f"{r['paper_weak_ruled_out_by_twins']} paper-rule weak items are ruled out by their twins")
    if "likelihood" in account:
        r = account["likelihood"]
        console.print(f"likelihood rule (choice mode: sure with silence, the clip adds at most "
                      f"{LIKELIHOOD_AUDIO_GAIN:g}x to the gold's odds): {r['weak']} weak of {r['n_items']} "
                      f"({100 * r['weak_share']:.1f}%), {r['undetermined']} undetermined; "
                      f"{r['paper_weak_carried_by_the_audio']} paper-rule weak items are carried by the audio")
    if not args.from_audiomcq:
        account["voters_mostly_unparseable"] = votes.unreadable_voters()
    write_json(Path(args.output).with_suffix(".summary.json"), account)
    return 0


def cmd_filter(args) -> int:
    from ac_eval.analysis.labels import read_labels
    from ac_eval.analysis.subsets import filter_file

    refuse_overwriting([args.output], [args.metadata, *([args.labels] if args.labels else [])])
    labels = read_labels(Path(args.labels), args.label_field) if args.labels else None
    split = args.split or _benchmark(args.benchmark).default_split
    summary = filter_file(args.benchmark, Path(args.metadata), labels, args.keep, Path(args.output), split,
                          Path(args.tasks_dir) if args.tasks_dir else None)
    print(f"kept {summary['n_kept']} of {summary['n_input']} ({summary['n_weak']} weak, {summary['n_strong']} strong, "
          f"{summary['n_undetermined']} undetermined, {summary['n_unlabelled']} unlabelled) -> {summary['output']}")
    if args.benchmark == "audiomcq":
        for source, c in summary["per_source"].items():
            print(f"  {source}: {c['kept']} of {c['total']}")
    if summary.get("tasks"):
        folder = Path(args.tasks_dir) if args.tasks_dir else Path(args.output).parent
        print(f"tasks {', '.join(summary['tasks'])} written to {folder}: "
              f"ac-eval --tasks {summary['tasks'][0]} --include_path {folder} ...")
    return 0


def cmd_split_report(args) -> int:
    from ac_eval.analysis.paper_tables import print_tables, split_report, to_markdown
    from ac_eval.console import make_console

    from ac_eval.run.folder import read_samples

    runs = read_samples(args.run_dirs, args.names.split(",") if args.names else None)
    report = split_report(Path(args.labels), runs)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "split_report.json", report)
    write_text(out / "split_report.md", to_markdown(report))
    if args.format == "json":
        print(json.dumps(report, indent=2, default=str))
        print(f"wrote {out / 'split_report.json'} and split_report.md", file=sys.stderr)
        return 0
    print_tables(report, make_console(args.format))
    print(f"wrote {out / 'split_report.json'} and split_report.md")
    return 0


def cmd_leaderboard(args) -> int:
    import os

    from ac_eval.board.build import (
        build_board,
        entries_from_run,
        load_board,
        mark_metadata_versions,
        merge_summary,
        push_to_hub,
        reported_entries,
        write_board,
    )

    if args.action == "validate":
        board = load_board(Path(args.paths[0]))
        print(f"{args.paths[0]}: valid, {len(board['entries'])} entries")
        return 0
    if args.action == "add" and not args.board:
        raise ValueError("ac-eval leaderboard add: --board DIR (a folder with leaderboard.json) is required")
    if args.action == "publish" and not args.output:
        raise ValueError("ac-eval leaderboard publish: --output DIR is required")
    target = Path(args.output or args.board)
    entries = [e for run_dir in args.paths for e in entries_from_run(Path(run_dir))]
    existing = None
    if args.action == "add" or ((target / "leaderboard.json").exists() and not args.replace):
        existing = load_board(target / "leaderboard.json")
    if args.action == "publish" and not args.no_reported:
        entries += reported_entries()
    board = build_board(entries, existing)
    if existing:
        print(merge_summary(existing, board, target), file=sys.stderr)
    for note in mark_metadata_versions(board["entries"]):
        print(f"ac-eval: warning: {note}; those rows are marked on the board", file=sys.stderr)
    page = write_board(board, target)
    print(f"{len(board['entries'])} entries -> {target / 'leaderboard.json'}; page: {page}")
    if args.push:
        token = os.environ.get("HF_TOKEN")
        if not token:
            raise ValueError("--push needs HF_TOKEN in the environment")
        push_to_hub(target, args.push, token)
        print(f"pushed to the dataset repository {args.push}")
    return 0


def cmd_models(args) -> int:
    from dataclasses import asdict

    from rich.padding import Padding
    from rich.table import Table

    from ac_eval.console import make_console, natural_width
    from ac_eval.models import parse_model_args
    from ac_eval.models.catalogue import CATALOGUE, can_run_here

    fmt = "json" if args.json else args.format
    if fmt == "json":
        rows = []
        for e in CATALOGUE.values():
            ok, why = can_run_here(e)
            rows.append({**asdict(e), "ready_here": ok, "here": why})
        print(json.dumps(rows, indent=2))
        return 0
    title = "Model catalogue: ac-eval --model NAME --tasks ..."
    table = Table(title=title, title_justify="left")
    for col in ("name", "backend", "model", "needs", "here", "notes"):
        table.add_column(col)
    for e in CATALOGUE.values():
        ok, why = can_run_here(e)
        backend = e.model + (f"/{e.arch}" if e.arch else "")
        table.add_row(e.name, backend, next(iter(parse_model_args(e.model_args).values())), ", ".join(e.needs),
                      "[green]yes[/]" if ok else f"[yellow]{why}[/]", e.notes)
    console = make_console(fmt)
    if console.is_terminal and fmt == "rich" and natural_width(console, table) > console.width:
        # A window too narrow for the table: one block per model, so no hub id is broken across lines.
        console.print(title, style="italic")
        for name, backend, model, needs, here, notes in zip(*[list(c.cells) for c in table.columns]):
            console.print(f"[bold]{name}[/]  {model}  [dim]({backend}; needs {needs or 'nothing'})[/]")
            console.print(Padding(f"here: {here}" + (f"; {notes}" if notes else ""), (0, 0, 0, 4)))
        return 0
    console.print(table)
    return 0


def cmd_serve(args) -> int:
    from ac_eval.models import load_backend, parse_model_args
    from ac_eval.models.serve import make_server, port_is_free

    kwargs = parse_model_args(args.model_args)
    if "pretrained" not in kwargs:
        raise ValueError("ac-eval serve: --model_args pretrained=DIR_OR_HUB_ID is required")
    if not port_is_free(args.host, args.port):  # say it now, not after the model has loaded
        raise ValueError(f"port {args.port} on {args.host} is taken (another server?): choose another with --port")
    backend = load_backend(kwargs.pop("pretrained"), **kwargs)
    server = make_server(backend, args.host, args.port, args.served_model_name, args.max_body_mb, args.max_queue,
                         args.request_timeout)
    print(f"serving {backend.pretrained} at http://{args.host}:{server.server_port}/v1 (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def cmd_train(args) -> int:
    from ac_eval.post_training.recipe import export_ms_swift, load_recipe, run_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    output = Path(args.output or recipe.get("output") or f"runs/train-{recipe.get('name', 'recipe')}")
    if args.export_ms_swift:
        counts = export_ms_swift(recipe, Path(args.export_ms_swift))
        print(f"wrote ms-swift jsonl to {args.export_ms_swift}: {counts}")
        return 0
    final = run_recipe(recipe, output, device=args.device)
    print(f"done: {final} (evaluate it: ac-eval --model_args pretrained={final} --tasks mmau ...)")
    return 0


def cmd_report(args) -> int:
    from ac_eval.analysis.report import print_report
    from ac_eval.console import make_console
    from ac_eval.run.folder import read_run

    report = read_run(args.run_dir)
    if args.format == "json":
        print(json.dumps(report, indent=2, default=str))
        return 0
    print_report(report, make_console(args.format))
    return 0


def cmd_merge(args) -> int:
    from ac_eval.analysis.report import print_report, status_lines
    from ac_eval.console import make_console
    from ac_eval.run.merge import merge_shards

    report = merge_shards(args.shard_dirs, args.output)
    notes = sys.stderr if args.format == "json" else sys.stdout
    if args.format == "json":  # stdout carries the report alone
        print(json.dumps(report, indent=2, default=str))
    else:
        print_report(report, make_console(args.format))
    print(f"\nmerged {len(args.shard_dirs)} shards into {args.output}/results.json, report.md and samples.jsonl",
          file=notes)
    for line in status_lines(report["run_status"]):
        print(line, file=notes)
    return report["run_status"]["exit_code"]


def _quiet_libraries(verbose: bool) -> None:
    """lm-eval and transformers log a lot per task; keep the terminal for our tables unless --verbose."""
    import logging
    import os

    if verbose:
        return
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    for name in ("lm_eval", "lm-eval", "transformers", "datasets"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _benchmark(name: str):
    from ac_eval.evaluation.benchmarks import get

    return get(name)


def _benchmark_names(evaluated_only: bool = False) -> list[str]:
    """From the registry (plugins included): a new benchmark needs no edit here."""
    from ac_eval.evaluation.benchmarks import BENCHMARKS, load_plugins

    load_plugins()
    return [name for name, b in BENCHMARKS.items() if b.evaluated or not evaluated_only]


def _task_names() -> list[str]:
    from ac_eval.evaluation.benchmarks import task_index

    return list(task_index())


def _prompt_names() -> list[str]:
    from ac_eval.evaluation.benchmarks import prompt_names

    return prompt_names()


def cmd_tasks(args) -> int:
    from ac_eval.evaluation.conditions import CONDITIONS
    from ac_eval.evaluation.task_specs import (
        builtin_specs,
        generated_files,
        write_task_files,
    )

    if args.write:
        written = write_task_files(Path(args.write))
        print(f"wrote {len(written)} files to {args.write}")
        return 0
    if args.check:
        folder = Path(args.check)
        stale = [n for n, text in generated_files().items()
                 if not (folder / n).is_file() or (folder / n).read_text() != text]
        if stale:
            print(f"{folder}: {len(stale)} task files differ from the registry (e.g. {stale[0]}); "
                  f"regenerate: ac-eval tasks --write {folder}", file=sys.stderr)
            return 1
        print(f"{folder}: every task file matches the registry")
        return 0
    for name, spec in builtin_specs().items():
        alias = f" (= {spec.base})" if name != spec.base else ""
        conditions = ", ".join(spec.under(c).name for c in CONDITIONS if c != "original")
        print(f"{name}{alias}\t{spec.benchmark} {spec.split}\tconditions: {conditions}")
    return 0


def _add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", default="rich", choices=["rich", "plain", "json"],
                   help="rich tables, plain (tab-separated rows) or json; piped output is never cut at 80 columns")


def _parser_run(sub) -> None:
    p = sub.add_parser("run", help="evaluate a model on tasks under each audio condition")
    _add_run_args(p)
    p.set_defaults(func=cmd_run)


def _parser_score(sub) -> None:
    p = sub.add_parser(
        "score", help="score predictions with a benchmark's official rule (item for item what its script gives)",
        description="Predictions in the official scripts' own form (the records plus model_output / model_prediction "
                    "for MMAU, answer_prediction for MMAR, response for MMSU) are scored with each row's own answer, "
                    "choices and subset fields, exactly as the official script does. Predictions as jsonl of "
                    '{"id", "prediction"} are scored against --metadata.')
    p.add_argument("--benchmark", required=True, choices=_benchmark_names(evaluated_only=True))
    p.add_argument("--predictions", required=True,
                   help='the official form (json list or jsonl of records with the prediction field), or jsonl of '
                        '{"id": ..., "prediction": <raw output>}')
    p.add_argument("--metadata", help="the benchmark's metadata file (json, jsonl or parquet): required for "
                                      "{id, prediction} files; for the official form, checked against (version, ids)")
    p.add_argument("--output", required=True)
    p.add_argument("--split", help="mmau: test-mini (default) or test")
    p.add_argument("--prompt", default="audiomcq", choices=_prompt_names(),
                   help="the prompt the predictions answered; selects the rule (MMSU official prompt -> letter rule)")
    p.add_argument("--extraction", default="r1-aqa", choices=EXTRACTIONS,
                   help="answer extraction before the MMAU/MMAR rule (default r1-aqa: idempotent on predictions "
                        "already extracted; none: the string as given; lenient: not official)")
    p.add_argument("--prediction-key", "--prediction_key", dest="prediction_key",
                   help="the field holding the model's answer in an official-form file (default: the official one)")
    p.set_defaults(func=cmd_score)


def _parser_tiny_model(sub) -> None:
    p = sub.add_parser("tiny-model", help="write a tiny randomly initialised checkpoint of a real architecture")
    p.add_argument("--arch", default="qwen2-audio", choices=["qwen2-audio", "qwen2.5-omni", "audio-flamingo-3"])
    p.add_argument("--output", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_tiny)


def _parser_demo(sub) -> None:
    p = sub.add_parser("demo", help="the whole method offline: planted-truth benchmark, trained tiny models, labels, GRPO, board")
    p.add_argument("--output", default="runs/demo")
    p.add_argument("--train-models", action="store_true",
                   help="rebuild the shipped models from scratch (the hearing base by audio description, then the three "
                        "voters from it; about 25 minutes on two CPU cores; deterministic: the same weights) and use them")
    p.set_defaults(func=cmd_demo)


def _parser_labels(sub) -> None:
    p = sub.add_parser("labels", help="weak/strong labels from several models' silent-audio runs")
    p.add_argument("run_dirs", nargs="*", help="ac-eval run folders (one per model) with the silent condition")
    p.add_argument("--output", required=True, help="labels.jsonl")
    p.add_argument("--names", help="comma-separated model names, one per run (default: each run's model name: name= model_arg, else the checkpoint folder or hub id)")
    p.add_argument("--k", type=int, default=2, help="weak if at least k models are right with silence (default: 2)")
    p.add_argument("--condition", default="silent", help="the null condition that votes (default: silent)")
    p.add_argument("--rotation-need", default="all", choices=["all", "most"],
                   help="with silent-rotated results: rotations a model must get right to count as solving an item")
    p.add_argument("--from-audiomcq", metavar="FILE", help="import AudioMCQ's own \"audio-contribution\" labels instead")
    p.add_argument("--strict", action="store_true",
                   help="refuse (exit 2) instead of warning when a voter's silent answers are mostly unparseable")
    p.set_defaults(func=cmd_labels)


def _parser_filter(sub) -> None:
    p = sub.add_parser("filter", help="keep the weak or strong items, in the input's own format, plus task YAMLs")
    p.add_argument("--labels", help="labels.jsonl from `ac-eval labels` (AudioMCQ data may use its own key)")
    p.add_argument("--keep", required=True, choices=["weak", "strong"])
    p.add_argument("--benchmark", required=True, choices=_benchmark_names())
    p.add_argument("--metadata", required=True, help="the input metadata (json, jsonl, parquet or a folder of parquet)")
    p.add_argument("--output", required=True)
    p.add_argument("--split", help="mmau: test-mini (default) or test")
    p.add_argument("--label-field", default="label",
                   help="label (paper rule, default), label_rotation, label_prior, label_counterfactual or label_likelihood")
    p.add_argument("--tasks_dir", help="where the subset's task YAMLs go (default: next to --output)")
    p.set_defaults(func=cmd_filter)


def _parser_split_report(sub) -> None:
    p = sub.add_parser("split-report", help="per benchmark: silent accuracy per model, weak/strong shares, per subset")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--labels", required=True)
    p.add_argument("--names", help="comma-separated model names, one per run")
    p.add_argument("--output", required=True, help="folder for split_report.json and .md")
    _add_format(p)
    p.set_defaults(func=cmd_split_report)


def _parser_leaderboard(sub) -> None:
    p = sub.add_parser("leaderboard", help="publish runs as a validated leaderboard.json and a static page")
    p.add_argument("action", choices=["publish", "add", "validate"],
                   help="publish: build a board from runs (+ the paper's reported rows); add: merge runs into --board; "
                        "validate: check a leaderboard.json against the schema")
    p.add_argument("paths", nargs="+", help="run folders (publish, add) or a leaderboard.json (validate)")
    p.add_argument("--output", help="folder for leaderboard.json and the page (publish)")
    p.add_argument("--board", help="an existing board folder to update (add)")
    p.add_argument("--no-reported", action="store_true", help="leave out the paper's published numbers")
    p.add_argument("--replace", action="store_true",
                   help="publish: start the board in --output anew (default: keep the entries already there)")
    p.add_argument("--push", metavar="REPO_ID", help="also upload to this Hugging Face dataset repo (needs HF_TOKEN)")
    p.set_defaults(func=cmd_leaderboard)


def _parser_train(sub) -> None:
    p = sub.add_parser(
        "train", help="post-train with a recipe: SFT, then GRPO, on weak/strong data",
        description="Run the stages of a recipe (trainers/*.yaml). Rerunning the same command resumes from the last "
                    "checkpoint; finished stages are skipped. Logs (loss, rewards, KL, lr) go to <output>/<stage>/log.jsonl. "
                    "Multi-process: accelerate launch [--config_file trainers/accelerate/...] -m ac_eval train ...",
        epilog="overrides: key=value with dotted keys, stages by name, e.g.\n"
               "  base_model=runs/demo/tiny-qwen2-audio data=train.jsonl labels=labels.jsonl\n"
               "  stages.sft.lr=1e-4 stages.grpo.max_steps=20 stages.grpo.num_generations=4",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--recipe", required=True,
                   help="a recipe file, or a shipped recipe's name: all_sft, all_grpo, mixed_sft_mixed_grpo, "
                        "weak_sft_strong_grpo, mixed_sft_strong_grpo")
    p.add_argument("overrides", nargs="*", help="key=value settings that replace the recipe's")
    p.add_argument("--output", help="where stages, checkpoints, logs and the final model go")
    p.add_argument("--device", default="cpu", help="cpu, or cuda (each process of accelerate launch takes its GPU)")
    p.add_argument("--export-ms-swift", metavar="DIR", help="write each stage's data as ms-swift jsonl instead of training")
    p.set_defaults(func=cmd_train)


def _parser_serve(sub) -> None:
    p = sub.add_parser("serve", help="an OpenAI-compatible chat server (audio input) in front of a local checkpoint")
    p.add_argument("--model_args", required=True, help="pretrained=DIR_OR_HUB_ID[,dtype=...,device=...]")
    p.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--served_model_name", help="the model name clients use (default: pretrained)")
    p.add_argument("--max-body-mb", "--max_body_mb", dest="max_body_mb", type=float, default=32.0,
                   help="larger request bodies get 413 (default: %(default)s MB, about 6 min of float WAV)")
    p.add_argument("--max-queue", "--max_queue", dest="max_queue", type=int, default=64,
                   help="requests that may wait for the model; more get 503 with Retry-After (default: %(default)s)")
    p.add_argument("--request-timeout", "--request_timeout", dest="request_timeout", type=float, default=300.0,
                   help="seconds a request may wait for the model before a 503 (default: %(default)s)")
    p.set_defaults(func=cmd_serve)


def _parser_tasks(sub) -> None:
    p = sub.add_parser("tasks", help="list the tasks the benchmark registry defines, or write their lm-eval YAMLs")
    p.add_argument("--write", metavar="DIR", help="write the task YAMLs (template, every condition, groups) to DIR")
    p.add_argument("--check", metavar="DIR", help="exit 1 when DIR's task YAMLs differ from what the registry gives")
    p.set_defaults(func=cmd_tasks)


def _parser_models(sub) -> None:
    p = sub.add_parser("models", help="the catalogue of the paper's systems, with what each needs")
    _add_format(p)
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.set_defaults(func=cmd_models)


def _parser_report(sub) -> None:
    p = sub.add_parser("report", help="print the tables of a finished run")
    p.add_argument("run_dir")
    _add_format(p)
    p.set_defaults(func=cmd_report)


def _parser_merge(sub) -> None:
    p = sub.add_parser("merge", help="join the run folders of --shard 1/N ... N/N into one run")
    p.add_argument("shard_dirs", nargs="+", help="the N shards' run folders, in any order")
    p.add_argument("--output", required=True, help="the run folder to write (labels, report and the board read it)")
    _add_format(p)
    p.set_defaults(func=cmd_merge)


SUBCOMMANDS = (  # in the order `ac-eval --help` lists them
    _parser_run, _parser_merge, _parser_score, _parser_tiny_model, _parser_demo, _parser_labels, _parser_filter, _parser_split_report,
    _parser_leaderboard, _parser_train, _parser_serve, _parser_tasks, _parser_models, _parser_report,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ac-eval",
        description="How much does the audio contribute? Evaluate audio LMs with the real audio and with silence.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def normalize_argv(argv: list[str]) -> list[str]:
    if argv and argv[0].startswith("--") and argv[0] not in ("--help", "--version"):
        return ["run", *argv]  # `ac-eval --model X --tasks Y` == `ac-eval run ...`
    return argv


def main(argv: list[str] | None = None) -> int:
    argv = normalize_argv(list(sys.argv[1:] if argv is None else argv))
    if argv == ["--version"]:
        from ac_eval import __version__

        print(__version__)
        return 0
    verbose = "--verbose" in argv
    argv = [a for a in argv if a != "--verbose"]
    args = build_parser().parse_args(argv)
    _quiet_libraries(verbose)
    from ac_eval.board.build import BoardError
    from ac_eval.evaluation.audio import AudioError
    from ac_eval.evaluation.benchmarks import MetadataError
    from ac_eval.evaluation.predictions import PredictionsError
    from ac_eval.run.folder import RunFolderError
    from ac_eval.files import FolderLockedError
    from ac_eval.models import ModelUnusable

    try:
        return args.func(args)
    except (MetadataError, PredictionsError, AudioError, BoardError, RunFolderError, FolderLockedError, ModelUnusable,
            ValueError,
            KeyError, FileNotFoundError, NotADirectoryError, IsADirectoryError, ImportError, ConnectionError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"ac-eval: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `ac-eval models | head`: the reader has gone; nothing to say, as other tools
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141
    except OSError as e:  # a read-only or full disk, a permission: what and where, not a traceback
        where = f"{e.filename}: " if e.filename else ""
        print(f"ac-eval: error: {where}{e.strerror or e}: fix the folder or its permissions, or write elsewhere "
              "(finished items of a run come from its cache)", file=sys.stderr)
        return 2


def console_main() -> int:
    """The `ac-eval` command (and `python -m ac_eval`): `main`, then an exit without the interpreter's garbage
    collection over every object the run leaves alive. torch and transformers leave about 400,000; the collection
    passes of the interpreter's exit took 1.2 s on the 2-core CPU machine, 0.25 s with them frozen
    (`perf/perf_exit.py`). Every file has been written and closed by now, atexit handlers and threads still end as
    usual, and Python never promised finalizers for objects alive at exit. Not in `main`: tests and notebooks call
    that and keep running."""
    import gc

    code = main()
    gc.freeze()
    return code
