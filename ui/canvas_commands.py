"""Undo commands for canvas edits: each stores only the changed box of one layer, before and after.

A 256² canvas would cost 64 KiB (sketch) or 256 KiB (mask) per full snapshot; a brush stroke
usually touches a few percent of that, so the undo history stays small even after hours of painting.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from PySide6.QtGui import QUndoCommand

Box = tuple[int, int, int, int]  # y0, y1, x0, x1 (half-open), in canvas pixels


class PatchTarget(Protocol):
    def apply_patch(self, layer: str, box: Box, data: np.ndarray, epoch: int) -> bool:
        """Write `data` into `layer[box]`; False when the canvas was replaced since (stale command)."""
        ...


class PatchCommand(QUndoCommand):
    """One finished stroke, fill or clear. It is pushed after the edit was applied, so the first
    redo (QUndoStack.push calls it) does nothing."""

    def __init__(
        self,
        target: PatchTarget,
        layer: str,
        box: Box,
        before: np.ndarray,
        after: np.ndarray,
        epoch: int,
        text: str,
    ) -> None:
        super().__init__(text)
        self._target, self._layer, self._box, self._epoch = target, layer, box, epoch
        self._before, self._after = before.copy(), after.copy()
        self._first = True

    @property
    def layer(self) -> str:
        return self._layer

    @property
    def box(self) -> Box:
        return self._box

    def redo(self) -> None:
        if self._first:
            self._first = False
            return
        self._apply(self._after)

    def undo(self) -> None:
        self._apply(self._before)

    def _apply(self, data: np.ndarray) -> None:
        if not self._target.apply_patch(self._layer, self._box, data, self._epoch):
            self.setObsolete(True)  # the canvas was resized or reloaded: this edit no longer applies
