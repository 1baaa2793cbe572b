"""Writing outputs so that nothing half-written is ever read: every file goes to a temporary name in its folder
and is renamed into place (atomic on POSIX), and one run holds a lock on its output folder."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable


def refuse_overwriting(outputs: Iterable[str | Path], inputs: Iterable[str | Path]) -> None:
    """A command whose output is one of its own inputs would destroy that input (`score --predictions P --output P`,
    `labels A --output A/samples.jsonl`): refuse before anything is read or written."""
    existing = [Path(i).expanduser() for i in inputs]
    existing = [i for i in existing if i.is_file()]
    for out in map(lambda o: Path(o).expanduser(), outputs):
        hit = next((i for i in existing if out.exists() and os.path.samefile(out, i)), None)
        if hit is not None:
            raise ValueError(f"{out} is also an input of this command ({hit}): writing it would destroy the input; "
                             "give another output path")


def current_umask() -> int:
    """The process's umask: read from /proc where Linux gives it (setting it to read it races with other threads
    creating files), else set and put back at once."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def write_text(path: str | Path, text: str | Iterable[str]) -> Path:
    """Write `text` (a string, or pieces written as they come: a file too large to build in memory) to `path`
    atomically: readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600; a published file follows the umask
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            if isinstance(text, str):
                f.write(text)
            else:
                f.writelines(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, data: Any, **kwargs: Any) -> Path:
    return write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str, **kwargs))


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    return write_text(path, (json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))


def copy_file(source: str | Path, target: str | Path) -> Path:
    return write_text(target, Path(source).read_text(encoding="utf-8"))


class FolderLockedError(RuntimeError):
    """Another process is writing to the same output folder."""


class FolderLock:
    """An exclusive lock on an output folder for the life of a run (released by the OS if the process dies)."""

    def __init__(self, folder: str | Path, what: str = "ac-eval run"):
        self.path = Path(folder) / ".ac-eval.lock"
        self.what = what
        self._fd: int | None = None

    def __enter__(self) -> "FolderLock":
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise FolderLockedError(
                f"{self.path.parent} is in use by another {self.what} ({holder}): wait for it to finish or give "
                "another --output_path"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        import fcntl

        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
