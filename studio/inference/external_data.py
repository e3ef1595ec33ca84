"""Which files an ONNX model keeps its weights in ("external data"), read without the onnx package.

onnxruntime loads a tensor's bytes from the file its `location` names, beside the model, so a model's
sha256 says nothing about those weights. The registry asks this module for every such file and
checks each against a hash in the manifest. The app ships without the onnx package, so the
protobuf is walked here directly: only the messages that can hold tensors are opened, and tensor
bytes are skipped by their length.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

# message kind -> {field number: kind of the message in that field}, after onnx.proto3
_CHILDREN: dict[str, dict[int, str]] = {
    "model": {7: "graph", 20: "training", 25: "function"},
    "training": {1: "graph", 3: "graph"},
    "graph": {1: "node", 5: "tensor", 15: "sparse"},
    "node": {5: "attribute"},
    "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"},
    "function": {7: "node"},
    "sparse": {1: "tensor", 2: "tensor"},
}
_EXTERNAL_DATA = 13  # TensorProto.external_data: repeated StringStringEntryProto {1: key, 2: value}


class ProtobufError(ValueError):
    """The file is not a well-formed protobuf message."""


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ProtobufError("a number runs past the end of the file")
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def _fields(buf: memoryview) -> Iterator[tuple[int, memoryview]]:
    """(field number, payload) of each length-delimited field of a message; other fields skipped."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        wire = key & 7
        if wire == 0:
            _, pos = _varint(buf, pos)
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise ProtobufError("a field runs past the end of the file")
            yield key >> 3, buf[pos : pos + length]
            pos += length
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    if pos > len(buf):
        raise ProtobufError("the last field runs past the end of the file")


def _entry(buf: memoryview) -> tuple[str, str]:
    parts = {number: bytes(payload).decode("utf-8", "replace") for number, payload in _fields(buf)}
    return parts.get(1, ""), parts.get(2, "")


def external_files(model: Path) -> set[str]:
    """Every `location` a tensor of the model (initializers, constants, subgraphs, functions) names."""
    found: set[str] = set()
    stack = [("model", memoryview(model.read_bytes()))]
    while stack:
        kind, buf = stack.pop()
        for number, payload in _fields(buf):
            if kind == "tensor":
                if number == _EXTERNAL_DATA:
                    key, value = _entry(payload)
                    if key == "location":
                        found.add(value)
            elif number in _CHILDREN[kind]:
                stack.append((_CHILDREN[kind][number], payload))
    return found
