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
   (`hide_injected_parameters`), progress bars go (`drop_progress_bars`), and its figures
   are stored with a 256-colour palette (`mtmri_lib.report.images.shrink_notebook_images`).
5. Serves the widget manager and MathJax itself: ``npm ci`` installs the versions pinned in
   ``book/widgets_js/package-lock.json`` (``@jupyter-widgets/html-manager`` and
   ``requirejs``) and ``book/mathjax_js/package-lock.json`` (``mathjax``) into the build
   folder, and their scripts and fonts are copied into the book's static files;
   ``_config.yml``'s ``nb_ipywidgets_js`` and ``mathjax_path`` point at them, so widgets and
   equations of the static book work with no network (nothing is loaded from a CDN).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..profiles import PROFILES, dry_run_profile, get_profile
from ..store import (
    StoreError,
    atomic_write,
    atomic_write_json,
    check_writable_folder,
    files_digest,
    read_json,
)
from .images import shrink_notebook_images

__all__ = [
    "chapters",
    "execute_notebooks",
    "build_book",
    "run_book",
    "run_dry_run",
    "BookError",
    "NotebookRun",
    "ResourceMonitor",
    "DryRunReport",
]

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = Path(__file__).resolve().parents[1]


class BookError(RuntimeError):
    """A notebook failed, or the book did not build."""


@dataclass
class NotebookRun:
    """One executed (or skipped) notebook; with ``measure=True`` also what its kernel used:
    ``peak_rss_bytes`` (the kernel's peak resident memory), ``written_bytes`` (bytes the
    kernel wrote, from ``/proc/<pid>/io``) and ``disk_bytes`` (bytes added under the build
    folder while it ran)."""

    path: str
    seconds: float
    skipped: bool
    peak_rss_bytes: int | None = None
    written_bytes: int | None = None
    disk_bytes: int | None = None


def folder_bytes(folder: Path | str) -> int:
    """Total size in bytes of the files under ``folder`` (0 if it does not exist)."""
    total = 0
    for directory, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except FileNotFoundError:  # a temporary file renamed away meanwhile
                continue
    return total


def _high_water_mark(pid: int) -> int | None:
    """The peak resident memory of a process in bytes (Linux ``VmHWM``), else None."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass
class ResourceMonitor:
    """What the child processes of this one (a notebook's kernel, a command) use while a
    ``with`` block runs.

    A background thread polls every ``interval`` seconds (psutil) the children, recursively:
    the peak of each one's resident memory (the larger of the polled RSS and the kernel's own
    high-water mark ``VmHWM``, which no short peak escapes), and the bytes each wrote
    (``write_bytes``, storage writes only). ``watch``: a folder whose growth in bytes over the
    block is ``disk_bytes``. After the block: ``peak_rss_bytes`` (the largest child's peak),
    ``written_bytes`` (summed over the children seen), ``disk_bytes`` and ``seconds``.
    """

    interval: float = 0.2
    watch: Path | None = None
    peak_rss_bytes: int = 0
    written_bytes: int = 0
    disk_bytes: int | None = None
    seconds: float = 0.0
    _peaks: dict[int, int] = field(default_factory=dict, repr=False)
    _written: dict[int, int] = field(default_factory=dict, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def poll(self) -> None:
        """Read every child once (also called by the thread)."""
        import psutil

        try:
            children = psutil.Process().children(recursive=True)
        except psutil.Error:
            return
        for child in children:
            try:
                rss = child.memory_info().rss
                written = child.io_counters().write_bytes
            except (psutil.Error, AttributeError):
                continue
            peak = max(rss, _high_water_mark(child.pid) or 0)
            self._peaks[child.pid] = max(self._peaks.get(child.pid, 0), peak)
            self._written[child.pid] = max(self._written.get(child.pid, 0), written)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def __enter__(self) -> ResourceMonitor:
        self._before = folder_bytes(self.watch) if self.watch is not None else 0
        self._start = time.perf_counter()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="resource-monitor", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()
        self.seconds = time.perf_counter() - self._start
        self.peak_rss_bytes = max(self._peaks.values(), default=0)
        self.written_bytes = sum(self._written.values())
        if self.watch is not None:
            self.disk_bytes = folder_bytes(self.watch) - self._before


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
    measure: bool = False,
) -> list[NotebookRun]:
    """Execute the book's notebooks in order with papermill; see the module docstring.

    ``profile`` may be any registered profile (`mtmri_lib.profiles.register_profile`): each
    kernel imports `mtmri_lib.profiles` first, so the lower layers find a derived profile's
    name in their tables. ``measure``: watch each kernel with a `ResourceMonitor` (peak
    memory, bytes written, bytes added under ``build_dir``).
    """
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
        monitor = ResourceMonitor(watch=build_dir)
        try:
            with monitor if measure else contextlib.nullcontext():
                papermill.execute_notebook(
                    str(notebook),
                    str(target),
                    parameters=parameters,
                    cwd=str(root),
                    kernel_name="python3",
                    progress_bar=False,
                    extra_arguments=[KERNEL_SETUP],
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
        shrink_notebook_images(target)
        if measure:
            runs.append(
                NotebookRun(
                    name,
                    seconds,
                    False,
                    peak_rss_bytes=monitor.peak_rss_bytes,
                    written_bytes=monitor.written_bytes,
                    disk_bytes=monitor.disk_bytes,
                )
            )
        else:
            runs.append(NotebookRun(name, seconds, False))
        stamps[name] = stamp
        atomic_write_json(stamps_path, stamps)
        over = " OVER BUDGET" if seconds > settings.book.notebook_budget_s else ""
        tqdm.write(
            f"  {name}: {seconds:.1f} s (budget {settings.book.notebook_budget_s:.0f} s){over}"
        )
    return runs


#: Run by each notebook's kernel before the notebook: registers the derived profiles
#: (`mtmri_lib.profiles.register_profile`), whose names the lower layers look up.
KERNEL_SETUP = "--IPKernelApp.exec_lines=['import mtmri_lib.profiles']"


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


# --------------------------------------------------------------------------- dry run

#: The article's training slices per epoch, for the extrapolation of a paper epoch: 3,969
#: fastMRI brain scans, 70 % of the patients for training, about 16 slices per scan (FACTS.md,
#: "Data formats"): 2,778 scans, 44,448 slices.
PAPER_TRAIN_SLICES = round(3969 * 0.7) * 16

#: A second point for the memory estimate: the paper network's training peak at batch 4
#: measured on this project's 2-core CPU (FACTS.md: 10.6 GB).
PAPER_BATCH4_PEAK_BYTES = int(10.6 * 2**30)

#: What a dry run must fit in.
MEMORY_LIMIT_BYTES = 24 * 2**30

#: The data a dry run writes for itself (`write_synthetic_fastmri`'s options).
DRY_RUN_DATA = {
    "brain_subjects": 10,
    "pelvic_subjects": 4,
    "slices_per_subject": 4,
    "coils": 4,
}


@dataclass
class DryRunReport:
    """What `run_dry_run` measured.

    Attributes
    ----------
    profile : str
        The dry run's registered profile (``paper-dry``).
    steps : list of dict
        Per step (the data, each chapter, ``mtmri correct``): ``step``, ``seconds``,
        ``peak_rss_bytes``, ``written_bytes``, ``disk_bytes``, ``skipped``.
    extrapolation : dict
        The paper run's time per epoch on this machine, and the figures it comes from.
    memory : dict
        The peak of the training chapter, its batch size, and the batch size estimated to
        fit in 24 GB (how it was estimated).
    machine : dict
        `mtmri_lib.machine.describe_machine` at the start (CPU, cores, load average).
    path : Path
        The JSON file the report was written to.
    """

    profile: str
    steps: list[dict[str, Any]]
    extrapolation: dict[str, Any]
    memory: dict[str, Any]
    machine: dict[str, Any]
    path: Path

    def table(self) -> str:
        """The per-step table as text: wall time, peak RSS, disk added, bytes written."""
        lines = [
            f"{'step':<16} {'wall s':>8} {'peak RSS GB':>12} {'disk added MB':>14} "
            f"{'written MB':>11}"
        ]

        def size(value: int | None, unit: float) -> str:
            return "-" if value is None else f"{value / unit:.2f}"

        for step in self.steps:
            lines.append(
                f"{step['step']:<16} {step['seconds']:>8.1f} "
                f"{size(step['peak_rss_bytes'], 2**30):>12} "
                f"{size(step['disk_bytes'], 2**20):>14} {size(step['written_bytes'], 2**20):>11}"
                + ("  (skipped: unchanged)" if step.get("skipped") else "")
            )
        total = sum(step["seconds"] for step in self.steps)
        lines.append(f"{'total':<16} {total:>8.1f}")
        return "\n".join(lines)

    def summary(self) -> str:
        """The table, the memory answer and the extrapolation, for the terminal."""
        memory, epoch = self.memory, self.extrapolation
        text = [self.table(), ""]
        if memory.get("training_peak_rss_bytes"):
            text.append(
                f"training chapter: peak {memory['training_peak_rss_bytes'] / 2**30:.1f} GB at "
                f"batch {memory['batch_size']}; {memory['fits_24gb_note']}"
            )
        if epoch.get("paper_epoch_hours") is not None:
            text.append(
                f"paper run on this CPU: {epoch['images_per_second']:.3f} training images/s "
                f"(batch {epoch['measured_batch_size']}) -> "
                f"{epoch['paper_epoch_hours']:.1f} h per epoch of {epoch['train_slices']} "
                f"slices ({epoch['steps_per_epoch']} steps of batch {epoch['paper_batch_size']})"
            )
        text.append(f"report: {self.path}")
        return "\n".join(text)


def _step(name: str, seconds: float, monitor: ResourceMonitor | None, **extra: Any) -> dict:
    return {
        "step": name,
        "seconds": round(seconds, 2),
        "peak_rss_bytes": None if monitor is None else monitor.peak_rss_bytes,
        "written_bytes": None if monitor is None else monitor.written_bytes,
        "disk_bytes": None if monitor is None else monitor.disk_bytes,
        **extra,
    }


def _measured_command(command: Sequence[str], watch: Path, what: str) -> ResourceMonitor:
    """Run ``command`` as a child process under a `ResourceMonitor`; a `BookError` naming
    ``what`` and the end of its output if it fails."""
    monitor = ResourceMonitor(watch=watch)
    with monitor:
        done = subprocess.run(list(command), capture_output=True, text=True, cwd=str(ROOT))
    if done.returncode != 0:
        raise BookError(
            f"dry run: {what} failed (exit {done.returncode}):\n"
            + (done.stdout[-2000:] + done.stderr[-3000:]).strip()
        )
    return monitor


def _dry_run_data(folder: Path, seed: int, image_size: int) -> tuple[dict, ResourceMonitor | None]:
    """Write the dry run's fastMRI folder (``brain/``, ``pelvic/``) in a child process,
    unless a complete one of the same options is there (its record says so)."""
    options = {**DRY_RUN_DATA, "size": image_size, "seed": seed}
    record = folder / "dry-run-data.json"
    if record.exists():
        try:
            if read_json(record, what="dry-run data record") == options:
                return options, None
        except StoreError:
            pass
    record.unlink(missing_ok=True)
    script = (
        "import json, sys\n"
        "from mtmri_lib.data.fastmri_files import write_synthetic_fastmri\n"
        "write_synthetic_fastmri(sys.argv[1], overwrite=True, **json.loads(sys.argv[2]))\n"
    )
    monitor = _measured_command(
        [sys.executable, "-c", script, str(folder), json.dumps(options)],
        folder.parent,
        "writing the fastMRI files",
    )
    atomic_write_json(record, options)
    return options, monitor


def _check_kspace_path(folder: Path) -> dict[str, Any]:
    """Read one written file twice, from ``reconstruction_rss`` and from ``kspace``: the
    reader's k-space path must give the same slices (float32 precision)."""
    from ..data import read_volume

    files = sorted((folder / "brain").glob("*.h5"))
    if not files:
        raise BookError(f"dry run: no fastMRI files in {folder / 'brain'}")
    stored = read_volume(files[0])
    from_kspace = read_volume(files[0], from_kspace=True)
    scale = float(np.max(stored.data)) or 1.0
    error = float(np.max(np.abs(stored.data - from_kspace.data))) / scale
    if stored.data.shape != from_kspace.data.shape or error > 1e-4:
        raise BookError(
            f"dry run: {files[0]} read from kspace differs from its reconstruction_rss "
            f"(shapes {stored.data.shape} / {from_kspace.data.shape}, relative error {error:.2g})"
        )
    return {"file": str(files[0]), "shape": list(stored.data.shape), "relative_error": error}


def _nifti_of(volume_path: Path, target: Path) -> Path:
    """A fastMRI file as the NIfTI volume (``.nii``) ``mtmri correct`` takes (slices on the
    last axis, the file's pixel spacing)."""
    import nibabel

    from ..data import read_volume

    volume = read_volume(volume_path)
    affine = np.eye(4) if volume.affine is None else np.asarray(volume.affine)[:, [1, 2, 0, 3]]
    image = nibabel.Nifti1Image(np.transpose(volume.data, (1, 2, 0)), affine)
    data = image.to_bytes()  # uncompressed .nii: nibabel names no format by a temporary name
    return atomic_write(target, lambda handle: handle.write(data))


def _training_rates(profile: str, output_dir: Path) -> dict[str, float]:
    """Per trained model, the training images/s of its last epoch (the first one includes
    building and tracing the step), from the models' sidecars."""
    from ..inference import trained_model_paths

    rates = {}
    for label, path in trained_model_paths(profile, output_dir).items():
        sidecar = Path(path).with_suffix(".json")
        history = read_json(sidecar, what="model sidecar").get("history") or []
        later = [row.get("train_images_per_s") for row in history[1:]] or [
            row.get("train_images_per_s") for row in history
        ]
        later = [value for value in later if value]
        if later:
            rates[label] = float(later[-1])
    return rates


def _memory_estimate(
    peak: int | None, batch_size: int, probes: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """The batch size that fits in 24 GB: linear in the batch through the probes' peaks
    (each a process of its own), else an estimate through the training chapter's peak and
    `PAPER_BATCH4_PEAK_BYTES`, said so."""
    result: dict[str, Any] = {"training_peak_rss_bytes": peak, "batch_size": batch_size}
    measured = sorted((p["batch_size"], p["peak_rss_bytes"]) for p in probes)
    if len(measured) >= 2 and measured[-1][0] > measured[0][0]:
        (b0, m0), (b1, m1) = measured[0], measured[-1]
        method = (
            f"measured: linear in the batch through the training probes' peaks at batch {b0} "
            f"({m0 / 2**30:.1f} GB) and {b1} ({m1 / 2**30:.1f} GB), each in its own process"
        )
    elif peak and batch_size < 4 and PAPER_BATCH4_PEAK_BYTES > peak:
        (b0, m0), (b1, m1) = (batch_size, peak), (4, PAPER_BATCH4_PEAK_BYTES)
        method = (
            "estimated: linear in the batch between this run's training peak and 10.6 GB at "
            "batch 4 (FACTS.md, measured on this CPU before); not a measurement"
        )
    else:
        result["fits_24gb_note"] = (
            "no training chapter measured"
            if not peak
            else f"{'fits' if peak < MEMORY_LIMIT_BYTES else 'does not fit'} in 24 GB at "
            f"batch {batch_size}"
        )
        return result
    per_sample = max((m1 - m0) / (b1 - b0), 1.0)
    base = m0 - per_sample * b0
    fits = int((MEMORY_LIMIT_BYTES - base) // per_sample)
    result.update(
        per_sample_bytes=int(per_sample),
        fixed_bytes=int(base),
        batch_size_fits_24gb=fits,
        method=method,
        fits_24gb_note=(
            f"{per_sample / 2**30:.2f} GB per image over {base / 2**30:.1f} GB, so batch "
            f"{fits} fits in 24 GB ({method})"
        ),
    )
    return result


def run_dry_run(
    profile: str = "paper",
    *,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    build_dir: Path | str = ROOT / "_build",
    force: bool = False,
    root: Path = ROOT,
    only: Sequence[str] | None = None,
    correct: bool = True,
    probe: bool = True,
) -> DryRunReport:
    """Every chapter of a profile at its own shapes with tiny counts, measured.

    ``mtmri book --profile paper --dry-run``: the profile's dry run
    (`mtmri_lib.profiles.dry_run_profile`, ``paper-dry``) executes every notebook (no HTML
    is built) on fastMRI files: ``data_dir`` if given, else a folder ``brain/`` +
    ``pelvic/`` of synthetic subjects the run writes under ``build_dir/dry-run-data``
    (`mtmri_lib.data.fastmri_files.write_synthetic_fastmri`, read back once through the
    k-space path as a check). Then ``mtmri correct`` corrects one of those volumes (as NIfTI)
    with the trained MT+L_C. Each step is measured (wall time; peak resident memory of its
    process; bytes added under ``build_dir``; bytes its process wrote), the paper run's time
    per epoch on this machine is extrapolated from the trained models' measured training
    rate, and the report is printed and written to ``build_dir/dry-run-<profile>.json``
    (after every step, so an interrupted run leaves what it measured).

    Last, `training_probe` trains the MT model at paper shapes at batch 1 and at the paper's
    batch 4, each in a process of its own: their peaks give the memory per image (and the
    batch size that fits in 24 GB), the batch-4 rate the extrapolated epoch.

    ``only``: run just these chapters (the tests); ``correct=False`` skips the correction,
    ``probe=False`` the probes.
    A profile without a dry run, a missing data folder or a failing step raise `BookError`.
    """
    from ..machine import describe_machine

    try:
        dry = dry_run_profile(profile)
    except ValueError as error:
        raise BookError(str(error)) from None
    return _run_measured(
        dry.name,
        report_name=f"dry-run-{profile}.json",
        data_dir=data_dir,
        seed=seed,
        build_dir=build_dir,
        force=force,
        root=root,
        only=only,
        correct=correct,
        machine=describe_machine(),
        probe_batch_sizes=PROBE_BATCH_SIZES if probe else (),
    )


def _run_measured(
    profile: str,
    *,
    report_name: str,
    data_dir: str | os.PathLike | None,
    seed: int,
    build_dir: Path | str,
    force: bool,
    root: Path,
    only: Sequence[str] | None,
    correct: bool,
    machine: dict[str, Any],
    probe_batch_sizes: Sequence[int] = (),
) -> DryRunReport:
    """`run_dry_run` for a registered profile name (the tests give ``smoke``)."""
    settings = PROFILES[profile]
    build = _checked_build_dir(build_dir)
    report = DryRunReport(profile, [], {}, {}, machine, build / report_name)

    def save() -> None:
        atomic_write_json(report.path, _jsonable(report))

    if data_dir is None:
        folder = build / "dry-run-data"
        start = time.perf_counter()
        options, monitor = _dry_run_data(folder, seed, settings.image_size)
        report.steps.append(
            _step(
                "write fastMRI",
                time.perf_counter() - start,
                monitor,
                skipped=monitor is None,
                **options,
            )
        )
        report.steps[-1]["kspace_check"] = _check_kspace_path(folder)
        save()
    else:
        folder = Path(data_dir)
        if not folder.is_dir():
            raise BookError(f"--data-dir {folder} is not a folder: give the fastMRI folder")
    names = [
        n
        for n in chapters(root)
        if _source(root, n).suffix == ".ipynb" and (not only or Path(n).name in only or n in only)
    ]
    for name in names:
        (run,) = execute_notebooks(
            profile,
            data_dir=str(folder),
            seed=seed,
            build_dir=build,
            root=root,
            force=force,
            only=[name],
            measure=True,
        )
        report.steps.append(
            {
                "step": Path(name).name,
                "seconds": round(run.seconds, 2),
                "peak_rss_bytes": run.peak_rss_bytes,
                "written_bytes": run.written_bytes,
                "disk_bytes": run.disk_bytes,
                "skipped": run.skipped,
            }
        )
        save()
    output_dir = build / "outputs" / profile / "figures"
    if correct:
        report.steps.append(_correct_step(profile, folder, build, output_dir))
        save()
    probes = []
    for batch_size in probe_batch_sizes:
        probes.append(_probe_step(profile, batch_size, folder, build))
        report.steps.append(probes[-1])
        save()
    batch = settings.training.batch_size
    training = next((s for s in report.steps if s["step"] == "training"), None)
    report.memory = _memory_estimate(
        None if training is None or training["skipped"] else training["peak_rss_bytes"],
        batch,
        probes,
    )
    report.extrapolation = _extrapolate(profile, output_dir, batch, probes)
    save()
    return report


def _correct_step(profile: str, folder: Path, build: Path, output_dir: Path) -> dict:
    """``mtmri correct`` (the command, in a child process) on one volume of the data, as
    NIfTI, with the trained MT+L_C; measured like a chapter."""
    from ..inference import trained_model_paths

    models = trained_model_paths(profile, output_dir, labels=["MT+L_C"])
    if "MT+L_C" not in models:
        raise BookError("dry run: no trained MT+L_C to correct a volume with (training chapter)")
    brain = folder / "brain" if (folder / "brain").is_dir() else folder
    files = sorted(brain.glob("*.h5"))
    if not files:
        raise BookError(f"dry run: no fastMRI .h5 file in {brain} to correct")
    staging = build / "dry-run-correct"
    nifti = _nifti_of(files[-1], staging / "input" / f"{files[-1].stem}.nii")
    batch_size = 4
    command = [
        sys.executable,
        "-m",
        "mtmri_lib.cli",
        "correct",
        str(nifti),
        "--model",
        str(models["MT+L_C"]),
        "--out",
        str(staging / "corrected"),
        "--batch-size",
        str(batch_size),
        "--overwrite",
        "--quiet",
    ]
    monitor = _measured_command(command, build, "mtmri correct")
    return _step(
        "mtmri correct",
        monitor.seconds,
        monitor,
        skipped=False,
        input=str(nifti),
        model=str(models["MT+L_C"]),
        batch_size=batch_size,
    )


#: The batch sizes the training probe measures: 1 and the paper's 4.
PROBE_BATCH_SIZES = (1, 4)


def training_probe(
    profile: str,
    batch_size: int,
    data_dir: str,
    output_dir: str,
    *,
    steps: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Train the MT model of ``profile`` at ``batch_size`` for two epochs of ``steps`` steps
    through the library's own path (`mtmri_lib.training.fit_network` on the training-sample
    pipeline of ``data_dir``), without validation, and return its second epoch's training
    images/s (the first one includes building and tracing the step).

    Run it in a process of its own (`run_dry_run` does): that process's peak memory is then
    the training's at this batch size.
    """
    from .. import training
    from ..models import MODEL_SPECS, build_model, set_global_seed

    settings = training.training_settings(profile).with_(batch_size=batch_size)
    spec = MODEL_SPECS["MT"]
    train, _, _, _, _ = training.model_datasets(
        spec, profile, settings, data_dir, output_dir, seed=seed, data_seed=seed, fidelity="paper"
    )
    set_global_seed(seed)
    result = training.fit_network(
        lambda: build_model(profile, tasks=spec.tasks, seed=seed),
        train,
        None,
        hyper=training.default_hyperparameters(spec),
        max_epochs=2,
        patience=2,
        steps_per_epoch=steps,
        verbose=0,
        run_eagerly=settings.run_eagerly,
        jit_compile=settings.jit_compile,
    )
    rates = [float(v) for v in result.history["train_images_per_s"]]
    return {"batch_size": batch_size, "steps": steps, "images_per_s_each_epoch": rates}


def _probe_step(profile: str, batch_size: int, folder: Path, build: Path) -> dict[str, Any]:
    """`training_probe` in a child process, measured."""
    script = (
        "import json, sys\n"
        "from mtmri_lib.report.runner import training_probe\n"
        "result = training_probe(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])\n"
        "print('PROBE ' + json.dumps(result))\n"
    )
    output_dir = build / "outputs" / profile / "probe"
    command = [sys.executable, "-c", script, profile, str(batch_size), str(folder), str(output_dir)]
    monitor = ResourceMonitor(watch=build)
    with monitor:
        done = subprocess.run(command, capture_output=True, text=True, cwd=str(ROOT))
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    if done.returncode != 0 or not lines:
        raise BookError(
            f"dry run: the training probe at batch {batch_size} failed (exit "
            f"{done.returncode}):\n" + (done.stdout[-2000:] + done.stderr[-3000:]).strip()
        )
    return _step(
        f"probe batch {batch_size}",
        monitor.seconds,
        monitor,
        skipped=False,
        **json.loads(lines[-1][len("PROBE ") :]),
    )


def _extrapolate(
    profile: str, output_dir: Path, batch: int, probes: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """The paper run's time per epoch here: from the probe at the paper's batch size if
    there is one, else from the trained models' training rate at the dry run's batch."""
    paper = PROFILES["paper"].training
    rates = _training_rates(profile, output_dir) if output_dir.parent.exists() else {}
    at_paper_batch = [p for p in probes if p["batch_size"] == paper.batch_size]
    result: dict[str, Any] = {
        "train_slices": PAPER_TRAIN_SLICES,
        "train_slices_source": "3,969 fastMRI brain scans x 70 % (training patients) x 16 slices",
        "paper_batch_size": paper.batch_size,
        "steps_per_epoch": math.ceil(PAPER_TRAIN_SLICES / paper.batch_size),
        "measured_batch_size": batch,
        "images_per_second_by_model": rates,
    }
    result["probes"] = {p["batch_size"]: p["images_per_s_each_epoch"][-1] for p in probes}
    if at_paper_batch:
        rate = at_paper_batch[0]["images_per_s_each_epoch"][-1]
        epoch_s = PAPER_TRAIN_SLICES / rate
        result.update(
            measured_batch_size=paper.batch_size,
            images_per_second=rate,
            paper_epoch_seconds=epoch_s,
            paper_epoch_hours=epoch_s / 3600,
            method=(
                f"the training probe's second epoch at the paper's batch {paper.batch_size} "
                f"(MT model, {at_paper_batch[0]['steps']} steps, validation excluded), applied "
                f"to the paper's {PAPER_TRAIN_SLICES} slices per epoch"
            ),
        )
    elif rates:
        ordered = sorted(rates.values())
        middle = len(ordered) // 2
        median = (
            ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        )
        epoch_s = PAPER_TRAIN_SLICES / median
        result.update(
            images_per_second=median,
            paper_epoch_seconds=epoch_s,
            paper_epoch_hours=epoch_s / 3600,
            method=(
                "median over the trained models of the training images/s of their last "
                f"epoch (batch {batch}, validation excluded), applied to the paper's "
                f"{PAPER_TRAIN_SLICES} slices per epoch at its batch {paper.batch_size} "
                "(assumes the per-image rate does not change with the batch size)"
            ),
        )
    else:
        result.update(images_per_second=None, paper_epoch_seconds=None, paper_epoch_hours=None)
    return result


def _jsonable(report: DryRunReport) -> dict[str, Any]:
    values = asdict(report)
    values["path"] = str(report.path)
    return values
