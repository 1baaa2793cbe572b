"""`ac-eval score`: score predictions made anywhere with a benchmark's official rule (plus strict accuracy).

Two input forms:
- the official scripts' own: the benchmark's records with the model's answer added (MMAU `evaluation.py`:
  a JSON list with `model_output`, or `model_prediction` as R1-AQA writes it; MMAR `code/evaluation.py`:
  `answer_prediction`; MMSU `mmsu_evaluation.py`: jsonl with `response`). Each row is scored with its OWN
  answer, choices and subset fields, as the official script does; `--metadata` is optional and, when given,
  only checked against (a loud warning when the file was made on other metadata);
- ac-eval's: jsonl of {"id", "prediction"} (the raw model output), scored against `--metadata`; likewise any
  id-only file whose answer field is the benchmark's own (the MMAR challenge baselines' `{id, thinking_prediction,
  answer_prediction}`) or named with --prediction-key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ac_eval.evaluation.benchmarks import get as get_benchmark
from ac_eval.evaluation.benchmarks import load_benchmark
from ac_eval.evaluation.benchmarks.base import LoadedBenchmark, MetadataError, build_records, read_json_records
from ac_eval.evaluation.benchmarks import get_prompt
from ac_eval.evaluation.records import Record
from ac_eval.evaluation.scoring import (
    JSON_NULL,
    Scorer,
    score_item,
    summarize_with_subsets,
)

N_EXAMPLES = 5


class PredictionsError(Exception):
    pass


def _read_rows(path: Path, skip_bad_lines: bool) -> tuple[list[Any], int]:
    """Rows of a .json list or a jsonl file. MMSU's script skips lines that are not JSON: so do we, counted."""
    bad: list[int] = []
    try:
        rows = read_json_records(path, bad if skip_bad_lines else None)
    except MetadataError as e:
        raise PredictionsError(str(e).replace("file not found", "predictions file not found")) from e
    return rows, len(bad)


def _is_official_form(rows: list[Any]) -> bool:
    """Rows that carry the benchmark's records (question and options), not just {"id", "prediction"}."""
    return any(isinstance(r, dict) and "question" in r and ("choices" in r or "choice_a" in r) for r in rows)


def id_prediction_key(benchmark: str, rows: list[Any], key: str | None = None) -> str:
    """The field holding the answer in id-only rows: the one named, else "prediction", else the benchmark's own
    (e.g. the MMAR challenge baselines' `answer_prediction`), whichever the rows carry first."""
    keys = (key,) if key else ("prediction", *get_benchmark(benchmark).prediction_keys)
    for k in keys:
        if any(isinstance(r, dict) and k in r for r in rows):
            return k
    return keys[0]


def read_predictions(path: Path, benchmark: str = "mmau", key: str | None = None
                     ) -> tuple[dict[str, Any], dict[str, Any]]:
    """{id: raw prediction} from a jsonl of {"id", <key>}; the first line for an id wins, repeats are counted.
    A prediction that is not a string (e.g. null) is kept as it is: the scorer counts it as invalid."""
    rows, _ = _read_rows(path, skip_bad_lines=False)
    key = id_prediction_key(benchmark, rows, key)
    predictions: dict[str, Any] = {}
    counts: dict[str, Any] = {"n_duplicate_predictions": 0, "prediction_key": key}
    for lineno, row in enumerate(rows, 1):
        if not isinstance(row, dict) or "id" not in row or key not in row:
            raise PredictionsError(f'{path}:{lineno}: each line needs "id" and "{key}" keys'
                                   + ("" if key != "prediction" else
                                      " (or name the field holding the answer with --prediction-key)"))
        rid = str(row["id"])
        if rid in predictions:
            counts["n_duplicate_predictions"] += 1
            continue
        predictions[rid] = JSON_NULL if row[key] is None else row[key]
    return predictions, counts


def _prediction_key(benchmark: str, rows: list[Any], path: Path, key: str | None) -> str:
    keys = (key,) if key else get_benchmark(benchmark).prediction_keys
    for k in keys:
        if any(isinstance(r, dict) and k in r for r in rows):
            return k
    raise PredictionsError(
        f"{path}: no row has {' or '.join(repr(k) for k in keys)}, so the official script would score nothing; "
        "name the field that holds the model's answers with --prediction-key"
    )


def other_answer_fields(benchmark: str, rows: list[Any], used: str) -> dict[str, int]:
    """{field: rows where it differs from `used`} for the benchmark's other answer fields the rows also carry
    (MMAU files can hold both `model_output` and `model_prediction`, and the two can give other figures)."""
    out = {}
    for k in get_benchmark(benchmark).prediction_keys:
        both = [r for r in rows if isinstance(r, dict) and k != used and k in r and used in r]
        if both:
            out[k] = sum(r[k] != r[used] for r in both)
    return out


def _content(r: Record) -> tuple:
    return (r.question, tuple(r.choices), r.answer)


def _raw(row: dict, key: str, absent: Any) -> Any:
    if key not in row:
        return absent
    return JSON_NULL if row[key] is None else row[key]


def compare_with_metadata(records: list[Record], metadata: LoadedBenchmark) -> dict[str, Any]:
    """How a predictions file's own records differ from the metadata: ids it lacks, items whose text changed."""
    by_id = {r.id: r for r in metadata.records}
    unknown = [r.id for r in records if r.id not in by_id]
    changed = [r.id for r in records if r.id in by_id and _content(r) != _content(by_id[r.id])]
    return {"n_unknown_ids": len(unknown), "unknown_id_examples": unknown[:N_EXAMPLES],
            "n_items_differing_from_metadata": len(changed), "differing_item_examples": changed[:N_EXAMPLES]}


def _id_predictions(path: Path, meta: LoadedBenchmark, out: dict, warnings: list[str],
                    key: str | None = None) -> list[Any]:
    """Each metadata record's raw prediction from a jsonl of {"id", <key>}; what does not join is counted
    in `out` and said in `warnings`."""
    predictions, counts = read_predictions(path, meta.benchmark, key)
    records = meta.records
    known = {r.id for r in records}
    unknown = [k for k in predictions if k not in known]
    out.update(format="ac-eval", **counts, n_unknown_ids=len(unknown), unknown_id_examples=unknown[:N_EXAMPLES])
    if unknown:
        warnings.append(
            f"{len(unknown)} of {len(predictions)} prediction ids are not in the metadata ({meta.version}), e.g. "
            f"{', '.join(unknown[:3])}: were they made on another version of it? They are not scored"
        )
    if counts["n_duplicate_predictions"]:
        warnings.append(f"{counts['n_duplicate_predictions']} lines repeat an id already predicted: the first line "
                        "of each id is scored, the repeats are not")
    copies = [r.id for r in records if "duplicate_id" in r.issues]
    if copies:
        warnings.append(f"{len(copies)} metadata records repeat an id (renamed {', '.join(copies[:3])}): no "
                        "prediction names the renamed copies, so they count as missing")
    return [predictions.get(r.id) for r in records]


def score_file(
    benchmark: str,
    metadata: Path | None,
    predictions_path: Path,
    split: str | None = None,
    prompt: str = "audiomcq",
    extraction: str = "r1-aqa",
    prediction_key: str | None = None,
) -> dict[str, Any]:
    benchmark_spec = get_benchmark(benchmark)
    split = split or benchmark_spec.default_split
    scorer = Scorer(benchmark, get_prompt(prompt, benchmark).rule, extraction)
    rows, bad_lines = _read_rows(Path(predictions_path), skip_bad_lines=benchmark_spec.skips_unreadable_lines)
    meta = load_benchmark(benchmark, metadata, split) if metadata else None
    warnings: list[str] = []
    out: dict[str, Any] = {"benchmark": benchmark, "split": split, "scorer": scorer.to_dict()}
    if _is_official_form(rows):
        key = _prediction_key(benchmark, rows, predictions_path, prediction_key)
        absent = benchmark_spec.absent_prediction  # MMSU's script reads a missing response as "" (wrong)
        loaded = build_records(
            benchmark, rows, lambda row: benchmark_spec.record_from_row(row, predictions_path.parent, split, need_audio=False),
            Path(predictions_path), benchmark_spec.answers_public(split),
        )
        records = loaded.records
        raws = [_raw(r.fields, key, absent) for r in records]
        out.update(format="official", prediction_key=key, n_unreadable_lines=bad_lines,
                   n_rows_without_prediction=sum(key not in r.fields for r in records))
        others = {} if prediction_key else other_answer_fields(benchmark, rows, key)
        out["rows_where_other_answer_fields_differ"] = others
        for other, n in others.items():
            if n:
                warnings.append(f'rows carry both "{key}" and "{other}", which differ in {n} rows: scored from '
                                f'"{key}" (what the official script reads); to score the other, give '
                                f"--prediction-key {other}")
        if loaded.skipped:
            warnings.append(f"{len(loaded.skipped)} rows could not be read as {benchmark} records and were left out "
                            f"(e.g. {loaded.skipped[0]['reason']})")
        if meta:
            check = compare_with_metadata(records, meta)
            out.update(check)
            if check["n_unknown_ids"] or check["n_items_differing_from_metadata"]:
                warnings.append(
                    f"the predictions file was not made on this metadata ({meta.version}): "
                    f"{check['n_unknown_ids']} ids are not in it (e.g. {', '.join(check['unknown_id_examples'][:3]) or '-'}), "
                    f"{check['n_items_differing_from_metadata']} items have other question/choices/answer "
                    f"(e.g. {', '.join(check['differing_item_examples'][:3]) or '-'}); scored with the file's own "
                    "records, as the official script does"
                )
    else:
        if meta is None:
            raise PredictionsError(f"{predictions_path}: holds only ids and predictions; give --metadata FILE to score it")
        loaded, records = meta, meta.records
        raws = _id_predictions(Path(predictions_path), meta, out, warnings, prediction_key)
    scores = [score_item(r, raw, scorer) for r, raw in zip(records, raws)]
    summary = summarize_with_subsets(records, scores, benchmark_spec.subset_keys, scorer.official)
    if summary["n_scored"] == 0:
        warnings.append("no item could be scored")
    if benchmark_spec.official_rule == "string_match" and summary["n_invalid_prediction"]:
        warnings.append(f"{summary['n_invalid_prediction']} predictions are not strings (the official script would "
                        "crash on them); they are left out of official accuracy and wrong in strict")
    return {
        **out,
        "metadata_file": str(metadata) if metadata else None,
        "metadata_sha256": meta.sha256 if meta else None,
        "metadata_version": meta.version if meta else None,
        "predictions_file": str(predictions_path),
        **summary,
        "warnings": warnings,
        "load_issues": loaded.issue_counts(),
        "skipped_records": loaded.skipped,
        "items": [s.to_dict() for s in scores],
    }
