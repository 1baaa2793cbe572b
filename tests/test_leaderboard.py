import copy
import json
import os
import shutil
from pathlib import Path

import jsonlines

import pytest

from ac_eval.board.build import (
    BoardError,
    build_board,
    entries_from_run,
    reported_entries,
    validate_board,
)
from ac_eval.cli import main

MARKUP = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def runs(bench_root, tmp_path_factory):
    """Three tiny checkpoints (seeds 0-2) on MMAU test-mini; the third also on its strong subset."""
    from ac_eval.models.tiny_checkpoints import build_qwen2_audio

    root = tmp_path_factory.mktemp("lb")
    out = []
    for seed in range(3):
        ckpt = build_qwen2_audio(root / f"tiny{seed}", seed=seed)
        run_dir = root / f"run{seed}"
        assert main(["--model_args", f"pretrained={ckpt}", "--tasks", "mmau", "--mode", "choice", "--limit", "12",
                     "--data_dir", str(bench_root), "--output_path", str(run_dir)]) == 0
        out.append(run_dir)
    # a model whose name is markup: the page must show it as text
    results = json.loads((out[1] / "results.json").read_text())
    results["model"]["name"] = MARKUP
    (out[1] / "results.json").write_text(json.dumps(results))
    return out


def test_entries_from_a_run(runs):
    (entry,) = entries_from_run(runs[0])
    report = json.loads((runs[0] / "results.json").read_text())["tasks"]["mmau_test_mini"]
    assert entry["benchmark"] == "mmau_test_mini" and entry["source"] == "measured" and entry["n"] == 12
    assert entry["accuracy_audio"]["official"] == report["conditions"]["original"]["accuracy_official"]
    assert entry["delta"] == report["delta"]["silent"]["official"] and entry["delta_n"] == report["delta"]["silent"]["n"]
    prov = entry["provenance"]
    assert prov["backend"] == "ac_hf/qwen2-audio" and prov["scorer"] == "string_match" and prov["mode"] == "choice"
    assert prov["conditions"] == ["original", "silent"] and len(prov["config_hash"]) == 16


def test_reported_rows_are_marked_and_cited():
    rows = reported_entries()
    assert len(rows) == 12 and all(r["source"] == "reported" and r["provenance"]["citation"] for r in rows)
    w2s = {r["benchmark"]: r["accuracy_audio"]["official"] for r in rows if r["model"].startswith("AudioMCQ Weak-to-Strong")}
    assert w2s == {"mmau_test_mini": 0.782, "mmau_test": 0.756, "mmar": 0.653, "mmsu": 0.693}


def _measured(runs):
    return entries_from_run(runs[0])[0]


@pytest.mark.parametrize(
    "mutate,field",
    [
        (lambda e: e["accuracy_audio"].update(official=1.5), "field accuracy_audio.official"),
        (lambda e: e["provenance"].pop("date"), "field provenance: 'date' is a required property"),
        (lambda e: e.update(source="guessed"), "field source"),
        (lambda e: e.update(model=""), "field model"),
        (lambda e: e.update(n="twelve"), "field n"),
        (lambda e: e["provenance"].update(date="yesterday"), "field provenance.date"),
        (lambda e: e.update(colour="red"), "'colour' was unexpected"),
    ],
)
def test_schema_refuses_malformed_entries(runs, mutate, field):
    entry = copy.deepcopy(_measured(runs))
    mutate(entry)
    with pytest.raises(BoardError, match="entry 0") as err:
        build_board([entry])
    assert field in str(err.value)


def test_rows_on_different_metadata_versions_are_marked(runs, tmp_path, capsys):
    current = _measured(runs)
    assert current["delta_n"] == 12 and current["scorer_kind"] == "official"
    older = copy.deepcopy(current)
    older["model"] = older["model_key"] = "scored-on-the-older-file"
    older["provenance"]["metadata_version"] = "test-mini 2025-03-25 (1f675a9, pre-v05.15.25)"
    board = build_board([current, older, *reported_entries()])
    rows = {e["model"]: e for e in board["entries"] if e["benchmark"] == "mmau_test_mini"}
    assert "other rows here on test-mini 2025-03-25" in rows[current["model"]]["metadata_note"]
    assert "scored on test-mini 2025-03-25" in rows["scored-on-the-older-file"]["metadata_note"]
    assert all("does not say which metadata version" in e["metadata_note"]
               for e in rows.values() if e["source"] == "reported")
    assert all(e["metadata_note"] is None for e in board["entries"] if e["benchmark"] == "mmar")  # nothing measured
    same = build_board([current, {**copy.deepcopy(current), "model": "twin"}])
    assert all(e["metadata_note"] is None for e in same["entries"])
    # publish says it out loud
    results = json.loads((runs[0] / "results.json").read_text())
    results["tasks"]["mmau_test_mini"]["metadata_version"] = "test-mini 2025-03-25 (1f675a9, pre-v05.15.25)"
    other = tmp_path / "other"
    shutil.copytree(runs[0], other)
    (other / "results.json").write_text(json.dumps({**results, "config_hash": "abcdef0123456789"}))
    assert main(["leaderboard", "publish", str(runs[0]), str(other), "--output", str(tmp_path / "b")]) == 0
    assert "rows scored on 2 metadata versions" in capsys.readouterr().err


def test_reported_entry_needs_a_citation():
    entry = reported_entries()[0]
    entry["provenance"] = {}
    with pytest.raises(BoardError, match="'citation' is a required property"):
        validate_board({"schema_version": 1, "generated": "2026-01-01T00:00:00+00:00", "entries": [entry]})


def test_publish_add_and_strong_subset(runs, tmp_path, monkeypatch):
    board_dir = tmp_path / "board"
    assert main(["leaderboard", "publish", str(runs[0]), str(runs[1]), "--output", str(board_dir)]) == 0
    board = json.loads((board_dir / "leaderboard.json").read_text())
    assert len(board["entries"]) == 2 + 12
    # add: a third run joins; a strong-subset run of the same model fills its strong column
    strong_run = tmp_path / "strong"
    shutil.copytree(runs[2], strong_run)
    results = json.loads((strong_run / "results.json").read_text())
    results["tasks"] = {"mmau_test_mini_strong": results["tasks"]["mmau_test_mini"]}
    rows = [{**r, "base_task": "mmau_test_mini_strong"} for r in jsonlines.open(strong_run / "samples.jsonl")]
    with jsonlines.open(strong_run / "samples.jsonl", "w") as w:  # the run's files agree: publish checks that
        w.write_all(rows)
    results["config_hash"] = "feedbeef00000000"
    # the same model typed as a relative path, in a run from before models had a name and key: still one row
    for field in ("name", "key"):
        results["model"].pop(field)
    monkeypatch.chdir(runs[2].parent)
    results["config"]["model_args"] = "pretrained=./tiny2"
    (strong_run / "results.json").write_text(json.dumps(results))
    assert main(["leaderboard", "add", str(runs[2]), str(strong_run), "--board", str(board_dir)]) == 0
    board = json.loads((board_dir / "leaderboard.json").read_text())
    assert len(board["entries"]) == 3 + 12
    assert {e["model"] for e in board["entries"] if e["source"] == "measured"} == {"tiny0", MARKUP, "tiny2"}
    third = next(e for e in board["entries"] if e["model"] == "tiny2")
    assert third["model_key"] == str((runs[2].parent / "tiny2").resolve())
    assert third["strong_accuracy"] == results["tasks"]["mmau_test_mini_strong"]["conditions"]["original"]["accuracy_official"]
    assert third["strong_n"] == 12
    assert main(["leaderboard", "validate", str(board_dir / "leaderboard.json")]) == 0
    broken = json.loads((board_dir / "leaderboard.json").read_text())
    broken["entries"][0]["delta"] = 7
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    assert main(["leaderboard", "validate", str(tmp_path / "broken.json")]) == 2


def _browser():
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"):
        if Path(path).exists():
            return path
    pytest.skip("no Chromium found: install Debian's chromium (apt-get install chromium); .ci/run does")


def test_page_in_a_real_browser(runs, tmp_path):
    executable = _browser()
    from playwright.sync_api import sync_playwright

    out = tmp_path / "board"
    assert main(["leaderboard", "publish", *map(str, runs), "--output", str(out)]) == 0
    n_entries = len(json.loads((out / "leaderboard.json").read_text())["entries"])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        problems = []
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.goto((out / "index.html").as_uri())
        rows = page.locator("#board tbody tr.row")
        assert rows.count() == n_entries

        def no_horizontal_overflow() -> None:
            widths = page.evaluate("""() => ({page: document.documentElement.scrollWidth, view: window.innerWidth,
                wrap: document.querySelector('.table-wrap').scrollWidth, wrapBox: document.querySelector('.table-wrap').clientWidth})""")
            assert widths["page"] <= widths["view"] and widths["wrap"] <= widths["wrapBox"], widths

        no_horizontal_overflow()

        def column(index: int) -> list[str]:
            return [t.strip() for t in page.locator(f"#board tbody tr.row td:nth-child({index})").all_inner_texts()]

        def numbers(texts):
            return [float(t.split()[0]) for t in texts if t.split()[0] != "—"]

        page.click("th[data-key=audio]")
        first = numbers(column(4))
        assert first == sorted(first, reverse=True) and len(first) == n_entries
        assert page.get_attribute("th[data-key=audio]", "aria-sort") == "descending"
        page.click("th[data-key=audio]")
        assert numbers(column(4)) == sorted(first)
        page.click("th[data-key=model]")
        models = [t.strip() for t in page.locator("#board tbody td.model .name").all_inner_texts()]
        assert models == sorted(models, key=str.lower) or models == sorted(models)

        # secondary columns live in a details row: open one, it shows them, the page still fits
        page.select_option("#source-filter", "measured")
        page.locator("#board tbody tr.row button.toggle").first.click()
        details = page.locator("#board tbody tr.details")
        assert details.count() == 1 and "ac_hf/qwen2-audio" in details.inner_text() and "strict with audio" in details.inner_text()
        no_horizontal_overflow()
        # measured and reported rows look different
        page.select_option("#source-filter", "")
        look = page.evaluate("""() => ['measured', 'reported'].map(s => {
            const td = document.querySelector('#board tbody tr.row.' + s + ' td:nth-child(4)');
            const st = getComputedStyle(td); return st.backgroundColor + '|' + st.fontStyle; })""")
        assert look[0] != look[1], look

        page.select_option("#benchmark-filter", "mmar")
        assert set(column(2)) == {"mmar"} and rows.count() == 3
        page.select_option("#benchmark-filter", "mmau_test_mini")
        page.select_option("#source-filter", "measured")
        assert rows.count() == 3 and set(column(3)) == {"measured"}
        assert page.locator("#chart circle").count() == 3  # measured rows have a silent accuracy
        page.select_option("#benchmark-filter", "")
        # every plotted benchmark is in the legend; no two drawn labels overlap each other or a point
        assert set(page.locator("#legend li").all_inner_texts()) == {"mmau_test_mini"}
        boxes = page.evaluate("""() => [...document.querySelectorAll('#chart text.label, #chart circle')].map(n => {
            const b = n.getBBox(); return [n.tagName, b.x, b.y, b.x + b.width, b.y + b.height]; })""")
        labels = [b for b in boxes if b[0] == "text"]
        assert labels, "no point got a label"
        for i, a in enumerate(labels):
            for b in boxes:
                if b is a:
                    continue
                assert not (a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]), (a, b)
        assert page.locator("#chart g.point title").count() == page.locator("#chart circle").count()  # hover labels

        # reported rows beside measured ones carry the metadata tag, with the reason on hover
        page.select_option("#source-filter", "reported")
        note = page.locator("#board tbody td.model .tag.note").first
        assert "does not say which metadata version" in note.get_attribute("title")
        page.select_option("#source-filter", "measured")
        # the model named with markup is shown as text, nothing is injected
        assert MARKUP in [t.strip() for t in page.locator("#board tbody td.model .name").all_inner_texts()]
        assert page.locator("#board img, #chart img, body img").count() == 0
        assert page.locator("#chart g.point title", has_text=MARKUP[:20]).count() == 1
        page.select_option("#source-filter", "")
        shot = tmp_path / "leaderboard.png"
        page.screenshot(path=str(shot), full_page=True)
        shutil.copy(shot, Path(os.environ.get("AC_EVAL_SCREENSHOT_DIR", tmp_path)) / "leaderboard-1280.png")
        browser.close()
    assert not problems, problems
    assert shot.stat().st_size > 20_000
