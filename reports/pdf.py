"""The report as PDF: WeasyPrint (installed with the project from PyPI) lays out the HTML with the print rules of
``templates/report.css``: A4 pages, running headers with the chapter, page numbers, a table of contents with page
numbers, figures and tables kept whole, PDF bookmarks from the headings.

WeasyPrint draws text with the system's Pango (Debian: ``libpango-1.0-0`` and ``libpangoft2-1.0-0``; ``make
report`` installs them where it can). Without them :func:`write_pdf` raises :class:`PdfEngineError` with the
install line; the HTML is written before, so nothing is lost.
"""

from __future__ import annotations

import logging
from pathlib import Path

PANGO_HINT = (
    "install the system's Pango, which WeasyPrint draws text with: `sudo apt-get install libpango-1.0-0 "
    "libpangoft2-1.0-0` (Debian/Ubuntu; `make report` does this when run as root), then rerun with --pdf; "
    "the HTML report was written regardless"
)


class PdfEngineError(RuntimeError):
    """The PDF could not be made; the message says why and what to install or change."""


def engine_problem() -> str | None:
    """None when WeasyPrint and its system libraries load, else one line saying what is missing and the fix."""
    try:
        import weasyprint  # noqa: F401
    except ImportError as e:
        return (
            f"the PDF engine WeasyPrint is not installed ({e}); run `make install` (or "
            f"`.venv/bin/pip install -e .`), then rerun with --pdf"
        )
    except OSError as e:  # cffi could not load Pango / GObject
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        return f"WeasyPrint cannot load a system library ({first}): {PANGO_HINT}"
    return None


def write_pdf(html_path: str | Path, pdf_path: str | Path) -> Path:
    """Lay ``html_path`` out as ``pdf_path`` (print media, A4) with WeasyPrint; returns the path. Written to a
    temporary file next to it first, so a failure leaves any earlier PDF as it was."""
    problem = engine_problem()
    if problem:
        raise PdfEngineError(problem)
    import weasyprint

    html_path, pdf_path = Path(html_path), Path(pdf_path)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # unsupported-CSS warnings are for screen rules
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    from restoration import atomic

    try:
        with atomic.replacing(pdf_path) as tmp:  # a failure or SIGTERM keeps the earlier PDF, leaves no partial
            weasyprint.HTML(filename=str(html_path), media_type="print").write_pdf(str(tmp))
    except OSError as e:
        raise PdfEngineError(f"could not write {pdf_path}: {atomic.why(e)}; the previous PDF is kept") from e
    except Exception as e:  # noqa: BLE001 - a layout failure must not hide that the HTML exists
        raise PdfEngineError(f"WeasyPrint could not lay out {html_path} as PDF: {type(e).__name__}: {e}") from e
    return pdf_path
