"""The size of the book's figures: its text column is 676 px wide in a 1280 px window (718 px
at 992 px; measured in Chromium by `tests/test_browser.py`'s width check), 6.7 inches at the
100 dpi of the notebook's inline images. A figure at most that wide is shown at its own size,
so its 9-10 pt text stays 9-10 pt on the page; a wider one would be scaled down, text and
all."""

from __future__ import annotations

__all__ = ["COLUMN_INCHES", "column_size"]

#: The width of the book's text column in inches (676 px at 100 dpi, rounded down).
COLUMN_INCHES = 6.7


def column_size(width: float, height: float) -> tuple[float, float]:
    """``(width, height)`` in inches, scaled down together (panels keep their shape) to at
    most `COLUMN_INCHES` wide; a figure that fits is returned unchanged."""
    if width <= 0 or height <= 0:
        raise ValueError(f"a figure size must be positive; got {width} x {height}")
    scale = min(1.0, COLUMN_INCHES / width)
    return (width * scale, height * scale)
