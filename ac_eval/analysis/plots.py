"""One picture per task of a run (PNG and SVG): one panel per subset field (MMAU: task, difficulty, sub-category;
MMAR: modality, category; ...), each group's accuracy under every condition, and the random-guess level.

Horizontal bars, so long sub-category names stay readable. Every condition has its own colour (the same in every
plot), named in the legend. A group a condition has no scored item for is drawn as a hatched outline reading
"no data", never as a 0% bar; a real 0% is a labelled "0%"."""

from __future__ import annotations

import hashlib
import json
import shutil
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

# Fixed per condition, so a colour means the same thing in every plot of every run.
CONDITION_COLOURS = {
    "original": "#1f77b4",
    "silent": "#ff7f0e",
    "silent-matched": "#2ca02c",
    "silent-rotated": "#9467bd",
    "silent-no-question": "#bcbd22",
    "noise": "#8c564b",
    "shuffled": "#e377c2",
    "none": "#7f7f7f",
}
EXTRA_COLOURS = ["#17becf", "#d62728", "#393b79"]  # conditions added later, before they get their own entry
BAR = 0.22  # inches per bar
LABEL_SIZE = 7  # points: the groups' names
# Inches: above the panels (the figure's title), above each panel (its title), below each (x tick labels), below the
# last (the x label); the bars' width whatever the names' ("100%" fits inside: the axes run to 108) and right of it.
TITLE_BAND, PANEL_TITLE, TICK_LABELS, X_LABEL, BARS_WIDTH, RIGHT = 0.45, 0.3, 0.22, 0.33, 6.5, 0.2
NO_DATA = "no data"


def condition_label(cond: str) -> str:
    return "with audio" if cond == "original" else cond.replace("-", " ").replace("_", " ")


def condition_colour(cond: str, order: list[str]) -> str:
    if cond in CONDITION_COLOURS:
        return CONDITION_COLOURS[cond]
    extra = [c for c in order if c not in CONDITION_COLOURS]
    return EXTRA_COLOURS[extra.index(cond) % len(EXTRA_COLOURS)]


def _accuracy(stats: dict | None) -> float | None:
    """The plotted figure, or None when no item of the group was scored under the condition."""
    if not stats or not stats.get("n_scored"):
        return None
    return stats.get("accuracy")


def plot_key(task: str, task_report: dict[str, Any]) -> str:
    """What a task's picture depends on: the figures it draws and this module's code."""
    drawn = {"task": task, "conditions": task_report["conditions"], "subset_keys": task_report.get("subset_keys"),
             "scorer": (task_report.get("scorer") or {}).get("kind"), "code": Path(__file__).read_text()}
    return hashlib.sha256(json.dumps(drawn, sort_keys=True, default=str).encode()).hexdigest()


def plot_task(task: str, task_report: dict[str, Any], out_dir: Path, reuse_from: Path | None = None) -> list[Path]:
    """`<task>.png` and `.svg` in `out_dir` (see `plot_tasks`)."""
    return plot_tasks({task: task_report}, out_dir, reuse_from)[task]


def plot_tasks(reports: dict[str, dict[str, Any]], out_dir: Path, reuse_from: Path | None = None,
               pool: Executor | None = None, workers: int = 1) -> dict[str, list[Path]]:
    """Per task, `<task>.png` and `.svg` in `out_dir`. Pictures in `reuse_from` (the run folder's last plots) made
    from the same figures by the same code are copied instead of drawn again (1 s of a rerun from the cache); the
    rest are drawn in `pool`'s `workers` processes (a run's side processes, see run/side.py), else here.
    Drawing a task's two pictures costs about 1.2 s on the 2-core CPU machine: 0.6-0.8 s importing matplotlib (in
    a side process, beside the model's loading), 0.1 s building the figure, 0.3-0.5 s rendering PNG and SVG."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, jobs = {}, []
    for task, task_report in reports.items():
        paths[task] = [out_dir / f"{task}.png", out_dir / f"{task}.svg"]
        key, key_file = plot_key(task, task_report), f".{task}.plotkey"
        old = [reuse_from / p.name for p in paths[task]] if reuse_from else []
        if old and (reuse_from / key_file).is_file() and (reuse_from / key_file).read_text() == key \
                and all(p.is_file() for p in old):
            for src, dst in zip(old, paths[task]):
                shutil.copyfile(src, dst)
        else:
            jobs.append((task, task_report, [str(p) for p in paths[task]]))
        (out_dir / key_file).write_text(key)
    if pool is not None and workers > len(jobs):  # processes to spare: each format in its own (laid out twice)
        jobs = [(task, task_report, [path]) for task, task_report, many in jobs for path in many]
    _draw_all(jobs, pool)
    return paths


def draw(task: str, task_report: dict[str, Any], paths: list[str]) -> None:
    """A task's figure saved to each path, its format from the file's suffix; each file whole or not at all
    (rendered aside, then renamed)."""
    fig = task_figure(task, task_report)
    for path in paths:
        target = Path(path)
        tmp = target.with_name(f".{target.name}.tmp{target.suffix}")
        fig.savefig(tmp, dpi=120)
        tmp.replace(target)


def _draw_all(jobs: list[tuple[str, dict, list[str]]], pool: Executor | None) -> None:
    if pool is None or not jobs:
        for job in jobs:
            draw(*job)
        return
    from concurrent.futures.process import BrokenProcessPool

    try:
        for future in [pool.submit(draw, *job) for job in jobs]:
            future.result()  # a drawing's own error is raised here, as if drawn in this process
    except BrokenProcessPool:  # a side process died (killed, out of memory): draw here instead
        for job in jobs:
            draw(*job)


def task_figure(task: str, task_report: dict[str, Any]):
    """The matplotlib Figure of one task's report (see the module's docstring)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    conds = list(task_report["conditions"])
    stats_of = task_report["conditions"]
    panels: list[tuple[str, list[str]]] = [("overall", ["Overall"])]
    for key in task_report.get("subset_keys") or []:
        groups = sorted({g for c in conds for g in (stats_of[c].get("subsets") or {}).get(key, {})})
        if groups:
            panels.append((key, groups))

    def stats(cond: str, key: str, group: str) -> dict | None:
        return stats_of[cond] if key == "overall" else (stats_of[cond].get("subsets") or {}).get(key, {}).get(group)

    def items(key: str, group: str) -> int:
        # Items, not asks: silent-rotated asks each item once per rotation, so the fewest a condition counts is n.
        return min(((stats(c, key, group) or {}).get("n_total") or 0 for c in conds if stats(c, key, group)), default=0)

    labels_of = {key: [f"{g} (n={items(key, g)})" for g in groups] for key, groups in panels}
    fig, axes = _laid_out(labels_of, len(conds))
    scorer = (task_report.get("scorer") or {}).get("kind", "official")
    any_missing = False
    for ax, (key, groups) in zip(axes, panels):
        band = 0.8 / len(conds)
        for j, cond in enumerate(conds):
            for i, group in enumerate(groups):
                y = i + (j - (len(conds) - 1) / 2) * band
                acc = _accuracy(stats(cond, key, group))
                if acc is None:
                    any_missing = True
                    ax.barh(y, 100, band, fill=False, hatch="///", edgecolor="#bbbbbb", linewidth=0.5)
                    ax.text(1, y, NO_DATA, va="center", fontsize=6, color="#777777")
                    continue
                ax.barh(y, 100 * acc, band, color=condition_colour(cond, conds))
                ax.text(100 * acc + 1, y, f"{100 * acc:.0f}%", va="center", fontsize=6)
        for i, group in enumerate(groups):  # the chance level of the group's own items
            guess = next((s["random_guess"] for c in conds if (s := stats(c, key, group)) and s.get("random_guess")), None)
            if guess is not None:
                ax.vlines(100 * guess, i - 0.45, i + 0.45, colors="black", linestyles="dashed", linewidth=0.8)
        ax.set_yticks(range(len(groups)), labels_of[key], fontsize=LABEL_SIZE)
        ax.invert_yaxis()
        ax.set_xlim(0, 108)
        ax.set_title(key, fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=7)
    axes[-1].set_xlabel(f"{scorer} accuracy (%)")
    handles = [Patch(color=condition_colour(c, conds), label=condition_label(c)) for c in conds]
    handles.append(Line2D([], [], color="black", linestyle="--", linewidth=0.8, label="random guess"))
    if any_missing:
        handles.append(Patch(fill=False, hatch="///", edgecolor="#bbbbbb", label=NO_DATA))
    # The title on top, the legend in its own band at the bottom: neither covers the other nor a panel.
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), fontsize="small",
               ncols=min(4, len(handles)), frameon=False)
    fig.suptitle(f"{task}: accuracy with audio vs without, per subset", x=0.01, y=1 - 0.1 / fig.get_figheight(),
                 ha="left", va="top", fontsize=10)
    return fig


def _laid_out(labels_of: dict[str, list[str]], n_conds: int):
    """The empty figure and its panels (axes, one per entry of `labels_of`: its tick labels), placed in inches from
    the longest tick label's measured width. `tight_layout` found the same by laying every artist out once more
    before rendering: half of a run's 0.6 s of drawing. Top to bottom: the title's band, per panel its title, bars
    and x tick labels, then the x label, the legend's band. A bare Figure (Agg canvas), not pyplot: no global state,
    no GUI backend probing, 0.2 s less import per run."""
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    measure, font = TextToPath(), FontProperties(size=LABEL_SIZE)
    label_points = max(measure.get_text_width_height_descent(label, font, ismath=False)[0]
                       for labels in labels_of.values() for label in labels)
    left = 1.05 * label_points / 72 + 0.1 + 0.08  # the labels (5% for hinting), the tick and its pad, a margin
    width = left + BARS_WIDTH + RIGHT
    bars = [len(labels) * n_conds * BAR for labels in labels_of.values()]
    legend_inches = 0.25 + 0.2 * -(-(n_conds + 2) // 4)  # up to 4 entries a row: conditions, guess, no data
    height = TITLE_BAND + sum(PANEL_TITLE + b + TICK_LABELS for b in bars) + X_LABEL + legend_inches
    fig = Figure(figsize=(width, height))
    axes, top = [], height - TITLE_BAND
    for b in bars:
        top -= PANEL_TITLE + b
        axes.append(fig.add_axes((left / width, top / height, (width - left - RIGHT) / width, b / height)))
        top -= TICK_LABELS
    return fig, axes
