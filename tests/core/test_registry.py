"""ModelRegistry on real manifests and ONNX files: good models load, each kind of damage is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_models import build_text_encoder, copy_model, text_encoder_name, write_custom_op_model

from studio.inference.registry import ModelError, ModelRegistry, UnknownModelError


@pytest.fixture
def folder(models_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny models that a test may damage."""
    target = tmp_path / "models"
    for name in (text_encoder_name(models_dir), "tiny-gen", "tiny-up"):
        copy_model(models_dir, name, target)
    return target


def edit_manifest(folder: Path, name: str, **changes: object) -> None:
    path = folder / f"{name}.json"
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(json.dumps(data))


def messages(registry: ModelRegistry) -> str:
    return "\n".join(p.message for p in registry.problems)


def test_good_models_load(folder: Path) -> None:
    registry = ModelRegistry([folder])
    assert registry.problems == []
    assert sorted(m.kind for m in registry.models()) == ["generator", "text_encoder", "upscaler"]
    gen = registry.get("tiny-gen")
    assert (gen.resolution, gen.z_dim, len(gen.label_classes)) == (16, 8, 11)
    assert gen.label_classes[0].name == "unknown"
    assert registry.generators() == [gen]
    assert registry.text_encoder_for(gen).kind == "text_encoder"
    up = registry.upscaler_for(gen)
    assert up is not None and (up.resolution, up.scale) == (16, 2)


def test_tokenizer_json_is_not_taken_for_a_manifest(folder: Path) -> None:
    assert any(p.name.endswith(".tokenizer.json") for p in folder.iterdir())
    assert ModelRegistry([folder]).problems == []


def test_missing_key_names_file_and_field(folder: Path) -> None:
    edit_manifest(folder, "tiny-gen", z_dim=None)
    registry = ModelRegistry([folder])
    assert "tiny-gen.json: field 'z_dim' is missing" in messages(registry)
    assert registry.generators() == []


def test_wrong_type_names_file_and_field(folder: Path) -> None:
    edit_manifest(folder, "tiny-up", scale="2")
    assert "tiny-up.json: field 'scale' must be int, not str" in messages(ModelRegistry([folder]))


def test_bad_label_classes_and_shapes(folder: Path) -> None:
    edit_manifest(folder, "tiny-gen", label_classes=[{"index": 0, "name": "unknown", "color": [0, 0, 0]}])
    assert "label_classes" in messages(ModelRegistry([folder]))
    edit_manifest(folder, "tiny-gen", label_classes=[{"index": 0, "name": "u", "color": [0, 0, 300]}] * 11)
    assert "label_classes[0].color" in messages(ModelRegistry([folder]))


def test_manifest_not_json(folder: Path) -> None:
    (folder / "tiny-up.json").write_text("{not json")
    assert "tiny-up.json: manifest is not valid JSON" in messages(ModelRegistry([folder]))


def test_onnx_without_manifest_and_manifest_without_onnx(folder: Path) -> None:
    (folder / "tiny-up.json").rename(folder / "stray.json")
    text = messages(ModelRegistry([folder]))
    assert "tiny-up.onnx has no manifest" in text
    assert "stray.json: the model file stray.onnx is missing" in text


def test_hash_mismatch_is_refused(folder: Path) -> None:
    with (folder / "tiny-up.onnx").open("ab") as handle:
        handle.write(b"\0")
    registry = ModelRegistry([folder])
    assert "tiny-up.onnx: sha256 is" in messages(registry)
    assert "re-export" in messages(registry)
    with pytest.raises(UnknownModelError):
        registry.get("tiny-up")


def test_hash_cache_notices_a_changed_file(folder: Path, synesthesia_home: Path) -> None:
    assert ModelRegistry([folder]).problems == []
    assert (synesthesia_home / "cache" / "sha256.json").is_file()
    with (folder / "tiny-up.onnx").open("ab") as handle:
        handle.write(b"\0")
    registry = ModelRegistry([folder])
    assert "tiny-up.onnx: sha256 is" in messages(registry)
    with pytest.raises(
        UnknownModelError, match="'tiny-up' is installed but cannot be used: tiny-up.onnx: sha256"
    ):
        registry.get("tiny-up")


def test_unknown_model_lists_known_names(folder: Path) -> None:
    with pytest.raises(UnknownModelError) as info:
        ModelRegistry([folder]).get("nope")
    assert "'nope'" in str(info.value) and "tiny-gen" in str(info.value)
    assert isinstance(info.value, ModelError)


def test_space_mismatch_makes_generator_unusable(folder: Path, tmp_path: Path) -> None:
    edit_manifest(folder, "tiny-gen", embedding_space="other-space")
    registry = ModelRegistry([folder])
    assert registry.generators() == []
    assert "needs a text encoder of embedding space 'other-space'" in messages(registry)
    assert "minilm-l6-v2" in messages(registry)


def test_missing_upscaler_keeps_generator(folder: Path) -> None:
    edit_manifest(folder, "tiny-gen", upscaler="gone")
    registry = ModelRegistry([folder])
    gen = registry.get("tiny-gen")
    assert registry.upscaler_for(gen) is None
    assert "names upscaler 'gone', which is not installed" in messages(registry)


def test_custom_op_domain_is_refused_unless_allowed(folder: Path) -> None:
    write_custom_op_model(folder)
    text = messages(ModelRegistry([folder]))
    assert "custom operator domain(s) ['evil.ops']" in text
    assert '"allow_custom_ops": true' in text
    edit_manifest(folder, "custom", allow_custom_ops=True)
    registry = ModelRegistry([folder])
    assert registry.problems == []
    assert registry.get("custom").allow_custom_ops


def test_manifest_must_match_graph_names(folder: Path) -> None:
    edit_manifest(folder, "tiny-up", outputs=[{"name": "big", "shape": ["N", 3, 32, 32], "dtype": "float32"}])
    assert "'outputs' lists ['big'] but the ONNX graph gives ['upscaled']" in messages(
        ModelRegistry([folder])
    )


def test_later_folder_overrides_only_with_newer_version(
    folder: Path, models_dir: Path, tmp_path: Path
) -> None:
    user = tmp_path / "user"
    copy_model(models_dir, "tiny-up", user)
    edit_manifest(user, "tiny-up", version="1.0")
    registry = ModelRegistry([folder, user])
    assert registry.get("tiny-up").manifest_path.parent == folder
    assert "tiny-up 1.0 is ignored" in messages(registry)
    edit_manifest(user, "tiny-up", version="1.10")
    registry = ModelRegistry([folder, user])
    assert registry.get("tiny-up").manifest_path.parent == user
    assert "overridden by newer 1.10" in messages(registry)


def test_missing_folders_are_fine(tmp_path: Path) -> None:
    registry = ModelRegistry([tmp_path / "nothing"])
    assert registry.models() == [] and registry.problems == []


def test_default_folders_follow_environment(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNESTHESIA_MODELS", str(folder))
    registry = ModelRegistry()
    assert folder in registry.folders
    assert registry.get("tiny-gen").path == folder / "tiny-gen.onnx"


def test_text_encoder_of_other_space_is_not_paired(tmp_path: Path, folder: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    build_text_encoder(other, name="other-text", space="clap")
    copy_model(folder, "tiny-gen", other)
    registry = ModelRegistry([other])
    assert registry.generators() == []
    assert "text encoder spaces: clap" in messages(registry)
