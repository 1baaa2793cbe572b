"""Where a `pretrained=` / `base_model=` name points, found out in well under a second before anything loads.

A name is a local checkpoint folder, or a hub id that is in the local hub cache, or a hub id the hub can serve.
Anything else is one clear error: a typo of a local folder must not become five retries against the hub, and a
machine without network (or with HF_HUB_OFFLINE set) must hear that at once, not after a 30 s traceback.
"""

from __future__ import annotations

import difflib
import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

HUB_PROBE_SECONDS = 1.5  # DNS + TCP connect to the hub; a machine that needs longer is as good as offline


class CheckpointNotFound(ValueError):
    pass


def _looks_local(name: str) -> bool:
    """A path, not a hub id: starts like one, has more than one slash, or its first part is a local folder
    (`runs/tiny-qwen2-audoi` when ./runs exists)."""
    if name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1:
        return True
    first = name.split("/", 1)[0]
    return "/" in name and Path(first).is_dir()


def _near_names(path: Path) -> list[str]:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        return []
    siblings = [p.name for p in parent.iterdir() if p.is_dir()]
    return [str(parent / n) for n in difflib.get_close_matches(path.name, siblings, n=2, cutoff=0.6)]


def hub_offline() -> bool:
    return any(os.environ.get(v, "").upper() in ("1", "ON", "YES", "TRUE") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def cached_snapshot(repo_id: str, revision: str | None = None) -> Path | None:
    """The folder of a hub id's snapshot in the local hub cache (one that holds its config.json), or None."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    except ValueError:  # not a valid repo id (huggingface_hub's HFValidationError is a ValueError)
        return None
    return Path(found).parent if isinstance(found, str) else None


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_reachable(timeout: float = HUB_PROBE_SECONDS) -> bool:
    """Can a TCP connection to the hub be opened within `timeout`? (A thread bounds DNS, which has no timeout.)"""
    url = urlparse(hub_endpoint())
    port = url.port or (443 if url.scheme == "https" else 80)
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((url.hostname, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def check_pretrained(name: str, revision: str | None = None, option: str = "pretrained") -> None:
    """Raise CheckpointNotFound unless `name` is a checkpoint folder, a cached hub id, or a hub id the hub can
    be asked for. The hub is asked only when the name is not local and not cached."""
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise CheckpointNotFound(f"{option}={name}: not a checkpoint folder (no config.json in it)")
        return
    if _looks_local(name):
        near = _near_names(path)
        raise CheckpointNotFound(f"checkpoint folder not found: {name} ({option}="
                                 + (f"; did you mean {' or '.join(near)}?" if near else "")
                                 + "); give a local folder or a hub id like Org/Name")
    if cached_snapshot(name, revision):
        return
    where = "not a local folder and not in the hub cache"
    if hub_offline():
        raise CheckpointNotFound(f"{option}={name}: {where}, and HF_HUB_OFFLINE is set so it cannot be downloaded: "
                                 f"download it on a machine with network (hf download {name}) or give a local folder")
    if not hub_reachable():
        raise CheckpointNotFound(f"{option}={name}: {where}, and {hub_endpoint()} cannot be reached from this "
                                 f"machine: download it where there is network (hf download {name}, then copy the "
                                 "hub cache) or give a local checkpoint folder")
