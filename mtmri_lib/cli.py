"""The ``mtmri`` console script.

``mtmri book [--profile cpu] [--data-dir DIR] [--seed 0] [--force] [--no-build]``
    execute the book's notebooks with papermill and build the HTML book.
``mtmri bench NAME [args...]``
    run ``benchmarks/NAME.py`` from a source checkout (``mtmri bench artefacts``).
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

__all__ = ["main"]


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mtmri", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    book = commands.add_parser("book", help="execute the notebooks and build the book")
    book.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "paper"])
    book.add_argument("--data-dir", default=None, help="real data (default: packaged demo data)")
    book.add_argument("--seed", type=int, default=0)
    book.add_argument("--build-dir", default="_build")
    book.add_argument("--force", action="store_true", help="re-run unchanged notebooks too")
    book.add_argument("--no-build", action="store_true", help="execute only, no HTML")
    book.set_defaults(func=_book)

    bench = commands.add_parser("bench", help="run a benchmark from benchmarks/")
    bench.add_argument("name", help="benchmark name, e.g. artefacts")
    bench.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the benchmark")
    bench.set_defaults(func=_bench)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
