"""The ``mtmri`` console script.

``mtmri book [--profile cpu] [--data-dir DIR] [--seed 0] [--force] [--no-build]``
    execute the book's notebooks with papermill and build the HTML book.
``mtmri bench NAME [args...]``
    run ``benchmarks/NAME.py`` from a source checkout (``mtmri bench artefacts``).
``mtmri correct INPUT --model MODEL.keras --out DIR [--axis N] [--batch-size 8] [--overwrite]
[--quiet]``
    correct a NIfTI file or a DICOM folder slice by slice with a trained model and write
    NIfTI files of the corrected volume and of each residual (`mtmri_lib.correct`); the set
    appears complete or not at all, and an earlier set is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

__all__ = ["main"]


def _integer(low: int, high: int | None = None):
    """An argparse type: an integer in [low, high]; argparse names the option on failure."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer; got {text!r}") from None
        if value < low or (high is not None and value > high):
            allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise argparse.ArgumentTypeError(f"must be {allowed}; got {value}")
        return value

    return parse


def _book(args: argparse.Namespace) -> int:
    from .book import BookError, run_book

    try:
        run_book(
            args.profile,
            data_dir=args.data_dir,
            seed=args.seed,
            build_dir=args.build_dir,
            force=args.force,
            build=not args.no_build,
        )
    except BookError as error:
        print(f"mtmri book: {error}", file=sys.stderr)
        return 1
    return 0


def _bench(args: argparse.Namespace) -> int:
    script = Path(__file__).resolve().parent.parent / "benchmarks" / f"{args.name}.py"
    if not script.exists():
        available = (
            sorted(p.stem for p in script.parent.glob("*.py")) if script.parent.exists() else []
        )
        print(
            f"mtmri bench: no benchmark {args.name!r} (looked for {script}); "
            f"available: {', '.join(available) or 'none (benchmarks/ comes with the source)'}",
            file=sys.stderr,
        )
        return 2
    sys.argv = [str(script), *args.rest]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def _correct(args: argparse.Namespace) -> int:
    from .correct import correct_file

    try:
        written = correct_file(
            args.input,
            args.model,
            args.out,
            axis=args.axis,
            batch_size=args.batch_size,
            progress=not args.quiet,
            overwrite=args.overwrite,
        )
    except (OSError, ValueError) as error:  # missing files, unreadable input, wrong model
        print(f"mtmri correct: {error}", file=sys.stderr)
        return 2
    if not args.quiet:
        for name, path in written.items():
            print(f"{name}: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mtmri", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    book = commands.add_parser("book", help="execute the notebooks and build the book")
    book.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "paper"])
    book.add_argument("--data-dir", default=None, help="real data (default: packaged demo data)")
    book.add_argument("--seed", type=_integer(0, 2**32 - 1), default=0)
    book.add_argument("--build-dir", default="_build")
    book.add_argument("--force", action="store_true", help="re-run unchanged notebooks too")
    book.add_argument("--no-build", action="store_true", help="execute only, no HTML")
    book.set_defaults(func=_book)

    bench = commands.add_parser("bench", help="run a benchmark from benchmarks/")
    bench.add_argument("name", help="benchmark name, e.g. artefacts")
    bench.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the benchmark")
    bench.set_defaults(func=_bench)

    correct = commands.add_parser(
        "correct", help="correct a NIfTI file or DICOM folder with a trained model"
    )
    correct.add_argument("input", help="a .nii / .nii.gz file or a folder with one DICOM series")
    correct.add_argument("--model", required=True, help="a trained model (.keras)")
    correct.add_argument("--out", required=True, help="folder for the NIfTI outputs")
    correct.add_argument(
        "--axis", type=_integer(-3, 2), default=None, help="NIfTI: axis to slice along (0, 1, 2)"
    )
    correct.add_argument(
        "--batch-size", type=_integer(1), default=8, help="slices per forward pass (>= 1)"
    )
    correct.add_argument(
        "--overwrite", action="store_true", help="replace an earlier output set of this input"
    )
    correct.add_argument("--quiet", action="store_true", help="no progress bar, no listing")
    correct.set_defaults(func=_correct)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
