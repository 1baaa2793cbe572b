"""Benchmark registry: a benchmark is one module with `SUBSET_KEYS`, `AUDIO_KEY`, `PREDICTION_KEYS` (where the
official scripts read a prediction), `default_metadata(root, split)`, `answers_public(split)`,
`record_from_row(row, base, split, need_audio)` and `load(path, split)`.

Adding a benchmark = one new module + one entry in `BENCHMARKS` (+ its task YAMLs in `tasks/`).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from ac_eval.benchmarks import audiomcq, mmar, mmau, mmsu
from ac_eval.benchmarks.base import LoadedBenchmark, MetadataError

BENCHMARKS: dict[str, ModuleType] = {"mmau": mmau, "mmar": mmar, "mmsu": mmsu, "audiomcq": audiomcq}

__all__ = ["BENCHMARKS", "LoadedBenchmark", "MetadataError", "load_benchmark", "metadata_path"]


def get(name: str) -> ModuleType:
    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def metadata_path(name: str, split: str, data_dir: str | Path | None, metadata: str | Path | None = None) -> Path:
    """The metadata file to load: an explicit override, else the benchmark's published layout under `data_dir`."""
    if metadata:
        return Path(metadata).expanduser()
    if not data_dir:
        raise MetadataError(
            f"no data for {name}: pass --data_dir ROOT (with ROOT/{name}/...) or --metadata {name}=FILE"
        )
    return get(name).default_metadata(Path(data_dir).expanduser(), split)


def load_benchmark(name: str, path: str | Path, split: str = "test") -> LoadedBenchmark:
    return get(name).load(Path(path), split=split)
