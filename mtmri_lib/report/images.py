"""Smaller pictures for the static book.

A figure of MR images is mostly noise-like texture, which PNG compresses badly in full
colour: one gallery figure of the artefacts chapter is about 1 MB. The same picture with a
palette of 256 colours is about a third of that and looks the same at the displayed size.
`palette_png` re-encodes one PNG so; `shrink_notebook_images` does it for every PNG output of
an executed notebook (the book runner calls it, so the pages stay well under 15 MB) and
`mtmri_lib.plotting.base.figure_png` for the frames the static explorers embed.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np

__all__ = ["palette_png", "shrink_notebook_images", "PNG"]

#: The MIME type of a PNG output in a notebook.
PNG = "image/png"


def palette_png(png: bytes, colours: int = 256) -> bytes:
    """``png`` re-encoded with a palette of ``colours`` colours (2-256, median cut).

    A picture that already has a palette, or that has any transparent pixel (the palette
    would lose its alpha channel), is returned unchanged. Bytes that are not a PNG raise
    ValueError.
    """
    if not isinstance(colours, int) or isinstance(colours, bool) or not 2 <= colours <= 256:
        raise ValueError(f"colours must be an int from 2 to 256; got {colours!r}")
    from PIL import Image, UnidentifiedImageError

    try:
        picture = Image.open(io.BytesIO(png))
    except UnidentifiedImageError:
        raise ValueError(f"expected PNG bytes; got {png[:8]!r}... (not an image)") from None
    with picture:
        if picture.format != "PNG":
            raise ValueError(f"expected PNG bytes; got a {picture.format} image")
        if picture.mode == "P":
            return png
        if picture.mode in ("RGBA", "LA") and np.asarray(picture.getchannel("A")).min() < 255:
            return png
        reduced = picture.convert("RGB").quantize(colours)
    out = io.BytesIO()
    reduced.save(out, format="png", optimize=True)
    return out.getvalue()


def shrink_notebook_images(path: Path, colours: int = 256) -> int:
    """Re-encode every PNG output of the notebook at ``path`` with `palette_png`, where that
    makes it smaller; rewrite the file only if some output changed.

    Returns the number of bytes saved (of the decoded images).
    """
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    saved = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = output.get("data", {})
            if PNG not in data:
                continue
            text = data[PNG]
            original = base64.b64decode("".join(text) if isinstance(text, list) else text)
            smaller = palette_png(original, colours)
            if len(smaller) < len(original):
                data[PNG] = base64.b64encode(smaller).decode("ascii")
                saved += len(original) - len(smaller)
    if saved:
        nbformat.write(notebook, path)
    return saved
