"""One picture per task of a run (PNG and SVG): per subset, accuracy with audio, under each null condition, and
the random-guess level."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_task(task: str, task_report: dict[str, Any], out_dir: Path) -> list[Path]:
    # A bare Figure (Agg canvas), not pyplot: no global state, no GUI backend probing, 0.2 s less import per run.
    from matplotlib.figure import Figure

    conds = task_report["conditions"]
    anchor = conds.get("original") or next(iter(conds.values()))
    key = task_report["subset_keys"][0]  # MMAU task, MMAR modality, MMSU category
    groups = ["Overall", *anchor["subsets"][key]]

    def stats(cond: str, group: str) -> dict | None:
        s = conds[cond]
        return s if group == "Overall" else s["subsets"][key].get(group)

    width = 0.8 / len(conds)
    fig = Figure(figsize=(max(6, 1.1 * len(groups) * len(conds)), 4))
    ax = fig.subplots()
    colours = {"original": "#1f77b4", "silent": "#ff7f0e"}
    for j, cond in enumerate(conds):
        values = [100 * ((stats(cond, g) or {}).get("accuracy") or 0) for g in groups]
        xs = [i + (j - (len(conds) - 1) / 2) * width for i in range(len(groups))]
        label = "with audio" if cond == "original" else cond
        ax.bar(xs, values, width, label=label, color=colours.get(cond))
    guess = [100 * (stats(next(iter(conds)), g) or {}).get("random_guess", 0) for g in groups]
    for i, g in enumerate(guess):
        ax.hlines(g, i - 0.45, i + 0.45, colors="black", linestyles="dashed", label="random guess" if i == 0 else None)
    ax.set_xticks(range(len(groups)), [f"{g}\n(n={stats(next(iter(conds)), g)['n_total']})" for g in groups])
    ax.set_ylabel(f"{(task_report.get('scorer') or {}).get('kind', 'official')} accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{task}: accuracy with audio vs without")
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{task}.png", out_dir / f"{task}.svg"]
    for p in paths:
        tmp = p.with_name(f".{p.name}.tmp{p.suffix}")  # whole or not at all: rendered aside, then renamed
        fig.savefig(tmp, dpi=120)
        tmp.replace(p)
    return paths
