"""Match scores next to every result: what each picture shows, against what its prompt asked for.

Views ask `match(node)` while they paint; an unknown node is queued and described in the worker a
few at a time (`studio.describe.node_match`: captions are kept in the project, so a reopened
project is not described again), then `changed` names the nodes whose score arrived. Only painted
rows and shown tiles are asked for, so a 10,000-node project costs nothing until scrolled through.
Without a captioner (and no image encoder to fall back on) matching turns itself off, once.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal

from studio.describe.describe import pipeline_describer
from studio.describe.node_match import CHUNK, NodeMatch, match_nodes, wants_match
from studio.inference.manifest import ModelError
from studio.project.store import Node, Project
from ui.session import JobHandle, Session
from ui.worker import Job

log = logging.getLogger(__name__)
BATCH = CHUNK  # nodes per job (one captioner call): a render waits at most one call


class MatchBook(QObject):
    """Node id → NodeMatch for the open project, filled on demand by the worker."""

    changed = Signal(list)  # node ids whose match is known now

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.session = session
        self._project: Project | None = None
        self._known: dict[str, NodeMatch | None] = {}  # None: asked, but there is nothing to score
        self._waiting: dict[str, Node] = {}
        self._handle: JobHandle | None = None
        self.off_reason = ""  # why nothing is matched (no captioner), said once
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._submit)

    @property
    def enabled(self) -> bool:
        return self.session.settings.show_match and not self.off_reason

    def match(self, node: Node) -> NodeMatch | None:
        """The node's match if known; otherwise None now, and `changed` once it is worked out."""
        self._follow_project()
        if node.id in self._known:
            return self._known[node.id]
        if self.enabled and wants_match(node) and node.id not in self._waiting:
            self._waiting[node.id] = node
            if self._handle is None:
                self._timer.start(0)  # gather the rows of one paint into one job
        return None

    def pending(self) -> int:
        """Nodes asked for and not answered yet (waiting or being described)."""
        return len(self._waiting)

    def _follow_project(self) -> None:
        if self.session.project is not self._project:
            self._project = self.session.project
            self._known.clear()
            self._waiting.clear()
            self._handle = None  # the old project's job ended with it (cancelled by the session)

    def _submit(self) -> None:
        self._follow_project()
        if self._handle is not None or not self._waiting or not self.enabled:
            return
        nodes = list(self._waiting.values())[-BATCH:]  # the latest asked: the rows on screen now

        def run(pipe, project: Project, keep_going) -> tuple[dict[str, NodeMatch], str]:
            try:
                describer = pipeline_describer(pipe)
            except ModelError as exc:  # nothing to caption with: matching turns off, the app goes on
                return {}, str(exc)
            return match_nodes(describer, project, nodes, keep_going), ""

        handle = self.session.submit(
            Job(run=run, lane="match"),
            on_done=lambda reply: self._arrived(handle, nodes, *reply),
            on_error=lambda _message: self._arrived(handle, nodes, {}, ""),  # no score: not asked again
            on_cancelled=lambda: self._cancelled(handle, nodes),
        )
        self._handle = handle

    def _arrived(self, handle: JobHandle, nodes: list[Node], found: dict[str, NodeMatch], off: str) -> None:
        if handle is not self._handle:
            return
        self._handle = None
        if off:  # said in the log only: the Describe panel tells the artist what to install
            self.off_reason = off
            log.info("no match scores: %s", off)
        for node in nodes:
            self._waiting.pop(node.id, None)
            self._known[node.id] = found.get(node.id)
        self.changed.emit([n.id for n in nodes])
        self._timer.start(0)

    def _cancelled(self, handle: JobHandle, nodes: list[Node]) -> None:
        """Cancelled (Esc): forget the asks, so the next paint asks again."""
        if handle is not self._handle:
            return
        self._handle = None
        for node in nodes:
            self._waiting.pop(node.id, None)
