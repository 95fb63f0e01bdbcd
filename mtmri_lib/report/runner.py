"""The book runner behind ``make book`` / ``mtmri book``.

1. Reads the chapter order from ``_toc.yml`` (repository root).
2. Executes each notebook with papermill into ``_build/book_src/<same path>`` with the
   parameters ``profile``, ``data_dir``, ``output_dir`` and ``seed``; a notebook whose source,
   library code and parameters are unchanged since its last successful run is skipped.
3. Stops at the first failing notebook with a message naming the notebook and the cell.
4. Copies ``_config.yml``, ``_toc.yml`` and the Markdown pages next to the executed copies, so
   the table of contents reaches the executed notebooks by the same relative paths, and runs
   ``jupyter-book build`` there (``execute_notebooks: off``: the book renders stored outputs).
   Before, each executed copy loses TensorFlow's start-up lines (`drop_startup_noise`), and
   papermill's injected parameters cell is tagged to stay off the page
   (`hide_injected_parameters`), and progress bars go (`drop_progress_bars`).
5. Serves the widget manager and MathJax itself: ``npm ci`` installs the versions pinned in
   ``book/widgets_js/package-lock.json`` (``@jupyter-widgets/html-manager`` and
   ``requirejs``) and ``book/mathjax_js/package-lock.json`` (``mathjax``) into the build
   folder, and their scripts and fonts are copied into the book's static files;
   ``_config.yml``'s ``nb_ipywidgets_js`` and ``mathjax_path`` point at them, so widgets and
   equations of the static book work with no network (nothing is loaded from a CDN).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..profiles import get_profile
from ..store import (
    StoreError,
    atomic_write,
    atomic_write_json,
    check_writable_folder,
    files_digest,
    read_json,
)

__all__ = ["chapters", "execute_notebooks", "build_book", "run_book", "BookError"]

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = Path(__file__).resolve().parents[1]


class BookError(RuntimeError):
    """A notebook failed, or the book did not build."""


@dataclass
class NotebookRun:
    path: str
    seconds: float
    skipped: bool


def chapters(root: Path = ROOT) -> list[str]:
    """The files of ``_toc.yml`` in reading order (paths without suffix, relative to root)."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            for part in entry.get("chapters", []) if "chapters" in entry else []:
                walk([part])

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def _source(root: Path, name: str) -> Path:
    for suffix in (".ipynb", ".md"):
        if (root / f"{name}{suffix}").exists():
            return root / f"{name}{suffix}"
    raise BookError(f"_toc.yml names {name!r}, but neither {name}.ipynb nor {name}.md exists")


def _library_digest() -> str:
    return files_digest(sorted(LIBRARY.rglob("*.py")), root=LIBRARY)


def _stamp(notebook: Path, parameters: dict, library: str) -> str:
    digest = hashlib.sha256(notebook.read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True).encode())
    digest.update(library.encode())
    return digest.hexdigest()


def _checked_build_dir(build_dir: Path | str) -> Path:
    """The build folder, made if absent, or a `BookError` saying why it cannot be used."""
    try:
        folder = check_writable_folder(build_dir, what="build folder (--build-dir)")
        return folder.resolve()
    except (OSError, ValueError) as error:
        raise BookError(str(error)) from None


def _read_stamps(path: Path) -> dict[str, str]:
    """The stamps of earlier runs; a corrupt file is reported and every notebook runs."""
    if not path.exists():
        return {}
    try:
        stamps = read_json(path, what="stamps file")
    except StoreError as error:
        warnings.warn(f"{error}; every notebook runs again", stacklevel=3)
        return {}
    if not isinstance(stamps, dict):
        warnings.warn(
            f"{path}: the stamps file holds no mapping; every notebook runs again", stacklevel=3
        )
        return {}
    return stamps


def execute_notebooks(
    profile: str = "cpu",
    *,
    data_dir: str | None = None,
    seed: int = 0,
    build_dir: Path | str = ROOT / "_build",
    root: Path = ROOT,
    force: bool = False,
    only: list[str] | None = None,
) -> list[NotebookRun]:
    """Execute the book's notebooks in order with papermill; see the module docstring."""
    import papermill
    from papermill.exceptions import PapermillExecutionError
    from tqdm.auto import tqdm

    try:
        settings = get_profile(profile)
    except ValueError as error:
        raise BookError(str(error)) from None
    build_dir = _checked_build_dir(build_dir)
    if data_dir is not None and not Path(data_dir).is_dir():
        what = "is a file, not a folder" if Path(data_dir).exists() else "does not exist"
        raise BookError(f"--data-dir {data_dir} {what}: give the folder that holds the volumes")
    source_dir = build_dir / "book_src"
    output_dir = build_dir / "outputs" / settings.name
    stamps_path = build_dir / f"stamps-{settings.name}.json"
    stamps = _read_stamps(stamps_path)
    library = _library_digest()
    names = [n for n in chapters(root) if _source(root, n).suffix == ".ipynb"]
    if only:
        names = [n for n in names if Path(n).name in only or n in only]
    runs = []
    for name in tqdm(names, desc=f"notebooks ({settings.name})", unit="nb"):
        notebook = _source(root, name)
        target = source_dir / f"{name}.ipynb"
        parameters = {
            "profile": settings.name,
            "data_dir": data_dir,
            "output_dir": str(output_dir / Path(name).name),
            "seed": seed,
        }
        stamp = _stamp(notebook, parameters, library)
        if not force and stamps.get(name) == stamp and target.exists():
            runs.append(NotebookRun(name, 0.0, True))
            tqdm.write(f"  {name}: unchanged since its last run, skipped")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(notebook),
                str(target),
                parameters=parameters,
                cwd=str(root),
                kernel_name="python3",
                progress_bar=False,
            )
        except PapermillExecutionError as error:
            stamps.pop(name, None)
            atomic_write_json(stamps_path, stamps)
            first_line = error.source.strip().splitlines()[0] if error.source.strip() else ""
            raise BookError(
                f"{notebook.relative_to(root)} failed in cell {error.cell_index} of the executed "
                f"copy (execution count {error.exec_count}, starting {first_line!r}): "
                f"{error.ename}: {error.evalue}\nThe executed copy with the traceback is {target}"
            ) from None
        seconds = time.perf_counter() - start
        drop_startup_noise(target)
        hide_injected_parameters(target)
        drop_progress_bars(target)
        runs.append(NotebookRun(name, seconds, False))
        stamps[name] = stamp
        atomic_write_json(stamps_path, stamps)
        over = " OVER BUDGET" if seconds > settings.book.notebook_budget_s else ""
        tqdm.write(
            f"  {name}: {seconds:.1f} s (budget {settings.book.notebook_budget_s:.0f} s){over}"
        )
    return runs


#: TensorFlow's start-up lines that its C++ core writes to stderr whatever the log level
#: (``TF_CPP_MIN_LOG_LEVEL`` does not reach them): information, not warnings about the run.
STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to"
    r" STDERR"
    r"|[IWE]\d{4} [\d:. ]+\d+ \w+\.cc:\d+\] (oneDNN custom operations are on"
    r"|This TensorFlow binary is optimized|oneDNN supports DT_INT32 only).*"
    r"|To enable the following instructions:.*rebuild TensorFlow with the appropriate"
    r" compiler flags\.)$"
)


def drop_startup_noise(path: Path) -> int:
    """Remove TensorFlow's start-up lines (`STARTUP_NOISE`) from the stderr outputs of an
    executed notebook, so the book shows what the code printed; every other line stays.
    Returns the number of lines removed."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    removed = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept_outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines = output["text"].splitlines(keepends=True)
                kept = [line for line in lines if not STARTUP_NOISE.match(line.rstrip("\n"))]
                removed += len(lines) - len(kept)
                if not kept:
                    continue
                output["text"] = "".join(kept)
            kept_outputs.append(output)
        cell["outputs"] = kept_outputs
    if removed:
        nbformat.write(notebook, path)
    return removed


#: The tags that keep a cell off the book's page (myst-nb), and papermill's tag for the cell
#: of parameters it adds to an executed notebook.
REMOVE_CELL = "remove-cell"
INJECTED = "injected-parameters"


def hide_injected_parameters(path: Path) -> int:
    """Tag papermill's injected cell of an executed notebook `REMOVE_CELL`, so that the page
    does not show it (it repeats the parameters cell with this machine's ``output_dir``).

    Returns the number of cells newly tagged.
    """
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    tagged = 0
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if INJECTED in tags and REMOVE_CELL not in tags:
            tags.append(REMOVE_CELL)
            tagged += 1
    if tagged:
        nbformat.write(notebook, path)
    return tagged


#: The text form of a tqdm progress bar (``tqdm.auto`` shows a widget in a notebook, whose
#: ``text/plain`` is the bar as text): ``label: 40%|####      | 4/10 [00:01<00:02, 3.1it/s]``.
PROGRESS_BAR = re.compile(r"^[^\n]*\d+%\|[^|\n]*\| *[\d.]+[kM]?/[\d.?]+[kM]? \[[^\]]*\]$")


def drop_progress_bars(path: Path) -> int:
    """Remove the progress bars (tqdm's, `PROGRESS_BAR`) from the outputs of an executed
    notebook: they tell a person running it live how far it got, and say nothing on a page.
    Every other output stays. Returns the number of outputs removed."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    removed = 0
    dropped_widgets = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            text = output.get("data", {}).get("text/plain", "")
            if output.get("output_type") in ("display_data", "update_display_data"):
                text = "".join(text) if isinstance(text, list) else text
                if PROGRESS_BAR.match(text.strip()):
                    removed += 1
                    view = output.get("data", {}).get(WIDGET_VIEW, {})
                    if view.get("model_id"):
                        dropped_widgets.append(view["model_id"])
                    continue
            kept.append(output)
        cell["outputs"] = kept
    if dropped_widgets:
        _drop_widget_state(notebook, dropped_widgets)
    if removed:
        nbformat.write(notebook, path)
    return removed


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _drop_widget_state(notebook, roots: list[str]) -> None:
    """Remove the saved state of the widgets ``roots`` and of the models only they refer to
    (a progress bar's box, bar, labels, layouts and styles), so the page does not carry them."""
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state")
    if not state:
        return

    def refers(model_id: str) -> set[str]:
        return set(re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(state.get(model_id, {}))))

    doomed, todo = set(), list(roots)
    while todo:
        model_id = todo.pop()
        if model_id in doomed or model_id not in state:
            continue
        doomed.add(model_id)
        todo.extend(refers(model_id))
    still_used = set().union(*(refers(m) for m in state if m not in doomed))
    for model_id in doomed - still_used:
        del state[model_id]


WIDGET_JS = "_widget_js"
#: The fonts of Font Awesome that the widget manager's style sheet names as
#: ``../webfonts/fa-*``, relative to a page: the book serves them at its root (every chapter
#: page lies one folder down, in ``book/``), from ``_config.yml``'s ``html_extra_path``.
WIDGET_FONTS = "_widget_fonts"
#: The parts of MathJax 3 the book serves (``_config.yml``'s ``mathjax_path`` names the
#: first): the combined TeX-to-CommonHTML script, the TeX extensions it loads on demand,
#: its fonts and its menu.
MATHJAX_PARTS = ("tex-mml-chtml.js", "input", "output/chtml", "ui", "a11y")


def _npm_install(spec: Path, npm_dir: Path) -> Path:
    """``npm ci`` of the ``package-lock.json`` in ``spec`` into ``npm_dir``, once per lock.

    Returns the ``node_modules`` folder.
    """
    npm_dir.mkdir(parents=True, exist_ok=True)
    lock = (spec / "package-lock.json").read_bytes()
    installed = npm_dir / "node_modules" / ".mtmri-lock"
    if not installed.exists() or installed.read_bytes() != lock:
        npm = shutil.which("npm")
        if npm is None:
            raise BookError(
                "npm is needed to install the scripts the book serves itself (widget manager, "
                "MathJax; Debian: apt-get install nodejs npm)"
            )
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(spec / name, npm_dir / name)
        done = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=npm_dir,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BookError(
                f"npm ci failed in {npm_dir}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        atomic_write(installed, lambda handle: handle.write(lock))
    return npm_dir / "node_modules"


def install_widget_js(build_dir: Path, source_dir: Path, root: Path = ROOT) -> Path:
    """Install the pinned widget manager, require.js and MathJax with npm; copy them for the
    book.

    Returns the folder (``source_dir/_widget_js``) that ``_config.yml`` lists as a static path.
    Beside it, ``source_dir/_widget_fonts/webfonts`` holds the icon fonts the widget manager's
    style sheet asks for (``_config.yml``'s ``html_extra_path``).
    """
    modules = _npm_install(root / "book" / "widgets_js", build_dir / "npm")
    target = source_dir / WIDGET_JS
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(modules / "requirejs" / "require.js", target / "require.js")
    dist = modules / "@jupyter-widgets" / "html-manager" / "dist"
    shutil.copy2(dist / "embed-amd.js", target / "embed-amd.js")
    # The bundle names its icon fonts twice: by hashed names and as ../webfonts/fa-*. The
    # hashed ones are asked for beside the script, and (their address resolved by the module
    # loader against a chapter page) under book/@jupyter-widgets/ and its html-manager/dist/:
    # every such place gets them, in each format the style sheet lists.
    hashed = [font for pattern in ("*.woff", "*.woff2", "*.ttf") for font in dist.glob(pattern)]
    places = [
        target,
        source_dir / WIDGET_FONTS / "book" / "@jupyter-widgets",
        source_dir / WIDGET_FONTS / "book" / "@jupyter-widgets" / "html-manager" / "dist",
    ]
    for place in places:
        place.mkdir(parents=True, exist_ok=True)
        for font in hashed:
            shutil.copy2(font, place / font.name)
    webfonts = source_dir / WIDGET_FONTS / "webfonts"
    webfonts.mkdir(parents=True, exist_ok=True)
    awesome = modules / "@fortawesome" / "fontawesome-free" / "webfonts"
    for font in [*awesome.glob("fa-*.woff"), *awesome.glob("fa-*.woff2")]:
        shutil.copy2(font, webfonts / font.name)
    mathjax = _npm_install(root / "book" / "mathjax_js", build_dir / "npm-mathjax")
    es5 = mathjax / "mathjax" / "es5"
    for part in MATHJAX_PARTS:
        source, copy = es5 / part, target / "mathjax" / part
        if source.is_dir():
            shutil.copytree(source, copy, dirs_exist_ok=True)
        else:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
    return target


def build_book(build_dir: Path | str = ROOT / "_build", root: Path = ROOT) -> Path:
    """Stage the pages beside the executed notebooks and build the HTML with Jupyter Book 1."""
    build_dir = _checked_build_dir(build_dir)
    source_dir = build_dir / "book_src"
    source_dir.mkdir(parents=True, exist_ok=True)
    install_widget_js(build_dir, source_dir, root)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, source_dir / name)
    for name in chapters(root):
        page = _source(root, name)
        if page.suffix == ".md":
            (source_dir / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(page, source_dir / f"{name}.md")
        elif not (source_dir / f"{name}.ipynb").exists():
            raise BookError(f"{name}.ipynb has not been executed yet: run the notebooks first")
    for extra in ("book/references.bib", "book/theme", "book/images"):
        if (root / extra).is_dir():
            shutil.copytree(root / extra, source_dir / extra, dirs_exist_ok=True)
        elif (root / extra).exists():
            shutil.copy2(root / extra, source_dir / extra)
    command = [
        str(Path(sys.executable).with_name("jupyter-book")),
        "build",
        str(source_dir),
        "--path-output",
        str(build_dir),
        "--warningiserror",
        "--keep-going",
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BookError(
            "jupyter-book build failed:\n" + (done.stdout[-4000:] + done.stderr[-4000:]).strip()
        )
    return build_dir / "_build" / "html" / "index.html"


def run_book(
    profile: str = "cpu",
    *,
    data_dir: str | None = None,
    seed: int = 0,
    build_dir: Path | str = ROOT / "_build",
    force: bool = False,
    build: bool = True,
) -> Path | None:
    """Execute every notebook, then build the HTML book; returns the index page's path."""
    start = time.perf_counter()
    runs = execute_notebooks(
        profile, data_dir=data_dir, seed=seed, build_dir=build_dir, force=force
    )
    executed = sum(not r.skipped for r in runs)
    print(
        f"{executed} notebook(s) executed, {len(runs) - executed} skipped, "
        f"{time.perf_counter() - start:.1f} s"
    )
    if not build:
        return None
    index = build_book(build_dir)
    print(f"book built in {time.perf_counter() - start:.1f} s in all: {index}")
    return index
