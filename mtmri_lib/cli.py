"""The ``mtmri`` console script.

``mtmri book [--profile cpu] [--data-dir DIR] [--seed 0] [--force] [--no-build]``
    execute the book's notebooks with papermill and build the HTML book.
``mtmri book --profile paper --dry-run [--data-dir DIR] [--build-dir DIR]``
    every chapter at the paper's shapes with tiny counts, on fastMRI files (written from
    synthetic subjects unless ``--data-dir`` is given), then ``mtmri correct`` on a volume;
    prints and writes (``BUILD/dry-run-paper.json``) each step's wall time, peak memory and
    disk written, and the paper run's extrapolated time per epoch here. No HTML is built.
``mtmri bench NAME [args...]``
    run ``benchmarks/NAME.py`` from a source checkout (``mtmri bench artefacts``).
``mtmri correct INPUT --model MODEL.keras --out DIR [--axis N] [--batch-size 8] [--overwrite]
[--quiet]``
    correct a NIfTI file or a DICOM folder slice by slice with a trained model and write
    NIfTI files of the corrected volume and of each residual (`mtmri_lib.correct`); the set
    appears complete or not at all, and an earlier set is replaced only with ``--overwrite``.
``mtmri simulate INPUT... --out DIR [--kinds K,K] [--mix random|each] [--sequence K,K]
[--preset NAME] [--fidelity paper] [--samples-per-slice 1] [--seed 0] [--size 320]
[--workers 1] [--chunk-size 64] [--overwrite] [--quiet]``
    write clean / corrupted slice pairs to ``DIR/pairs.h5`` and one record per sample to
    ``DIR/records.jsonl`` (`mtmri_lib.simulate`); an interrupted run resumes when the same
    command is given again.
``mtmri simulate --replay DIR [--index I ...] [--workers 1] [--quiet]``
    recompute the samples of ``DIR`` from their sources and compare bit for bit: exit 0 when
    all match, 1 naming the ones that differ.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

from .artefacts import KINDS
from .correct import correct_file
from .simulate import replay, simulate

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


def _even_size(text: str) -> int:
    """An argparse type: an even number of pixels >= 16."""
    value = _integer(16)(text)
    if value % 2:
        raise argparse.ArgumentTypeError(f"must be an even number of pixels >= 16; got {value}")
    return value


def _kind_list(*, distinct: bool):
    """An argparse type: artefact names separated by commas (``motion,subsampling``)."""

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        if not names:
            raise argparse.ArgumentTypeError(f"must name artefacts among {','.join(KINDS)}")
        unknown = [name for name in names if name not in KINDS]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown artefact {unknown[0]!r}; choose among {','.join(KINDS)}"
            )
        if distinct and len(set(names)) != len(names):
            raise argparse.ArgumentTypeError(f"names an artefact twice: {text!r}")
        return names

    return parse


def _report_error(command: str, error: BaseException) -> None:
    notes = "".join(f"\n  ({note})" for note in getattr(error, "__notes__", ()))
    print(f"mtmri {command}: {error}{notes}", file=sys.stderr)


def _book(args: argparse.Namespace) -> int:
    from .report.runner import BookError, run_book, run_dry_run  # TensorFlow: the profiles

    if args.dry_run:
        try:
            report = run_dry_run(
                args.profile,
                data_dir=args.data_dir,
                seed=args.seed,
                build_dir=args.build_dir,
                force=args.force,
            )
        except BookError as error:
            _report_error("book --dry-run", error)
            return 1
        print(report.summary())
        return 0
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
        _report_error("book", error)
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
    try:
        written = correct_file(
            args.input,
            args.model,
            args.out,
            axis=args.axis,
            batch_size=args.batch_size,
            progress=not args.quiet,
            overwrite=args.overwrite,
            jit_compile=args.xla,
            fold_batch_norm=args.fold_batch_norm,
        )
    except (OSError, ValueError) as error:  # missing files, unreadable input, wrong model
        _report_error("correct", error)
        return 2
    if not args.quiet:
        for name, path in written.items():
            print(f"{name}: {path}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    parser = args.command_parser
    if args.replay is not None:
        given = {
            "INPUT": bool(args.inputs),
            "--out": args.out is not None,
            "--kinds": args.kinds is not None,
            "--mix": args.mix is not None,
            "--sequence": args.sequence is not None,
            "--preset": args.preset is not None,
            "--overwrite": args.overwrite,
        }
        extra = [name for name, present in given.items() if present]
        if extra:
            parser.error(f"--replay checks an existing output and takes no {', '.join(extra)}")
        return _replay(args)
    if args.index is not None:
        parser.error("--index applies to --replay only")
    if not args.inputs:
        parser.error("give at least one INPUT (NIfTI file, DICOM folder, fastMRI .h5, or a folder)")
    if args.out is None:
        parser.error("--out DIR is required (the folder for pairs.h5 and records.jsonl)")
    if args.sequence is not None and (args.kinds is not None or args.mix is not None):
        parser.error(
            "--sequence fixes the artefacts of every sample: give it without --kinds/--mix"
        )

    try:
        result = simulate(
            args.inputs,
            args.out,
            kinds=args.kinds,
            mix=args.mix,
            sequence=args.sequence,
            preset=args.preset,
            fidelity=args.fidelity,
            samples_per_slice=args.samples_per_slice,
            seed=args.seed,
            size=args.size,
            workers=args.workers,
            chunk_size=args.chunk_size,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
    except (
        OSError,
        ValueError,
        TypeError,
    ) as error:  # bad inputs, unreadable volumes, a staged run
        _report_error("simulate", error)
        return 2
    except KeyboardInterrupt:
        print(
            "mtmri simulate: interrupted; the finished chunks are kept, give the same command "
            "again to resume",
            file=sys.stderr,
        )
        return 130
    if not args.quiet:
        resumed = f", {result.resumed_chunks} chunk(s) resumed" if result.resumed_chunks else ""
        print(
            f"{result.n_samples} pairs in {result.seconds:.1f} s{resumed}: "
            f"{result.pairs}, {result.records}"
        )
    return 0


def _replay(args: argparse.Namespace) -> int:
    try:
        report = replay(args.replay, args.index, workers=args.workers, progress=not args.quiet)
    except (OSError, ValueError, TypeError) as error:  # no output there, an index out of range
        _report_error("simulate --replay", error)
        return 2
    print(report.summary())
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mtmri", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    book = commands.add_parser("book", help="execute the notebooks and build the book")
    book.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "paper"])
    book.add_argument(
        "--data-dir", default=None, help="real data (default: synthetic subjects made offline)"
    )
    book.add_argument("--seed", type=_integer(0, 2**32 - 1), default=0)
    book.add_argument("--build-dir", default="_build")
    book.add_argument("--force", action="store_true", help="re-run unchanged notebooks too")
    book.add_argument("--no-build", action="store_true", help="execute only, no HTML")
    book.add_argument(
        "--dry-run",
        action="store_true",
        help="paper profile only: every chapter at the paper's shapes with tiny counts, "
        "measured (time, memory, disk); no HTML",
    )
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
        "--xla",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="compile the forward pass with XLA (--xla) or as a plain graph (--no-xla); "
        "default: Keras' choice (benchmarks/model.py --correct tells which is faster here)",
    )
    correct.add_argument(
        "--fold-batch-norm",
        action="store_true",
        help="fold each batch normalisation into its convolution (same output within 1e-5)",
    )
    correct.add_argument(
        "--overwrite", action="store_true", help="replace an earlier output set of this input"
    )
    correct.add_argument("--quiet", action="store_true", help="no progress bar, no listing")
    correct.set_defaults(func=_correct)

    simulate = commands.add_parser(
        "simulate", help="write clean / corrupted slice pairs of volumes (pairs.h5, records.jsonl)"
    )
    simulate.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="NIfTI files, DICOM series folders, fastMRI .h5 files, or folders of them",
    )
    simulate.add_argument("--out", metavar="DIR", help="folder for pairs.h5 and records.jsonl")
    simulate.add_argument(
        "--kinds",
        type=_kind_list(distinct=True),
        default=None,
        help="artefacts drawn from, comma-separated (default bias,subsampling,motion,noise)",
    )
    simulate.add_argument(
        "--mix",
        choices=["random", "each"],
        default=None,
        help="random: one artefact per sample (the training mix, default); each: one sample "
        "per artefact for every slice",
    )
    simulate.add_argument(
        "--sequence",
        type=_kind_list(distinct=False),
        default=None,
        help="artefacts applied in order to every sample, e.g. motion,subsampling",
    )
    simulate.add_argument(
        "--preset", default=None, help="mild, moderate, severe or article:<severity>"
    )
    simulate.add_argument("--fidelity", choices=["paper", "code"], default="paper")
    simulate.add_argument(
        "--samples-per-slice", type=_integer(1), default=1, help="samples per slice (>= 1)"
    )
    simulate.add_argument("--seed", type=_integer(0), default=0, help="seed of the run (>= 0)")
    simulate.add_argument(
        "--size", type=_even_size, default=320, help="side of the square slices (even, >= 16)"
    )
    simulate.add_argument("--workers", type=_integer(1), default=1, help="processes (>= 1)")
    simulate.add_argument(
        "--chunk-size",
        type=_integer(1),
        default=64,
        help="samples per staged chunk: the most work an interruption loses (>= 1)",
    )
    simulate.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output, and discard a staged run with other options",
    )
    simulate.add_argument(
        "--replay", metavar="DIR", default=None, help="check an output bit for bit instead"
    )
    simulate.add_argument(
        "--index",
        type=_integer(0),
        nargs="+",
        default=None,
        metavar="I",
        help="with --replay: the samples to check (default all)",
    )
    simulate.add_argument(
        "--quiet", action="store_true", help="no progress bar (simulating: no summary line either)"
    )
    simulate.set_defaults(func=_simulate, command_parser=simulate)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
