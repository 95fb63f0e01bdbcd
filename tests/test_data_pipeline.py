"""Training-sample pipeline: shapes, labels, reproducibility per (seed, epoch, index), Keras."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mtmri_lib.data import SampleGenerator, load_slice_sets, training_sample
from mtmri_lib.data.samples import epoch_order

KINDS = ("bias", "subsampling", "motion", "noise")


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return np.asarray(load_slice_sets("smoke", splits=("train",))["train"].images[:12])


def _digest(batch) -> str:
    x, y = batch
    digest = hashlib.sha256(x.tobytes())
    digest.update(y["clean"].tobytes())
    digest.update(y["label"].tobytes())
    return digest.hexdigest()


def test_batch_is_a_pair_of_float32_images_and_a_one_hot_label(clean):
    generator = SampleGenerator(clean, batch_size=5, seed=0)
    assert generator.n_batches == 3  # 12 slices: 5 + 5 + 2
    batch = generator.batch(0, 0)
    assert isinstance(batch, tuple) and len(batch) == 2  # never (x, y, sample_weight)
    x, y = batch
    assert set(y) == {"clean", "label"}
    assert x.shape == y["clean"].shape == (5, 32, 32, 1)
    assert x.dtype == y["clean"].dtype == y["label"].dtype == np.float32
    assert y["label"].shape == (5, 4)
    np.testing.assert_array_equal(y["label"].sum(axis=1), 1)
    # Both images z-normalised per slice.
    for images in (x, y["clean"]):
        np.testing.assert_allclose(images.mean(axis=(1, 2, 3)), 0, atol=1e-5)
        np.testing.assert_allclose(images.std(axis=(1, 2, 3)), 1, atol=1e-4)
    assert generator.batch(0, 2)[0].shape[0] == 2
    assert SampleGenerator(clean, batch_size=5, drop_last=True).n_batches == 2


def test_same_seed_epoch_index_same_sample(clean):
    one = SampleGenerator(clean, batch_size=4, seed=7)
    two = SampleGenerator(clean, batch_size=4, seed=7)
    # Batch order does not matter (workers, Keras shuffling): compare out of order.
    assert _digest(one.batch(2, 1)) == _digest(two.batch(2, 1))
    assert _digest(one.batch(2, 0)) == _digest(two.batch(2, 0))
    assert _digest(one.batch(3, 1)) != _digest(one.batch(2, 1))
    assert _digest(SampleGenerator(clean, batch_size=4, seed=8).batch(2, 1)) != _digest(
        one.batch(2, 1)
    )
    sample = training_sample(clean[0], 7, 2, 5)
    again = training_sample(clean[0], 7, 2, 5)
    np.testing.assert_array_equal(sample.corrupted, again.corrupted)
    assert sample.params == again.params


def test_sample_is_reproducible_in_another_process(clean):
    here = _digest(SampleGenerator(clean, batch_size=4, seed=11).batch(1, 2))
    script = textwrap.dedent(
        """
        import hashlib
        import numpy as np
        from mtmri_lib.data import SampleGenerator, load_slice_sets
        clean = np.asarray(load_slice_sets("smoke", splits=("train",))["train"].images[:12])
        x, y = SampleGenerator(clean, batch_size=4, seed=11).batch(1, 2)
        digest = hashlib.sha256(x.tobytes())
        digest.update(y["clean"].tobytes())
        digest.update(y["label"].tobytes())
        print(digest.hexdigest())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == here


def test_epochs_visit_every_slice_in_a_new_order():
    first, second = epoch_order(20, 0, 0), epoch_order(20, 0, 1)
    assert sorted(first) == sorted(second) == list(range(20))
    assert list(first) != list(second)
    assert list(epoch_order(20, 0, 1, shuffle=False)) == list(range(20))


def test_single_task_and_uniform_kinds(clean):
    generator = SampleGenerator(clean, batch_size=12, tasks=("noise",), seed=0)
    _, y = generator.batch(0, 0)
    assert y["label"].shape == (12, 1) and np.all(y["label"] == 1)
    assert {generator.sample(0, i).kind for i in range(12)} == {"noise"}
    # Uniform over the four kinds: a chi-square test over 400 label draws.
    from mtmri_lib.data.samples import sample_rng

    labels = [int(sample_rng(0, 0, i).integers(4)) for i in range(400)]
    counts = np.bincount(labels, minlength=4)
    chi2 = float(((counts - 100) ** 2 / 100).sum())
    assert chi2 < 16.27  # 99.9 % quantile of chi-square with 3 degrees of freedom
    with pytest.raises(ValueError, match="tasks"):
        SampleGenerator(clean, tasks=("blur",))
    with pytest.raises(ValueError, match="not in tasks"):
        SampleGenerator(clean, tasks=("noise",), artefact_options={"motion": {"motion": "mixed"}})


def test_pinned_options_reach_their_artefact(clean):
    sample = training_sample(
        clean[0], 0, 0, 0, tasks=("motion",), artefact_options={"motion": {"motion": "periodic"}}
    )
    assert sample.params["motion"] == "periodic"


def test_global_random_state_untouched(clean):
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - the legacy global state itself
    SampleGenerator(clean, batch_size=4, seed=0).batch(0, 0)
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


@pytest.mark.slow
def test_keras_fit_reads_the_pairs_and_advances_epochs(clean):
    keras = pytest.importorskip("keras")
    from mtmri_lib.data import ArtefactDataset

    train = ArtefactDataset(clean, batch_size=4, seed=0, workers=2)
    validation = ArtefactDataset(clean, batch_size=4, seed=1, shuffle=False, vary_with_epoch=False)
    assert len(train) == 3
    first = _digest(train[0])
    inputs = keras.Input((32, 32, 1))
    features = keras.layers.Conv2D(2, 3, padding="same")(inputs)
    outputs = {
        "clean": keras.layers.Conv2D(1, 1, name="clean")(features),
        "label": keras.layers.Dense(4, activation="softmax", name="label")(
            keras.layers.GlobalAveragePooling2D()(features)
        ),
    }
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss={"clean": "mse", "label": "categorical_crossentropy"})
    history = model.fit(train, validation_data=validation, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert train.epoch == 2 and validation.epoch == 0
    train.set_epoch(0)
    assert _digest(train[0]) == first


def test_validation_batches_are_made_once_and_are_the_same_bits(clean, monkeypatch):
    from mtmri_lib.data.pipeline import ArtefactDataset

    made = []
    fixed = ArtefactDataset(clean, batch_size=4, seed=3, shuffle=False, vary_with_epoch=False)
    fresh = ArtefactDataset(
        clean, batch_size=4, seed=3, shuffle=False, vary_with_epoch=False, cache_bytes=0
    )
    original = fixed.generator.batch
    monkeypatch.setattr(fixed.generator, "batch", lambda *a: made.append(a) or original(*a))
    for _ in range(3):  # three epochs
        fixed.on_epoch_begin()
        for index in range(len(fixed)):
            batch, expected = fixed[index], fresh[index]
            assert np.array_equal(batch[0], expected[0])
            for key in expected[1]:
                assert np.array_equal(batch[1][key], expected[1][key])
        fixed.on_epoch_end()
    assert len(made) == len(fixed)  # each batch simulated once


def test_training_batches_are_not_cached_and_the_cache_is_bounded(clean):
    from mtmri_lib.data.pipeline import ArtefactDataset

    training = ArtefactDataset(clean, batch_size=4, seed=3)
    training[0]
    assert training._cache == {}
    small = ArtefactDataset(
        clean, batch_size=4, seed=3, shuffle=False, vary_with_epoch=False, cache_bytes=1
    )
    small[0]
    assert small._cache == {}
    with pytest.raises(ValueError, match="cache_bytes"):
        ArtefactDataset(clean, cache_bytes=-1)
