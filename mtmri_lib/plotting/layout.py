"""The size of the book's figures: its text column is 784 px wide, 7.8 inches at the 100 dpi
of the notebook's inline images. A figure at most that wide is shown at its own size, so its
9-10 pt text stays 9-10 pt on the page; a wider one would be scaled down, text and all."""

from __future__ import annotations

__all__ = ["COLUMN_INCHES", "column_size"]

#: The width of the book's text column in inches (784 px at 100 dpi, rounded down).
COLUMN_INCHES = 7.8


def column_size(width: float, height: float) -> tuple[float, float]:
    """``(width, height)`` in inches, scaled down together (panels keep their shape) to at
    most `COLUMN_INCHES` wide; a figure that fits is returned unchanged."""
    if width <= 0 or height <= 0:
        raise ValueError(f"a figure size must be positive; got {width} x {height}")
    scale = min(1.0, COLUMN_INCHES / width)
    return (width * scale, height * scale)
