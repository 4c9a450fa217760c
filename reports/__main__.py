"""Command line: ``python -m restoration_reports [--run-missing] [--out out/report.html] [--pdf]``.

Exit status: 0 when the HTML (and, with ``--pdf``, the PDF) was written, even if some figures have no
completed run (their sections say why); 1 for a broken registry or a database that cannot be read (one line says
which file or variable, and what to do); 2 for a usage error (argparse's); :data:`EXIT_NO_PDF` (3) when ``--pdf``
was asked for but the PDF engine (WeasyPrint and the system's Pango) is missing or failed (the HTML is still
written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from restoration_reports import build as _build

EXIT_NO_PDF = 3  # its own code: 2 is argparse's usage error


def build_parser() -> argparse.ArgumentParser:
    from restoration import program, version_text

    parser = argparse.ArgumentParser(prog=program("restoration_reports"), description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(_build.DEFAULT_OUT), help="HTML file to write (default: out/report.html)")
    parser.add_argument(
        "--run-missing",
        action="store_true",
        help="first run `python -m restoration_experiments <fig> with quick` for every figure without a "
        "completed run (failures are reported in the figure's section)",
    )
    parser.add_argument(
        "--pdf",
        action="store_true",
        help="also lay the report out as <out>.pdf (WeasyPrint: page numbers, running headers, contents)",
    )
    parser.add_argument("--registry", default=str(_build.DEFAULT_REGISTRY), help="figure registry (TOML)")
    parser.add_argument(
        "--no-embed",
        action="store_true",
        help="write images to <out>_files/ next to the HTML instead of embedding them",
    )
    parser.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="FIGURE=RUN",
        help="show run RUN for FIGURE instead of its newest completed run, e.g. --pin fig06=12; "
        "repeat for several (the appendix says which runs are pinned)",
    )
    parser.add_argument("--pins", default=None, metavar="FILE", help="pins from a file of `fig06 = 12` lines")
    parser.add_argument("--version", action="version", version=version_text(parser.prog))
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds allowed per experiment with --run-missing (default: no limit)",
    )
    return parser


def _error(text: str) -> int:
    """Print ``error: text`` as one safe line, secrets masked; exit status 1."""
    from restoration.errors import printable
    from restoration.tracking.database import mask_secrets

    print(printable(f"error: {mask_secrets(text)}"), file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    from restoration.errors import safe_streams

    parser = build_parser()
    safe_streams()  # argparse quotes bad arguments, bytes that are not UTF-8 included
    args = parser.parse_args(argv)

    from restoration import atomic
    from restoration.tracking.database import DatabaseError

    atomic.exit_on_sigterm()  # a kill during the build or the PDF leaves the previous files and no partial one
    try:
        from restoration_reports.runs import parse_pins

        out = _build.build(
            args.out,
            registry=args.registry,
            run_missing_figures=args.run_missing,
            embed=not args.no_embed,
            timeout=args.timeout,
            pins=parse_pins(args.pin, args.pins),
        )
    except KeyError as exc:  # a pinned run that is not in the database
        return _error(str(exc.args[0] if exc.args else exc))
    except (FileNotFoundError, ValueError, DatabaseError) as exc:
        return _error(str(exc))
    except OSError as exc:  # a full disk, a read-only folder: the previous report stays whole
        return _error(f"could not write {exc.filename or args.out}: {atomic.why(exc)}; the previous report is kept")
    print(f"wrote {out}")
    if args.pdf:
        pdf = Path(out).with_suffix(".pdf")
        try:
            _build.write_pdf(out, pdf)
        except _build.PdfEngineError as exc:
            print(f"error: no PDF: {exc}", file=sys.stderr)
            return EXIT_NO_PDF
        print(f"wrote {pdf}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
