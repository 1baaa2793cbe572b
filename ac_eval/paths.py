"""Where the project's data folders are: the task YAMLs, the trainer recipes and the leaderboard's schema and page.

They live at the top of the repository (the design's layout: `tasks/`, `trainers/`, `leaderboard/`). A wheel ships
them inside the package as `ac_eval/_data/<folder>` (setup.py copies them at build time); an editable install or a
source checkout reads them where they are. Nothing depends on the current directory. Every module that needs one
asks here."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent


def _folder(name: str) -> Path:
    shipped = PACKAGE / "_data" / name
    if shipped.is_dir():
        return shipped
    if (CHECKOUT / name).is_dir():
        return CHECKOUT / name
    raise FileNotFoundError(f"ac-eval's {name}/ folder is missing: neither {shipped} (installed package) nor "
                            f"{CHECKOUT / name} (source checkout) exists; reinstall ac-eval")


TASKS_DIR = _folder("tasks")
TASK_TEMPLATE = TASKS_DIR / "_template_yaml"
TRAINERS_DIR = _folder("trainers")
LEADERBOARD_DIR = _folder("leaderboard")
