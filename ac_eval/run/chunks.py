"""A run in chunks of items, each kept on disk once finished: what lets `ac-eval run` label AudioMCQ's 571k items in
bounded memory and resume a killed run where it stopped.

lm-eval holds every instance and logged sample of a `simple_evaluate` call in memory (tens of KB per item), so a
run asks it for one chunk of items at a time (`--chunk-size`, every condition of those items together) and turns
what it logged into samples.jsonl rows at once. A finished chunk is one file, written whole and renamed into place:
a rerun of the same command skips it; the chunk a kill interrupted comes back from lm-eval's request cache, which
is committed after every batch (at most one batch is computed again).

`--shard K/N` runs the K-th of N contiguous ranges of the items (separate machines, or processes without a
launcher); `ac-eval merge` joins the shards' folders into one run.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ac_eval.files import write_text

# Statuses of items the model did not answer: never cached, so never kept as finished either.
FAILED = ("audio_error", "request_error", "item_error")
DEFAULT_CHUNK_SIZE = 10_000  # items: every published benchmark (MMAU test 9k, MMSU 5k) runs as one chunk


@dataclass(frozen=True)
class Shard:
    """The K-th (1-based) of N contiguous item ranges."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> "Shard":
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
        if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
            raise ValueError(f"--shard {text!r}: give K/N with 1 <= K <= N, e.g. --shard 2/8 for the second of 8 parts")
        return cls(int(m.group(1)), int(m.group(2)))

    def items(self, n: int) -> tuple[int, int]:
        """[start, stop) of this shard among n items: the first n % N shards take one item more."""
        size, extra = divmod(n, self.count)
        start = (self.index - 1) * size + min(self.index - 1, extra)
        return start, start + size + (self.index <= extra)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def chunk_ranges(start: int, stop: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(a + size, stop)) for a in range(start, stop, size)] or [(start, stop)]


class ChunkStore:
    """Finished chunks of one run configuration: `<folder>/<start>-<stop>.jsonl`, a header line (lm-eval's results
    for the chunk) then the chunk's samples.jsonl rows (without a run id: that is given when the run is written)."""

    def __init__(self, folder: Path, key: dict[str, Any]):
        # The key names everything that changes an item's row: another prompt, condition or limit is another store.
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
        self.folder = Path(folder) / digest

    def path(self, start: int, stop: int) -> Path:
        return self.folder / f"{start:09d}-{stop:09d}.jsonl"

    def done(self, start: int, stop: int) -> bool:
        """Finished, and with no failed item: a chunk with audio or request errors is asked again (its other items
        come from the request cache), so a rerun after the audio is fixed evaluates them, as failures are not cached."""
        return self.path(start, stop).is_file() and not self.header(start, stop).get("n_failed", 1)

    def write(self, start: int, stop: int, header: dict[str, Any], rows: list[dict]) -> None:
        header = {**header, "n_failed": sum(row["status"] in FAILED for row in rows)}
        lines = (json.dumps(x, ensure_ascii=False, default=str) + "\n" for x in [header, *rows])
        write_text(self.path(start, stop), lines)

    def header(self, start: int, stop: int) -> dict[str, Any]:
        with open(self.path(start, stop), encoding="utf-8") as f:
            return json.loads(f.readline())

    def rows(self, ranges: list[tuple[int, int]]) -> Iterator[dict]:
        """Every row of these chunks, in item order, read as iterated."""
        for start, stop in ranges:
            with open(self.path(start, stop), encoding="utf-8") as f:
                f.readline()
                for line in f:
                    yield json.loads(line)
