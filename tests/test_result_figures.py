"""Figures 1 and 2 of the article, with a tiny untrained model: layout, titles, colour scales,
and the errors a caller sees for bad input."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

pytest.importorskip("keras")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from conftest import phantom  # noqa: E402

from mtmri_lib.artefacts import KINDS as HEADS  # noqa: E402
from mtmri_lib.correct import CorrectedVolume, correct_volume  # noqa: E402
from mtmri_lib.data import EVALUATION_SETTINGS, load_slice_sets, make_eval_sets  # noqa: E402
from mtmri_lib.data.volume import Volume  # noqa: E402
from mtmri_lib.inference import model_method  # noqa: E402
from mtmri_lib.metrics import METRICS  # noqa: E402
from mtmri_lib.models import build_model  # noqa: E402
from mtmri_lib.plotting import results as RF  # noqa: E402
from mtmri_lib.plotting.layout import COLUMN_INCHES  # noqa: E402
from mtmri_lib.report import figures as RFig  # noqa: E402


@pytest.fixture(scope="module")
def corrector():
    """The smoke network (32 x 32), untrained: its residuals are not zero, which is all the
    figures need."""
    return model_method(build_model("smoke", seed=0))


@pytest.fixture(scope="module")
def sets():
    """Figure 1's four sets and the two Table 7 sets, on three smoke test slices (in memory)."""
    test = load_slice_sets("smoke", splits=("test",))["test"].subset(np.arange(3))
    wanted = set(RFig.FIGURE1_SETS.values()) | {"subsampling+motion", "noise+bias"}
    return make_eval_sets(
        test, seed=0, settings=[s for s in EVALUATION_SETTINGS if s.name in wanted]
    )


def _images(fig):
    return [ax for ax in fig.axes if ax.images]


def _clim(ax):
    return ax.images[0].get_clim()


# --- Figure 1 --------------------------------------------------------------------------------


def test_figure1_shows_five_rows_per_artefact_with_scores_in_the_titles(sets, corrector):
    fig = RF.plot_figure1(sets, corrector, index=1)
    panels = _images(fig)
    assert len(panels) == 5 * 4
    colour_bars = [ax for ax in fig.axes if not ax.images]
    assert len(colour_bars) == 1, "one colour bar for all difference maps"
    scores = RFig.figure1_scores(sets, corrector, index=1)
    assert list(scores.index) == list(RFig.FIGURE1_SETS)
    clean = sets.clean[1]
    titles = [ax.get_title() for ax in panels]
    for artefact, name in RFig.FIGURE1_SETS.items():
        corrupted = sets[name].corrupted[1]
        # The table's numbers are the metrics of the registry, computed here independently.
        assert scores.loc[artefact, "SSIM corrupted"] == pytest.approx(
            METRICS["ssim"](clean, corrupted)
        )
        assert scores.loc[artefact, "VIF corrupted"] == pytest.approx(
            METRICS["vif"](clean, corrupted)
        )
        corrected = corrector(corrupted)
        assert scores.loc[artefact, "VIF corrected"] == pytest.approx(
            METRICS["vif"](clean, corrected), rel=1e-6
        )
        row = scores.loc[artefact]
        expected = f"SSIM {row['SSIM corrupted']:.3f}, VIF {row['VIF corrupted']:.3f}"
        assert any(artefact in t and expected in t for t in titles), (expected, titles)
        expected = f"SSIM {row['SSIM corrected']:.3f}, VIF {row['VIF corrected']:.3f}"
        assert any(expected in t for t in titles)
    assert "test slice 1" in fig.get_suptitle()


def test_figure1_differences_share_one_symmetric_scale(sets, corrector):
    fig = RF.plot_figure1(sets, corrector, index=0)
    differences = [ax for ax in _images(fig) if ax.get_title().endswith("- clean")]
    assert len(differences) == 8
    clean = sets.clean[0].astype(np.float64)
    magnitudes = []
    for name in RFig.FIGURE1_SETS.values():
        corrupted = sets[name].corrupted[0].astype(np.float64)
        magnitudes += [
            np.abs(corrupted - clean).ravel(),
            np.abs(corrector(corrupted).astype(np.float64) - clean).ravel(),
        ]
    pooled = np.concatenate(magnitudes)
    # The robust scale: the 99th percentile of every |difference| together, not the largest.
    robust = np.percentile(pooled, RF.ROBUST_PERCENTILE)
    assert robust < pooled.max()
    for ax in differences:
        low, high = _clim(ax)
        assert low == pytest.approx(-high) and high == pytest.approx(robust, rel=1e-5)
    assert any(f"{RF.ROBUST_PERCENTILE:g}th pct" in ax.get_ylabel() for ax in fig.axes)
    # At most the text column wide (676 px at 100 dpi), so 9 pt text is not shrunk.
    assert fig.get_size_inches()[0] <= COLUMN_INCHES
    greys = [ax for ax in _images(fig) if ax not in differences]
    assert {_clim(ax) for ax in greys} == {(float(clean.min()), float(clean.max()))}


def test_figure1_default_slice_is_the_one_with_most_contrast(sets, corrector):
    expected = int(np.argmax(sets.clean_01.reshape(len(sets.clean_01), -1).std(axis=1)))
    assert RFig.example_slice(sets) == expected
    assert f"test slice {expected}" in RF.plot_figure1(sets, corrector).get_suptitle()


def test_figure1_rejects_bad_input(sets, corrector):
    with pytest.raises(ValueError, match=r"index must be a test slice in \[0, 2\]"):
        RF.plot_figure1(sets, corrector, index=3)
    with pytest.raises(ValueError, match="index"):
        RF.plot_figure1(sets, corrector, index=-1)
    with pytest.raises(KeyError, match="motion_25"):
        RF.plot_figure1(sets, corrector, set_names={"motion": "motion_25"})
    with pytest.raises(ValueError, match="at least one"):
        RF.plot_figure1(sets, corrector, set_names={})

    class WrongSize:
        image_size = 64
        name = "wrong"

        def __call__(self, images):
            raise AssertionError("must not be called")

    with pytest.raises(ValueError, match="takes 64 x 64 slices, but .* 32 x 32"):
        RF.plot_figure1(sets, WrongSize(), index=0)


def test_describe_figure1_counts_what_rose():
    import pandas as pd

    scores = pd.DataFrame(
        {
            "SSIM corrupted": [0.5, 0.5],
            "SSIM corrected": [0.6, 0.4],
            "VIF corrupted": [0.3, 0.3],
            "VIF corrected": [0.4, 0.5],
        },
        index=pd.Index(["bias", "noise"], name="artefact"),
    )
    scores.attrs.update(index=4, model="MT+L_C")
    text = RFig.describe_figure1(scores)
    assert text.startswith("On test slice 4, the correction by MT+L_C")
    assert "SSIM rose for 1 of 2 (bias; not for noise)" in text
    assert "VIF rose for all 2 artefacts" in text


# --- Figure 2 --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corrected_volume(corrector):
    """Six slices of a 40 x 40 phantom, 3 mm apart with 2 mm pixels, each slightly changed."""
    slices = np.stack([phantom((40, 40)) * (1 + 0.1 * k) + 0.02 * k for k in range(6)])
    volume = Volume(
        data=slices.astype(np.float32), patient_id="p", affine=np.diag([3.0, 2.0, 2.0, 1.0])
    )
    return correct_volume(volume, corrector, progress=False)


def test_figure2_slice_residuals_and_orthogonal_view(corrected_volume):
    fig = RF.plot_figure2(corrected_volume, slice_index=2, row=20, title="Pelvis MT+L_C")
    panels = _images(fig)
    assert len(panels) == 2 + 4 + 3
    assert fig.get_suptitle() == "Pelvis MT+L_C"
    top, bottom = panels[:6], panels[6:]
    assert [ax.get_title().split("\n")[0] for ax in top[2:]] == [f"p_{h}" for h in HEADS]
    residuals = {h: corrected_volume.residuals[h][2] for h in HEADS}
    pooled = np.concatenate([np.abs(r).ravel() for r in residuals.values()])
    limit = np.percentile(pooled, RF.ROBUST_PERCENTILE)
    # Two rows of three for the slice, the orthogonal views below: the text column.
    assert fig.get_size_inches()[0] <= COLUMN_INCHES
    for ax, head in zip(top[2:], HEADS, strict=True):
        assert _clim(ax) == pytest.approx((-limit, limit), rel=1e-5)
        mean = re.search(r"mean \|p\| (\S+)", ax.get_title()).group(1)
        assert float(mean) == pytest.approx(np.abs(residuals[head]).mean(), rel=1e-2)
    assert _clim(top[0]) == _clim(top[1])
    np.testing.assert_allclose(top[1].images[0].get_array(), corrected_volume.corrected[2])
    # The orthogonal view: slices stacked vertically at their 3 mm spacing (pixels 2 mm).
    for ax in bottom:
        assert ax.images[0].get_array().shape == (6, 40)
        assert ax.get_aspect() == pytest.approx(1.5)
    np.testing.assert_allclose(bottom[0].images[0].get_array(), corrected_volume.input[:, 20, :])
    np.testing.assert_allclose(
        bottom[2].images[0].get_array(),
        corrected_volume.corrected[:, 20, :] - corrected_volume.input[:, 20, :],
        atol=1e-5,
    )
    assert _clim(bottom[0]) == _clim(bottom[1])
    low, high = _clim(bottom[2])
    assert low == pytest.approx(-high)


def test_figure2_rejects_what_it_cannot_show(corrected_volume):
    with pytest.raises(ValueError, match="slice_index must be in"):
        RF.plot_figure2(corrected_volume, slice_index=6)
    with pytest.raises(ValueError, match="row must be in"):
        RF.plot_figure2(corrected_volume, row=40)
    single = CorrectedVolume(
        corrected=corrected_volume.corrected[:1],
        residuals={h: r[:1] for h, r in corrected_volume.residuals.items()},
        input=corrected_volume.input[:1],
        affine=None,
        model_size=32,
    )
    with pytest.raises(ValueError, match="at least two slices"):
        RF.plot_figure2(single)


def test_figure2_volume_prefers_geometry_then_most_slices():
    def volume(n, affine):
        return Volume(data=np.zeros((n, 8, 8)), patient_id=str(n), affine=affine)

    chosen = RFig.figure2_volume([volume(30, None), volume(12, np.eye(4)), volume(1, np.eye(4))])
    assert chosen.patient_id == "12"
    with pytest.raises(ValueError, match="at least two slices"):
        RFig.figure2_volume([volume(1, np.eye(4))])
    packaged = RFig.figure2_volume()
    assert packaged.patient_id == "dipy_aniso_vox" and packaged.data.shape[0] == 24


def test_volume_residual_table_tells_smooth_from_rough():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:48] / 48
    smooth = np.stack([np.sin(np.pi * x) * np.sin(np.pi * y)] * 3)
    rough = rng.standard_normal((3, 48, 48))
    result = CorrectedVolume(
        corrected=np.ones((3, 48, 48)),
        residuals={"bias": smooth, "noise": rough},
        input=np.full((3, 48, 48), 2.0),
        affine=None,
        model_size=32,
    )
    table = RFig.volume_residual_table(result)
    assert table.loc["bias", "low-frequency share"] > 0.95
    assert table.loc["noise", "low-frequency share"] < 0.05
    assert table.loc["noise", "mean |p|"] == pytest.approx(np.abs(rough).mean())
    assert table.loc["noise", "relative to mean |input|"] == pytest.approx(np.abs(rough).mean() / 2)


def test_describe_figure2_judges_the_articles_reading():
    import pandas as pd

    table = pd.DataFrame(
        {"mean |p|": [0.3, 0.01, 0.2, 0.1], "low-frequency share": [0.9, 0.2, 0.1, 0.05]},
        index=list(HEADS),
    )
    verdicts = RFig.describe_figure2(table).set_index("claim")["verdict"]
    assert list(verdicts) == ["held", "held"]
    # Swap: the noise head is the smoothest and the bias head the smallest.
    swapped = table.assign(
        **{"low-frequency share": [0.1, 0.2, 0.3, 0.95], "mean |p|": [0.001, 0.01, 0.2, 0.1]}
    )
    assert list(RFig.describe_figure2(swapped)["verdict"]) == ["not held", "not held"]
    single = RFig.describe_figure2(table.loc[["noise"]])
    assert list(single["verdict"]) == ["not resolved", "not resolved"]


def test_figure2_volume_reads_a_pelvic_folder(tmp_path):
    nib = pytest.importorskip("nibabel")
    pelvic = tmp_path / "data" / "pelvic"
    pelvic.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name, slices in (("p1.nii.gz", 5), ("p2.nii.gz", 9)):
        image = nib.Nifti1Image(rng.random((40, 40, slices)).astype(np.float32), np.eye(4))
        nib.save(image, pelvic / name)
    chosen = RFig.figure2_volume(data_dir=tmp_path / "data")
    assert chosen.data.shape[0] == 9


# --- models and captions ---------------------------------------------------------------------


def test_missing_models_give_a_clear_error(tmp_path):
    output_dir = tmp_path / "outputs" / "smoke" / "figures"
    with pytest.raises(FileNotFoundError, match=r"'MT\+L_C'.*training chapter"):
        RFig.figure_models("smoke", output_dir)


def test_model_caption_names_profile_and_data(corrector):
    class Trained:
        name = "Pelvis MT+L_C"
        record = {"profile": "cpu", "data": {"source": "packaged demo volumes"}}

    assert RFig.model_caption(Trained()) == (
        "Pelvis MT+L_C (cpu profile), trained on packaged demo volumes"
    )
    assert RFig.model_caption(corrector) == corrector.name
    json.dumps(RFig.FIGURE1_SETS)  # plain names, also usable as papermill parameters


def test_a_robust_residual_limit_is_a_percentile_of_every_head_together():
    outputs = {"bias": np.arange(101.0), "noise": -np.arange(101.0), "image": np.full(3, 1e6)}
    assert RF.residual_limit(outputs, percentile=99.0) == pytest.approx(99.0)
    assert RF.residual_limit(outputs, percentile=50.0) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="percentile must be in"):
        RF.residual_limit(outputs, percentile=0)


def test_residual_limit_is_shared_and_ignores_the_image():
    outputs = {
        "bias": np.array([[0.5, -2.0]]),
        "noise": np.array([[1.0]]),
        "image": np.full((1,), 9),
    }
    assert RF.residual_limit(outputs) == 2.0
    assert RF.residual_limit([outputs, {"bias": np.array([-3.0])}]) == 3.0
    assert RF.residual_limit({"bias": np.zeros(3)}) == 1.0
