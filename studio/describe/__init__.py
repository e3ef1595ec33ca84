"""Describe: a picture → a caption and the scene it shows (time, weather, season, features).

`captioner.py` runs an exported captioner (ONNX encoder + one decoder step, driven by numpy's
greedy or beam search in `decode.py`); `retrieval.py` is the baseline used when none is
installed (the nearest training-wording caption by the image encoder); `describe.py` picks one
and reads the caption's attributes; `match.py` scores how well a caption names what a prompt
asked for. numpy + onnxruntime only: no torch, no Qt.
"""
