"""The per-task picture: a panel per subset field, a colour per condition, "no data" unlike 0%."""

import copy

from matplotlib.colors import to_hex

from ac_eval.analysis.plots import CONDITION_COLOURS, NO_DATA, plot_task, task_figure


def _group(n: int, correct: int) -> dict:
    return {"n_total": n, "n_scored": n, "accuracy": correct / n if n else None, "n_correct": correct, "random_guess": 0.25}


def _report() -> dict:
    """MMAU-shaped: three subset fields; silent lacks the 'music' group; speech is a real 0% with audio."""
    subsets = {"task": {"sound": _group(4, 2), "speech": _group(4, 0), "music": _group(2, 1)},
               "difficulty": {"easy": _group(6, 2), "hard": _group(4, 1)},
               "sub-category": {"Acoustic Source Inference": _group(5, 2), "Counting": _group(5, 1)}}
    original = {**_group(10, 3), "subsets": subsets}
    silent = copy.deepcopy(original)
    del silent["subsets"]["task"]["music"]
    rotated = copy.deepcopy(silent)
    return {"subset_keys": ["task", "difficulty", "sub-category"],
            "conditions": {"original": original, "silent": silent, "silent-rotated": rotated}}


def test_every_subset_field_gets_a_panel_and_no_data_is_not_zero(tmp_path):
    fig = task_figure("mmau_test_mini", _report())
    axes = fig.axes
    assert [ax.get_title(loc="left") for ax in axes] == ["overall", "task", "difficulty", "sub-category"]
    task_ax = axes[1]
    labels = [t.get_text() for t in task_ax.get_yticklabels()]
    assert labels == ["music (n=2)", "sound (n=4)", "speech (n=4)"]
    texts = [t.get_text() for t in task_ax.texts]
    assert texts.count(NO_DATA) == 2  # music under silent and silent-rotated
    assert "0%" in texts  # speech with audio: a real zero, labelled
    filled = [to_hex(b.get_facecolor()) for b in task_ax.patches if b.get_fill()]
    hatched = [b for b in task_ax.patches if not b.get_fill()]
    assert len(hatched) == 2 and all(b.get_hatch() for b in hatched)
    colours = {CONDITION_COLOURS[c] for c in ("original", "silent", "silent-rotated")}
    assert set(filled) == colours and len(colours) == 3  # one colour per condition
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:3] == ["with audio", "silent", "silent rotated"] and NO_DATA in legend and "random guess" in legend
    paths = plot_task("mmau_test_mini", _report(), tmp_path)
    assert all(p.stat().st_size > 5000 for p in paths)


def test_every_condition_has_its_own_colour():
    from ac_eval.evaluation.conditions import CONDITIONS

    assert set(CONDITION_COLOURS) == set(CONDITIONS) and len(set(CONDITION_COLOURS.values())) == len(CONDITIONS)


def test_mmar_fields_and_an_unknown_condition_get_their_own_colour():
    report = _report()
    report["subset_keys"] = ["modality", "category"]
    for cond in report["conditions"].values():
        cond["subsets"] = {"modality": cond["subsets"]["task"], "category": cond["subsets"]["difficulty"]}
    report["conditions"]["future_condition"] = copy.deepcopy(report["conditions"]["silent"])
    fig = task_figure("mmar", report)
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["overall", "modality", "category"]
    filled = {to_hex(b.get_facecolor()) for b in fig.axes[0].patches if b.get_fill()}
    assert len(filled) == 4


def _rotated_asks(report: dict, factor: int) -> dict:
    """silent-rotated as a run writes it: each item asked once per rotation, so its counts are asks."""
    rotated = report["conditions"]["silent-rotated"]
    rotated["n_total"] *= factor
    for groups in rotated["subsets"].values():
        for g in groups.values():
            g["n_total"] *= factor
    return report


def test_n_counts_items_not_rotations():
    fig = task_figure("mmau_test_mini", _rotated_asks(_report(), 4))
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["Overall (n=10)"]
    assert "sound (n=4)" in [t.get_text() for t in fig.axes[1].get_yticklabels()]


def test_the_legend_covers_neither_the_title_nor_a_panel():
    for report in (_report(), {"subset_keys": [], "conditions": {"original": _group(10, 3)}}):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig = task_figure("mmau_test_mini", report)
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        legend = fig.legends[0].get_window_extent(renderer)
        title = fig._suptitle.get_window_extent(renderer)
        assert not legend.overlaps(title)
        for ax in fig.axes:
            assert not legend.overlaps(ax.get_tightbbox(renderer)), ax.get_title(loc="left")
        assert title.y0 >= max(ax.get_tightbbox(renderer).y1 for ax in fig.axes) - 1  # nor does a panel cover the title


def test_side_processes_draw_what_this_process_draws(tmp_path):
    """Two tasks drawn by a run's side processes (spawned, one format each when processes are spare) give the same
    pictures as drawn here; a side process that died is drawn around, not a lost run."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from ac_eval.analysis.plots import plot_tasks

    reports = {"mmau_test_mini": _report(), "mmar": _report()}
    here = plot_tasks(reports, tmp_path / "here")
    with ProcessPoolExecutor(max_workers=4, mp_context=multiprocessing.get_context("spawn")) as pool:
        there = plot_tasks(reports, tmp_path / "there", pool=pool, workers=4)
        assert [p.name for ps in there.values() for p in ps] == [p.name for ps in here.values() for p in ps]
        for task in reports:
            png_here, png_there = here[task][0], there[task][0]
            assert png_here.read_bytes() == png_there.read_bytes()  # PNG: no timestamp inside
            assert there[task][1].stat().st_size > 5000
        pool.submit(os._exit, 1)  # a side process dies: the pool is broken
        (tmp_path / "after").mkdir()
        after = plot_tasks({"mmar": _report()}, tmp_path / "after", pool=pool, workers=4)
        assert after["mmar"][0].read_bytes() == here["mmar"][0].read_bytes()


def test_every_label_fits_and_no_panel_covers_another():
    """The panels are placed in inches from the measured labels (no tight_layout pass): with short names, a long
    sub-category name and many conditions, every tick label stays inside the figure and no panel (its title, bars
    and tick labels) overlaps the next."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    long = _report()
    for cond in long["conditions"].values():
        cond["subsets"]["sub-category"]["Temporal Reasoning About Overlapping Sound Events In Busy Street Scenes"] = _group(3, 1)
    many = _report()
    for name in ("noise", "shuffled", "none", "silent-matched"):
        many["conditions"][name] = copy.deepcopy(many["conditions"]["silent"])
    for report in (_report(), long, many):
        fig = task_figure("mmau_test_mini", report)
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        width, height = fig.bbox.width, fig.bbox.height
        boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
        for ax, box in zip(fig.axes, boxes):
            labels = [t.get_window_extent(renderer) for t in ax.get_yticklabels()]
            assert min(b.x0 for b in labels) >= 0, ax.get_title(loc="left")  # no name cut at the left edge
            assert box.x1 <= width and box.y0 >= 0 and box.y1 <= height
        for upper, lower in zip(boxes, boxes[1:]):
            assert upper.y0 > lower.y1, "a panel's tick labels run into the next panel's title"


def test_a_runs_side_processes_are_terminated_at_its_end_not_waited_for():
    """side.stop() ends the side processes at once (each drawing was awaited already): the interpreter's exit would
    otherwise wait for each to unload matplotlib on its own."""
    import os
    import signal
    import time

    from ac_eval.run import side

    side.start(1)
    try:
        assert side.pool().submit(os.getpid).result() != os.getpid()
        processes = list(side.pool()._processes.values())
    finally:
        side.stop()
    assert side.pool() is None and side.size() == 0
    for process in processes:
        # The executor's own thread joins its processes too: whichever reaps one first records its exit code on the
        # shared Process object, and the other's join returns with nothing to read yet, so wait for it to appear.
        deadline = time.monotonic() + 60
        while process.exitcode is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert process.exitcode == -signal.SIGTERM
