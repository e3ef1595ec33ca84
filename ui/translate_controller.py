"""Translate: the selected picture (or a picture file) to night, winter, … as a new history node.

Which targets are installed is the worker's registry's to know, so Translate… first asks the
worker, then the artist (TranslateDialog). The translation is then prepared in the worker (the
translator looked up, the source checked and kept in the project's assets, the recipe built) and
committed like any render: `Session.commit` stores the node (a child of the picture it came from,
or a new root for a file) and every view shows and selects it through `committed`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QWidget

from studio.image_input import ImageInputError
from studio.inference.manifest import ModelError
from studio.limits import MemoryLimitError, read_file
from studio.project.store import Project
from studio.recipe import Recipe, RecipeError
from studio.translate.runtime import read_picture, targets, translation_recipe, translator_for
from ui.describe_controller import PICTURE_FILTER
from ui.session import JobHandle, Session
from ui.translate_dialog import TranslateDialog
from ui.worker import Job, JobError, RenderRequest

TRANSLATE_SHORTCUT = "Ctrl+Shift+T"
ASKED_TARGET = "night"  # any target: with nothing installed the core's refusal says what to install


def installed_targets(registry) -> list[str]:
    """The targets the installed translators go to; none is a refusal that says what to install."""
    found = targets(registry)
    if not found:
        try:
            translator_for(registry, ASKED_TARGET)
        except ModelError as exc:
            raise JobError(str(exc)) from exc
    return found


def _extension(path: Path) -> str:
    ext = path.suffix.lower().lstrip(".")
    return ext if ext.isalnum() and len(ext) <= 8 else "bin"


class TranslateController(QObject):
    """Asks where to take a picture, then commits its translation (kind "translate")."""

    def __init__(self, session: Session, dialog_parent: QWidget | None = None) -> None:
        super().__init__(session)
        self.session, self.dialog_parent = session, dialog_parent
        self.dialog: TranslateDialog | None = None  # the open Translate dialog, if any

    # --- asking the artist ----------------------------------------------------------------------
    def choose_for_node(self, node_id: str) -> JobHandle | None:
        if not node_id:
            self.session.notify("Select a picture to translate first.")
            return None
        return self._ask(
            "the selected picture", lambda target, seed: self.translate_node(node_id, target, seed)
        )

    def choose_file(self) -> JobHandle | None:
        path, _ = QFileDialog.getOpenFileName(self.dialog_parent, "Translate a picture", "", PICTURE_FILTER)
        if not path:
            return None
        return self._ask(Path(path).name, lambda target, seed: self.translate_file(Path(path), target, seed))

    def _ask(self, what: str, then: Callable[[str, int], object]) -> JobHandle:
        return self.session.submit(
            Job(
                run=lambda pipe, _project, _progress: installed_targets(pipe.registry),
                lane="translate-targets",
            ),
            on_done=lambda found: self._open_dialog(found, what, then),
        )

    def _open_dialog(self, found: list[str], what: str, then: Callable[[str, int], object]) -> None:
        dialog = TranslateDialog(found, what, parent=self.dialog_parent)
        dialog.accepted.connect(lambda: then(*dialog.choice()))
        dialog.finished.connect(lambda _result: self._closed(dialog))
        self.dialog = dialog
        dialog.open()

    def _closed(self, dialog: TranslateDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    # --- translating ----------------------------------------------------------------------------
    def translate_node(self, node_id: str, target: str, seed: int) -> JobHandle:
        """Translate a node's picture; the result is its child, at the node's size."""
        node = self.session.project.node(node_id)
        return self._translate(
            lambda project: project.assets.get(node.image),  # already an asset: the recipe's source
            "the selected picture",
            target,
            seed,
            node.recipe.size,
            (node_id,),
        )

    def translate_file(self, path: Path, target: str, seed: int) -> JobHandle:
        """Translate a picture file; the file is kept in the project's assets, the result is a new root."""

        def read(project: Project) -> bytes:
            try:
                data = read_file(path, "the picture")
            except MemoryLimitError as exc:
                raise JobError(str(exc)) from exc
            except OSError as exc:
                raise JobError(f"Cannot read {path.name}: {exc.strerror or exc}") from exc
            read_picture(data, path.name)  # a bad file is refused before it is kept
            project.assets.put(data, _extension(path))
            return data

        return self._translate(read, path.name, target, seed, self.session.settings.size, ())

    def _translate(
        self,
        read: Callable[[Project], bytes],
        what: str,
        target: str,
        seed: int,
        size: int,
        parents: tuple[str, ...],
    ) -> JobHandle:
        def run(pipe, project: Project, _progress) -> tuple[Recipe, list[str]]:
            try:
                info, direction = translator_for(pipe.registry, target)
                data = read(project)
                _, notes = read_picture(data, what)
                return translation_recipe(info, direction, data, seed, size), notes
            except (ModelError, ImageInputError, RecipeError) as exc:
                raise JobError(str(exc)) from exc

        self.session.status(f"Translating {what} to {target}…", 8000)
        return self.session.submit(
            Job(run=run, lane="translate"), on_done=lambda result: self._commit(*result, parents)
        )

    def _commit(self, recipe: Recipe, notes: list[str], parents: tuple[str, ...]) -> JobHandle:
        handle = self.session.commit(RenderRequest(kind="translate", recipes=(recipe,), parents=parents))
        if notes:  # e.g. only the centre square of a wide picture is translated
            self.session.notify("\n".join(notes))
        return handle
