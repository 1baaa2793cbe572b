"""`ac-eval filter`: keep the weak or strong items of a benchmark or training set, in the input's own format,
and write task YAMLs for the subset so `ac-eval --tasks mmau_test_mini_strong --include_path DIR` runs it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ac_eval.evaluation.benchmarks import get as get_benchmark
from ac_eval.evaluation.benchmarks.base import read_json_records, resolve_audio_path
from ac_eval.evaluation.task_specs import TaskSpec, task_yaml
from ac_eval.files import write_json, write_jsonl, write_text
from ac_eval.paths import TASK_TEMPLATE, TASKS_DIR


def filter_file(
    benchmark: str,
    metadata: Path,
    labels: dict[str, str] | None,
    keep: str,
    output: Path,
    split: str = "test",
    tasks_dir: Path | None = None,
) -> dict[str, Any]:
    """Write the items labelled `keep`; labels=None reads AudioMCQ's own "audio-contribution" key."""
    if keep not in ("weak", "strong"):
        raise ValueError(f"--keep {keep!r}: use weak or strong")
    if labels is None and benchmark != "audiomcq":
        raise ValueError("--labels is required (only AudioMCQ data carries its own labels)")
    output.parent.mkdir(parents=True, exist_ok=True)
    if metadata.is_dir() or metadata.suffix == ".parquet":
        rows, write = _parquet_rows(metadata, output)
    else:
        rows = read_json_records(metadata)
        write = _json_writer(benchmark, metadata, output, rows)

    def label_of(row: dict) -> str | None:
        if labels is None:
            return row.get("audio-contribution")
        return labels.get(str(row.get("id")))

    kept, counts, by_source = [], Counter(), Counter()
    for i, row in enumerate(rows):
        label = label_of(row)
        counts["unlabelled" if label is None else label] += 1
        if label == keep:
            kept.append(i)
            by_source[str(row.get("source_dataset", benchmark))] += 1
    totals = Counter(str(row.get("source_dataset", benchmark)) for row in rows)
    write(kept)
    summary: dict[str, Any] = {
        "benchmark": benchmark,
        "input": str(metadata),
        "output": str(output),
        "keep": keep,
        "n_input": len(rows),
        "n_kept": len(kept),
        "n_weak": counts["weak"],
        "n_strong": counts["strong"],
        "n_undetermined": counts["undetermined"],  # missing votes could change their label: in neither subset
        "n_unlabelled": counts["unlabelled"],
        "per_source": {s: {"kept": by_source[s], "total": totals[s]} for s in sorted(totals)},
    }
    if get_benchmark(benchmark).evaluated:
        # the subset's clips stay where the input's are: its tasks may read them there
        summary["tasks"] = write_subset_tasks(benchmark, split, keep, output, tasks_dir or output.parent,
                                              audio_root=metadata.parent.resolve())
    return summary


def _json_writer(benchmark: str, metadata: Path, output: Path, rows_all: list[dict]):
    key = get_benchmark(benchmark).audio_key
    moved = output.parent.resolve() != metadata.parent.resolve()

    def write(indices: list[int]) -> None:
        rows = [dict(rows_all[i]) for i in indices]
        if moved:  # audio paths are relative to the metadata file: keep them pointing at the same clips
            for row in rows:
                if isinstance(row.get(key), str):
                    row[key] = str(Path(resolve_audio_path(row[key], metadata.parent)).resolve())
        if output.suffix == ".jsonl":
            write_jsonl(output, rows)
        else:
            write_json(output, rows)

    return write


def _parquet_rows(metadata: Path, output: Path):
    import datasets

    from ac_eval.evaluation.audio import _parquet_table

    files = sorted(metadata.rglob("*.parquet")) if metadata.is_dir() else [metadata]
    table = datasets.concatenate_datasets([_parquet_table(str(f)) for f in files])
    rows = table.remove_columns(["audio"]).to_list()

    def write(indices: list[int]) -> None:
        table.select(indices).to_parquet(str(output))

    return rows, write


def write_subset_tasks(benchmark: str, split: str, keep: str, output: Path, tasks_dir: Path,
                       audio_root: Path | None = None) -> list[str]:
    """`<base>_<keep>` (original audio) and `<base>_<keep>_silent`, reading the subset file."""
    base = f"{get_benchmark(benchmark).task_name(split)}_{keep}"
    return write_task_yamls(base, benchmark, split, output, tasks_dir,
                            f"{keep}-audio-contribution subset written by `ac-eval filter`", audio_root=audio_root)


def write_task_yamls(base: str, benchmark: str, split: str, metadata_file: Path, tasks_dir: Path, comment: str,
                     conditions: tuple[str, ...] = ("original", "silent"), audio_root: Path | None = None) -> list[str]:
    """Task YAMLs for a metadata file in a benchmark's format: the base task and one per extra condition.

    The folder is self-contained: the template and the `utils.py` lm-eval's `!function`s resolve are copied into
    it, and a metadata file inside it is named relative to it, so the folder works wherever it is moved."""
    tasks_dir.mkdir(parents=True, exist_ok=True)
    if tasks_dir.resolve() != TASKS_DIR.resolve():
        for shared in (TASK_TEMPLATE, TASKS_DIR / "utils.py"):
            write_text(tasks_dir / shared.name, shared.read_text())
    metadata_file = Path(metadata_file).resolve()
    if metadata_file.is_relative_to(tasks_dir.resolve()):
        metadata_file = metadata_file.relative_to(tasks_dir.resolve())
    spec = TaskSpec(base, benchmark, split, metadata_file=str(metadata_file), audio_root=str(audio_root) if audio_root else None)
    names = []
    for condition in conditions:
        task = spec.under(condition)
        write_text(tasks_dir / f"{task.name}.yaml", task_yaml(task, include=TASK_TEMPLATE.name, comment=comment))
        names.append(task.name)
    return names
