"""Audio-contribution report: per task, accuracy with audio, with each null condition, the delta and random guess,
overall and per official subset (the form of the paper's Table 2). JSON, Markdown and a rich terminal table."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ac_eval.benchmarks import get as get_benchmark
from ac_eval.records import Record
from ac_eval.scoring import ItemScore, summarize_with_subsets
from ac_eval.stats import paired_delta

# Audio and null predictions identical on at least this share of items (and at least this many items) is the
# signature of audio dropped somewhere on the way to the model.
DEAF_AGREEMENT = 0.98
DEAF_MIN_ITEMS = 20


def build_task_report(
    benchmark: str, by_condition: dict[str, tuple[list[Record], list[ItemScore]]], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    subset_keys = list(get_benchmark(benchmark).SUBSET_KEYS)
    conditions = {c: summarize_with_subsets(recs, scores, subset_keys) for c, (recs, scores) in by_condition.items()}
    report: dict[str, Any] = {"benchmark": benchmark, "subset_keys": subset_keys, "conditions": conditions}
    if "original" in conditions:
        base = conditions["original"]
        report["delta"] = {
            c: _delta(base, s, subset_keys) for c, s in conditions.items() if c != "original"
        }
        report["paired"] = {
            c: paired_analysis(by_condition["original"], pair, subset_keys)
            for c, pair in by_condition.items()
            if c != "original"
        }
        report["deaf_alarm"] = {c: p["deaf_alarm"] for c, p in report["paired"].items() if p["deaf_alarm"]}
    report.update(extra or {})
    return report


def paired_analysis(
    audio: tuple[list[Record], list[ItemScore]], null: tuple[list[Record], list[ItemScore]], subset_keys: list[str]
) -> dict[str, Any]:
    """Per-item audio contribution (AC = right with audio - right without) on the items scored under both
    conditions: delta with a 95% paired bootstrap interval and an exact McNemar test, overall and per subset;
    and how often the two conditions gave the very same answer (the deaf-model alarm)."""
    null_by_id = {s.id: s for s in null[1]}
    pairs = [(r, s, null_by_id[s.id]) for r, s in zip(*audio) if s.id in null_by_id]
    scored = [(r, a, n) for r, a, n in pairs if a.correct_official is not None and n.correct_official is not None]
    answered = [(a, n) for _, a, n in pairs if a.extracted is not None and n.extracted is not None]
    agreement = sum(a.extracted == n.extracted for a, n in answered) / len(answered) if answered else None
    out: dict[str, Any] = {
        "overall": paired_delta([a.correct_official for _, a, _ in scored], [n.correct_official for _, _, n in scored]).to_dict(),
        "subsets": {},
        "same_answer_rate": agreement,
        "n_compared": len(answered),
        "deaf_alarm": agreement is not None and len(answered) >= DEAF_MIN_ITEMS and agreement >= DEAF_AGREEMENT,
    }
    for key in subset_keys:
        groups: dict[str, list] = defaultdict(list)
        for r, a, n in scored:
            groups[r.subsets.get(key, "")].append((a.correct_official, n.correct_official))
        out["subsets"][key] = {
            v: paired_delta([x for x, _ in g], [y for _, y in g]).to_dict() for v, g in sorted(groups.items())
        }
    return out


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _delta(base: dict, other: dict, keys: list[str]) -> dict[str, Any]:
    """Audio contribution = accuracy with audio - accuracy under the null condition (official and strict)."""
    out: dict[str, Any] = {
        "official": _diff(base["accuracy_official"], other["accuracy_official"]),
        "strict": _diff(base["accuracy_strict"], other["accuracy_strict"]),
        "subsets": defaultdict(dict),
    }
    for key in keys:
        for value, s in base["subsets"][key].items():
            o = other["subsets"].get(key, {}).get(value)
            out["subsets"][key][value] = _diff(s["accuracy_official"], o["accuracy_official"]) if o else None
    out["subsets"] = dict(out["subsets"])
    return out


TERMINAL_MAX_VALUES = 12


def _anchor(task_report: dict[str, Any]) -> dict[str, Any]:
    conds = task_report["conditions"]
    return conds.get("original") or next(iter(conds.values()))


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def _signed(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:+.1f}"


def table_rows(task_report: dict[str, Any], max_values: int | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and rows: Subset | n | Audio | <null> | Δ <null> ... | Random. Subset fields with more than
    `max_values` values are left out (the terminal shows them in report.md instead)."""
    conds = task_report["conditions"]
    nulls = [c for c in conds if c != "original"]
    header = ["Subset", "n", "Audio"] + [n.capitalize() for n in nulls] + [f"Δ {n}" for n in nulls] + ["Random"]
    anchor = _anchor(task_report)

    def row(label: str, getter) -> list[str]:
        base = getter(anchor)
        cells = [label, str(base["n_total"]), _pct(getter(conds["original"])["accuracy_official"]) if "original" in conds else "—"]
        null_stats = [getter(conds[n]) for n in nulls]
        cells += [_pct(s["accuracy_official"]) if s else "—" for s in null_stats]
        if "original" in conds:
            o = getter(conds["original"])["accuracy_official"]
            cells += [_signed(_diff(o, s["accuracy_official"])) if s else "—" for s in null_stats]
        else:
            cells += ["—"] * len(nulls)
        return cells + [_pct(base["random_guess"])]

    rows = [row("Overall", lambda s: s)]
    for key in task_report["subset_keys"]:
        if max_values is not None and len(anchor["subsets"][key]) > max_values:
            continue
        for value in anchor["subsets"][key]:
            rows.append(row(f"{key}: {value}", lambda s, k=key, v=value: s["subsets"][k].get(v)))
    return header, rows


def significance_line(task_report: dict[str, Any]) -> str:
    parts = []
    for c, p in task_report.get("paired", {}).items():
        o = p["overall"]
        if o["delta"] is None:
            continue
        parts.append(
            f"Δ {c} {_signed(o['delta'])} [95% CI {_signed(o['ci_low'])}, {_signed(o['ci_high'])}], "
            f"McNemar p={o['mcnemar_p']:.3g} (right only with audio: {o['audio_only']}, only without: {o['null_only']})"
        )
    return "; ".join(parts)


def deaf_warning(task_report: dict[str, Any]) -> str | None:
    alarms = task_report.get("deaf_alarm") or {}
    if not alarms:
        return None
    rates = ", ".join(f"{c}: {100 * task_report['paired'][c]['same_answer_rate']:.1f}%" for c in alarms)
    return (
        f"DEAF MODEL? With audio and without, the model gave the same answer on almost every item ({rates} of "
        f"{task_report['paired'][next(iter(alarms))]['n_compared']}). The audio is probably not reaching it: check "
        "the processor keyword (audio= vs audios=), the audio token and the feature inputs."
    )


def counts_line(task_report: dict[str, Any]) -> str:
    parts = []
    for c, s in task_report["conditions"].items():
        parts.append(
            f"{c}: strict {_pct(s['accuracy_strict'])}%, scored {s['n_scored']}/{s['n_total']}, "
            f"unparseable {s['n_unparseable']}, audio errors {s['n_audio_error']}, "
            + (f"request errors {s['n_request_error']}, " if s.get("n_request_error") else "")
            + f"ambiguous hits {s['n_ambiguous_hits']}"
        )
    return "; ".join(parts)


def to_markdown(report: dict[str, Any]) -> str:
    lines = ["# Audio-contribution report", ""]
    for task, tr in report["tasks"].items():
        header, rows = table_rows(tr)
        lines += [f"## {task}", "", "Official accuracy (%); Δ = with audio − without.", ""]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        warning = deaf_warning(tr)
        if warning:
            lines += ["", f"> **{warning}**"]
        lines += ["", significance_line(tr), "", counts_line(tr), ""]
        if tr.get("load_issues"):
            lines += [f"Loader: {tr['load_issues']}", ""]
    return "\n".join(lines)


def print_report(report: dict[str, Any], console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    for task, tr in report["tasks"].items():
        header, rows = table_rows(tr, max_values=TERMINAL_MAX_VALUES)
        table = Table(title=f"{task}: audio contribution (official accuracy, %)", title_justify="left")
        for i, h in enumerate(header):
            table.add_column(h, justify="left" if i == 0 else "right")
        for r in rows:
            table.add_row(*r, style="bold" if r[0] == "Overall" else None)
        console.print(table)
        hidden = [k for k in tr["subset_keys"] if len(_anchor(tr)["subsets"][k]) > TERMINAL_MAX_VALUES]
        if hidden:
            console.print(f"per {', '.join(hidden)}: see report.md / results.json", style="dim")
        console.print(significance_line(tr))
        console.print(counts_line(tr), style="dim")
        warning = deaf_warning(tr)
        if warning:
            from rich.panel import Panel

            console.print(Panel(warning, style="bold red"))
        if tr.get("load_issues"):
            console.print(f"loader: {tr['load_issues']}", style="dim")
