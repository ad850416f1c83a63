"""Drift checks: the two numbers, and when a local edit counts as drifted."""

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from agent.checks import (
    DRIFT_LIMITS,
    RETRY_IMAGE_SCALE_STEP,
    Drift,
    has_drifted,
    is_better,
    measure_drift,
    retry_image_scale,
)
from agent.command import ScaleLimits


def circle_box(size: int) -> list[int]:
    return [size // 5, size // 5, size * 3 // 5, size * 3 // 5]


def scene(size: int = 64) -> Image.Image:
    """A textured background with a red circle, like a photo with one object."""
    noise = np.random.default_rng(0).random((size, size, 3)) * 60 + 100
    image = Image.fromarray(noise.astype(np.uint8)).filter(ImageFilter.GaussianBlur(1))
    ImageDraw.Draw(image).ellipse(circle_box(size), fill="red")
    return image


def recolour_circle(image: Image.Image) -> Image.Image:
    """A local edit: the circle turns blue, nothing else changes."""
    edited = image.copy()
    ImageDraw.Draw(edited).ellipse(circle_box(image.width), fill="blue")
    return edited


def negative(image: Image.Image) -> Image.Image:
    return Image.fromarray(255 - np.asarray(image))


def test_identical_images_have_no_drift():
    drift = measure_drift(scene(), scene())
    assert drift.mean_abs_diff == 0.0
    assert drift.ssim == pytest.approx(1.0)


def test_mean_abs_diff_is_in_pixel_levels():
    black, white = Image.new("RGB", (16, 16), "black"), Image.new("RGB", (16, 16), "white")
    assert measure_drift(black, white).mean_abs_diff == 255.0
    grey = Image.new("RGB", (16, 16), (10, 20, 30))
    assert measure_drift(black, grey).mean_abs_diff == pytest.approx(20.0)


def test_a_local_edit_drifts_less_than_a_global_change():
    original = scene()
    local, repainted = (
        measure_drift(recolour_circle(original), original),
        measure_drift(negative(original), original),
    )
    assert 0 < local.mean_abs_diff
    assert local.ssim > repainted.ssim
    assert not has_drifted(local, "local")
    assert has_drifted(repainted, "local")


@pytest.mark.parametrize(
    "change",
    [
        lambda image: Image.fromarray((np.asarray(image) * 0.4).astype(np.uint8)),  # darkened
        lambda image: image.rotate(90),  # everything moved
        negative,
    ],
)
def test_local_edits_that_repaint_the_picture_count_as_drifted(change):
    original = scene()
    assert has_drifted(measure_drift(change(original), original), "local")


def test_global_restyles_never_count_as_drifted():
    original = scene()
    assert "global" not in DRIFT_LIMITS
    assert not has_drifted(measure_drift(negative(original), original), "global")


def test_each_limit_alone_marks_a_drift():
    limit = DRIFT_LIMITS["local"]
    assert has_drifted(Drift(mean_abs_diff=limit.max_mean_abs_diff + 1, ssim=0.99), "local")
    assert has_drifted(Drift(mean_abs_diff=1.0, ssim=limit.min_ssim - 0.01), "local")
    assert not has_drifted(
        Drift(mean_abs_diff=limit.max_mean_abs_diff, ssim=limit.min_ssim), "local"
    )


def test_images_of_different_sizes_are_compared_at_the_smaller_size():
    original = scene(128)
    working_size = recolour_circle(original).resize((64, 64), Image.Resampling.LANCZOS)
    drift = measure_drift(working_size, original)
    assert drift == measure_drift(original, working_size)
    assert not has_drifted(drift, "local")


def test_small_images_are_measured():
    tiny = scene(8)
    assert measure_drift(recolour_circle(tiny), tiny).ssim < 1.0


@pytest.mark.parametrize("size", [(1, 1), (32, 1), (1, 32), (40, 2), (3, 5)])
def test_images_thinner_than_the_ssim_window_are_measured(size):
    image = scene(64).resize(size)
    assert measure_drift(image, image) == Drift(mean_abs_diff=0.0, ssim=1.0)
    drift = measure_drift(negative(image), image)
    assert drift.ssim < 1.0 and drift.mean_abs_diff > 0


def test_a_retry_within_limits_beats_a_drifted_first_attempt():
    drifted, close, closer = Drift(60.0, 0.3), Drift(20.0, 0.7), Drift(10.0, 0.9)
    assert is_better(close, drifted, "local")
    assert not is_better(drifted, close, "local")
    assert is_better(closer, close, "local")
    assert is_better(Drift(70.0, 0.45), Drift(60.0, 0.3), "local")  # both drifted: closer wins


def test_retry_raises_image_scale_and_stops_at_the_limit():
    assert retry_image_scale(1.5) == 1.5 + RETRY_IMAGE_SCALE_STEP
    assert retry_image_scale(2.8) == 3.0
    assert retry_image_scale(3.0) is None
    assert retry_image_scale(2.0, ScaleLimits(image_scale=(0.5, 2.2))) == 2.2
