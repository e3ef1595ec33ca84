"""diff_recipes: each field change is summarised in words; equal recipes give no changes."""

from __future__ import annotations

import pytest

from studio.recipe import Recipe, latent_for_seed
from studio.recipe_diff import Change, change_label, diff_recipes, format_value

SHA_A = "a" * 64
SHA_B = "b" * 64
BASE = Recipe("gen-a", "1", seed=3, prompt="a lake")


def summaries(a: Recipe, b: Recipe) -> list[str]:
    return [c.summary for c in diff_recipes(a, b)]


def test_equal_recipes_have_no_changes() -> None:
    assert diff_recipes(BASE, BASE) == []
    assert diff_recipes(BASE, Recipe("gen-a", "1", seed=3, prompt="a   lake")) == []  # same once cleaned
    assert change_label([]) == "same recipe"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"prompt": "a misty lake"}, "prompt: 'a lake' → 'a misty lake'"),
        ({"prompt": ""}, "prompt: 'a lake' → (anything)"),
        ({"seed": 7}, "seed 3 → 7"),
        ({"size": 512}, "size 256 → 512px"),
        ({"model": "gen-b", "model_version": "2"}, "model gen-a 1 → gen-b 2"),
        ({"sketch": SHA_A}, "sketch"),
        ({"mask": SHA_A}, "mask"),
        ({"strength": 0.8}, "strength 0 → 0.8"),
        ({"extra": {"imported": "x.png"}}, "imported: — → x.png"),
        ({"extra": {"base_image": SHA_A}}, "base image set"),
        ({"extra": {"text_embedding": [0.1] * 384}}, "embedding set"),
    ],
)
def test_each_field_change_is_summarised(changes: dict, expected: str) -> None:
    after = BASE.replace(**changes)
    assert summaries(BASE, after) == [expected]
    change = diff_recipes(BASE, after)[0]
    assert isinstance(change, Change)
    assert change.before != change.after


def test_asset_edits_and_removals() -> None:
    painted = BASE.replace(sketch=SHA_A, mask=SHA_A)
    assert summaries(painted, painted.replace(sketch=SHA_B)) == ["sketch edited"]
    assert summaries(painted, painted.replace(mask=None)) == ["mask removed"]


def test_new_sound_reads_with_its_strength() -> None:
    sounded = BASE.replace(sound=SHA_A, strength=0.6)
    assert summaries(BASE, sounded) == ["sound 0.6", "strength 0 → 0.6"]
    assert change_label(diff_recipes(BASE, sounded)) == "sound 0.6"  # strength folded in
    assert summaries(sounded, sounded.replace(sound=SHA_B)) == ["sound edited"]
    assert summaries(sounded, sounded.replace(strength=0.9)) == ["strength 0.6 → 0.9"]


def test_latent_is_described_not_dumped() -> None:
    z = latent_for_seed(3, 64)
    explicit = BASE.replace(latent=tuple(z.tolist()))
    assert summaries(BASE, explicit) == ["custom latent"]
    assert summaries(explicit, BASE) == ["latent from seed"]
    jittered = explicit.replace(latent=tuple((z + 0.05 * latent_for_seed(9, 64)).tolist()))
    (jitter,) = summaries(explicit, jittered)
    assert jitter.startswith("latent jitter (Δ ") and len(jitter) < 30
    other = explicit.replace(latent=tuple(latent_for_seed(99, 64).tolist()))
    assert summaries(explicit, other)[0].startswith("latent changed")
    assert summaries(explicit, explicit.replace(latent=(1.0, 2.0))) == ["latent size 64 → 2"]
    assert format_value(explicit.latent) == "64 numbers"


def test_extra_changes_are_short() -> None:
    a = BASE.replace(extra={"text_embedding": [0.1] * 384, "imported": "a.png", "deep": {"x": 1}})
    b = BASE.replace(extra={"text_embedding": [0.2] * 384, "imported": "b.png", "deep": {"x": 2}})
    assert summaries(a, b) == ["deep changed", "imported: a.png → b.png", "embedding changed"]
    assert summaries(a, BASE) == ["deep removed", "imported: a.png → —", "embedding removed"]


def test_several_changes_make_one_label() -> None:
    after = BASE.replace(prompt="a sea", seed=4, size=128, sketch=SHA_A)
    label = change_label(diff_recipes(BASE, after))
    assert label == "prompt: 'a lake' → 'a sea' · seed 3 → 4 · size 256 → 128px · +1 more"


def test_long_prompts_and_asset_ids_are_shortened() -> None:
    after = BASE.replace(prompt="a very long prompt about mountains, lakes and an endless sky at dawn")
    (summary,) = summaries(BASE, after)
    assert "…" in summary and len(summary) < 90
    assert format_value(SHA_A) == "aaaaaaaa"
    assert format_value(None) == "—"


def test_bad_input_is_refused_clearly() -> None:
    with pytest.raises(TypeError, match="two Recipes"):
        diff_recipes(BASE, {"seed": 3})  # type: ignore[arg-type]


def test_imagined_layouts_read_as_layout_changes() -> None:
    imagined = Recipe("m", "1", seed=1, prompt="x", sketch="a" * 64, extra={"layout": "prior 1 #3"})
    other = imagined.replace(seed=2, sketch="b" * 64, extra={"layout": "prior 1 #9"})
    painted = imagined.replace(sketch="c" * 64, extra={})
    plain = Recipe("m", "1", seed=1, prompt="x")
    assert change_label(diff_recipes(imagined, other)) == "seed 1 → 2 · layout #3 → #9"
    assert change_label(diff_recipes(imagined, painted)) == "sketch painted"
    assert change_label(diff_recipes(plain, imagined)) == "layout #3"
    assert change_label(diff_recipes(imagined, plain)) == "layout removed"
