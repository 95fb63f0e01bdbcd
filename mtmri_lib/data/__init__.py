"""The data layer: readers, packaged demo data, synthetic subjects, preparation, splits,
training samples, and the fixed evaluation sets.

Flow: volumes on disk (`read_volume`, `read_volumes`) or, offline by default, synthetic
subjects made from the packaged MNI152 tissue maps (`synthetic_subjects`; written as a
researcher's fastMRI folder by `write_synthetic_fastmri`) -> slices prepared
at the profile's size with the background kept at 0 (`prepare_volume`, `load_slice_sets`,
split by patient with `make_split` or by subject) -> training samples with one artefact each
(`SampleGenerator`; for Keras `ArtefactDataset`, which imports Keras on first use) and the
stored evaluation sets of Tables 3-7 (`eval_sets`).
"""

from __future__ import annotations

from typing import Any

from .demo import DEMO_SOURCES, MNI152_NOTICE, demo_slice, demo_volumes
from .evalsets import (
    EVALUATION_SETTINGS,
    EvalSetChecksumError,
    EvalSets,
    eval_sets,
    load_eval_sets,
    make_eval_sets,
    save_eval_sets,
)
from .fastmri_files import write_fastmri_file, write_fastmri_folder, write_synthetic_fastmri
from .prepare import informative_slices, prepare_slice, prepare_volume, znorm
from .readers import find_volume_paths, iter_volumes, patient_id_of, read_volume, read_volumes
from .samples import SampleGenerator, training_sample
from .settings import DATA_SETTINGS, SPLIT_FRACTIONS, DataSettings, data_settings
from .slicesets import DataSources, SliceSet, data_sources, load_slice_sets, shared_data_dir
from .splits import make_split, split_patients
from .synthetic import synthetic_subjects
from .volume import Volume, VolumeReadError

__all__ = [
    "Volume",
    "VolumeReadError",
    "read_volume",
    "read_volumes",
    "iter_volumes",
    "find_volume_paths",
    "patient_id_of",
    "demo_volumes",
    "demo_slice",
    "synthetic_subjects",
    "write_fastmri_file",
    "write_fastmri_folder",
    "write_synthetic_fastmri",
    "DEMO_SOURCES",
    "MNI152_NOTICE",
    "prepare_slice",
    "prepare_volume",
    "informative_slices",
    "znorm",
    "split_patients",
    "make_split",
    "SPLIT_FRACTIONS",
    "DATA_SETTINGS",
    "DataSettings",
    "data_settings",
    "SliceSet",
    "load_slice_sets",
    "shared_data_dir",
    "DataSources",
    "data_sources",
    "training_sample",
    "SampleGenerator",
    "ArtefactDataset",
    "EVALUATION_SETTINGS",
    "EvalSets",
    "EvalSetChecksumError",
    "make_eval_sets",
    "save_eval_sets",
    "load_eval_sets",
    "eval_sets",
]


def __getattr__(name: str) -> Any:
    # The Keras dataset is imported on first use so that the data layer loads without Keras.
    if name == "ArtefactDataset":
        from .pipeline import ArtefactDataset

        return ArtefactDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
