"""Modules lm-eval imports at its top that an ac-eval run never uses, imported only if something does use them.

lm-eval imports Hugging Face `datasets` in its task and logger modules (0.9 s here, with pyarrow), its W&B logger,
which imports `pandas` (0.4 s), `sacrebleu` for its text metrics and `requests` for two HTTP helpers, although
ac-eval's tasks read their records themselves (as a list of docs, see `lm_eval_hooks.DocList`) and a run neither
pushes to the hub nor logs to W&B. Until something really uses one of them, a stand-in sits in `sys.modules`: it
holds the names lm-eval imports from it at module level, as thin functions that import the real module when
called, and any other attribute imports the real module and is read from it. A cached rerun is then seconds, not
the 18 s a newcomer measured.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

# module -> names lm-eval imports from it with `from module import name` when it is itself imported
DEFERRED: dict[str, tuple[str, ...]] = {
    "datasets": ("load_dataset",),
    "datasets.utils": (),
    "datasets.utils.metadata": ("MetadataConfigs",),
    "lm_eval.loggers.wandb_logger": ("WandbLogger",),
    "sacrebleu": (),  # lm-eval's BLEU/chrF metrics, for text tasks (0.13 s)
    "requests": (),  # lm-eval's utils use it inside two HTTP helpers only (0.23 s)
}


def is_stand_in(module: Any) -> bool:
    return bool(getattr(module, "_ac_eval_stand_in", False))


def real_module(name: str) -> types.ModuleType:
    """Import the real module (and the real packages above it), replacing the stand-ins."""
    module = sys.modules.get(name)
    if module is not None and not is_stand_in(module):
        return module
    top = name.split(".")[0]
    family = [n for n in DEFERRED if n == top or n.startswith(top + ".")]
    stand_ins = {n: sys.modules.pop(n) for n in family if is_stand_in(sys.modules.get(n))}
    try:
        return importlib.import_module(name)
    except BaseException:
        sys.modules.update(stand_ins)
        raise


def _stand_in(name: str, callables: tuple[str, ...], spec: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__spec__ = spec  # `find_spec(name)`, how libraries ask "is it installed?", still answers
    module._ac_eval_stand_in = True
    module.__path__ = []  # a package, so the stand-ins of its submodules resolve

    def __getattr__(attr: str) -> Any:
        if attr.startswith("__") and attr != "__version__":
            raise AttributeError(attr)
        return getattr(real_module(name), attr)

    def proxy(attr: str):
        def call(*args: Any, **kwargs: Any) -> Any:
            return getattr(real_module(name), attr)(*args, **kwargs)

        call.__name__ = call.__qualname__ = attr
        return call

    module.__getattr__ = __getattr__
    for attr in callables:
        setattr(module, attr, proxy(attr))
    return module


def defer_heavy_imports() -> None:
    """Install the stand-ins, for each module that is installed and not imported yet."""
    for name, callables in DEFERRED.items():
        top = name.split(".")[0]
        if name in sys.modules:
            continue
        if top in DEFERRED and top in sys.modules and not is_stand_in(sys.modules[top]):
            continue  # the real package is imported: its submodules must be real too
        if importlib.util.find_spec(top) is None:  # a top-level name: nothing is imported to answer
            continue
        # A spec of its own (find_spec on a submodule would import the packages above it, the very cost avoided).
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        sys.modules[name] = _stand_in(name, callables, spec)
