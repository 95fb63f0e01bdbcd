"""Reading MR volumes, the packaged demo data, and preparing slices for the model."""

from __future__ import annotations

from .demo import demo_slice, demo_volumes
from .prepare import prepare_slice
from .volume import Volume

__all__ = ["Volume", "demo_volumes", "demo_slice", "prepare_slice"]
