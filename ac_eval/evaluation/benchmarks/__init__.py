"""The benchmark registry. A benchmark is one module that defines a `Benchmark` (see `base.py`) plus one entry
here; its tasks (`mmar`, `mmar_silent`, ...), task YAMLs, CLI choices, filtering and board rows follow from it.

Benchmarks outside this package register themselves the same way: a module that calls `register(...)`, named
in `AC_EVAL_PLUGINS` (comma-separated module names or .py paths) or exposed by an installed package under the
entry-point group `ac_eval.benchmarks`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
from importlib.metadata import entry_points
from pathlib import Path

from ac_eval.evaluation.benchmarks import audiomcq, mmar, mmau, mmsu
from ac_eval.evaluation.benchmarks.base import (
    Benchmark,
    LoadedBenchmark,
    MetadataError,
    Split,
)
from ac_eval.evaluation.prompts import PROMPTS, PromptStyle

BENCHMARKS: dict[str, Benchmark] = {}

__all__ = ["BENCHMARKS", "Benchmark", "LoadedBenchmark", "MetadataError", "Split", "get", "load_benchmark",
           "metadata_path", "register", "task_index", "get_prompt", "prompt_names"]


def register(benchmark: Benchmark) -> Benchmark:
    """Add a benchmark (a second one of the same name replaces the first: reloading a plugin is harmless)."""
    BENCHMARKS[benchmark.name] = benchmark
    return benchmark


for _module in (mmau, mmar, mmsu, audiomcq):  # the built-in registry entries
    register(_module.BENCHMARK)

_loaded_plugins: set[str] = set()


def load_plugins() -> None:
    """Import the benchmark modules named in AC_EVAL_PLUGINS and the `ac_eval.benchmarks` entry points."""
    for spec in filter(None, (s.strip() for s in os.environ.get("AC_EVAL_PLUGINS", "").split(","))):
        if spec in _loaded_plugins:
            continue
        if spec.endswith(".py"):
            path = Path(spec).expanduser()
            if not path.is_file():
                raise MetadataError(f"AC_EVAL_PLUGINS names {spec}, which is not a file")
            module_spec = importlib.util.spec_from_file_location(f"ac_eval_plugin_{path.stem}", path)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            importlib.import_module(spec)
        _loaded_plugins.add(spec)
    for ep in _benchmark_entry_points():
        if ep.value not in _loaded_plugins:
            ep.load()
            _loaded_plugins.add(ep.value)


@functools.cache
def _benchmark_entry_points() -> tuple:
    """The installed packages' `ac_eval.benchmarks` entry points, read once per process (reading them scans every
    installed package's metadata: 15 ms, and a run asks several times)."""
    return tuple(entry_points(group="ac_eval.benchmarks"))


def get(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        load_plugins()
    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def evaluated() -> list[Benchmark]:
    """The benchmarks that have tasks (training data such as AudioMCQ has none)."""
    load_plugins()
    return [b for b in BENCHMARKS.values() if b.evaluated]


def task_index() -> dict[str, tuple[Benchmark, str]]:
    """Every task with the original audio: its name -> (benchmark, split); plus the benchmark's name as an alias of
    its first split's task when they differ (`mmau` = `mmau_test_mini`)."""
    index: dict[str, tuple[Benchmark, str]] = {}
    for b in evaluated():
        for split in b.splits:
            index[b.task_name(split.name)] = (b, split.name)
    for b in evaluated():
        index.setdefault(b.name, (b, b.default_split))
    return index


def metadata_path(name: str, split: str, data_dir: str | Path | None, metadata: str | Path | None = None) -> Path:
    """The metadata file to load: an explicit override, else the benchmark's published layout under `data_dir`."""
    if metadata:
        return Path(metadata).expanduser()
    if not data_dir:
        raise MetadataError(
            f"no data for {name}: pass --data_dir ROOT (with ROOT/{name}/...) or --metadata {name}=FILE"
        )
    return get(name).default_metadata(Path(data_dir).expanduser(), split)


def prompt_names() -> list[str]:
    """Every prompt `--prompt` accepts: the generic ones, `official`, and the benchmarks' own."""
    own = [name for b in BENCHMARKS.values() for name in b.prompts]
    return [*PROMPTS, "official", *dict.fromkeys(own)]


def get_prompt(name: str, benchmark: str) -> PromptStyle:
    """`official` means the benchmark's own prompt (MMSU's lettered one), or the AudioMCQ template where the
    benchmark publishes a scorer but no prompt (MMAU, MMAR). A benchmark's own prompt is for it alone."""
    spec = get(benchmark)
    if name == "official":
        name = spec.official_prompt
    if name in spec.prompts:
        return spec.prompts[name]
    if name in PROMPTS:
        return PROMPTS[name]
    owners = [b.name for b in BENCHMARKS.values() if name in b.prompts]
    if owners:
        raise ValueError(f"--prompt {name} is {', '.join(owners)}'s own prompt; {benchmark} uses "
                         f"{', '.join([*PROMPTS, 'official'])}")
    raise KeyError(f"unknown prompt {name!r}; known: {', '.join(prompt_names())}")


def load_benchmark(name: str, path: str | Path, split: str | None = None) -> LoadedBenchmark:
    return get(name).load(Path(path), split)
