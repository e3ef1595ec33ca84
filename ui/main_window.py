"""The main window: prompt, variations grid, large view, history tree, menus, undo, status."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QImage,
    QKeySequence,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.describe.node_match import NodeMatch
from studio.pngmeta import encode_png, read_recipe
from studio.project.store import Node, Project, ProjectError, ProjectLockedError
from studio.project.tags import load_tags
from studio.recipe import RecipeError
from ui.accessibility import name_parts
from ui.ambience_controller import EXPORT_SHORTCUT, PLAY_SHORTCUT, AmbienceController
from ui.commands import GenerateCommand, NoteCommand, StarCommand, TrashCommand
from ui.compare import CompareDialog
from ui.describe_controller import DescribeController
from ui.describe_panel import DESCRIBE_SHORTCUT
from ui.file_names import export_name
from ui.history_panel import NODE_ROLE, THUMB, HistoryPanel
from ui.image_view import ImageView
from ui.match_book import MatchBook
from ui.paint_controller import PaintController
from ui.prompt_panel import PromptPanel
from ui.session import JobHandle, Session
from ui.settings import Settings
from ui.settings_dialog import SettingsDialog
from ui.sound_controller import SoundController
from ui.tag_command import TagCommand
from ui.thumbnails import Thumbnails
from ui.translate_controller import TRANSLATE_SHORTCUT, TranslateController
from ui.undo_log import UndoLog
from ui.variations_controller import VariationsController
from ui.variations_grid import VariationsGrid
from ui.welcome import WelcomePanel
from ui.worker import InferenceWorker, Job, PipelineInfo, RenderRequest

EXPORT_SIZES = (256, 512, 1024)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
FALLBACK_PROMPT = "a misty lake under snowy mountains at dawn"
APP_TITLE = "Synesthesia Studio"


class Toast(QLabel):
    """A non-modal notification in the window's corner that hides itself."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setStyleSheet(
            "background: #2b2f36; border: 1px solid #f0b85a; border-radius: 6px; padding: 8px 12px;"
        )
        self.setMaximumWidth(420)
        self.hide()
        self._timer = QTimer(self, singleShot=True, timeout=self.hide)

    def show_text(self, text: str, ms: int = 7000) -> None:
        self.setText(text)
        self.adjustSize()
        parent = self.parentWidget()
        self.move(parent.width() - self.width() - 16, parent.height() - self.height() - 16)
        self.raise_()
        self.show()
        self._timer.start(ms)


class ImageWindow(QWidget):
    """A separate large view, opened by double-clicking a variation."""

    def __init__(self, image: QImage, title: str) -> None:
        super().__init__(None, Qt.WindowType.Window)
        self.setWindowTitle(title)
        self.view = ImageView(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.resize(820, 820)
        self.view.set_image(image)


class MainWindow(QMainWindow):
    """Builds the Session and the views, and wires them; controllers see the Session, not this."""

    batch_shown = Signal(list)  # node ids of a generation that is now visible
    message_shown = Signal(str)  # an error or notice shown to the user
    models_ready = Signal(object)  # PipelineInfo
    search_shown = Signal(list)  # node ids ranked by a Find by Meaning/Sound, best first

    def __init__(self, project: Project, settings: Settings, device: str | None = None) -> None:
        super().__init__()
        self.session = Session(project, settings, device, parent=self)
        self.undo_log = UndoLog(self.undo_stack, lambda: self.project)
        self.thumbs = Thumbnails(project.assets.get, THUMB, self)
        self.thumbs.ready.connect(self._thumbnail_ready)
        self._icon_users: dict[str, set[str]] = {}  # image id → nodes waiting for its thumbnail
        self._windows: list[ImageWindow] = []
        self._index = None  # studio.search.NodeIndex, built in the worker on the first search
        self._previous = ""  # the node shown before the current one (Compare with Previous)
        self._shown = ""
        self._branch = ""  # the node the artist chose to work on: new generations become its children
        self._build()
        self._build_menus()
        self._connect_session()
        self.setAcceptDrops(True)
        self._restore_layout()
        self._show_project(project)
        self.worker.load()

    # the session's state, read where the window (and tests) used to hold it
    @property
    def project(self) -> Project:
        return self.session.project

    @property
    def settings(self) -> Settings:
        return self.session.settings

    @property
    def info(self) -> PipelineInfo | None:
        return self.session.info

    @property
    def worker(self) -> InferenceWorker:
        return self.session.worker

    @property
    def undo_stack(self) -> QUndoStack:
        return self.session.undo_stack

    # --- construction -------------------------------------------------------------------------
    def _build(self) -> None:
        self.prompt_panel = PromptPanel()
        self.prompt_panel.generate_requested.connect(self.generate)
        self.prompt_panel.set_recent(self.settings.recent_prompts)
        self.grid = VariationsGrid()
        self.grid.selected.connect(self.select_node)
        self.grid.opened.connect(self.open_large)
        self.welcome = WelcomePanel()
        self.welcome.prompt_chosen.connect(self._generate_prompt)
        self.welcome.concept_chosen.connect(self._add_concept)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.grid)
        self.view = ImageView()
        self.paint = PaintController(self.session, self.prompt_panel, self.view)
        self.undo_log.canvas = self.paint.canvas  # strokes are saved with the rest of the undo stack
        self.right = QTabWidget()
        self.right.addTab(self.view, "Image")
        self.right.addTab(self.paint.canvas, "Paint")
        self.right.setTabToolTip(1, "Paint what goes where; the picture follows live (Ctrl+P)")
        self.right.currentChanged.connect(self._tab_changed)
        self.history = HistoryPanel()
        self.history.node_selected.connect(self.select_node)
        self.history.tree.itemClicked.connect(lambda item, _column: self._pick(item.data(0, NODE_ROLE)))
        self.history.star_toggled.connect(self.set_star)
        self.history.note_edited.connect(self.set_note)
        self.history.delete_requested.connect(self.delete_node)
        self.history.open_requested.connect(self.open_large)
        self.history.tags_edited.connect(
            lambda node_id, tags: self.undo_stack.push(
                TagCommand(self.project, node_id, tags, self.history.set_tags)
            )
        )
        self.ambience = AmbienceController(self.session)
        self.right.setCornerWidget(self.ambience.bar, Qt.Corner.TopRightCorner)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.history)
        split.addWidget(self.stack)
        split.addWidget(self.right)
        split.setSizes([300, 520, 460])
        split.setChildrenCollapsible(False)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(10, 10, 10, 6)
        layout.addWidget(self.prompt_panel)
        layout.addWidget(split, 1)
        self.setCentralWidget(central)
        self.toast = Toast(central)
        self.provider_label = QLabel("provider: —")
        self.provider_label.setToolTip("The onnxruntime execution provider really in use")
        self.model_label = QLabel("model: —")
        self.model_label.setToolTip("Generator used for the last images")
        self.speed_label = QLabel("")
        self.speed_label.setToolTip("Milliseconds per image in the last batch")
        for w in (self.model_label, self.provider_label, self.speed_label):
            self.statusBar().addPermanentWidget(w)
        self.paint_dock = self._dock("Paint tools", self.paint.panel, "Ctrl+Alt+P")
        self.sound = SoundController(self.session, self.prompt_panel, self.view, self.paint.canvas)
        self.sound_dock = self._dock("Sound", self.sound.panel, "Ctrl+Alt+S")
        self.tabifyDockWidget(self.paint_dock, self.sound_dock)
        self.variations = VariationsController(self.session, self.view)
        self.variations_dock = self._dock("Variations", self.variations.panel, "Ctrl+Alt+V")
        self.tabifyDockWidget(self.sound_dock, self.variations_dock)
        self.describe = DescribeController(self.session, self.prompt_panel)
        self.describe.panel.describe_requested.connect(self.describe_selected)
        self.describe_dock = self._dock("Describe", self.describe.panel, "Ctrl+Alt+D")
        self.tabifyDockWidget(self.variations_dock, self.describe_dock)
        self.translate = TranslateController(self.session, self)
        self.matches = MatchBook(self.session)
        self.matches.changed.connect(self.history.refresh_matches)
        self.matches.changed.connect(self.grid.refresh_matches)
        self._show_matches(self.settings.show_match)
        self.paint_dock.raise_()
        name_parts(self)  # labeled sliders: their inner parts get the wrapper's name

    def _dock(self, title: str, widget: QWidget, shortcut: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(widget)
        toggle = dock.toggleViewAction()
        toggle.setShortcut(QKeySequence(shortcut))
        toggle.setToolTip(f"Show or hide the {title} panel ({shortcut})")
        tips = (("floatbutton", "Float or re-dock this panel"), ("closebutton", "Hide this panel"))
        for button, tip in tips:
            child = dock.findChild(QWidget, f"qt_dockwidget_{button}")
            if child is not None:
                child.setToolTip(tip)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        return dock

    def _tab_changed(self, index: int) -> None:
        if self.right.widget(index) is self.paint.canvas:
            self.paint_dock.show()
            self.paint.canvas.setFocus()

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(
            file, "&New Project…", self.new_project, QKeySequence.StandardKey.New, "Create an empty project"
        )
        self._action(
            file, "&Open Project…", self.choose_project, QKeySequence.StandardKey.Open, "Open a project"
        )
        self.recent_menu = file.addMenu("Recent &Projects")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._action(
            file,
            "Save Project &As…",
            self.save_as,
            QKeySequence.StandardKey.SaveAs,
            "Copy this project to a new folder and continue there",
        )
        file.addSeparator()
        self._action(file, "&Export PNG…", self.choose_export, "Ctrl+E", "Save the selected image as PNG")
        self._action(
            file,
            "Export Soun&d…",
            self.ambience.choose_export,
            EXPORT_SHORTCUT,
            "Save the selected picture's ambience (rain for rain, owls at night) as a seamless WAV/FLAC loop",
        )
        self._action(
            file,
            "&Import Image…",
            self.choose_import,
            "Ctrl+I",
            "Restore a studio PNG's recipe, or bring in any PNG/JPEG to paint on",
        )
        self._action(
            file,
            "Export Branch Contact &Sheet…",
            self.choose_contact_sheet,
            None,
            "One PNG with the selected node and all its descendants as captioned thumbnails",
        )
        self._action(
            file, "Export Project as &Zip…", self.choose_export_zip, None, "The whole project in one zip file"
        )
        self._action(
            file,
            "Import Project &Zip…",
            self.choose_import_zip,
            None,
            "Unpack a project zip into a new folder and open it",
        )
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit, "Quit (everything is saved)")
        edit = bar.addMenu("&Edit")
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence.StandardKey.Redo)
        edit.addActions([undo, redo])
        edit.addSeparator()
        self._action(edit, "&Star / Unstar", self.toggle_star, "Ctrl+D", "Star the selected node")
        self._action(
            edit,
            "Re&name Node",
            self.rename_selected,
            "F2",
            "Give the selected node a name (its note; Enter saves, Ctrl+Z undoes)",
        )
        self._action(
            edit,
            "&Delete Node",
            self.delete_selected,
            QKeySequence.StandardKey.Delete,
            "Move the selected node and its descendants to the trash",
        )
        self._action(edit, "Random &Seed", self.prompt_panel.roll, "Ctrl+Shift+R", "Pick a random seed")
        self._action(edit, "Cancel Rendering", self.session.cancel, "Esc", "Drop pending and running renders")
        self._action(
            edit,
            "&Vary",
            lambda: self.variations.vary(),
            "Ctrl+Shift+Y",
            "Make jittered children of the selected image",
        )
        edit.addSeparator()
        self._action(
            edit,
            "&Find by Meaning…",
            self.choose_find_text,
            QKeySequence.StandardKey.Find,
            "Rank the project's images by how close they are to a description (shared text/sound space)",
        )
        self._action(
            edit,
            "Find by S&ound…",
            self.choose_find_sound,
            "Ctrl+Shift+F",
            "Rank the project's images by how close they are to a sound file",
        )
        edit.addSeparator()
        self._action(
            edit, "Se&ttings…", self.open_settings, "Ctrl+,", "Model, device, size, variations, privacy"
        )
        view = bar.addMenu("&View")
        self._action(view, "&Fit Image", self.view.fit, "F", "Fit the large image to the view")
        self._action(
            view, "Zoom &In", lambda: self.view.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn, "Zoom in"
        )
        self._action(
            view, "Zoom &Out", lambda: self.view.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut, "Zoom out"
        )
        view.addSeparator()
        self._action(
            view,
            "Compare with &Parent",
            self.compare_with_parent,
            "Ctrl+Shift+P",
            "A/B: this node vs its parent",
        )
        self._action(
            view,
            "Compare with Pre&vious",
            self.compare_with_previous,
            "Ctrl+Shift+V",
            "A/B: this node vs the node selected before it",
        )
        view.addSeparator()
        self._action(
            view,
            "&Hear the Picture",
            self.ambience.toggle,
            PLAY_SHORTCUT,
            "Play the selected picture's ambience as a seamless loop; again to stop",
        )
        self._action(view, "&Paint", self.show_paint, "Ctrl+P", "Paint a semantic sketch over the picture")
        view.addAction(self.paint_dock.toggleViewAction())
        view.addAction(self.sound_dock.toggleViewAction())
        view.addAction(self.variations_dock.toggleViewAction())
        view.addAction(self.describe_dock.toggleViewAction())
        paint = bar.addMenu("&Paint")
        self._action(
            paint,
            "&Keep Painting",
            self.paint.keep,
            "Ctrl+Shift+K",
            "Store the painted picture in the history",
        )
        self._action(
            paint,
            "&Regenerate in Mask",
            self.paint.regenerate_in_mask,
            "Ctrl+Shift+G",
            "Render the prompt anew only inside the painted mask",
        )
        self._action(
            paint,
            "&Sketch from Image",
            self.paint.sketch_from_image,
            "Ctrl+Shift+S",
            "Derive the sketch from the picture with the segmenter",
        )
        self._build_picture_menu(bar.addMenu("Pic&ture"))
        help_menu = bar.addMenu("&Help")
        self._action(
            help_menu, "&Welcome", self.show_welcome, None, "What the generator knows, with prompts to try"
        )
        self._action(help_menu, "&About", self._about, None, "About Synesthesia Studio")

    def _build_picture_menu(self, menu) -> None:
        """Describe and Translate: on the selected node, or on a picture file from outside."""
        self._action(
            menu,
            "&Describe",
            self.describe_selected,
            DESCRIBE_SHORTCUT,
            "Say in words what the selected picture shows, and whether it is what its prompt asked for",
        )
        self._action(
            menu,
            "Describe a Picture &File…",
            self.describe_file,
            None,
            "Say in words what a picture file shows",
        )
        menu.addSeparator()
        self._action(
            menu,
            "&Translate…",
            lambda: self.translate.choose_for_node(self.session.selected),
            TRANSLATE_SHORTCUT,
            "Turn the selected picture's day into night, summer into winter, … (a child node)",
        )
        self._action(
            menu,
            "Tr&anslate a Picture File…",
            self.translate.choose_file,
            None,
            "Turn a picture file's day into night, summer into winter, … (a new root node)",
        )

    def describe_selected(self) -> JobHandle | None:
        self.describe_dock.show()
        self.describe_dock.raise_()
        return self.describe.describe_node(self.session.selected)

    def describe_file(self) -> None:
        self.describe_dock.show()
        self.describe_dock.raise_()
        self.describe.choose_file()

    def _action(self, menu, text: str, slot, shortcut, tip: str) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _connect_session(self) -> None:
        s = self.session
        s.notified.connect(self._show_notice)
        s.status_shown.connect(self.statusBar().showMessage)
        s.failed.connect(self.message_shown)
        s.committed.connect(self._on_committed)
        s.ready.connect(self._on_ready)
        s.worker.unavailable.connect(self._on_unavailable)
        s.worker.stats.connect(self._on_stats)

    # --- projects -----------------------------------------------------------------------------
    def _show_project(self, project: Project) -> None:
        self.session.set_project(project)
        self.thumbs.clear(project.assets.get)
        self._icon_users.clear()
        folder = Path(project.path)
        self.setWindowTitle(f"{folder.name} — {APP_TITLE}")
        self.settings.remember_project(folder)
        self.settings.save()
        self.history.set_tags_map(load_tags(project))
        self._rebuild()
        self.undo_log.restore(self._refresh, self.history.set_tags)
        self.paint.restore()  # first, so showing and selecting nodes finds the canvas as it was
        last = self._last_batch()
        self._show_batch(last)
        painted = self.paint.base
        if painted is not None or last:
            self.select_node(painted.id if painted is not None else last[0], picked=False)
        if project.report:
            self.session.notify("Opened with problems:\n" + "\n".join(project.report))

    def open_project(self, folder: Path) -> bool:
        """Switch to another project; a locked or broken one leaves the current one open."""
        try:
            project = Project.open(Path(folder))
        except ProjectLockedError as exc:
            self.show_error(
                "Project in use", f"{exc}\n\nClose the other window that has it open, then try again."
            )
            return False
        except (ProjectError, OSError) as exc:
            self.show_error("Cannot open project", str(exc))
            return False
        self.session.close_project()
        self.ambience.stop()
        self._show_project(project)
        return True

    def new_project(self) -> None:
        folder, _ = QFileDialog.getSaveFileName(
            self, "New project folder", str(Path(self.project.path).parent)
        )
        if folder:
            self.open_project(Path(folder))

    def choose_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open project", str(Path(self.project.path).parent))
        if folder:
            self.open_project(Path(folder))

    def save_as(self) -> None:
        folder, _ = QFileDialog.getSaveFileName(self, "Save project as", str(Path(self.project.path).parent))
        if folder:
            self.save_project_as(Path(folder))

    def save_project_as(self, target: Path) -> bool:
        """Copy the project folder (closed, so the database is checkpointed) and continue in the copy."""
        source = Path(self.project.path)
        if target.exists():
            self.show_error("Save As", f"{target} already exists; choose a new folder name.")
            return False
        self.session.close_project()
        try:
            shutil.copytree(source, target)
        except OSError as exc:
            self.show_error("Save As failed", f"Could not copy the project to {target}: {exc}")
            return self.open_project(source) and False
        return self.open_project(target)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for text in self.settings.recent_projects:
            self.recent_menu.addAction(text, lambda t=text: self.open_project(Path(t)))
        if not self.settings.recent_projects:
            self.recent_menu.addAction("No recent projects").setEnabled(False)

    # --- generation ---------------------------------------------------------------------------
    def generate(self) -> JobHandle:
        """Render variations of the prompt. A node the artist picked, or the one painted on, becomes
        their parent (a branch); otherwise they start a new root, so a run of fresh prompts never
        stacks each one under the previous result."""
        prompt = self.prompt_panel.text()
        self.settings.remember_prompt(prompt)
        self.settings.save()
        self.prompt_panel.set_recent(self.settings.recent_prompts)
        sketch = self.paint.sketch_for_generate() if self.right.currentWidget() is self.paint.canvas else None
        current = self._branch if self._branch == self.session.selected else ""
        if sketch and self.paint.base is not None:
            current = self.paint.base.id  # the painted node is being edited
        request = RenderRequest(
            prompt=prompt,
            seed=self.prompt_panel.seed_value(),
            count=self.settings.count,
            size=self.settings.size,
            model=self.settings.model or None,
            parents=(current,) if current else (),
            sketch=sketch,
            imagine_layout=self.settings.imagine_layout,
            attributes=self.prompt_panel.attributes.pinned(),
            kind="paint" if sketch else "generate",
        )
        return self.session.commit(request, queued=False)

    def show_paint(self) -> None:
        self.right.setCurrentWidget(self.paint.canvas)

    def _generate_prompt(self, prompt: str) -> None:
        self.prompt_panel.set_recipe(prompt, self.prompt_panel.seed_value())
        self.generate()

    def _add_concept(self, word: str) -> None:
        text = self.prompt_panel.text().strip()
        self.prompt_panel.prompt.setText(f"{text} {word}".strip())
        self.prompt_panel.prompt.setFocus()

    def example_prompt(self) -> str:
        default = self.info.default if self.info else None
        return (
            default.example_prompts[0] if default is not None and default.example_prompts else FALLBACK_PROMPT
        )

    def _on_committed(self, nodes: list[Node], latest: bool) -> None:
        """Nodes just stored in the project: history, undo step, grid, selection."""
        ids = [n.id for n in nodes]
        self.history.add_nodes(nodes, self._icon)
        self.undo_stack.push(GenerateCommand(self.project, ids, self._refresh))
        self._show_batch(ids)
        if ids:
            self.select_node(ids[0], picked=False)
        if latest:
            self.statusBar().showMessage(f"{len(ids)} {'image' if len(ids) == 1 else 'images'} ready", 4000)
        self.batch_shown.emit(ids)

    def _on_ready(self, info: PipelineInfo) -> None:
        self.provider_label.setText(f"provider: {short_provider(info.provider)}")
        why = f" — {info.cpu_reason}" if info.cpu_reason and "CPU" in info.provider else ""
        self.provider_label.setToolTip(
            f"The onnxruntime execution provider really in use: {info.provider}{why}"
        )
        self.model_label.setText(f"model: {info.default.name} {info.default.version}")
        self.prompt_panel.attributes.set_available(bool(info.default.attribute_groups))
        self.welcome.show_model(info.default, info.sounds, info.layouts and self.settings.imagine_layout)
        self.statusBar().showMessage("Models ready", 3000)
        self.models_ready.emit(info)

    def _on_unavailable(self, message: str) -> None:
        self.welcome.show_message(message, heading="No generator installed")
        self.stack.setCurrentWidget(self.welcome)
        self.statusBar().showMessage(message.splitlines()[0])
        self.message_shown.emit(message)

    def _on_stats(self, provider: str, model: str, ms: float) -> None:
        self.provider_label.setText(f"provider: {short_provider(provider)}")
        self.model_label.setText(f"model: {model}")
        self.speed_label.setText(f"{ms:.0f} ms / image")

    # --- selection and views ------------------------------------------------------------------
    def select_node(self, node_id: str, picked: bool = True) -> None:
        """Show a node and restore its recipe. A node the artist picked is where the next generation
        branches from; one shown automatically (the first result of a batch) is not."""
        node = self.project.node(node_id)
        self._branch = node_id if picked else ""
        if self._shown and self._shown != node_id:
            self._previous = self._shown
        self._shown = node_id
        self.prompt_panel.set_recipe(node.recipe.prompt, node.recipe.seed)
        self.prompt_panel.attributes.show_recipe(node.recipe)
        self.history.select(node_id)
        self.grid.select_node(node_id)
        if self.grid.count():
            self.stack.setCurrentWidget(self.grid)
        self.view.set_image(self.image_for(node))
        self.paint.show_node(node)
        self.session.select(node_id)  # sound, variations and ambience follow the session

    def _pick(self, node_id: str) -> None:
        """A click on the row already shown (a batch's first result) picks it too: branch from it."""
        if node_id and node_id == self.session.selected:
            self._branch = node_id

    def choose_find_text(self) -> None:
        text, ok = QInputDialog.getText(self, "Find by meaning", "Show images like:")
        if ok and text.strip():
            self.find_similar(text=text.strip())

    def choose_find_sound(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Find by sound", "", "Sounds (*.wav *.flac *.ogg)")
        if path:
            self.find_similar(sound=Path(path))

    def find_similar(self, text: str | None = None, sound: Path | None = None) -> JobHandle:
        """Rank nodes by their conditioning's cosine to a text or a sound (in the worker); the best
        nine are shown in the grid."""
        nodes = list(self._live_nodes())

        def run(pipe, project, _progress):
            from studio.audio.io import read_audio
            from studio.search import NodeIndex, sound_query, text_query

            if self._index is None or self._index.pipe is not pipe:
                self._index = NodeIndex(pipe)
            if sound is not None:
                query = sound_query(
                    pipe, read_audio(sound, rate=pipe.sound_rate(pipe.default_generator())).samples
                )
            else:
                query = text_query(pipe, text or "")
            return self._index.rank(nodes, query, project.assets, words=text or "")

        query = text if text is not None else (sound.name if sound else "")
        return self.session.submit(
            Job(run=run, lane="search", queued=False), on_done=lambda ranked: self._show_search(query, ranked)
        )

    def _show_search(self, query: str, ranked: list[tuple[str, float]]) -> None:
        if not ranked:
            self.session.notify(f"No images to rank for {query!r} yet.")
            return
        self._show_batch([node_id for node_id, _ in ranked])
        best = ", ".join(f"{score:.2f}" for _, score in ranked[:3])
        self.statusBar().showMessage(f"Closest to {query!r}: best scores {best}", 8000)
        self.search_shown.emit([node_id for node_id, _ in ranked])

    def compare(self, left_id: str, right_id: str) -> CompareDialog:
        """A/B compare two nodes: split slider, side by side, and what changed in the recipe."""
        left, right = self.project.node(left_id), self.project.node(right_id)
        dialog = CompareDialog(self.image_for(left), self.image_for(right), left.recipe, right.recipe, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()  # keys (Esc closes, arrows move the divider) go to it, with or without a WM
        return dialog

    def compare_with_parent(self) -> CompareDialog | None:
        node_id = self.session.selected
        parents = self.project.node(node_id).parents if node_id else ()
        if not parents:
            self.session.notify("Select a node that has a parent to compare with.")
            return None
        return self.compare(parents[0], node_id)

    def compare_with_previous(self) -> CompareDialog | None:
        node_id = self.session.selected
        if not node_id or not self._previous or self._previous == node_id:
            self.session.notify("Select two nodes one after the other, then compare.")
            return None
        return self.compare(self._previous, node_id)

    def open_large(self, node_id: str) -> None:
        node = self.project.node(node_id)
        window = ImageWindow(self.image_for(node), node.recipe.prompt or "(anything)")
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.destroyed.connect(lambda: self._windows.remove(window) if window in self._windows else None)
        self._windows.append(window)
        window.show()

    def image_for(self, node: Node) -> QImage:
        return self.session.image_for(node)

    def _icon(self, node: Node) -> QIcon:
        """The history thumbnail: cached, or a placeholder while a pool thread decodes it."""
        self._icon_users.setdefault(node.image, set()).add(node.id)
        return self.thumbs.icon(node.image)

    def _thumbnail_ready(self, sha: str) -> None:
        self.history.refresh_icons(sorted(self._icon_users.pop(sha, set())))

    def _show_batch(self, ids: list[str]) -> None:
        nodes = [self.project.node(i) for i in ids]
        entries = [
            (n.id, self.image_for(n), f"{n.recipe.prompt or '(anything)'}\nseed {n.recipe.seed}")
            for n in nodes
        ]
        self.grid.set_variations(entries)
        self.stack.setCurrentWidget(self.grid if entries else self.welcome)

    def _last_batch(self) -> list[str]:
        """The newest run of nodes made together (same parents, kind and prompt)."""
        nodes = self._live_nodes()
        if not nodes:
            return []
        last = nodes[-1]
        batch = []
        for node in reversed(nodes):
            if (node.parents, node.kind, node.recipe.prompt) != (last.parents, last.kind, last.recipe.prompt):
                break
            batch.append(node.id)
            if len(batch) == 9:
                break
        return batch[::-1]

    def _live_nodes(self) -> list[Node]:
        return self.project.nodes()

    def _rebuild(self) -> None:
        self.history.set_nodes(self._live_nodes(), self._icon)

    def _refresh(self, ids: list[str]) -> None:
        """After an undoable edit: update the rows, or rebuild when nodes left or came back."""
        live = {n.id for n in self._live_nodes()}
        if set(ids) <= live and set(ids) <= set(self.history.node_ids()):
            for node_id in ids:
                self.history.update_node(self.project.node(node_id))
            return
        self._rebuild()
        shown = [i for i in self.grid.node_ids() if i in live]
        if not shown or set(ids) - set(self.grid.node_ids()) == set():
            shown = shown or self._last_batch()
        self._show_batch(shown)
        if self.session.selected not in live:  # trashed: nothing is selected any more
            self.session.select("")
            self.view.set_image(None)

    # --- edits (undoable) ---------------------------------------------------------------------
    def set_star(self, node_id: str, starred: bool) -> None:
        self.undo_stack.push(StarCommand(self.project, node_id, starred, self._refresh))

    def toggle_star(self) -> None:
        node_id = self.session.selected
        if node_id:
            self.set_star(node_id, not self.project.node(node_id).starred)

    def rename_selected(self) -> None:
        """Names live in the node's note: F2 puts the cursor there, Enter saves it as an undo step."""
        if self.session.selected:
            self.history.note.setFocus()
            self.history.note.selectAll()

    def set_note(self, node_id: str, note: str) -> None:
        self.undo_stack.push(NoteCommand(self.project, node_id, note, self._refresh))

    def delete_node(self, node_id: str) -> None:
        ids, todo = [], [node_id]
        live = {n.id for n in self._live_nodes()}
        while todo:
            current = todo.pop()
            if current in live and current not in ids:
                ids.append(current)
                todo.extend(child.id for child in self.project.children(current))
        if ids:
            self.undo_stack.push(TrashCommand(self.project, ids, self._refresh))

    def delete_selected(self) -> None:
        if self.session.selected:
            self.delete_node(self.session.selected)

    # --- export / import ----------------------------------------------------------------------
    def choose_export(self) -> None:
        node_id = self.session.selected
        if not node_id:
            self.session.notify("Select an image to export first.")
            return
        node = self.project.node(node_id)
        path, _ = QFileDialog.getSaveFileName(self, "Export PNG", export_name(node), "PNG images (*.png)")
        if not path:
            return
        sizes = export_sizes(node.recipe.size)
        choice, ok = QInputDialog.getItem(self, "Export PNG", "Size:", sizes, 0, False)
        if ok:
            self.export_png(node_id, Path(path), size=int(choice.split()[0]))

    def export_png_sized(self, node_id: str, path: Path, size: int) -> JobHandle:
        """Re-render the node's recipe at another size in the worker (upscaler, then resize)."""
        node = self.project.node(node_id)
        recipe = node.recipe.replace(size=size)
        private = self.settings.privacy

        def run(pipe, project, _progress) -> str:
            image = pipe.render([recipe], project.assets)[0]
            path.write_bytes(encode_png(image, None if private else recipe))
            return f"Exported {path} ({size} px)"

        return self._background(run, "export")

    def export_png(self, node_id: str, path: Path, size: int | None = None) -> bool:
        """Write the node's image as PNG, with its recipe unless the privacy setting is on; another
        size re-renders the recipe at that size in the worker."""
        node = self.project.node(node_id)
        if size is not None and size != node.recipe.size:
            self.export_png_sized(node_id, path, size)
            return True
        image = self.image_for(node).convertToFormat(QImage.Format.Format_RGB888)
        pixels = qimage_to_array(image)
        try:
            path.write_bytes(encode_png(pixels, None if self.settings.privacy else node.recipe))
        except OSError as exc:
            self.show_error("Export failed", f"Could not write {path}: {exc}")
            return False
        self.statusBar().showMessage(f"Exported {path}", 5000)
        return True

    def import_png(self, path: Path) -> bool:
        """Restore a recipe from a PNG and render it as a new root node (kind "import"); a picture
        without a recipe (any PNG/JPEG) becomes a root node as it is, to paint on or edit."""
        try:
            recipe = read_recipe(path)
        except RecipeError as exc:
            if "has no Synesthesia recipe" in str(exc) or path.suffix.lower() in (".jpg", ".jpeg"):
                self.import_picture(path)
                return True
            message = f"Cannot restore {path.name}: {exc}"
            self.session.notify(message)
            self.message_shown.emit(message)
            return False
        self.prompt_panel.set_recipe(recipe.prompt, recipe.seed)
        self.history.select("")
        self.session.commit(RenderRequest(kind="import", recipes=(recipe,)), queued=False)
        self.statusBar().showMessage(f"Rendering {path.name}…")
        return True

    def import_picture(self, path: Path) -> JobHandle:
        """A picture from outside (centre-cropped square) as a new root node, in the worker."""
        size = self.settings.size
        model = self.settings.model or None

        def run(pipe, project, _progress) -> Node:
            pixels = square_picture(path, size)
            recipe = pipe.recipes_for("", seed=1, count=1, model=model, size=size)[0]
            recipe = recipe.replace(extra={"imported": path.name})
            return project.add_node(kind="import", recipe=recipe, image_png=encode_png(pixels, None))

        handle = self.session.submit(Job(run=run, lane="import"), on_done=self._show_imported)
        self.statusBar().showMessage(f"Importing {path.name}…")
        return handle

    def _show_imported(self, node: Node) -> None:
        imported = node.recipe.extra.get("imported")
        self.statusBar().showMessage(f"{imported} has no recipe: imported as a picture to paint on", 8000)
        self._on_committed([node], latest=False)

    def choose_contact_sheet(self) -> None:
        node_id = self.session.selected
        if not node_id:
            self.session.notify("Select the node whose branch should go on the sheet.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Contact sheet", "branch.png", "PNG images (*.png)")
        if path:
            self.export_contact_sheet(node_id, Path(path))

    def export_contact_sheet(self, node_id: str, path: Path) -> JobHandle:
        def run(_pipe, project, _progress) -> str:
            from studio.contact_sheet import branch, contact_sheet

            nodes = branch(project, node_id)
            path.write_bytes(contact_sheet(project, nodes))
            return f"Exported {path} ({len(nodes)} images)"

        return self._background(run, "export")

    def choose_export_zip(self) -> None:
        name = f"{Path(self.project.path).name}.zip"
        path, _ = QFileDialog.getSaveFileName(self, "Export project", name, "Zip files (*.zip)")
        if path:
            self.export_zip(Path(path))

    def export_zip(self, path: Path) -> JobHandle:
        def run(_pipe, project, progress) -> str:
            from studio.project.archive import export_project_zip

            notes: list[str] = []  # damaged assets left out, journal files repaired: the user must hear it
            export_project_zip(project, path, progress=lambda done, total: progress(done, total), notes=notes)
            return "\n".join([f"Exported {path}", *notes])

        return self._background(run, "export")

    def choose_import_zip(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import project zip", "", "Zip files (*.zip)")
        if not path:
            return
        folder, _ = QFileDialog.getSaveFileName(self, "New project folder", str(Path(path).with_suffix("")))
        if folder:
            self.import_zip(Path(path), Path(folder))

    def import_zip(self, path: Path, folder: Path) -> JobHandle:
        """Unpack (checked: traversal, sizes, schema) in the worker, then open the new project here."""

        def run(_pipe, _project, progress) -> Path:
            from studio.project.archive import import_project_zip

            imported = import_project_zip(path, folder, progress=lambda done, total: progress(done, total))
            imported.close()
            return folder

        return self._background(run, "import", on_done=self._open_imported)

    def _open_imported(self, folder: Path) -> None:
        if self.open_project(folder):
            self.statusBar().showMessage(f"Imported the project into {folder}", 8000)

    def _background(self, run, lane: str, on_done=None) -> JobHandle:
        """A queued Job; by default its text goes to the status bar (errors are notified)."""
        self.statusBar().showMessage("Working…")
        return self.session.submit(Job(run=run, lane=lane), on_done=on_done or self._report)

    def _report(self, text: str) -> None:
        if "\n" in text:
            self.session.notify(text)  # with what the export left out or repaired
        else:
            self.statusBar().showMessage(text, 5000)

    def choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import image", "", "Images (*.png *.jpg *.jpeg)")
        if path:
            self.import_png(Path(path))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if any(u.toLocalFile().lower().endswith(IMAGE_SUFFIXES) for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            if url.toLocalFile().lower().endswith(IMAGE_SUFFIXES):
                self.import_png(Path(url.toLocalFile()))
                event.acceptProposedAction()
                return

    # --- settings, messages, closing ----------------------------------------------------------
    def open_settings(self) -> SettingsDialog:
        models = [g.name for g in self.info.generators] if self.info else []
        dialog = SettingsDialog(self.settings, models, self)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.result_settings()))
        dialog.open()
        return dialog

    def apply_settings(self, settings: Settings) -> None:
        device_changed = settings.device != self.settings.device
        self.session.settings = settings
        self.settings.save()
        if device_changed:
            self.worker.configure(settings.device)
        self._show_matches(settings.show_match)

    def _show_matches(self, on: bool) -> None:
        """Match scores next to every result, or none (describing costs a little CPU per result)."""
        self.history.set_match_source(self.matches.match if on else None)
        self.grid.set_match_source(self._tile_match if on else None)

    def _tile_match(self, node_id: str) -> NodeMatch | None:
        return self.matches.match(self.project.node(node_id)) if node_id in self.project else None

    def _show_notice(self, text: str) -> None:
        """The session's notices: the status bar and a toast; never blocks the user."""
        self.statusBar().showMessage(text.splitlines()[0], 8000)
        self.toast.show_text(text)

    def show_error(self, title: str, text: str) -> QMessageBox:
        """A window-modal box opened without a nested event loop (tests and the worker keep running)."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.message_shown.emit(text)
        return box

    def show_welcome(self) -> None:
        """Help ▸ Welcome: the first-run panel again; selecting a picture goes back to the results."""
        self.stack.setCurrentWidget(self.welcome)

    def _about(self) -> None:
        QMessageBox.about(
            self, APP_TITLE, "Synesthesia Studio: prompts, sketches and sounds become landscapes, offline."
        )

    def _restore_layout(self) -> None:
        """The window as the artist left it: size, dock order, right tab."""
        self.resize(*self.settings.window_size)
        if self.settings.dock_state:
            self.restoreState(QByteArray.fromBase64(self.settings.dock_state.encode("ascii")))
        self.right.setCurrentIndex(self.settings.right_tab)
        if self.settings.maximized:
            self.setWindowState(Qt.WindowState.WindowMaximized)

    def _remember_layout(self) -> None:
        size = self.normalGeometry().size() if self.isMaximized() else self.size()
        self.settings.window_size = [size.width(), size.height()]
        self.settings.maximized = self.isMaximized()
        self.settings.right_tab = self.right.currentIndex()
        self.settings.dock_state = bytes(self.saveState().toBase64()).decode("ascii")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self._remember_layout()
        self.undo_log.close()
        self.sound.panel.stop_all()
        self.ambience.stop()
        self.session.close()  # drops replies still on their way; the canvas sketch is already saved
        for window in list(self._windows):
            window.close()
        self.settings.save()
        super().closeEvent(event)


def export_sizes(rendered: int) -> list[str]:
    """The export choices; the first is the picture's own pixels (the view may show it enlarged)."""
    return [f"{rendered} px (as rendered)", *(f"{s} px" for s in EXPORT_SIZES if s != rendered)]


def square_picture(path: Path, size: int) -> np.ndarray:
    """Any picture → HxWx3 uint8, centre-cropped to a square and resized to `size` (generators are square)."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        rgb = ImageOps.exif_transpose(image).convert("RGB")
    return np.asarray(ImageOps.fit(rgb, (size, size), Image.Resampling.LANCZOS))


def short_provider(provider: str) -> str:
    return provider.removesuffix("ExecutionProvider") or provider


def qimage_to_array(image: QImage) -> np.ndarray:
    """QImage (RGB888) → HxWx3 uint8 copy."""
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * h).reshape(h, stride)
    return data[:, : 3 * w].reshape(h, w, 3).copy()
