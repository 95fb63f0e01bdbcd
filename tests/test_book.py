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
