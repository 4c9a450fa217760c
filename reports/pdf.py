"""Printing the HTML report to PDF (and screenshots for eyeballing the layout) with headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_INSTALL_HINT = (
    "PDF output needs headless Chromium, which was not found on PATH (looked for: "
    + ", ".join(CHROMIUM_NAMES) + "; or set $CHROMIUM). Install it with\n"
    "    sudo apt-get install chromium        (Debian/Ubuntu)\n"
    "then rerun with --pdf. The HTML report was written regardless."
)


class ChromiumNotFoundError(FileNotFoundError):
    """No headless Chromium to print the PDF with; the message says how to install it."""


def find_chromium() -> str | None:
    env = os.environ.get("CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_command(chromium: str, html_path: Path, *, user_data_dir: str, pdf: Path | None = None,
                     screenshot: Path | None = None, window: tuple[int, int] = (1100, 1600)) -> list[str]:
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars", f"--user-data-dir={user_data_dir}"]
    if pdf is not None:
        cmd += ["--no-pdf-header-footer", "--print-to-pdf-no-header", f"--print-to-pdf={pdf}"]
    if screenshot is not None:
        cmd += [f"--screenshot={screenshot}", f"--window-size={window[0]},{window[1]}"]
    return cmd + [html_path.resolve().as_uri()]


def _run_chromium(html_path: Path, **kwargs) -> None:
    chromium = find_chromium()
    if chromium is None:
        raise ChromiumNotFoundError(CHROMIUM_INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="report-chromium-") as profile:
        cmd = chromium_command(chromium, html_path, user_data_dir=profile, **kwargs)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    target = kwargs.get("pdf") or kwargs.get("screenshot")
    if proc.returncode != 0 or not Path(target).exists():
        raise RuntimeError(f"Chromium could not render {html_path} to {target} (exit {proc.returncode}): "
                           f"{proc.stderr.strip()[-800:]}")


def write_pdf(html_path: Path, pdf_path: Path) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium (raises ChromiumNotFoundError)."""
    pdf_path = Path(pdf_path)
    if pdf_path.exists():
        pdf_path.unlink()
    _run_chromium(Path(html_path), pdf=pdf_path.resolve())
    return pdf_path


def write_screenshot(html_path: Path, png_path: Path, *, window: tuple[int, int] = (1100, 1600)) -> Path:
    """Render ``html_path`` to a PNG screenshot with headless Chromium (for eyeballing the layout)."""
    png_path = Path(png_path)
    if png_path.exists():
        png_path.unlink()
    _run_chromium(Path(html_path), screenshot=png_path.resolve(), window=window)
    return png_path
