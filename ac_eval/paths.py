"""Where the project's data folders are: the task YAMLs, the trainer recipes and the leaderboard's schema and page.

They live at the top of the repository (the design's layout: `tasks/`, `trainers/`, `leaderboard/`); every module
that needs one asks here, so there is one place to change when they move."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKS_DIR = ROOT / "tasks"
TASK_TEMPLATE = TASKS_DIR / "_template_yaml"
TRAINERS_DIR = ROOT / "trainers"
LEADERBOARD_DIR = ROOT / "leaderboard"
