"""Audio-contribution report: per task, accuracy with audio, with each null condition, the delta and random guess,
overall and per official subset (the form of the paper's Table 2). JSON, Markdown and a rich terminal table."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ac_eval.analysis.stats import paired_delta
from ac_eval.evaluation.benchmarks import get as get_benchmark
from ac_eval.evaluation.records import Record
from ac_eval.evaluation.scoring import ItemScore, summarize_with_subsets

# Audio and null predictions identical on at least this share of items (and at least this many items) is the
# signature of audio dropped somewhere on the way to the model.
DEAF_AGREEMENT = 0.98
DEAF_MIN_ITEMS = 20
# A condition whose answers are mostly unparseable (or empty) has an accuracy that measures the output format,
# not the audio: above this share it is flagged wherever its numbers are shown.
MOSTLY_UNPARSEABLE = 0.5


def build_task_report(
    benchmark: str,
    by_condition: dict[str, tuple[list[Record], list[ItemScore]]],
    extra: dict[str, Any] | None = None,
    official: bool = True,
) -> dict[str, Any]:
    """Per condition, the scorer's accuracy overall and per subset; against the original audio, the paired
    analysis and the deltas (always over the items scored under both conditions, with their n)."""
    subset_keys = list(get_benchmark(benchmark).subset_keys)
    conditions = {c: summarize_with_subsets(recs, scores, subset_keys, official) for c, (recs, scores) in by_condition.items()}
    report: dict[str, Any] = {"benchmark": benchmark, "subset_keys": subset_keys, "conditions": conditions}
    if "original" in conditions:
        report["paired"] = {
            c: paired_analysis(by_condition["original"], pair, subset_keys)
            for c, pair in by_condition.items()
            if c != "original"
        }
        report["delta"] = {c: delta_view(p, official) for c, p in report["paired"].items()}
        report["deaf_alarm"] = {c: p["deaf_alarm"] for c, p in report["paired"].items() if p["deaf_alarm"]}
    report.update(extra or {})
    report["caveats"] = caveats(report)
    return report


def unparseable_share(stats: dict[str, Any]) -> float:
    n = stats.get("n_total") or 0
    return (stats.get("n_unparseable", 0) + stats.get("n_empty", 0)) / n if n else 0.0


def caveats(task_report: dict[str, Any]) -> list[str]:
    """What makes this task's numbers mean less than they seem, one sentence each: a partial run (--limit), a
    condition whose answers are mostly unparseable. Shown in the terminal, report.md and on the board."""
    out = []
    partial = task_report.get("partial")
    if partial:
        how = ", ".join(f"--{k} {v:g}" if isinstance(v, float) else f"--{k} {v}" for k, v in partial.items()
                        if k in ("limit", "shard") and v is not None)
        out.append(f"partial run: {partial['n_items']} of the benchmark's {partial['n_records']} items "
                   f"({how}); not comparable with full-benchmark figures")
    for c, stats in task_report["conditions"].items():
        share = unparseable_share(stats)
        if share > MOSTLY_UNPARSEABLE:
            out.append(f"{c}: {100 * share:.0f}% of answers unparseable or empty; its accuracy"
                       + (" measures" if c == "original" else " and Δ measure") + " the output format, not the audio")
    return out


def paired_analysis(
    audio: tuple[list[Record], list[ItemScore]], null: tuple[list[Record], list[ItemScore]], subset_keys: list[str]
) -> dict[str, Any]:
    """Per-item audio contribution (AC = right with audio - right without) on the items scored under both
    conditions: delta with a 95% paired bootstrap interval and an exact McNemar test, overall and per subset
    (strict: over the items present under both); and how often the two conditions gave the very same answer
    (the deaf-model alarm)."""
    null_by_id = {s.id: s for s in null[1]}
    pairs = [(r, s, null_by_id[s.id]) for r, s in zip(*audio) if s.id in null_by_id]
    scored = [(r, a, n) for r, a, n in pairs if a.correct is not None and n.correct is not None]
    strict = [(a, n) for _, a, n in pairs if a.correct_strict is not None and n.correct_strict is not None]
    answered = [(a, n) for _, a, n in pairs if a.extracted is not None and n.extracted is not None]
    agreement = sum(a.extracted == n.extracted for a, n in answered) / len(answered) if answered else None
    out: dict[str, Any] = {
        "overall": paired_delta([a.correct for _, a, _ in scored], [n.correct for _, _, n in scored]).to_dict(),
        "strict": paired_delta([a.correct_strict for a, _ in strict], [n.correct_strict for _, n in strict]).to_dict(),
        "subsets": {},
        "same_answer_rate": agreement,
        "n_compared": len(answered),
        "deaf_alarm": agreement is not None and len(answered) >= DEAF_MIN_ITEMS and agreement >= DEAF_AGREEMENT,
    }
    for key in subset_keys:
        groups: dict[str, list] = defaultdict(list)
        for r, a, n in scored:
            value = r.subsets.get(key)
            if value is not None:
                groups[value].append((a.correct, n.correct))
        out["subsets"][key] = {
            v: paired_delta([x for x, _ in g], [y for _, y in g]).to_dict() for v, g in sorted(groups.items())
        }
    return out


def delta_view(paired: dict[str, Any], official: bool = True) -> dict[str, Any]:
    """The headline audio contribution: paired deltas with the n of items they rest on. `official` repeats the
    scorer's delta only when the scorer is the benchmark's official one."""
    overall = paired["overall"]
    return {
        "delta": overall["delta"],
        "n": overall["n"],
        "official": overall["delta"] if official else None,
        "strict": paired["strict"]["delta"],
        "n_strict": paired["strict"]["n"],
        "subsets": {
            key: {value: {"delta": d["delta"], "n": d["n"]} for value, d in groups.items()}
            for key, groups in paired["subsets"].items()
        },
    }


TERMINAL_MAX_VALUES = 12


def _anchor(task_report: dict[str, Any]) -> dict[str, Any]:
    conds = task_report["conditions"]
    return conds.get("original") or next(iter(conds.values()))


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def _signed(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:+.1f}"


def table_rows(task_report: dict[str, Any], max_values: int | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and rows: Subset | n | Audio | <null> ... | Δ <null> (n) ... | Random. Accuracies are over the items
    each condition scored; every Δ is paired: over the items scored under both, n in brackets. Subset fields with
    more than `max_values` values are left out (the terminal shows them in report.md instead)."""
    conds = task_report["conditions"]
    nulls = [c for c in conds if c != "original"]
    deltas = task_report.get("delta") or {}
    # A condition whose items do not pair with the original ones (silent-rotated asks each item once per
    # rotation) has no paired delta: no column, rather than a column of dashes.
    paired_nulls = [n for n in nulls if (deltas.get(n) or {}).get("n")]
    header = ["Subset", "n", "Audio"] + [n.capitalize() for n in nulls] + [f"Δ {n} (n)" for n in paired_nulls] + ["Random"]
    anchor = _anchor(task_report)

    def delta_cell(null: str, key: str | None, value: str | None) -> str:
        d = deltas.get(null)
        if d is None:
            return "—"
        cell = d if key is None else d["subsets"].get(key, {}).get(value)
        return "—" if not cell or cell["delta"] is None else f"{_signed(cell['delta'])} ({cell['n']})"

    def row(label: str, getter, key: str | None = None, value: str | None = None) -> list[str]:
        base = getter(anchor)
        original = getter(conds["original"]) if "original" in conds else None
        cells = [label, str(base["n_total"]), _pct(original["accuracy"]) if original else "—"]
        null_stats = [getter(conds[n]) for n in nulls]
        cells += [_pct(s["accuracy"]) if s else "—" for s in null_stats]
        cells += [delta_cell(n, key, value) for n in paired_nulls]
        return cells + [_pct(base["random_guess"])]

    rows = [row("Overall", lambda s: s)]
    for key in task_report["subset_keys"]:
        if max_values is not None and len(anchor["subsets"][key]) > max_values:
            continue
        for value in anchor["subsets"][key]:
            rows.append(row(f"{key}: {value}", lambda s, k=key, v=value: s["subsets"][k].get(v), key, value))
    return header, rows


def accuracy_label(task_report: dict[str, Any]) -> str:
    """What the table's accuracies are: official, or named for the rule that gave them."""
    scorer = task_report.get("scorer") or {}
    return f"{scorer.get('kind', 'official')} accuracy, %"


def significance_line(task_report: dict[str, Any]) -> str:
    parts = []
    for c, p in task_report.get("paired", {}).items():
        o = p["overall"]
        if o["delta"] is None:
            continue
        parts.append(
            f"Δ {c} {_signed(o['delta'])} over {o['n']} paired items [95% CI {_signed(o['ci_low'])}, {_signed(o['ci_high'])}], "
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


# What each note of the metadata loader means: they describe the benchmark's file, not the model's answers.
LOAD_NOTES = {
    "answer_not_in_choices": "the gold answer is not one of the item's choices (kept; scored by the official rule as is)",
    "duplicate_choices": "two choices are equal ignoring case and spaces (kept; the token rule cannot tell them apart)",
    "duplicate_id": "an id seen before in the file (kept as a separate item)",
}


def load_notes_line(task_report: dict[str, Any]) -> str | None:
    """One line on what the loader noticed in the metadata, each note with its meaning."""
    issues = task_report.get("load_issues") or {}
    if not issues:
        return None
    parts = []
    for name, n in issues.items():
        meaning = LOAD_NOTES.get(name, "left out of the run" if name.startswith("skipped:") else "")
        parts.append(f"{name}: {n} item(s)" + (f" ({meaning})" if meaning else ""))
    return "metadata notes: " + "; ".join(parts)


def counts_line(task_report: dict[str, Any]) -> str:
    parts = []
    for c, s in task_report["conditions"].items():
        parts.append(
            f"{c}: strict {_pct(s['accuracy_strict'])}%, scored {s['n_scored']}/{s['n_total']}, "
            f"unparseable {s['n_unparseable']}, empty {s['n_empty']}, audio errors {s['n_audio_error']}, "
            + (f"request errors {s['n_request_error']}, " if s.get("n_request_error") else "")
            + (f"item errors {s['n_item_error']}, " if s.get("n_item_error") else "")
            + (f"invalid predictions {s['n_invalid_prediction']}, " if s.get("n_invalid_prediction") else "")
            + f"ambiguous hits {s['n_ambiguous_hits']}"
            + (f", answers not among the choices {s['n_answer_not_in_choices']}" if s.get("n_answer_not_in_choices") else "")
            + (f", answers without words (any output matches) {s['n_answer_without_words']}"
               if s.get("n_answer_without_words") else "")
        )
    return "; ".join(parts)


def scorer_line(task_report: dict[str, Any]) -> str:
    scorer = task_report.get("scorer") or {}
    gen = task_report.get("generation")
    budget = f"; generation: greedy={not gen['do_sample']}, max_new_tokens={gen['max_new_tokens']}" if gen else ""
    return (f"scorer: {scorer.get('description', '?')}; metadata: {task_report.get('metadata_version', '?')} "
            f"(sha256 {str(task_report.get('metadata_sha256', ''))[:12]}){budget}")


def to_markdown(report: dict[str, Any]) -> str:
    lines = ["# Audio-contribution report", ""]
    if report.get("run_id"):
        lines += [f"run {report['run_id']}, {report.get('date', '')}", ""]
    for task, tr in report["tasks"].items():
        header, rows = table_rows(tr)
        lines += [f"## {task}", "", f"{accuracy_label(tr).capitalize()}. Δ = with audio − without, paired: over the "
                  "items scored under both conditions (n in brackets).", "", scorer_line(tr), ""]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        warning = deaf_warning(tr)
        if warning:
            lines += ["", f"> **{warning}**"]
        if caveats(tr):
            lines += [""] + [f"> **Caveat:** {c}" for c in caveats(tr)]
        lines += ["", significance_line(tr), "", counts_line(tr), ""]
        if load_notes_line(tr):
            lines += [load_notes_line(tr), ""]
    status = report.get("run_status")
    if status:
        lines += ["## Run status", "", f"Exit code {status['exit_code']}: {status['meaning']}.", ""]
        lines += [f"- {p}" for p in status["problems"]] + ([""] if status["problems"] else [])
        lines += [f"- {line}" for line in status_lines(status)] + [""]
    return "\n".join(lines)


def status_lines(status: dict[str, Any]) -> list[str]:
    """One line per task and condition: what the numbers rest on."""
    return [
        f"{task} / {cond}: scored {e['scored']} of {e['n_total']}, errors {e['errors']}, skipped {e['skipped']}"
        for task, by_cond in status["conditions"].items()
        for cond, e in by_cond.items()
    ]


def print_report(report: dict[str, Any], console=None) -> None:
    from rich.table import Table

    from ac_eval.console import make_console

    console = console or make_console()
    for task, tr in report["tasks"].items():
        header, rows = table_rows(tr, max_values=TERMINAL_MAX_VALUES)
        table = Table(title=f"{task}: audio contribution ({accuracy_label(tr)}; Δ paired, n in brackets)",
                      title_justify="left")
        for i, h in enumerate(header):
            # On a terminal, a header may wrap between the words of a condition's name (silent no question)
            # instead of being cut ("Silent-no-…") when the table is wider than the window.
            table.add_column(h.replace("-", " ") if console.is_terminal else h, justify="left" if i == 0 else "right")
        for r in rows:
            table.add_row(*r, style="bold" if r[0] == "Overall" else None)
        console.print(table)
        hidden = [k for k in tr["subset_keys"] if len(_anchor(tr)["subsets"][k]) > TERMINAL_MAX_VALUES]
        if hidden:
            console.print(f"per {', '.join(hidden)}: see report.md / results.json", style="dim")
        for caveat in caveats(tr):  # computed, not read: a run from before caveats existed gets them too
            console.print(f"caveat: {caveat}", style="bold yellow")
        console.print(significance_line(tr))
        console.print(counts_line(tr), style="dim")
        console.print(scorer_line(tr), style="dim")
        warning = deaf_warning(tr)
        if warning:
            from rich.panel import Panel

            console.print(Panel(warning, style="bold red"))
        if load_notes_line(tr):
            console.print(load_notes_line(tr), style="dim")
