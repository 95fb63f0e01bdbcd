"""The dual-domain network: configurations, parameter counts, outputs, saving and loading."""

from __future__ import annotations

import json
import random
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from mtmri_lib import layers as mtmri_layers  # noqa: E402
from mtmri_lib.fourier import fft2c, ifft2c  # noqa: E402
from mtmri_lib.losses import ConvolutionalLoss  # noqa: E402
from mtmri_lib.models import (  # noqa: E402
    MODEL_CONFIGS,
    TASKS,
    ModelConfig,
    branch_outputs,
    build_model,
    count_parameters,
    model_config,
    model_parameter_breakdown,
    parameter_breakdown,
    set_global_seed,
)
from mtmri_lib.profiles import PROFILES  # noqa: E402

#: The published count (FACTS.md, "The network"): the article's "75.4 million".
PAPER_TRAINABLE = 75_479_912
PAPER_TOTAL = 75_489_672


@pytest.fixture(scope="module")
def smoke_model():
    return build_model("smoke", seed=0)


@pytest.fixture(scope="module")
def batch():
    return np.random.default_rng(0).standard_normal((3, 32, 32, 1)).astype(np.float32)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _numpy_znorm(x):
    centred = x - x.mean(axis=(1, 2, 3), keepdims=True)
    return centred / np.sqrt(np.mean(centred**2, axis=(1, 2, 3), keepdims=True))


# --- configurations and parameter counts ---------------------------------------------------


def test_one_config_per_profile_with_its_image_size():
    assert set(MODEL_CONFIGS) == set(PROFILES)
    for name, config in MODEL_CONFIGS.items():
        assert config.image_size == PROFILES[name].image_size
        assert config.image_size % 32 == 0
        assert model_config(name) is config
    assert model_config(MODEL_CONFIGS["cpu"]) is MODEL_CONFIGS["cpu"]


def test_paper_config_is_the_recipe():
    config = MODEL_CONFIGS["paper"]
    assert config.channels == (64, 128, 256, 512, 512)
    assert config.encoder_convs == (2, 3, 3, 3, 3)
    assert config.decoder_channels == (512, 256, 128, 64, 64)
    assert (config.decoder_convs, config.bottleneck_convs, config.stem_channels) == (3, 3, 8)
    assert config.branches == ("image", "kspace")


def test_paper_parameter_count_by_arithmetic():
    count = count_parameters("paper")
    assert (count.trainable, count.total) == (PAPER_TRAINABLE, PAPER_TOTAL)
    assert 75.40e6 <= count.total <= 75.50e6


def test_paper_model_parameter_count_built():
    # Building allocates the 75 M weights (about 2 s here); no forward pass.
    model = build_model("paper")
    assert model.count_params() == PAPER_TOTAL
    assert 75.40e6 <= model.count_params() <= 75.50e6
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == PAPER_TRAINABLE
    assert model_parameter_breakdown(model) == parameter_breakdown("paper")
    assert model.input_shape == (None, 320, 320, 1)


@pytest.mark.parametrize("name", ["smoke", "cpu"])
@pytest.mark.parametrize("tasks", [TASKS, ("motion",), ("noise", "bias")])
def test_arithmetic_matches_built_model(name, tasks):
    model = build_model(name, tasks=tasks)
    assert model_parameter_breakdown(model) == parameter_breakdown(name, tasks=tasks)
    assert model.count_params() == count_parameters(name, tasks=tasks).total


def test_one_branch_config_counts():
    config = MODEL_CONFIGS["smoke"].with_(branches=("image",))
    model = build_model(config)
    assert model.count_params() == count_parameters(config).total
    assert not any(layer.name.startswith("kspace") for layer in model.layers)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"image_size": 34}, "multiple of 2 \\*\\* depth"),
        ({"encoder_convs": (1,)}, "one entry per encoder block"),
        ({"channels": (8, 0)}, "positive integer"),
        ({"branches": ("image", "image")}, "distinct"),
        ({"branches": ("wavelet",)}, "among"),
        ({"upsampling": "cubic"}, "upsampling"),
        ({"head_channels": 3}, "head_channels"),
        ({"leaky_slope": 1.5}, "leaky_slope"),
        ({"precision": "float64"}, "precision must be None or one of"),
    ],
)
def test_invalid_configs_raise(changes, message):
    with pytest.raises(ValueError, match=message):
        MODEL_CONFIGS["smoke"].with_(**changes)


def test_invalid_names_and_tasks_raise():
    with pytest.raises(
        ValueError, match="profile must be one of smoke, cpu, paper(, [a-z-]+)*; got 'gpu'"
    ):
        build_model("gpu")
    with pytest.raises(ValueError, match="among"):
        build_model("smoke", tasks=("blur",))
    with pytest.raises(ValueError, match="distinct"):
        build_model("smoke", tasks=("bias", "bias"))
    with pytest.raises(ValueError, match="at least one"):
        build_model("smoke", tasks=())


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        MODEL_CONFIGS["cpu"].image_size = 128  # type: ignore[misc]
    assert isinstance(MODEL_CONFIGS["cpu"].with_(image_size=128), ModelConfig)


# --- outputs --------------------------------------------------------------------------------


def test_outputs_are_residuals_and_the_znormalised_sum(smoke_model, batch):
    out = {k: _np(v) for k, v in smoke_model(batch, training=False).items()}
    assert set(out) == {*TASKS, "image"}
    for value in out.values():
        assert value.shape == batch.shape and value.dtype == np.float32
    expected = _numpy_znorm(batch.astype(np.float64) + sum(out[t] for t in TASKS))
    np.testing.assert_allclose(out["image"], expected, atol=1e-5)
    np.testing.assert_allclose(out["image"].mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out["image"].std(axis=(1, 2, 3)), 1, atol=1e-4)


@pytest.mark.parametrize("task", TASKS)
def test_single_task_variants(task, batch):
    model = build_model("smoke", tasks=(task,), seed=1)
    out = model(batch, training=False)
    assert set(out) == {task, "image"}
    expected = _numpy_znorm(batch + _np(out[task]))
    np.testing.assert_allclose(_np(out["image"]), expected, atol=1e-5)


def test_wrong_input_size_raises(smoke_model):
    with pytest.raises(ValueError):
        smoke_model(np.zeros((1, 64, 64, 1), np.float32))


def test_branches_see_the_image_and_its_kspace(smoke_model, batch):
    parts = branch_outputs(smoke_model, batch)
    np.testing.assert_allclose(parts["kspace_input"], fft2c(batch[..., 0]), atol=1e-5)
    out = smoke_model(batch, training=False)
    for task in TASKS:
        total = parts["image_residuals"][task] + parts["kspace_residuals"][task]
        np.testing.assert_allclose(total, _np(out[task])[..., 0], atol=1e-5)
        assert np.iscomplexobj(parts["kspace_heads"][task])
    # A single 2-D slice is accepted too.
    single = branch_outputs(smoke_model, batch[0, :, :, 0])
    np.testing.assert_allclose(single["kspace_input"][0], parts["kspace_input"][0], atol=1e-6)


def test_fft_layers_follow_the_numpy_convention(batch):
    x = np.concatenate([batch, batch[::-1]], axis=-1)  # (real, imaginary) channels
    z = x[..., 0] + 1j * x[..., 1]
    forward = _np(mtmri_layers.CentredFFT2D()(x))
    np.testing.assert_allclose(forward[..., 0] + 1j * forward[..., 1], fft2c(z), atol=1e-5)
    inverse = _np(mtmri_layers.CentredFFT2D(inverse=True)(x))
    np.testing.assert_allclose(inverse[..., 0] + 1j * inverse[..., 1], ifft2c(z), atol=1e-5)
    real_only = _np(mtmri_layers.CentredFFT2D()(batch))
    np.testing.assert_allclose(
        real_only[..., 0] + 1j * real_only[..., 1], fft2c(batch[..., 0]), atol=1e-5
    )


def test_xla_matches_eager(smoke_model, batch):
    import tensorflow as tf

    compiled = tf.function(lambda x: smoke_model(x, training=False), jit_compile=True)
    eager = smoke_model(batch, training=False)
    fast = compiled(tf.constant(batch))
    for key in eager:
        np.testing.assert_allclose(_np(fast[key]), _np(eager[key]), atol=1e-5)


# --- seeds ----------------------------------------------------------------------------------


def _weights(model):
    return [w.numpy() for w in model.weights]


def test_seeded_build_is_reproducible_and_leaves_global_state_alone():
    numpy_state = np.random.get_state()  # noqa: NPY002 (checking it)
    python_state = random.getstate()
    a, b, c = (build_model("smoke", seed=s) for s in (7, 7, 8))
    after = np.random.get_state()  # noqa: NPY002
    assert after[1].tolist() == numpy_state[1].tolist()
    assert random.getstate() == python_state
    for wa, wb in zip(_weights(a), _weights(b), strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(_weights(a), _weights(c), strict=True))
    # Kernels of equal shape inside one model do not share their draw.
    kernels = [layer.kernel.numpy() for layer in a.layers if hasattr(layer, "kernel")]
    same_shape = [k for k in kernels if k.shape == kernels[2].shape]
    assert len(same_shape) > 1 and not np.array_equal(same_shape[0], same_shape[1])


def test_global_seed_helper_reproduces_unseeded_builds():
    numpy_state = np.random.get_state()  # noqa: NPY002 (checking it)
    python_state = random.getstate()
    try:
        set_global_seed(5)
        a = build_model("smoke")
        set_global_seed(5)
        b = build_model("smoke")
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002
        random.setstate(python_state)
    for wa, wb in zip(_weights(a), _weights(b), strict=True):
        np.testing.assert_array_equal(wa, wb)


# --- saving and loading ---------------------------------------------------------------------


# Keras' own saving code converts variables with np.array (a numpy 2 deprecation inside Keras).
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_keras_file_loads_in_safe_mode_with_identical_outputs(tmp_path, batch):
    model = build_model("smoke", seed=2)
    # Move the batch-norm statistics away from their initial values.
    rng = np.random.default_rng(3)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2, size=layer.moving_variance.shape))
    model.compile(
        optimizer="rmsprop", loss={"image": ConvolutionalLoss({"identity": 0.5, "laplace5": 1})}
    )
    model.optimizer.build(model.trainable_variables)
    path = tmp_path / "model.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    text = json.dumps(config)
    assert "Lambda" not in text and "lambda" not in text
    loaded = keras.saving.load_model(path, safe_mode=True)
    before = model(batch, training=False)
    after = loaded(batch, training=False)
    assert set(after) == set(before)
    for key in before:
        np.testing.assert_array_equal(_np(after[key]), _np(before[key]))
    loss = loaded.loss["image"] if isinstance(loaded.loss, dict) else loaded.loss
    assert isinstance(loss, ConvolutionalLoss)
    assert loss.deltas["laplace5"] == 1.0


@pytest.mark.parametrize(
    "layer",
    [
        mtmri_layers.CentredFFT2D(inverse=True),
        mtmri_layers.ChannelSlice(1, 2),
        mtmri_layers.ZNormalize(epsilon=1e-6),
        mtmri_layers.RealToComplexChannels(),
    ],
)
def test_layers_serialise(layer):
    config = keras.saving.serialize_keras_object(layer)
    assert config["registered_name"].startswith("mtmri>")
    again = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert type(again) is type(layer) and again.get_config() == layer.get_config()


def test_channel_slice_validates():
    with pytest.raises(ValueError, match="start < stop"):
        mtmri_layers.ChannelSlice(2, 1)


def test_znormalize_constant_image_gives_zeros():
    out = _np(mtmri_layers.ZNormalize()(np.full((2, 8, 8, 1), 3.0, np.float32)))
    np.testing.assert_array_equal(out, 0.0)


def test_mixed_precision_model_returns_float32(batch):
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        half = build_model("smoke", seed=0)
    finally:
        keras.config.set_dtype_policy("float32")
    full = build_model("smoke", seed=0)
    out = half(batch, training=False)
    reference = full(batch, training=False)
    assert all(value.dtype == "float32" for value in out.values())
    error = _np(out["image"]) - _np(reference["image"])
    assert np.sqrt(np.mean(error**2)) < 0.05  # bfloat16 keeps about 3 significant digits


@pytest.mark.parametrize(
    "precision, rms_bound", [("mixed_bfloat16", 0.05), ("mixed_float16", 0.01)]
)
def test_mixed_precision_config_keeps_znorm_and_loss_in_float32(precision, rms_bound, batch):
    from mtmri_lib.losses import training_objective

    half = build_model(MODEL_CONFIGS["smoke"].with_(precision=precision), seed=0)
    full = build_model("smoke", seed=0)
    half.set_weights(full.get_weights())
    compute = {layer.name: layer.compute_dtype for layer in half.layers}
    low = precision.removeprefix("mixed_")
    # The branches compute in the low precision, from float32 weights ...
    assert compute["image_stem_conv"] == compute["kspace_enc1_conv1"] == low
    assert compute["kspace_head_bias_ifft"] == low
    assert all(weight.dtype == "float32" for weight in half.weights)
    # ... the sums of the residuals and the z-normalisation in float32.
    for name in (*TASKS, "u_plus_residuals", "image"):
        assert compute[name] == "float32", name
    assert isinstance(half.get_layer("image"), mtmri_layers.ZNormalize)
    out = half(batch, training=False)
    assert all(value.dtype == "float32" for value in out.values())
    one_hot = np.eye(4, dtype=np.float32)[[0, 1, 3]]
    terms = training_objective(out, batch, batch[::-1], one_hot, deltas={"laplace5": 1}, alpha=0.5)
    assert all(keras.backend.standardize_dtype(t.dtype) == "float32" for t in terms.values())
    error = _np(out["image"]) - _np(full(batch, training=False)["image"])
    assert 0 < np.sqrt(np.mean(error**2)) < rms_bound


def test_fft_layer_transforms_its_float32_input_in_float32_under_mixed_precision(batch):
    # The k-space branch's FFT sees the float32 input image, not a float16 copy of it: only
    # its output is rounded to float16 (relative error 2^-11 per value at most).
    layer = mtmri_layers.CentredFFT2D(dtype="mixed_float16")
    raw = layer(batch)
    assert keras.backend.standardize_dtype(raw.dtype) == "float16"
    out = _np(raw).astype(np.float64)
    exact = fft2c(batch[..., 0].astype(np.float64))
    exact = np.stack([exact.real, exact.imag], axis=-1)
    assert np.all(np.abs(out - exact) <= 2.0**-11 * np.abs(exact) + 1e-6)
    # Rounding the input to float16 first (what autocasting would do) breaks that bound.
    rounded = fft2c(batch[..., 0].astype(np.float16).astype(np.float64))
    rounded = np.stack([rounded.real, rounded.imag], axis=-1).astype(np.float16)
    assert not np.all(np.abs(rounded - exact) <= 2.0**-11 * np.abs(exact) + 1e-6)
