"""The nine kernels, the convolutional loss, the multi-task loss and the regulariser."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from scipy import ndimage  # noqa: E402

from mtmri_lib.losses import (  # noqa: E402
    KERNEL_NAMES,
    KERNELS,
    ConvolutionalLoss,
    check_deltas,
    convolutional_loss,
    kernel_responses,
    labelled_restoration,
    multitask_loss,
    residual_regulariser,
    training_objective,
)
from mtmri_lib.models import TASKS  # noqa: E402
from mtmri_lib.report.views import kernel_loss_table  # noqa: E402

#: Table 1 as FACTS.md gives it (the released code's values): raw kernel and divisor.
TABLE_1 = {
    "identity": ([[0, 0, 0], [0, 1, 0], [0, 0, 0]], 1),
    "prewitt_top": ([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], 6),
    "prewitt_right": ([[1, 0, -1], [1, 0, -1], [1, 0, -1]], 6),
    "sobel3_top": ([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], 8),
    "sobel3_right": ([[1, 0, -1], [2, 0, -2], [1, 0, -1]], 8),
    "sobel5_top": (
        [[-2, -2, -4, -2, -2], [-1, -1, -2, -1, -1], [0] * 5, [1, 1, 2, 1, 1], [2, 2, 4, 2, 2]],
        36,
    ),
    "sobel5_right": (
        [[2, 1, 0, -1, -2]] * 2 + [[4, 2, 0, -2, -4]] + [[2, 1, 0, -1, -2]] * 2,
        36,
    ),
    "laplace3": ([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], 8),
    "laplace5": (
        [
            [0, 0, -1, 0, 0],
            [0, -1, -2, -1, 0],
            [-1, -2, 16, -2, -1],
            [0, -1, -2, -1, 0],
            [0, 0, -1, 0, 0],
        ],
        32,
    ),
}


def _images(shape=(3, 16, 16, 1), seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(
        np.float32
    )


def _random_deltas(seed=1):
    rng = np.random.default_rng(seed)
    return {name: float(rng.uniform()) for name in KERNEL_NAMES}


def _np(x):
    return keras.ops.convert_to_numpy(x)


# --- kernels --------------------------------------------------------------------------------


def test_kernels_are_table_1_normalised():
    assert tuple(KERNELS) == KERNEL_NAMES == tuple(TABLE_1)
    for name, (raw, divisor) in TABLE_1.items():
        np.testing.assert_array_equal(KERNELS[name], np.array(raw) / divisor)
        assert np.isclose(np.abs(KERNELS[name]).sum(), 1.0)
        # Every kernel but the identity is a derivative: it ignores a constant offset.
        assert np.isclose(KERNELS[name].sum(), 1.0 if name == "identity" else 0.0)


def test_kernels_are_read_only():
    with pytest.raises(ValueError):
        KERNELS["laplace3"][1, 1] = 0.0


def test_top_kernels_respond_to_vertical_change():
    # Rows increase downwards by 1: "top" kernels give +1 inside, "right" kernels 0.
    ramp = np.tile(np.arange(12.0)[:, None], (1, 12))
    responses = kernel_responses(ramp)
    inner = (slice(3, -3), slice(3, -3))
    for name in ("prewitt_top", "sobel3_top"):
        np.testing.assert_allclose(responses[name][inner], 1.0)
    # Sobel 5x5: rows weighted -12, -6, 0, 6, 12 at offsets -2..2: (2 * 24 + 2 * 6) / 36.
    np.testing.assert_allclose(responses["sobel5_top"][inner], 60 / 36)
    for name in ("prewitt_right", "sobel3_right", "sobel5_right", "laplace3", "laplace5"):
        np.testing.assert_allclose(responses[name][inner], 0.0, atol=1e-12)


# --- convolutional loss ---------------------------------------------------------------------


def test_identity_only_is_mse():
    y_true, y_pred = _images()
    mse = float(keras.losses.MeanSquaredError()(y_true, y_pred))
    for loss in (ConvolutionalLoss(), ConvolutionalLoss({"identity": 1.0})):
        value = float(loss(y_true, y_pred))
        assert value == pytest.approx(mse, rel=1e-6)
    per_image = _np(convolutional_loss(y_true, y_pred))
    np.testing.assert_allclose(
        per_image, np.mean((y_true - y_pred) ** 2, axis=(1, 2, 3)), rtol=1e-6
    )


def test_loss_of_identical_images_is_zero():
    y, _ = _images()
    assert float(ConvolutionalLoss(_random_deltas())(y, y)) == 0.0


def test_hand_computed_values():
    # One unit pixel in the corner of a 4 x 4 difference: zero padding keeps three of the
    # Laplace 3x3 taps, (4^2 + 1 + 1) / 8^2 summed, over 16 pixels.
    corner = np.zeros((1, 4, 4, 1), np.float32)
    corner[0, 0, 0, 0] = 1.0
    zero = np.zeros_like(corner)
    value = float(ConvolutionalLoss({"laplace3": 1.0})(corner, zero))
    assert value == pytest.approx(18 / 64 / 16, rel=1e-6)
    # A unit pixel in the middle of 5 x 5: every tap counts. Prewitt: 6 / 36 / 25; Laplace
    # 5x5: (16^2 + 4 * 2^2 + 8 * 1) / 32^2 / 25; weighted 0.5 and 2.
    centre = np.zeros((1, 5, 5, 1), np.float32)
    centre[0, 2, 2, 0] = 1.0
    value = float(
        ConvolutionalLoss({"prewitt_top": 0.5, "laplace5": 2.0})(np.zeros_like(centre), centre)
    )
    expected = 0.5 * 6 / 36 / 25 + 2.0 * (256 + 16 + 8) / 1024 / 25
    assert value == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("channels", [1, 2])
def test_equals_scipy_correlation_with_zero_padding(channels):
    # The reference: scipy.ndimage.correlate, mode "constant" (zero padding), in float64.
    y_true, y_pred = _images((2, 13, 11, channels), seed=2)
    deltas = _random_deltas(3)
    difference = (y_true - y_pred).astype(np.float64)
    expected = [
        np.mean(
            [
                sum(
                    deltas[name]
                    * np.mean(
                        ndimage.correlate(difference[b, ..., c], KERNELS[name], mode="constant")
                        ** 2
                    )
                    for name in KERNEL_NAMES
                )
                for c in range(channels)
            ]
        )
        for b in range(2)
    ]
    np.testing.assert_allclose(_np(convolutional_loss(y_true, y_pred, deltas)), expected, rtol=1e-5)


def test_symmetric_and_rank_three_input():
    y_true, y_pred = _images(seed=4)
    deltas = _random_deltas(5)
    a = _np(convolutional_loss(y_true, y_pred, deltas))
    np.testing.assert_allclose(_np(convolutional_loss(y_pred, y_true, deltas)), a, rtol=1e-6)
    np.testing.assert_allclose(
        _np(convolutional_loss(y_true[..., 0], y_pred[..., 0], deltas)), a, rtol=1e-6
    )


def test_all_zero_deltas_give_zero():
    y_true, y_pred = _images()
    np.testing.assert_array_equal(_np(convolutional_loss(y_true, y_pred, {"identity": 0.0})), 0)


def test_check_deltas():
    assert check_deltas(None) == {name: float(name == "identity") for name in KERNEL_NAMES}
    assert check_deltas({"laplace5": 0.4})["laplace5"] == 0.4
    with pytest.raises(ValueError, match="unknown kernel"):
        check_deltas({"sobel7_top": 1.0})
    with pytest.raises(ValueError, match="finite and >= 0"):
        check_deltas({"identity": -0.1})
    with pytest.raises(ValueError, match="finite and >= 0"):
        check_deltas({"identity": float("nan")})
    with pytest.raises(TypeError):
        check_deltas([0.3, 0.2])


def test_config_round_trip_and_serialisation():
    loss = ConvolutionalLoss({"identity": 0.3, "sobel3_top": 0.7}, name="lc")
    again = ConvolutionalLoss.from_config(loss.get_config())
    assert again.deltas == loss.deltas and again.name == "lc"
    config = keras.saving.serialize_keras_object(loss)
    assert config["registered_name"] == "mtmri>ConvolutionalLoss"
    restored = keras.saving.deserialize_keras_object(config, safe_mode=True)
    y_true, y_pred = _images(seed=6)
    assert float(restored(y_true, y_pred)) == float(loss(y_true, y_pred))


def test_numpy_table_matches_the_tensor_loss():
    y_true, y_pred = _images((1, 20, 20, 1), seed=7)
    deltas = _random_deltas(8)
    table = kernel_loss_table(y_true[0, ..., 0], {"x": y_pred[0, ..., 0]}, deltas)
    assert table.loc["x", "identity"] == pytest.approx(table.loc["x", "MSE"])
    tensor = float(convolutional_loss(y_true, y_pred, deltas)[0])
    assert table.loc["x", "L_C"] == pytest.approx(tensor, rel=1e-5)
    for name in KERNEL_NAMES:
        single = float(convolutional_loss(y_true, y_pred, {name: 1.0})[0])
        assert table.loc["x", name] == pytest.approx(single, rel=1e-5)


# --- multi-task loss and regulariser --------------------------------------------------------


def _residuals(seed=9, shape=(4, 8, 8, 1)):
    rng = np.random.default_rng(seed)
    return {task: rng.standard_normal(shape).astype(np.float32) for task in TASKS}


def _numpy_znorm(x):
    centred = x - x.mean(axis=(1, 2, 3), keepdims=True)
    return centred / np.sqrt(np.mean(centred**2, axis=(1, 2, 3), keepdims=True))


def test_only_the_labelled_residual_counts():
    residuals = _residuals()
    u, clean = _images((4, 8, 8, 1), seed=10)
    labels = np.array([0, 1, 2, 3])
    one_hot = np.eye(4, dtype=np.float32)[labels]
    restored = _np(labelled_restoration(u, residuals, one_hot, TASKS))
    for b, label in enumerate(labels):
        expected = _numpy_znorm((u + residuals[TASKS[label]])[b : b + 1])
        np.testing.assert_allclose(restored[b : b + 1], expected, atol=1e-5)
    value = float(multitask_loss(clean, u, residuals, one_hot, TASKS))
    assert value == pytest.approx(np.mean((clean - restored) ** 2), rel=1e-5)


def test_unlabelled_heads_get_no_gradient_from_the_reconstruction():
    residuals = {k: tf.Variable(v) for k, v in _residuals(11).items()}
    u, clean = _images((4, 8, 8, 1), seed=12)
    one_hot = np.eye(4, dtype=np.float32)[[2, 2, 0, 2]]  # motion, motion, bias, motion
    with tf.GradientTape() as tape:
        loss = multitask_loss(clean, u, residuals, one_hot, TASKS, {"laplace3": 1, "identity": 1})
    grads = dict(zip(TASKS, tape.gradient(loss, [residuals[t] for t in TASKS]), strict=True))
    assert grads["subsampling"] is None or not np.any(_np(grads["subsampling"]))
    assert grads["noise"] is None or not np.any(_np(grads["noise"]))
    bias = _np(grads["bias"])
    assert np.any(bias[2]) and not np.any(bias[[0, 1, 3]])
    assert np.any(_np(grads["motion"])[[0, 1, 3]])


def test_regulariser_paper_and_code():
    residuals = _residuals(13)
    squares = sum(np.mean(r**2) for r in residuals.values())
    absolutes = sum(np.mean(np.abs(r)) for r in residuals.values())
    assert float(residual_regulariser(residuals, 0.5)) == pytest.approx(0.5 * squares, rel=1e-6)
    code = float(residual_regulariser(residuals, 0.5, fidelity="code"))
    assert code == pytest.approx(0.5 * absolutes, rel=1e-6)
    only_noise = float(residual_regulariser(residuals, 1.0, tasks=("noise",)))
    assert only_noise == pytest.approx(np.mean(residuals["noise"] ** 2), rel=1e-6)
    assert float(residual_regulariser(residuals, 0.0)) == 0.0
    with pytest.raises(ValueError, match="alpha"):
        residual_regulariser(residuals, -1.0)
    with pytest.raises(ValueError, match="fidelity"):
        residual_regulariser(residuals, 1.0, fidelity="text")


def test_training_objective_adds_the_parts():
    residuals = _residuals(14)
    u, clean = _images((4, 8, 8, 1), seed=15)
    outputs = {**residuals, "image": u}
    one_hot = np.eye(4, dtype=np.float32)[[3, 1, 0, 2]]
    deltas = {"identity": 0.3, "sobel5_right": 0.6}
    parts = training_objective(outputs, u, clean, one_hot, deltas=deltas, alpha=0.7)
    assert float(parts["loss"]) == pytest.approx(
        float(parts["reconstruction"]) + float(parts["regulariser"]), rel=1e-6
    )
    assert float(parts["reconstruction"]) == pytest.approx(
        float(multitask_loss(clean, u, residuals, one_hot, TASKS, deltas)), rel=1e-6
    )
    assert float(parts["regulariser"]) == pytest.approx(
        float(residual_regulariser(residuals, 0.7)), rel=1e-6
    )


def test_training_objective_of_a_single_task_model():
    u, clean = _images((2, 8, 8, 1), seed=16)
    noise = _residuals(17, (2, 8, 8, 1))["noise"]
    outputs = {"noise": noise, "image": u}
    parts = training_objective(outputs, u, clean, np.ones((2, 1), np.float32), alpha=0.1)
    expected = np.mean((clean - _numpy_znorm(u + noise)) ** 2) + 0.1 * np.mean(noise**2)
    assert float(parts["loss"]) == pytest.approx(expected, rel=1e-5)


@pytest.mark.slow
def test_custom_training_step_reduces_the_objective():
    from mtmri_lib.models import build_model

    model = build_model("smoke", seed=0)
    optimizer = keras.optimizers.RMSprop(learning_rate=1e-3)
    rng = np.random.default_rng(18)
    clean = rng.standard_normal((8, 32, 32, 1)).astype(np.float32)
    u = clean + 0.5 * rng.standard_normal(clean.shape).astype(np.float32)
    one_hot = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 8)]

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            parts = training_objective(
                model(u, training=True),
                u,
                clean,
                one_hot,
                deltas={"identity": 1, "laplace5": 1},
                alpha=0.5,
            )
        grads = tape.gradient(parts["loss"], model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights, strict=True))
        return parts["loss"]

    losses = [float(step()) for _ in range(30)]
    assert np.all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
