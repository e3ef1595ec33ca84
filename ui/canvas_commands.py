"""Undo commands for canvas edits: each stores only the changed box of one layer, before and after.

A 256² canvas would cost 64 KiB (sketch) or 256 KiB (mask) per full snapshot; a brush stroke
usually touches a few percent of that, so the undo history stays small even after hours of painting.
Strokes are saved with the rest of the undo stack (ui/undo_log.py): their boxes go into the
project's assets as .npy files (plain arrays, loaded with allow_pickle=False).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from ui.commands import Replayable

Box = tuple[int, int, int, int]  # y0, y1, x0, x1 (half-open), in canvas pixels
PatchStore = Callable[[bytes], str]  # saves .npy bytes, returns their asset id


class PatchTarget(Protocol):
    def apply_patch(self, layer: str, box: Box, data: np.ndarray, token: str) -> bool:
        """Write `data` into `layer[box]`; False when the canvas was replaced since (stale command)."""
        ...

    @property
    def patch_store(self) -> PatchStore | None:
        """Where strokes are saved so undo survives a restart (None: only in this session)."""
        ...


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def npy_array(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


class PatchCommand(Replayable):
    """One finished stroke, fill or clear. It is pushed after the edit was applied, so the first
    redo (QUndoStack.push calls it) does nothing. `token` names the canvas contents it applies to:
    the canvas changes its token when another sketch is loaded, and keeps it across a restart."""

    def __init__(
        self,
        target: PatchTarget,
        layer: str,
        box: Box,
        before: np.ndarray,
        after: np.ndarray,
        token: str,
        text: str,
    ) -> None:
        super().__init__(text)
        self._target, self._layer, self._box, self._token = target, layer, tuple(box), token
        self._before, self._after = before.copy(), after.copy()
        self._saved: tuple[str, str] | None = None  # asset ids once written
        self.skip = 1

    @property
    def layer(self) -> str:
        return self._layer

    @property
    def box(self) -> Box:
        return self._box

    def apply(self, forward: bool) -> None:
        data = self._after if forward else self._before
        if not self._target.apply_patch(self._layer, self._box, data, self._token):
            self.setObsolete(True)  # the canvas was resized or reloaded: this edit no longer applies

    def record(self) -> dict[str, Any] | None:
        store = self._target.patch_store
        if store is None:
            return None
        if self._saved is None:
            self._saved = (store(npy_bytes(self._before)), store(npy_bytes(self._after)))
        return {
            "type": "patch",
            "layer": self._layer,
            "box": list(self._box),
            "before": self._saved[0],
            "after": self._saved[1],
            "token": self._token,
            "text": self.text(),
        }

    @classmethod
    def from_record(cls, target: PatchTarget, record: dict, load: Callable[[str], bytes]) -> PatchCommand:
        """Rebuild a saved stroke; ValueError when the record or its arrays do not fit together."""
        layer, box = str(record["layer"]), tuple(int(v) for v in record["box"])
        before, after = npy_array(load(record["before"])), npy_array(load(record["after"]))
        if len(box) != 4:
            raise ValueError(f"a saved {layer} stroke has no box (y0, y1, x0, x1): {box}")
        y0, y1, x0, x1 = box
        if layer not in ("sketch", "mask") or not before.shape == after.shape == (y1 - y0, x1 - x0):
            raise ValueError(f"a saved {layer} stroke does not fit its box {box}")
        text = str(record.get("text", "Paint"))
        command = cls(target, layer, box, before, after, str(record["token"]), text)
        command._saved = (record["before"], record["after"])
        return command
