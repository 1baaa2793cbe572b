"""Split reports in the form of the paper's tables.

- Tables 3/4: per benchmark (or AudioMCQ source dataset): each model's accuracy with silent audio, and the
  weak / strong shares of the labels.
- Table 2: per official subset, each model's silent accuracy against the random-guess level.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonlines

from ac_eval.analysis.labels import ModelRows
from ac_eval.evaluation.benchmarks import get as get_benchmark


def split_report(labels_path: Path, runs: list[ModelRows], condition: str = "silent") -> dict:
    labels = {(row["benchmark"], row["id"]): row for row in jsonlines.open(labels_path)}
    names = [run.model for run in runs]
    # (benchmark) -> model -> list of (correct, subsets, n_choices) on the silent items the scorer counted
    silent: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        model = run.model
        for row in run.rows:
            if row["condition"] == condition and row["correct"] is not None:
                silent[row["benchmark"]][model].append((row["correct"], row["subsets"], row["n_choices"]))
    if not silent:
        raise ValueError(f"none of the runs has scored answers under the {condition!r} condition: the split report "
                         f"compares them with the labels; run each model with --conditions original,{condition}")
    report: dict[str, Any] = {"condition": condition, "models": names, "benchmarks": {}}
    for benchmark, by_model in sorted(silent.items()):
        mine = [lbl for (b, _), lbl in labels.items() if b == benchmark]
        n = len(mine)
        entry: dict[str, Any] = {
            "n_labelled": n,
            "weak_share": sum(lbl["label"] == "weak" for lbl in mine) / n if n else None,
            "strong_share": sum(lbl["label"] == "strong" for lbl in mine) / n if n else None,
            "undetermined_share": sum(lbl["label"] == "undetermined" for lbl in mine) / n if n else None,
            "silent_accuracy": {m: _mean([c for c, _, _ in rows]) for m, rows in by_model.items()},
        }
        rotated = [lbl for lbl in mine if "label_rotation" in lbl]
        if rotated:
            entry["weak_share_rotation"] = sum(lbl["label_rotation"] == "weak" for lbl in rotated) / len(rotated)
        subsets: dict[str, dict[str, Any]] = {}
        for key in get_benchmark(benchmark).subset_keys:
            groups: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
            guess: dict[str, list] = defaultdict(list)
            for model, rows in by_model.items():
                for correct, subs, n_choices in rows:
                    if subs.get(key) is None:
                        continue
                    groups[subs[key]][model].append(correct)
                    if model == names[0]:
                        guess[subs[key]].append(1 / n_choices)
            subsets[key] = {
                value: {"n": len(guess[value]), "random_guess": _mean(guess[value]),
                        **{m: _mean(v) for m, v in per_model.items()}}
                for value, per_model in sorted(groups.items())
            }
        entry["subsets"] = subsets
        report["benchmarks"][benchmark] = entry
    return report


def _mean(values: list) -> float | None:
    return sum(values) / len(values) if values else None


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def tables(report: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for the Table 3/4 form, then one Table 2 form per benchmark and subset field."""
    models = report["models"]
    out = []
    header = ["Benchmark", "n", *[f"{m} (silent)" for m in models], "Weak %", "Strong %", "Undetermined %"]
    rows = []
    for b, e in report["benchmarks"].items():
        rows.append([b, str(e["n_labelled"]), *[_pct(e["silent_accuracy"].get(m)) for m in models],
                     _pct(e["weak_share"]), _pct(e["strong_share"]), _pct(e.get("undetermined_share"))])
    out.append(("Audio-contribution split (paper Tables 3/4 form)", header, rows))
    for b, e in report["benchmarks"].items():
        for key, values in e["subsets"].items():
            head = [key, "n", *models, "Random"]
            body = [[v, str(s["n"]), *[_pct(s.get(m)) for m in models], _pct(s["random_guess"])] for v, s in values.items()]
            out.append((f"{b}: silent accuracy by {key} (paper Table 2 form)", head, body))
    return out


def to_markdown(report: dict) -> str:
    lines = ["# Split report", ""]
    for title, header, rows in tables(report):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows] + [""]
    return "\n".join(lines)


def print_tables(report: dict, console=None) -> None:
    from rich.table import Table

    from ac_eval.console import make_console

    console = console or make_console()
    for title, header, rows in tables(report):
        table = Table(title=title, title_justify="left")
        for i, h in enumerate(header):
            table.add_column(h, justify="left" if i == 0 else "right")
        for r in rows:
            table.add_row(*r)
        console.print(table)
