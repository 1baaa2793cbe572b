"""The leaderboard: runs -> validated `leaderboard.json` -> a static page (no build step, no CDN, file:// works).

Every row says what the audio is worth: accuracy with audio, with silence, their difference, and the
strong-subset accuracy where a `<task>_strong` run of the same model exists. Published numbers from the paper
sit beside measured ones, marked `reported`.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any

from ac_eval.files import copy_file, write_text
from ac_eval.paths import LEADERBOARD_DIR

SCHEMA = LEADERBOARD_DIR / "schema.json"
REPORTED = LEADERBOARD_DIR / "reported.json"
PAGE = LEADERBOARD_DIR / "page"


class BoardError(ValueError):
    """A board or entry does not match the schema; the message names the entry and the field."""


def _acc(stats: dict | None) -> dict[str, float | None]:
    stats = stats or {}
    return {"official": stats.get("accuracy_official"), "strict": stats.get("accuracy_strict"),
            "value": stats.get("accuracy", stats.get("accuracy_official"))}


def entries_from_run(run_dir: Path) -> list[dict[str, Any]]:
    """One measured entry per task of an `ac-eval run` folder that was evaluated with the original audio."""
    from ac_eval.analysis.report import caveats
    from ac_eval.models import parse_model_args
    from ac_eval.models.identity import model_identity
    from ac_eval.run.folder import check_figures, read_run

    results = read_run(run_dir)  # refuses a folder whose files are not from one finished run
    check_figures(run_dir, results)  # and one whose figures are not what its samples give
    model = results.get("model") or {}
    config = results["config"]
    # Runs written before models had a readable name get one now (a relative checkpoint path resolves from here).
    identity = model_identity(parse_model_args(config["model_args"]))
    name, key = model.get("name") or identity.name, model.get("key") or identity.key
    entries = []
    for task, tr in results["tasks"].items():
        conds = tr["conditions"]
        if "original" not in conds:
            continue
        paired = (tr.get("paired") or {}).get("silent", {}).get("overall", {})
        prompt = next((p for n, p in results["prompt"].items() if n.startswith(task)), {})
        scorer = tr.get("scorer") or {}
        entries.append(
            {
                "model": name,
                "model_key": key,
                "benchmark": board_benchmark(task, tr),
                "source": "measured",
                "accuracy_audio": _acc(conds["original"]),
                "accuracy_silent": _acc(conds.get("silent")),
                "delta": paired.get("delta"),
                "delta_n": paired.get("n"),
                "scorer_kind": scorer.get("kind", "official"),
                "metadata_note": None,
                "delta_ci": [paired["ci_low"], paired["ci_high"]] if paired.get("ci_low") is not None else None,
                "mcnemar_p": paired.get("mcnemar_p"),
                "strong_accuracy": None,
                "strong_n": None,
                "n": conds["original"]["n_total"],
                "n_silent": conds["silent"]["n_total"] if "silent" in conds else None,
                "deaf_alarm": bool(tr.get("deaf_alarm")),
                "partial": bool(tr.get("partial")),
                "caveats": caveats(tr),
                "provenance": {
                    "model_id": model.get("id") or config["model_args"],
                    "revision": model.get("revision"),
                    "backend": f"{model.get('lm_eval_model', config['model'])}/{model.get('arch') or 'unknown'}",
                    "prompt": prompt.get("name", config.get("prompt", "")),
                    "scorer": prompt.get("rule", "string_match"),
                    "extraction": scorer.get("extraction", "r1-aqa"),
                    "mode": config.get("mode", "generate"),
                    "conditions": sorted(conds),
                    "harness_version": results["ac_eval_version"],
                    "date": results["date"],
                    "config_hash": results.get("config_hash") or "0" * 16,
                    "metadata_version": tr.get("metadata_version"),
                    "metadata_sha256": tr.get("metadata_sha256"),
                    "recipe": (model.get("training") or None),
                },
            }
        )
    return entries


def board_benchmark(task: str, report: dict) -> str:
    """The benchmark a row is shown under. A run of `mmau_test_mini` on metadata that is none of MMAU's published
    versions (`--metadata mmau=my.json`: the demo's planted benchmark, a private subset) is not MMAU test-mini and
    must not sit among its rows: it becomes `mmau_test_mini_custom_<sha256 prefix>`."""
    from ac_eval.evaluation.benchmarks.versions import tasks_with_published_versions

    if report.get("metadata_version") != "unknown" or task not in tasks_with_published_versions():
        return task
    return f"{task}_custom_{str(report.get('metadata_sha256') or 'nosha')[:8]}"


def reported_entries(path: Path = REPORTED) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    out = []
    for model, values in data["rows"].items():
        for benchmark, value in zip(data["benchmarks"], values):
            out.append(
                {
                    "model": model,
                    "benchmark": benchmark,
                    "source": "reported",
                    "accuracy_audio": {"official": value, "strict": None, "value": value},
                    "accuracy_silent": {"official": None, "strict": None, "value": None},
                    "delta": None,
                    "n": None,
                    "provenance": {"citation": data["citation"]},
                }
            )
    return out


def fold_strong_subsets(entries: list[dict]) -> list[dict]:
    """A measured `<task>_strong` entry of a model becomes the strong-subset column of its `<task>` entry."""
    base = {(model_key(e), e["benchmark"]): e for e in entries if e["source"] == "measured"}
    out = []
    for e in entries:
        target = base.get((model_key(e), e["benchmark"].removesuffix("_strong")))
        if e["source"] == "measured" and e["benchmark"].endswith("_strong") and target is not None and target is not e:
            target["strong_accuracy"] = e["accuracy_audio"].get("value", e["accuracy_audio"]["official"])
            target["strong_n"] = e["n"]
            continue
        out.append(e)
    return out


def model_key(e: dict) -> str:
    """Rows of one model join on this (its resolved folder or hub id@revision), not on how its name was typed."""
    return e.get("model_key") or e["model"]


def entry_key(e: dict) -> tuple:
    """Rows that describe the same measurement replace each other when a board is updated."""
    p = e["provenance"]
    return (model_key(e), e["benchmark"], e["source"], p.get("config_hash") or p.get("citation"))


def mark_metadata_versions(entries: list[dict]) -> list[str]:
    """Rows of one benchmark scored on different metadata versions must not sit side by side unmarked: each such
    row gets a `metadata_note` (shown on the page); reported rows beside measured ones say the paper names no
    version. Returns one line per benchmark where versions differ."""
    notes = []
    by_benchmark: dict[str, list[dict]] = {}
    for e in entries:
        e["metadata_note"] = None
        by_benchmark.setdefault(e["benchmark"].removesuffix("_strong"), []).append(e)
    for benchmark, rows in sorted(by_benchmark.items()):
        measured = [e for e in rows if e["source"] == "measured"]
        versions = {_version_of(e) for e in measured}
        if len(versions) > 1:
            notes.append(f"{benchmark}: rows scored on {len(versions)} metadata versions: {', '.join(sorted(versions))}")
            for e in measured:
                others = sorted(versions - {_version_of(e)})
                e["metadata_note"] = f"scored on {_version_of(e)}; other rows here on {', '.join(others)}"
        if measured:
            for e in rows:
                if e["source"] == "reported":
                    e["metadata_note"] = "the source does not say which metadata version it was scored on"
    return notes


def _version_of(e: dict) -> str:
    p = e["provenance"]
    version = p.get("metadata_version") or "unknown"
    return f"{version} (sha256 {str(p.get('metadata_sha256'))[:12]})" if version == "unknown" else version


def build_board(entries: list[dict], existing: dict | None = None) -> dict[str, Any]:
    merged: dict[tuple, dict] = {entry_key(e): e for e in (existing or {}).get("entries", [])}
    for e in fold_strong_subsets(entries):
        merged[entry_key(e)] = e
    mark_metadata_versions(list(merged.values()))
    board = {
        "schema_version": 1,
        "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "entries": sorted(merged.values(), key=lambda e: (e["benchmark"], e["source"], e["model"])),
    }
    validate_board(board)
    return board


def _non_finite(value: Any, path: list) -> list | None:
    """The path to the first NaN or infinity in a board (JSON has neither; the schema's `number` lets them through)."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _non_finite(item, [*path, key])
        if found is not None:
            return found
    return None


def validate_board(board: dict) -> None:
    """Raise BoardError naming the entry and field of the first problem the schema finds."""
    from jsonschema import Draft202012Validator, FormatChecker

    bad = _non_finite(board, [])
    if bad is not None:
        where = f"entry {bad[1]} ({board['entries'][bad[1]].get('model')!r})" if bad[:1] == ["entries"] else "board"
        field = ".".join(map(str, bad[2:] if bad[:1] == ["entries"] else bad))
        raise BoardError(f"{where}: field {field} is {_get(board, bad)}: a figure must be a finite number (or null "
                         "when there is none); was a results.json edited?")

    validator = Draft202012Validator(json.loads(SCHEMA.read_text()), format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(board), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    err = errors[0]
    path = list(err.absolute_path)
    where = "board"
    if len(path) >= 2 and path[0] == "entries":
        e = board["entries"][path[1]]
        label = f"model {e.get('model')!r}, benchmark {e.get('benchmark')!r}" if isinstance(e, dict) else "not an object"
        where = f"entry {path[1]} ({label})"
        path = path[2:]
    field = ".".join(str(p) for p in path) or "(the entry itself)"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    raise BoardError(f"{where}: field {field}: {err.message}{more}")


def _get(obj: Any, path: list) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def merge_summary(existing: dict, board: dict, where: Path) -> str:
    """What updating a board did to the entries it had: a publish into a folder never drops rows unsaid.
    (`build_board` keeps the existing entry objects it did not replace, so identity tells which were replaced.)"""
    had = {entry_key(e): e for e in existing["entries"]}
    replaced = sum(1 for e in board["entries"] if entry_key(e) in had and had[entry_key(e)] is not e)
    return (f"ac-eval: {where / 'leaderboard.json'} already held {len(had)} entries: all kept, {replaced} of them "
            f"replaced by the same measurement made again; {len(board['entries']) - len(had)} added "
            "(publish --replace starts a board anew)")


def write_board(board: dict, output: Path) -> Path:
    """leaderboard.json, plus the page: index.html, app.js, style.css and the data as a script (file:// safe)."""
    validate_board(board)
    output.mkdir(parents=True, exist_ok=True)
    text = json.dumps(board, indent=2, ensure_ascii=False, allow_nan=False)
    write_text(output / "leaderboard.json", text)
    # A <script src> works from file:// where fetch() does not; "<" escaped so no data can end a script block.
    write_text(output / "leaderboard-data.js", "window.LEADERBOARD = " + text.replace("<", "\\u003c") + ";\n")
    for name in ("index.html", "app.js", "style.css"):
        copy_file(PAGE / name, output / name)
    return output / "index.html"


def load_board(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise BoardError(f"{path}: no such file (a board folder holds leaderboard.json)")
    try:
        board = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BoardError(f"{path}: not a JSON leaderboard ({getattr(e, 'msg', e)})") from e
    if not isinstance(board, dict):
        raise BoardError(f"{path}: a leaderboard is a JSON object, not a {type(board).__name__}")
    validate_board(board)
    return board


def push_to_hub(output: Path, repo_id: str, token: str) -> None:
    """Upload the board folder to a Hugging Face dataset repository (optional; needs network and a token)."""
    from huggingface_hub import HfApi

    HfApi(token=token).upload_folder(folder_path=str(output), repo_id=repo_id, repo_type="dataset",
                                     commit_message="Update ac-eval leaderboard")
