"""Describe: the selected picture (or a picture file) in words, read in the worker, shown in the panel.

The describer (`studio.describe.Describer`) loads models and encodes its caption bank, so the
worker keeps one per pipeline (`pipeline_describer`, shared with the match scores). The caption is matched
against the picture's prompt (a node's, or the recipe a studio PNG carries), so the artist sees
when the picture missed the words. A newer request replaces a waiting one ("describe" lane); a
reply for anything but the newest request is not shown.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from studio.describe.describe import Description, picture_from_bytes, pipeline_describer
from studio.describe.match import match_score
from studio.describe.node_match import BEAM
from studio.image_input import ImageInputError
from studio.inference.manifest import ModelError
from studio.limits import MemoryLimitError, read_file
from studio.pngmeta import carried_prompt
from studio.project.store import Project
from ui.describe_panel import IDLE_TEXT, DescribePanel
from ui.prompt_panel import PromptPanel
from ui.session import JobHandle, Session
from ui.worker import Job, JobError

PICTURE_FILTER = "Pictures (*.png *.jpg *.jpeg *.webp *.gif *.bmp *.tif *.tiff);;All files (*)"


class DescribeController(QObject):
    """Owns the Describe panel; describes a node or a file and can make the caption the prompt."""

    def __init__(self, session: Session, prompt: PromptPanel, panel: DescribePanel | None = None) -> None:
        super().__init__(session)
        self.session, self.prompt = session, prompt
        self.panel = panel or DescribePanel()
        self.panel.file_requested.connect(self.choose_file)
        self.panel.use_requested.connect(self.use_as_prompt)
        self.caption = ""  # the caption shown, for Use as prompt
        self._handle: JobHandle | None = None

    # --- asking ---------------------------------------------------------------------------------
    def describe_node(self, node_id: str) -> JobHandle | None:
        """Describe a node's stored picture and match the caption against its prompt."""
        if not node_id:
            self.session.notify("Select a picture to describe first.")
            return None
        node = self.session.project.node(node_id)
        return self._submit(
            lambda project: project.assets.get(node.image), "the selected picture", node.recipe.prompt
        )

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.panel, "Describe a picture", "", PICTURE_FILTER)
        if path:
            self.describe_file(Path(path))

    def describe_file(self, path: Path) -> JobHandle:
        """Describe a picture file; a studio PNG is matched against the prompt its recipe carries."""

        def read(_project: Project) -> bytes:
            try:
                return read_file(path, "the picture")
            except MemoryLimitError as exc:
                raise JobError(str(exc)) from exc
            except OSError as exc:
                raise JobError(f"Cannot read {path.name}: {exc.strerror or exc}") from exc

        return self._submit(read, path.name, None)

    def _submit(self, read: Callable[[Project], bytes], what: str, prompt: str | None) -> JobHandle:
        def run(pipe, project: Project, _progress) -> tuple[Description, str]:
            data = read(project)
            try:
                picture, notes = picture_from_bytes(data, what)
            except ImageInputError as exc:  # too small, not a picture, a bomb: the core says which
                raise JobError(str(exc)) from exc
            try:
                describer = pipeline_describer(pipe)
            except ModelError as exc:  # nothing to describe with: a refusal that says what to install
                raise JobError(str(exc)) from exc
            description = describer.describe([picture], BEAM)[0]
            description.notes[:0] = notes
            return description, prompt if prompt is not None else carried_prompt(data)

        self.panel.show_busy(f"Describing {what}…")
        self.session.status(f"Describing {what}…", 8000)
        handle = self.session.submit(
            Job(run=run, lane="describe", queued=False),
            on_done=lambda result: self._show(handle, what, *result),
            on_error=lambda message: self._failed(handle, message),
            on_cancelled=lambda: self._cancelled(handle),
        )
        self._handle = handle
        return handle

    # --- replies --------------------------------------------------------------------------------
    def _show(self, handle: JobHandle, what: str, description: Description, prompt: str) -> None:
        if handle is not self._handle:
            return
        match = match_score(prompt, description.caption) if prompt.strip() else None
        self.caption = description.caption
        self.panel.show_description(what, description, prompt, match)
        self.session.status(f"{what[:1].upper()}{what[1:]} shows: {description.caption}", 8000)

    def _failed(self, handle: JobHandle, message: str) -> None:
        if handle is self._handle:
            self.caption = ""
            self.panel.show_error(message)

    def _cancelled(self, handle: JobHandle) -> None:
        if handle is self._handle:
            self.panel.show_idle(f"Cancelled. {IDLE_TEXT}")

    def use_as_prompt(self) -> None:
        """The caption replaces the prompt as one edit of the prompt line, so Ctrl+Z there undoes it."""
        if not self.caption:
            return
        line = self.prompt.prompt
        line.selectAll()
        line.insert(self.caption)
        line.setFocus()
        self.session.status("The caption is the prompt now: Generate renders it", 5000)
