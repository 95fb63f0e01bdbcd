"""The paper-vs-code chapter's artefact-level measurements."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mtmri_lib.report.paper_vs_code import (
    describe_corruptions,
    sample_training_corruptions,
    severity_table,
)


@pytest.fixture(scope="module")
def slices(mr_slice) -> np.ndarray:
    return np.stack([mr_slice, mr_slice[::-1]])


def test_variants_share_slices_and_streams_and_report_nmse(slices):
    kept = sample_training_corruptions(slices, "motion", n=6, seed=3, variant="kept")
    again = sample_training_corruptions(slices, "motion", n=6, seed=3, variant="kept")
    assert kept.equals(again)
    none = sample_training_corruptions(slices, "motion", n=6, seed=3, clean_centre=0.0)
    assert set(none["variant"]) == {"paper (clean_centre=0.0)"}
    assert (none["clean centre"] == 0.0).all()
    # NMSE by hand for the first draw, on the [0, 1] scale.
    from mtmri_lib.artefacts import corrupt

    rng = np.random.default_rng(np.random.SeedSequence([3, 0]))
    first = corrupt(slices[0], "motion", rng, zscore=False, clean_centre=0.0).image
    expected = np.sum((first - slices[0]) ** 2) / np.sum(slices[0] ** 2)
    assert none["NMSE"].iloc[0] == pytest.approx(expected, rel=1e-12)
    noise = [sample_training_corruptions(slices, "noise", n=4, variant=v) for v in "ba"]
    summary = describe_corruptions(pd.concat(noise))
    assert list(summary.columns) == ["b", "a"]  # the order of appearance, not sorted


def test_severity_table_gives_each_variant_relative_to_the_reference(slices):
    motion = pd.concat(
        [
            sample_training_corruptions(slices, "motion", n=8, fidelity="code"),
            sample_training_corruptions(slices, "motion", n=8, clean_centre=0.0, variant="none"),
        ]
    )
    table = severity_table({"motion": motion})
    assert table.loc[("motion", "code"), "relative to code"] == 1.0
    assert table.loc[("motion", "none"), "relative to code"] > 1.0  # no clean centre: worse
    with pytest.raises(ValueError, match="no 'code' variant"):
        severity_table({"motion": motion[motion["variant"] == "none"]})


def test_mask_fractions_show_the_released_masks_over_sampling():
    from mtmri_lib.report.paper_vs_code import mask_fractions

    table = mask_fractions(320, accelerations=(2, 4), masks=("equispaced",), draws=20)
    assert abs(table.loc[("equispaced", 2, "paper"), "sampled fraction"] - 0.5) < 0.01
    assert abs(table.loc[("equispaced", 2, "code"), "sampled fraction"] - 0.577) < 0.01
    assert abs(table.loc[("equispaced", 4, "code"), "sampled fraction"] - 0.264) < 0.01


def test_measured_snr_of_the_real_part_is_3_db_above_the_nominal(mr_slice):
    from mtmri_lib.report.paper_vs_code import measured_snr

    table = measured_snr(mr_slice, (0.0,), draws=3)
    complex_, real = table.loc[(0.0, "complex")], table.loc[(0.0, "real")]
    assert abs(complex_["measured SNR (dB)"]) < 0.2
    assert abs(real["measured SNR (dB)"] - real["effective_snr_db recorded"]) < 0.2
    assert real["effective_snr_db recorded"] == pytest.approx(10 * np.log10(2))
