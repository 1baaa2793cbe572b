"""Output that reads well on a terminal and survives pipes, redirects and CI logs.

On a terminal: rich tables and live progress bars. Piped or redirected (or `--format plain`): tables at their full
width (never cut at 80 columns, so `ac-eval models | grep` works), or as tab-separated rows; progress becomes a log
line on stderr every few seconds instead of a bar that only appears when it is done. Results go to stdout,
progress to stderr."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

FORMATS = ("rich", "plain", "json")
LOG_EVERY_SECONDS = float(os.environ.get("AC_EVAL_PROGRESS_SECONDS", "10"))


def _plain(cell: Any) -> str:
    if isinstance(cell, Text):
        return cell.plain
    return Text.from_markup(str(cell)).plain if isinstance(cell, str) else str(cell)


def table_as_rows(table: Table) -> list[list[str]]:
    """The header and rows of a rich Table as plain strings (markup removed)."""
    columns = table.columns
    header = [_plain(c.header) for c in columns]
    cells = [list(c.cells) for c in columns]
    return [header, *([_plain(col[i]) for col in cells] for i in range(table.row_count))]


def natural_width(console: Console, table: Table) -> int:
    """The width a table takes when nothing is squeezed."""
    return Measurement.get(console, console.options.update_width(100_000), table).maximum


def keep_words_whole(console: Console, table: Table, cap: int = 40) -> Table:
    """On a terminal narrower than the table, rich squeezes columns below their longest word and cuts text with
    "…". Instead each column gets at least its longest word (header or cell, up to `cap`), the rest of the
    window shared in proportion to what each column would still like, so text wraps between words
    ("sub-category:" / "loudness"); where even the words do not fit, columns fold rather than hide anything."""
    for column in table.columns:
        column.overflow = "fold"
    room = console.width - 3 * len(table.columns) - 1  # cell padding and borders
    natural = [max(len(line) for cell in [c.header, *c.cells] for line in _plain(cell).splitlines() or [""])
               for c in table.columns]
    longest = [min(cap, max((len(w) for cell in [c.header, *c.cells] for w in _plain(cell).split()), default=1))
               for c in table.columns]
    if sum(natural) <= room or sum(longest) > room:
        return table
    spare, want = room - sum(longest), [n - m for n, m in zip(natural, longest)]
    for column, m, w in zip(table.columns, longest, want):
        column.width = m + (spare * w) // max(1, sum(want))
    return table


class OutputConsole(Console):
    """A rich Console whose tables are never squeezed: see the module docstring."""

    def __init__(self, fmt: str = "rich", **kwargs: Any):
        if fmt not in FORMATS:
            raise ValueError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
        super().__init__(**kwargs)
        self.format = fmt

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        table = objects[0] if len(objects) == 1 and isinstance(objects[0], Table) else None
        if table is not None and self.format == "plain":  # written as is: rich would expand the tabs
            lines = [f"# {_plain(table.title)}"] if table.title else []
            lines += ["\t".join(row) for row in table_as_rows(table)]
            self.file.write("\n".join(lines) + "\n")
            self.file.flush()
            return
        if self.is_terminal:
            for obj in objects:
                if isinstance(obj, Table):
                    keep_words_whole(self, obj)
            super().print(*objects, **kwargs)
            return
        with self.capture() as captured:  # piped: rendered aside, then written without trailing padding
            if table is not None:
                self._print_at_natural_width(table, **kwargs)
            else:
                kwargs.setdefault("soft_wrap", True)  # one logical line stays one line for grep
                super().print(*objects, **kwargs)
        text = captured.get()
        stripped = "\n".join(line.rstrip() for line in text.split("\n"))
        self.file.write(stripped)
        self.file.flush()

    def _print_at_natural_width(self, table: Table, **kwargs: Any) -> None:
        """The table's own width, not the 80 columns rich assumes for a pipe."""
        natural = natural_width(self, table)
        title = table.title
        if title and len(_plain(title)) > natural:  # rich wraps a title to the table's width
            super().print(title, soft_wrap=True)
            table.title = None
        width = self.width
        self.width = max(natural, width)  # print(width=) cannot exceed the console's width
        try:
            super().print(table, **kwargs)
        finally:
            self.width, table.title = width, title


def make_console(fmt: str = "rich", stderr: bool = False) -> OutputConsole:
    """The console for a command's results (`fmt` json has none: such a command prints its JSON itself)."""
    return OutputConsole(fmt="rich" if fmt == "json" else fmt, stderr=stderr)


class LogProgress:
    """The subset of rich.progress.Progress that ac-eval uses, written as periodic log lines on stderr."""

    def __init__(self, every: float = LOG_EVERY_SECONDS, stream=None):
        self.every = every
        self.stream = stream or sys.stderr
        self.tasks: dict[int, dict[str, Any]] = {}
        self.console = Console(file=self.stream, soft_wrap=True)  # notes between log lines, as Progress.console

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        for task_id, task in self.tasks.items():
            if task["done"] != task["logged_done"]:
                self._log(task_id)

    def add_task(self, description: str, total: float | None = None, **fields: Any) -> int:
        task_id = len(self.tasks)
        now = time.monotonic()
        self.tasks[task_id] = {"description": description, "total": total, "done": 0, "start": now, "last": now,
                               "logged_done": 0, "fields": fields}
        return task_id

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def update(self, task_id: int, advance: float = 0, **fields: Any) -> None:
        task = self.tasks[task_id]
        task["done"] += advance
        task["fields"].update(fields)
        finished = task["total"] is not None and task["done"] >= task["total"]
        if finished or time.monotonic() - task["last"] >= self.every:
            self._log(task_id)

    def _log(self, task_id: int) -> None:
        task = self.tasks[task_id]
        now = time.monotonic()
        elapsed = now - task["start"]
        done, total = task["done"], task["total"]
        line = f"{task['description']}: {done:g}" + (f"/{total:g} ({100 * done / total:.0f}%)" if total else "")
        line += f", {elapsed:.0f}s"
        if total and 0 < done < total:
            line += f", ~{elapsed * (total - done) / done:.0f}s left"
        info = task["fields"].get("info")
        if info:
            line += f", {info}"
        print(line, file=self.stream, flush=True)
        task["last"], task["logged_done"] = now, done


def progress(*columns: Any, disable: bool = False):
    """A rich Progress on stderr when it is a terminal, else a LogProgress (same calls)."""
    from rich.progress import Progress

    console = Console(stderr=True)
    if disable or console.is_terminal:
        return Progress(*columns, console=console, disable=disable)
    return LogProgress()
