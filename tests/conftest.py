"""Shared fixtures: small real MR slices and a brain-like phantom with a zero margin."""

from __future__ import annotations

import numpy as np
import pytest


def phantom(shape: tuple[int, int] = (64, 64), margin: float = 0.2) -> np.ndarray:
    """An ellipse 'head' with inner structures, zero outside a margin, values in [0, 1]."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w]
    yc, xc = (h - 1) / 2, (w - 1) / 2
    ry, rx = (0.5 - margin) * h, (0.5 - margin) * w
    r = ((y - yc) / ry) ** 2 + ((x - xc) / rx) ** 2
    image = np.where(r <= 1.0, 0.6, 0.0)
    image += np.where(
        ((y - yc) / (0.4 * ry)) ** 2 + ((x - xc - 0.2 * rx) / (0.3 * rx)) ** 2 <= 1, 0.3, 0
    )
    image += np.where(
        ((y - yc + 0.3 * ry) / (0.15 * ry)) ** 2 + ((x - xc) / (0.5 * rx)) ** 2 <= 1, 0.1, 0
    )
    return image


@pytest.fixture
def image() -> np.ndarray:
    return phantom((48, 40))


@pytest.fixture(scope="session")
def mr_slice() -> np.ndarray:
    """A real MR slice (MNI152 template, packaged with nilearn), 64 x 64, scaled to [0, 1]."""
    from mtmri_lib.data import demo_slice

    return demo_slice(64)


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory):
    """Every notebook executed on the smoke profile and the HTML book built (once per run)."""
    from mtmri_lib.report import runner as book

    build_dir = tmp_path_factory.mktemp("book")
    runs = book.execute_notebooks("smoke", build_dir=build_dir)
    index = book.build_book(build_dir)
    return build_dir, runs, index
