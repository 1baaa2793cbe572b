"""Which published version of a benchmark's metadata a file is, from its sha256.

The table (`ac_eval/data/metadata_versions.json`) lists every published version of MMAU's
`mmau-test-mini.json` (17, 2024-10-23 to 2025-08-09, with commit and date in Sakshi113/MMAU) and MMAR's two
metadata files. Predictions made on one version and scored on another give other numbers (106 ids removed and
258 items changed between two MMAU versions), so every result names the version it was scored on.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

# MMAU's README names the release of 2025-05-15 `MMAU-v05.15.25`; later fixes kept that name.
MMAU_RELEASE_DATE = "2025-05-15"


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, Any]]:
    """sha256 -> {"benchmark", "version", "date", "commit", "latest"}."""
    data = json.loads((resources.files("ac_eval") / "data" / "metadata_versions.json").read_text())
    out: dict[str, dict[str, Any]] = {}
    mmau = sorted(data["mmau_test_mini"], key=lambda v: v["date"])
    for i, v in enumerate(mmau):
        latest = i == len(mmau) - 1
        release = "v05.15.25" if v["date"] >= MMAU_RELEASE_DATE else "pre-v05.15.25"
        label = f"test-mini {v['date']} ({v['commit'][:7]}, {release}{', latest' if latest else ''})"
        out[v["sha256"]] = {"benchmark": "mmau", "version": label, "date": v["date"], "commit": v["commit"],
                            "latest": latest}
    for v in data["mmar"]:
        first = sorted(v["commit_date_history"], key=lambda s: s.split()[1])[0].split()
        label = f"{v['file']} ({first[1]}, {first[0][:7]})"
        out[v["sha256"]] = {"benchmark": "mmar", "version": label, "date": first[1], "commit": first[0],
                            "latest": v["file"].endswith(".jsonl")}
    return out


@functools.lru_cache(maxsize=1)
def tasks_with_published_versions() -> frozenset[str]:
    """The tasks whose every published metadata version the table knows (MMAU test-mini, MMAR): a file of theirs
    that is none of those versions is another benchmark in that format, not the benchmark."""
    return frozenset(json.loads((resources.files("ac_eval") / "data" / "metadata_versions.json").read_text()))


def identify(sha256: str) -> dict[str, Any] | None:
    """The published version a file with this sha256 is, or None if it is none of them."""
    return _table().get(sha256)


def version_label(sha256: str) -> str:
    """A short name for results: the version, or "unknown" (results carry the sha256 beside it)."""
    found = identify(sha256)
    return found["version"] if found else "unknown"


def known_versions(benchmark: str) -> list[str]:
    return [v["version"] for v in sorted(_table().values(), key=lambda v: v["date"]) if v["benchmark"] == benchmark]
