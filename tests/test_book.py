"""Every notebook executes on the smoke profile, and the book builds from the executed copies."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mtmri_lib.report import runner as book

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = [n for n in book.chapters() if (ROOT / f"{n}.ipynb").exists()]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_skeleton(name):
    """Parameters cell with the four parameters, no definitions, no outputs in git."""
    notebook = json.loads((ROOT / f"{name}.ipynb").read_text())
    cells = notebook["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    source = "".join(tagged[0]["source"])
    for parameter in ("profile", "data_dir", "output_dir", "seed"):
        assert f"{parameter} =" in source
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        text = "".join(cell["source"])
        assert not any(line.lstrip().startswith(("def ", "class ")) for line in text.splitlines())
        assert "pip install" not in text
        assert not cell.get("outputs"), "commit notebooks without outputs"
    assert any("show_provenance" in "".join(c["source"]) for c in cells)


@pytest.mark.book
def test_smoke_book_executes_and_builds(smoke_book):
    build_dir, runs, index = smoke_book
    assert [r.path for r in runs] == NOTEBOOKS
    assert not any(r.skipped for r in runs)
    # The chapters share one copy of the prepared data and evaluation sets.
    outputs = build_dir / "outputs" / "smoke"
    stored = sorted(p.relative_to(outputs).as_posix() for p in outputs.glob("*/evalsets"))
    assert stored == ["data/evalsets"]
    # A second run skips every unchanged notebook.
    again = book.execute_notebooks("smoke", build_dir=build_dir)
    assert all(r.skipped for r in again)
    assert index.exists()
    html = (index.parent / "book" / "artefacts.html").read_text()
    assert "Provenance of this page" in html
    # Widgets are served by the book itself, never from a CDN.
    assert "_static/embed-amd.js" in html and "_static/require.js" in html
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert scripts and not [s for s in scripts if "://" in s], scripts


def _pages(index: Path) -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted((index.parent / "book").glob("*.html"))}


@pytest.mark.book
def test_every_page_folds_its_provenance_and_hides_the_injected_parameters(smoke_book):
    _, _, index = smoke_book
    for name, html in _pages(index).items():
        if name in ("intro", "decisions", "references"):
            continue
        # An HTML table folded in <details>, never the raw Markdown of a table.
        assert re.search(r'<details class="mtmri-provenance"><summary>Provenance', html), name
        assert '<table class="mtmri-provenance-table">' in html, name
        assert "|---|---|" not in html, name
        # papermill's injected cell (this machine's output_dir) is not on the page.
        assert "injected-parameters" not in html, name
        assert "# Parameters" not in html, name
        # The import block is folded (a collapsible <details> above the input).
        assert 'class="admonition hide above-input"' in html, name


@pytest.mark.book
def test_pages_have_equations_numbered_figures_citations_and_no_noise(smoke_book):
    _, _, index = smoke_book
    pages = _pages(index)
    # MathJax renders the loss chapter's equations, served by the book itself.
    assert pages["loss"].count('class="math') >= 3
    assert '<script defer="defer" src="../_static/mathjax/tex-mml-chtml.js' in pages["loss"]
    assert (index.parent / "_static" / "mathjax" / "tex-mml-chtml.js").exists()
    # Numbered, captioned figures, cross-referenced from the text.
    for name in ("model", "training", "figures"):
        figures = re.findall(r"<figure.*?</figure>", pages[name], flags=re.S)
        assert figures, name
        for figure in figures:
            assert '<span class="caption-number">Fig. ' in figure, name
    assert re.search(r'href="#fig-model-architecture"', pages["model"])
    # The bibliography lists the cited works; the chapters link to it.
    assert pages["references"].count('role="doc-biblioentry"') >= 8
    for key in ("Tustison", "Zbontar", "Ledig", "Ronneberger", "Dabov"):
        assert key in pages["references"], key
    assert 'href="references.html#' in pages["loss"]
    # No Keras epoch log and no progress bar reaches a page.
    for name, html in pages.items():
        assert not re.search(r"Epoch \d+/\d+", html), name
        assert "it/s]" not in html and "slice/s]" not in html, name
    # The results chapter opens with the claims x verdict overview; the front page shows it.
    results = pages["results"]
    # (before the first table's section; the page's side bar lists the sections earlier)
    assert results.index('class="mtmri-verdict-count"') < results.index('id="results-table-3"')
    assert 'class="mtmri-verdict-count"' in pages["intro"]
    assert 'href="results.html#results-table-3"' in pages["intro"]


@pytest.mark.book
def test_pages_load_their_scripts_once_have_a_favicon_and_stay_small(smoke_book):
    _, _, index = smoke_book
    for name, html in _pages(index).items():
        assert html.count("const THEBE_JS_URL") <= 1, name
        assert html.count("var togglebuttonSelector") <= 1, name
        assert re.search(r'<link rel="icon" href="../_static/favicon.svg"', html), name
        assert len(html.encode()) < 15 * 2**20, f"{name}: {len(html.encode())} bytes"
    # The figures of these chapters fit the 676 px column of a 1280 px window (a few pixels
    # of tight bounding box aside), so the page does not shrink their text.
    import struct

    for name in ("model", "training", "results", "figures"):
        html = (index.parent / "book" / f"{name}.html").read_text()
        for source in re.findall(r'<img[^>]*src="([^"]+\.png)"', html):
            header = (index.parent / "book" / source).read_bytes()[:24]
            width = struct.unpack(">I", header[16:20])[0]
            assert width <= 700, f"{name}: {source} is {width} px wide"
    # The widget manager's icon fonts are served, under both names its style sheet uses.
    html_dir = index.parent
    assert sorted(p.name for p in (html_dir / "webfonts").glob("fa-solid-900.woff*")) == [
        "fa-solid-900.woff",
        "fa-solid-900.woff2",
    ]
    assert list((html_dir / "_static").glob("*.woff2"))


def test_failing_notebook_names_notebook_and_cell(tmp_path):
    import nbformat

    root = tmp_path / "src"
    (root / "book").mkdir(parents=True)
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/bad\n"
    )
    (root / "book" / "intro.md").write_text("# intro\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('profile = "cpu"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("raise ValueError('broken on purpose')"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "book" / "bad.ipynb")
    with pytest.raises(
        book.BookError,
        match=r"book/bad.ipynb failed in cell 3 .*raise ValueError.*broken on purpose",
    ):
        book.execute_notebooks("smoke", build_dir=tmp_path / "build", root=root)


def test_tensorflow_startup_lines_are_dropped_and_nothing_else(tmp_path):
    import nbformat

    noise = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796131558.771003   19311 port.cc:153] oneDNN custom operations are on. "
        "You may see slightly different numerical results.\n"
        "E0000 00:00:1796128618.070509    2719 util.cc:131] oneDNN supports DT_INT32 only on "
        "platforms with AVX-512. Falling back to the default Eigen-based implementation.\n"
    )
    real = "UserWarning: the demo validation set is not patient-independent\n"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "x = 1",
            outputs=[
                nbformat.v4.new_output("stream", name="stderr", text=noise),
                nbformat.v4.new_output("stream", name="stdout", text=noise),
            ],
        ),
        nbformat.v4.new_code_cell(
            "y = 2", outputs=[nbformat.v4.new_output("stream", name="stderr", text=noise + real)]
        ),
    ]
    path = tmp_path / "executed.ipynb"
    nbformat.write(notebook, path)
    assert book.drop_startup_noise(path) == 6
    cells = nbformat.read(path, as_version=4).cells
    # A stderr output of noise only goes; stdout is never touched; a real warning stays.
    assert [o["name"] for o in cells[0].outputs] == ["stdout"]
    assert cells[0].outputs[0]["text"] == noise
    assert cells[1].outputs[0]["text"] == real
    assert book.drop_startup_noise(path) == 0


@pytest.mark.parametrize(
    "build_dir, words",
    [("a_file", "is an existing file"), ("/proc/mtmri-build", "not writable"), ("", "empty")],
)
def test_an_unusable_build_dir_is_a_clear_message(tmp_path, capsys, build_dir, words):
    from mtmri_lib import cli

    (tmp_path / "a_file").write_text("")
    target = str(tmp_path / build_dir) if build_dir == "a_file" else build_dir
    with pytest.raises(book.BookError, match=words):
        book.execute_notebooks("smoke", build_dir=target, only=["none"])
    assert cli.main(["book", "--profile", "smoke", "--build-dir", target, "--no-build"]) == 1
    assert "mtmri book:" in capsys.readouterr().err


def test_a_missing_data_dir_stops_before_the_first_notebook(tmp_path):
    with pytest.raises(book.BookError, match=r"--data-dir .*nowhere does not exist"):
        book.execute_notebooks("smoke", data_dir=str(tmp_path / "nowhere"), build_dir=tmp_path)
    assert not (tmp_path / "book_src").exists()


def test_a_half_written_stamps_file_is_reported_and_every_notebook_runs_again(tmp_path):
    (tmp_path / "stamps-smoke.json").write_text('{"book/data": "ab')
    with pytest.warns(UserWarning, match=r"stamps-smoke\.json: the stamps file is corrupt"):
        runs = book.execute_notebooks("smoke", build_dir=tmp_path, only=["none"])
    assert runs == []


def _draws(source: str) -> bool:
    """Whether a cell draws: it calls a ``plot_*`` / ``draw_*`` helper, or ends in ``fig``."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics
        return False
    calls = [n.func for n in ast.walk(tree) if isinstance(n, ast.Call)]
    names = [getattr(f, "id", getattr(f, "attr", "")) for f in calls]
    ends_in_fig = bool(tree.body) and ast.unparse(tree.body[-1]) == "fig"
    return ends_in_fig or any(n.startswith(("plot_", "draw_")) for n in names)


def test_every_cell_that_draws_shows_its_figure(smoke_book):
    """A figure helper's figure reaches the page: a cell that ends in ``fig = plot_...(...)``
    used to show nothing, since the helpers close their figures in pyplot."""
    import nbformat

    build_dir, _, _ = smoke_book
    empty = []
    for name in NOTEBOOKS:
        notebook = nbformat.read(build_dir / "book_src" / f"{name}.ipynb", as_version=4)
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code" or not _draws(cell.source):
                continue
            shown = [
                output
                for output in cell.get("outputs", [])
                if {"image/png", "application/vnd.jupyter.widget-view+json"}
                & set(output.get("data", {}))
            ]
            if not shown:
                empty.append(f"{name} cell {index}: {cell.source.splitlines()[-1]!r}")
    assert not empty, "cells that draw but show no figure:\n" + "\n".join(empty)


def test_the_figure_check_tells_drawings_from_data_helpers():
    assert _draws("fig = plot_corrections(sets)\nfig")
    assert _draws("plot_gallery(entries)")
    assert not _draws("models = figure_models(trained)")
    assert not _draws("%matplotlib inline")


def test_the_injected_parameters_cell_is_tagged_off_the_page(tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell('profile = "cpu"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            'output_dir = "/home/me/x"', metadata={"tags": ["injected-parameters"]}
        ),
        nbformat.v4.new_code_cell("x = 1"),
    ]
    path = tmp_path / "executed.ipynb"
    nbformat.write(notebook, path)
    assert book.hide_injected_parameters(path) == 1
    cells = nbformat.read(path, as_version=4).cells
    assert cells[1].metadata["tags"] == ["injected-parameters", "remove-cell"]
    assert cells[0].metadata["tags"] == ["parameters"]
    assert "tags" not in cells[2].metadata
    assert book.hide_injected_parameters(path) == 0


def test_progress_bars_are_dropped_and_nothing_else(tmp_path):
    import nbformat

    bar = "evaluating: 100%|##########| 1728/1728 [00:40<00:00, 42.9slice/s]"
    table = "| a | b |\n|---|---|\n| 1 | 2 |"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "x = 1",
            outputs=[
                nbformat.v4.new_output(
                    "display_data",
                    data={
                        "application/vnd.jupyter.widget-view+json": {"model_id": "aa"},
                        "text/plain": bar,
                    },
                ),
                nbformat.v4.new_output("display_data", data={"text/plain": table}),
                nbformat.v4.new_output("stream", name="stdout", text="5184 scores\n"),
            ],
        )
    ]
    # The bar's saved widget state goes with it (its box "aa" and its label "bb"), the
    # state of another widget ("cc", showing "dd") stays.
    notebook.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {
            "state": {
                "aa": {"state": {"children": ["IPY_MODEL_bb"]}},
                "bb": {"state": {"value": bar}},
                "cc": {"state": {"children": ["IPY_MODEL_dd"]}},
                "dd": {"state": {"value": "slider"}},
            }
        }
    }
    path = tmp_path / "executed.ipynb"
    nbformat.write(notebook, path)
    assert book.drop_progress_bars(path) == 1
    executed = nbformat.read(path, as_version=4)
    state = executed.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert sorted(state) == ["cc", "dd"]
    outputs = executed.cells[0].outputs
    assert [o.get("data", {}).get("text/plain", o.get("text")) for o in outputs] == [
        table,
        "5184 scores\n",
    ]


def _figure_png(transparent: bool = False) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(1, 2, figsize=(4, 2))
    axes[0].imshow(rng.random((64, 64)), cmap="gray")
    axes[1].imshow(np.linspace(-1, 1, 64 * 64).reshape(64, 64), cmap="RdBu_r")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, transparent=transparent)
    plt.close(fig)
    return buffer.getvalue()


def test_figures_are_stored_with_a_palette_that_keeps_their_look(tmp_path):
    import base64
    import io

    import nbformat
    import numpy as np
    from PIL import Image

    from mtmri_lib.report.images import shrink_notebook_images

    png = _figure_png()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "fig",
            outputs=[
                nbformat.v4.new_output(
                    "display_data",
                    data={"image/png": base64.b64encode(png).decode(), "text/plain": "<Figure>"},
                )
            ],
        ),
        nbformat.v4.new_markdown_cell("text"),
    ]
    path = tmp_path / "executed.ipynb"
    nbformat.write(notebook, path)
    saved = shrink_notebook_images(path)
    stored = base64.b64decode(
        nbformat.read(path, as_version=4).cells[0].outputs[0].data["image/png"]
    )
    assert saved == len(png) - len(stored) > 0
    with Image.open(io.BytesIO(png)) as before, Image.open(io.BytesIO(stored)) as after:
        assert after.format == "PNG" and after.mode == "P" and after.size == before.size
        difference = np.abs(
            np.asarray(before.convert("RGB"), float) - np.asarray(after.convert("RGB"), float)
        )
    assert difference.mean() < 2.0 and np.percentile(difference, 99.9) < 24
    # Done once: a second pass finds nothing to save and leaves the file alone.
    written = path.stat().st_mtime_ns
    assert shrink_notebook_images(path) == 0
    assert path.stat().st_mtime_ns == written


def test_a_palette_is_refused_where_it_would_lose_something():
    from mtmri_lib.report.images import palette_png

    transparent = _figure_png(transparent=True)
    assert palette_png(transparent) == transparent
    with pytest.raises(ValueError, match="colours"):
        palette_png(_figure_png(), colours=257)
    with pytest.raises(ValueError, match="PNG"):
        palette_png(b"GIF89a" + bytes(40))
    with pytest.raises(ValueError, match="PNG"):
        palette_png(b"")
    # One palette is enough: a picture that has one is kept as it is.
    once = palette_png(_figure_png())
    assert palette_png(once) == once
