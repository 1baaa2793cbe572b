"""Who a model is, for people and for joins.

`name` is what tables, labels, split reports and the board show: the `name=` model_arg when given, else the
catalogue entry's name, else the checkpoint folder's name (with its parent when the folder is a generic
`final`/`checkpoint-N`), else the hub or API model id (with `@revision` when pinned). Never an absolute path.
`key` is what joins rows: the resolved folder for a local checkpoint (so `./ck` and `/abs/ck` are one model), the
hub id with its revision otherwise."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

GENERIC_FOLDER = re.compile(r"^(final|last|best|latest|merged|checkpoint[-_]?\d*|step[-_]?\d+|\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    key: str


def folder_name(folder: Path) -> str:
    """`voter-0` for .../voter-0; `run7/final` for .../run7/final (a generic last part says nothing alone)."""
    folder = folder.resolve()
    if GENERIC_FOLDER.match(folder.name) and folder.parent.name:
        return f"{folder.parent.name}/{folder.name}"
    return folder.name


def model_identity(model_args: dict[str, str], catalogue_name: str | None = None) -> ModelIdentity:
    """The identity of the model that `model_args` (parsed) load; `catalogue_name` when it came from `--model NAME`."""
    target = model_args.get("pretrained") or model_args.get("model") or ""
    revision = model_args.get("revision")
    local = Path(target).expanduser() if target else None
    if local is not None and local.exists():
        key = str(local.resolve())
        default = folder_name(local)
    else:
        key = f"{target}@{revision or 'main'}"
        default = f"{target}@{revision}" if revision else target
        if model_args.get("base_url"):  # one model id can be served by different endpoints
            key = f"{key} via {model_args['base_url']}"
    name = model_args.get("name") or catalogue_name or default or "unnamed model"
    return ModelIdentity(name=name, key=key)
