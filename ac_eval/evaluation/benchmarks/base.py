"""What a benchmark is (`Benchmark`, `Split`) and what every benchmark shares: reading metadata files, checking
records, resolving audio paths."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from array import array
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from ac_eval.evaluation.benchmarks.versions import version_label
from ac_eval.evaluation.records import AudioRef, Record


class MetadataError(Exception):
    """A metadata file cannot be read at all (not JSON, wrong top-level shape, missing)."""


@dataclass
class LoadedBenchmark:
    """Records plus an account of everything odd found while loading them."""

    benchmark: str
    source: str
    records: list[Record]
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {"index", "id", "reason"}
    sha256: str = ""
    version: str = "unknown"

    def issue_counts(self) -> dict[str, int]:
        if isinstance(self.records, LazyRecords):  # counted while the file was scanned
            counts = Counter(self.records.issue_counts)
        else:
            counts = Counter(issue for r in self.records for issue in r.issues)
        counts.update(f"skipped: {s['reason'].split(':')[0]}" for s in self.skipped)
        return dict(counts)


def read_json_records(path: Path, bad_lines: list[int] | None = None) -> list[Any]:
    """A `.json` list of records or a jsonl file (a `.jsonl` suffix, or one object per line), with errors that
    name the file and line. With `bad_lines` given, jsonl lines that are not JSON are skipped and their
    numbers appended there instead (what MMSU's own script does)."""
    if not path.is_file():
        raise MetadataError(f"file not found: {path}" if not path.exists() else f"{path} is not a regular file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not part of the JSON
    except UnicodeDecodeError as e:
        raise MetadataError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason}); save it as UTF-8") from e
    if path.suffix == ".jsonl":
        return _jsonl(text, path, bad_lines)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        if e.msg == "Extra data" and text.lstrip().startswith("{"):  # one object per line, whatever the suffix
            return _jsonl(text, path, bad_lines)
        raise MetadataError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from e
    except RecursionError as e:
        raise MetadataError(f"{path}: JSON nested too deeply to be benchmark records (thousands of brackets)") from e
    if isinstance(data, dict):  # some mirrors wrap the list: {"data": [...]}
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1:
            data = lists[0]
    if not isinstance(data, list):
        raise MetadataError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
    return data


def _jsonl(text: str, path: Path, bad_lines: list[int] | None) -> list[Any]:
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except RecursionError as e:
            raise MetadataError(f"{path}:{lineno}: JSON nested too deeply to be a record") from e
        except json.JSONDecodeError as e:
            if bad_lines is None:
                raise MetadataError(f"{path}:{lineno}: not valid JSON ({e.msg}); fix or remove that line") from e
            bad_lines.append(lineno)
    return rows


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolve_audio_path(raw: str, base_dir: Path) -> str:
    """Audio paths in metadata are relative to the metadata file (`./audio/x.wav`, or `/audio/x.wav` in MMSU's JSON)."""
    p = Path(raw)
    if p.is_absolute() and p.exists():
        return str(p)
    return str(base_dir / raw.lstrip("/"))


def build_records(
    benchmark: str,
    rows: Iterable[Any],
    convert: Callable[[dict[str, Any]], Record],
    source: Path,
    answers_public: bool = True,
) -> LoadedBenchmark:
    """Convert raw rows to Records; a malformed row is skipped with its reason, a duplicate id is renamed.

    `answers_public`: the split publishes its answers, so a record without one is malformed (not "withheld").
    Nothing is dropped silently: every skip and rename is listed in the result and counted in reports.
    """
    sha = file_sha256(source) if source.is_file() else ""
    loaded = LoadedBenchmark(benchmark, str(source), [], sha256=sha, version=version_label(sha) if sha else "unknown")
    rows = list(rows)
    ids = _Renamer({str(row.get("id")) for row in rows if isinstance(row, dict)})
    for index, row in enumerate(rows):
        record = _record_or_skip(index, row, convert, answers_public, loaded.skipped)
        if record is not None:
            ids.rename(record)
            loaded.records.append(record)
    return loaded


def _record_or_skip(index: int, row: Any, convert: Callable[[dict[str, Any]], Record], answers_public: bool,
                    skipped: list[dict[str, Any]]) -> Record | None:
    """One row as a checked Record, or None with the reason appended to `skipped`."""
    rid = row.get("id") if isinstance(row, dict) else None
    try:
        if not isinstance(row, dict):
            raise ValueError(f"record is a {type(row).__name__}, not an object")
        record = convert(row)
        _check_record(record, answers_public)
    except (KeyError, ValueError, TypeError) as e:
        reason = f"missing field {e}" if isinstance(e, KeyError) else str(e)
        skipped.append({"index": index, "id": rid, "reason": f"malformed: {reason}"})
        return None
    return record


class _Renamer:
    """A repeated id becomes `X#dup2`, `X#dup3`, ...; a new id never takes one the file holds (X, X, X#dup2)."""

    def __init__(self, in_file: set[str]):
        self.in_file = in_file
        self.seen: Counter[str] = Counter()

    def rename(self, record: Record) -> bool:
        """Rename `record` in place if its id was seen before; True when it was."""
        self.seen[record.id] += 1
        if self.seen[record.id] == 1:
            return False
        record.issues.append("duplicate_id")
        new_id = f"{record.id}#dup{self.seen[record.id]}"
        while new_id in self.seen or new_id in self.in_file:
            self.seen[record.id] += 1
            new_id = f"{record.id}#dup{self.seen[record.id]}"
        self.seen[new_id] += 1
        record.id = new_id
        return True


# A jsonl file this large (AudioMCQ's 571k training items: hundreds of MB, 2.5 KB of Python objects per record) is
# not held in memory: its records are read from disk when asked for (`LazyRecords`).
STREAM_BYTES = 32 << 20


class LazyRecords(Sequence):
    """The records of a large jsonl file, read from disk when asked for: record i is the i-th usable line. A slice
    is another `LazyRecords` (no reading); iterating reads the lines in file order. Built by `scan_jsonl`, which
    read the file once to check every line, exactly as `build_records` would (skips, renamed duplicates)."""

    def __init__(self, path: Path, offsets: array, convert: Callable[[dict[str, Any]], Record],
                 answers_public: bool, renames: dict[int, str], issue_counts: Counter):
        self.path, self.offsets, self.convert, self.renames = path, offsets, convert, renames
        self.answers_public = answers_public
        self.issue_counts = issue_counts  # over the whole file, not this slice: for the load report

    def __len__(self) -> int:
        return len(self.offsets)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return LazyRecords(self.path, self.offsets[i], self.convert, self.answers_public, self.renames,
                               self.issue_counts)
        with open(self.path, "rb") as f:
            return self._read(f, self.offsets[i])

    def __iter__(self) -> Iterator[Record]:
        with open(self.path, "rb") as f:
            for offset in self.offsets:
                yield self._read(f, offset)

    def _read(self, f, offset: int) -> Record:
        f.seek(offset)
        record = self.convert(json.loads(f.readline()))
        _check_record(record, self.answers_public)  # it notes what is odd (answer not a choice) on the record
        if offset in self.renames:
            record.issues.append("duplicate_id")
            record.id = self.renames[offset]
        return record


def scan_jsonl(benchmark: str, path: Path, convert: Callable[[dict[str, Any]], Record],
               answers_public: bool = True) -> LoadedBenchmark:
    """`build_records` over a jsonl file without holding its records: two passes (the file's ids, then each line
    checked), keeping each usable line's byte offset. The same records, skips and renames, in bounded memory."""
    def lines():
        with open(path, "rb") as f:
            offset = 3 if f.read(3) == b"\xef\xbb\xbf" else 0  # a byte-order mark is not part of the JSON
            f.seek(offset)
            for lineno, line in enumerate(f, 1):
                if line.strip():
                    try:
                        yield lineno, offset, json.loads(line)
                    except UnicodeDecodeError as e:
                        raise MetadataError(f"{path}:{lineno}: not UTF-8 text ({e.reason}); save it as UTF-8") from e
                    except RecursionError as e:
                        raise MetadataError(f"{path}:{lineno}: JSON nested too deeply to be a record") from e
                    except json.JSONDecodeError as e:
                        raise MetadataError(f"{path}:{lineno}: not valid JSON ({e.msg}); fix or remove that line") from e
                offset += len(line)

    sha = file_sha256(path)
    loaded = LoadedBenchmark(benchmark, str(path), [], sha256=sha, version=version_label(sha))
    ids = _Renamer({str(row.get("id")) for _, _, row in lines() if isinstance(row, dict)})
    offsets, renames, issues = array("q"), {}, Counter()
    for index, (_, offset, row) in enumerate(lines()):
        record = _record_or_skip(index, row, convert, answers_public, loaded.skipped)
        if record is None:
            continue
        if ids.rename(record):
            renames[offset] = record.id
        offsets.append(offset)
        issues.update(record.issues)
    loaded.records = LazyRecords(path, offsets, convert, answers_public, renames, issues)  # type: ignore[assignment]
    return loaded


_SURROGATE = re.compile("[\ud800-\udfff]")  # half of a UTF-16 pair, alone: JSON can hold it, no text can


def _check_record(r: Record, answers_public: bool = True) -> None:
    if not r.id:
        raise ValueError("empty id")
    for what, text in (("question", r.question), *((f"choice {i + 1}", c) for i, c in enumerate(r.choices or []))):
        if isinstance(text, str) and _SURROGATE.search(text):  # no tokenizer or UTF-8 writer takes it
            raise ValueError(f"{what} holds an unpaired surrogate ({_SURROGATE.search(text).group()!a}): not text")
    if not isinstance(r.question, str):
        raise ValueError("question is not a string")
    if not isinstance(r.choices, list) or not all(isinstance(c, str) for c in r.choices):
        raise ValueError("choices is not a list of strings")
    if len(r.choices) < 2:
        raise ValueError(f"{len(r.choices)} choice(s); at least 2 are needed")
    if r.answer is None and answers_public:
        raise ValueError("no answer, although this split publishes its answers")
    if r.answer is not None:
        if not isinstance(r.answer, str):
            raise ValueError("answer is not a string")
        if r.answer not in r.choices:
            r.issues.append("answer_not_in_choices")
    if len(set(c.strip().lower() for c in r.choices)) < len(r.choices):
        r.issues.append("duplicate_choices")


def subset_value(value: Any) -> str | None:
    """Subset fields are strings in most records; MMAU has a few lists. Report lists joined, keep the raw field.
    None stays None: the official scripts leave such records out of that field's breakdown; so does NaN (JSON's
    `NaN`, pandas' missing value), which is no group called "nan"."""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value)


def record_id(value: Any) -> str:
    """An id as text: ids are strings or whole numbers; an object, list or boolean is no id (it would become "True" or
    "{'a': 1}" and join nothing)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"id {value!r} is a {type(value).__name__}: ids are text or whole numbers")
    return str(value)


def audio_ref_from(row: dict[str, Any], key: str, base_dir: Path, required: bool = True) -> AudioRef:
    """The row's clip. `required=False` (scoring a predictions file, no audio needed): a missing path is allowed."""
    raw = row.get(key) if not required else row[key]
    if raw is None and not required:
        return AudioRef("")
    if not isinstance(raw, str) or not raw:
        raise ValueError(f"{key} is not a path string")
    return AudioRef(resolve_audio_path(raw, base_dir))


def plain_record(
    benchmark: str, row: dict[str, Any], base: Path, audio_key: str, subset_keys: tuple[str, ...],
    answer: Any = ..., need_audio: bool = True,
) -> Record:
    """A record that already carries id, question, choices (list), answer (option text) and an audio path field."""
    return Record(
        benchmark=benchmark,
        id=record_id(row["id"]),
        question=row["question"],
        choices=row["choices"],
        answer=row["answer"] if answer is ... else answer,
        audio=audio_ref_from(row, audio_key, base, required=need_audio),
        subsets={k: subset_value(row.get(k)) for k in subset_keys},
        fields=row,
    )


@dataclass(frozen=True)
class Split:
    """One published part of a benchmark: its metadata file (or folder) under ROOT/<benchmark>/, as published."""

    name: str
    metadata: str
    answers_public: bool = True


@dataclass(frozen=True)
class Benchmark:
    """Everything ac-eval knows about one benchmark. Its module defines one and registers it; task names, task
    YAMLs, CLI choices, filtering and the board all follow from here.

    The defaults fit records that carry `id`, `question`, `choices` (list of option text), `answer` (option text)
    and an audio path under `audio_key`, scored by the MMAU/MMAR string match with the AudioMCQ prompt."""

    name: str
    description: str
    splits: tuple[Split, ...]
    subset_keys: tuple[str, ...]
    audio_key: str = "audio_path"
    prediction_keys: tuple[str, ...] = ("prediction",)  # where its official script reads a model's answer
    official_rule: str | None = "string_match"  # None: no official scorer (e.g. training data)
    official_prompt: str = "audiomcq"  # the prompt `--prompt official` means for it
    prompts: Mapping[str, Any] = field(default_factory=dict)  # its own prompt styles (name -> PromptStyle)
    rules: Mapping[str, Callable] = field(default_factory=dict)  # its own scoring rules (name -> fn(record, raw))
    absent_prediction: Any = None  # what its official script reads for a row without the prediction field
    skips_unreadable_lines: bool = False  # its official script skips lines that are not JSON
    evaluated: bool = True  # False: data for training only, no tasks
    convert: Callable[..., Record] | None = None  # fn(row, base, split, need_audio) -> Record; default: plain
    load_path: Callable[..., "LoadedBenchmark"] | None = None  # fn(path, split) for other formats (parquet)
    find_metadata: Callable[[Path, "Split"], Path] | None = None  # fn(root, split); default ROOT/name/split.metadata

    def split(self, name: str | None = None) -> Split:
        if name is None:
            return self.splits[0]
        for s in self.splits:
            if s.name == name:
                return s
        raise ValueError(f"{self.name} has no split {name!r}; splits: {', '.join(s.name for s in self.splits)}")

    @property
    def default_split(self) -> str:
        return self.splits[0].name

    def answers_public(self, split: str) -> bool:
        return self.split(split).answers_public

    def task_name(self, split: str | None = None) -> str:
        """The task with the original audio: the benchmark's name, or `<name>_<split>` when it has several."""
        split = split or self.default_split
        return self.name if len(self.splits) == 1 else f"{self.name}_{split.replace('-', '_')}"

    def default_metadata(self, root: Path, split: str | None = None) -> Path:
        s = self.split(split)
        return self.find_metadata(root, s) if self.find_metadata else root / self.name / s.metadata

    def record_from_row(self, row: dict[str, Any], base: Path, split: str | None = None, need_audio: bool = True) -> Record:
        split = split or self.default_split
        if self.convert:
            return self.convert(row, base, split, need_audio)
        answer = row.get("answer") if self.answers_public(split) else None
        return plain_record(self.name, row, base, self.audio_key, self.subset_keys, answer=answer, need_audio=need_audio)

    def load(self, path: Path, split: str | None = None) -> "LoadedBenchmark":
        split = split or self.default_split
        path = Path(path)
        if self.load_path and (path.is_dir() or path.suffix not in (".json", ".jsonl")):
            return self.load_path(path, split)
        convert = lambda row: self.record_from_row(row, path.parent, split)  # noqa: E731
        if path.suffix == ".jsonl" and path.is_file() and path.stat().st_size > STREAM_BYTES:
            return scan_jsonl(self.name, path, convert, self.answers_public(split))
        rows = read_json_records(path)
        return build_records(self.name, rows, convert, path, self.answers_public(split))
