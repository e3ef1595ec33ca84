"""App settings as a small JSON file (not QSettings) so they are readable, portable and testable."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.paths import settings_file

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
SIZES = (64, 128, 256)
MIN_COUNT, MAX_COUNT = 4, 9
MAX_RECENT_PROJECTS = 10
MAX_RECENT_PROMPTS = 30
WINDOW_SIZE = (1280, 800)
MIN_WINDOW = 640


@dataclass
class Settings:
    """User preferences; every field is validated on load so a hand-edited file cannot crash the app."""

    model: str = ""  # "" = the registry's default generator
    device: str = "auto"
    size: int = 128
    count: int = 4
    privacy: bool = False  # strip the recipe from exported PNGs
    imagine_layout: bool = True  # text-only prompts start from a layout of the layout prior
    show_match: bool = True  # a match score (caption vs prompt) next to every result
    last_project: str = ""
    recent_projects: list[str] = field(default_factory=list)
    recent_prompts: list[str] = field(default_factory=list)
    window_size: list[int] = field(default_factory=lambda: list(WINDOW_SIZE))  # restored on start
    maximized: bool = False
    right_tab: int = 0  # the Image / Paint tab last shown
    dock_state: str = ""  # QMainWindow.saveState() as base64: which dock panel was in front

    def __post_init__(self) -> None:
        self.model = self.model if isinstance(self.model, str) else ""
        self.device = self.device if self.device in DEVICES else "auto"
        self.size = self.size if self.size in SIZES else 128
        count = self.count if isinstance(self.count, int) and not isinstance(self.count, bool) else 4
        self.count = min(MAX_COUNT, max(MIN_COUNT, count))
        self.privacy = bool(self.privacy)
        self.imagine_layout = bool(self.imagine_layout)
        self.show_match = bool(self.show_match)
        self.last_project = self.last_project if isinstance(self.last_project, str) else ""
        self.recent_projects = _strings(self.recent_projects)[:MAX_RECENT_PROJECTS]
        self.recent_prompts = _strings(self.recent_prompts)[:MAX_RECENT_PROMPTS]
        size = self.window_size
        valid = isinstance(size, list) and len(size) == 2 and all(_count(v) >= MIN_WINDOW for v in size)
        self.window_size = list(size) if valid else list(WINDOW_SIZE)
        self.maximized = bool(self.maximized)
        self.right_tab = self.right_tab if _count(self.right_tab) in (0, 1) else 0
        self.dock_state = self.dock_state if isinstance(self.dock_state, str) else ""

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """Read the settings; a missing or damaged file gives defaults (and a log line), never an error."""
        path = path or settings_file()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            log.warning("settings file %s is unreadable (%s); using defaults", path, exc)
            return cls()
        if not isinstance(data, dict):
            log.warning("settings file %s is not a JSON object; using defaults", path)
            return cls()
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def save(self, path: Path | None = None) -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a settings file."""
        path = path or settings_file()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(dataclasses.asdict(self), indent=2), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("could not save settings to %s: %s", path, exc)

    def remember_project(self, folder: Path) -> None:
        text = str(Path(folder).resolve())
        self.last_project = text
        self.recent_projects = [text, *[p for p in self.recent_projects if p != text]][:MAX_RECENT_PROJECTS]

    def remember_prompt(self, prompt: str) -> None:
        if not prompt.strip():
            return
        self.recent_prompts = [prompt, *[p for p in self.recent_prompts if p != prompt]][:MAX_RECENT_PROMPTS]


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def _count(value: Any) -> int:
    """An int setting as it was written, or -1 for anything else (bools included)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else -1
