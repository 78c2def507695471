"""The report as PDF: its HTML printed by a headless Chromium.

The HTML is already made for print (A4, a page break before each measure
sheet, colours kept), so the PDF is exactly what a reader of the HTML gets
when printing it. Chromium is the one printer: Debian's ``chromium``
package (``make test`` installs it), or any Chromium/Chrome named by the
``IMS_GEO_CHROMIUM`` environment variable. It runs in a throwaway profile,
headless, with no network access needed (the HTML loads nothing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ims_geo.errors import ReportError

#: Environment variable naming the Chromium (or Chrome) executable to print with.
CHROMIUM_ENV = "IMS_GEO_CHROMIUM"
#: Executables looked for on the PATH, in this order.
CHROMIUM_NAMES: tuple[str, ...] = (
    "chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
)  # fmt: skip
#: Seconds a print may take before it is given up.
PRINT_TIMEOUT = 120.0


def find_chromium() -> Path:
    """The Chromium executable that prints PDFs.

    Raises
    ------
    ReportError
        No Chromium is installed (or ``IMS_GEO_CHROMIUM`` names no file);
        the message says how to install one and that .html/.xlsx need none.
    """
    named = os.environ.get(CHROMIUM_ENV, "").strip()
    if named:
        path = shutil.which(named) or (named if Path(named).is_file() else None)
        if path is None:
            raise ReportError(
                f"{CHROMIUM_ENV}={named!r} names no executable; point it at a Chromium or "
                "Chrome binary, or unset it to use 'chromium' from the PATH"
            )
        return Path(path)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ReportError(
        "no PDF printer available: writing a .pdf report needs a headless Chromium "
        "(Debian/Ubuntu: apt-get install chromium; or set "
        f"{CHROMIUM_ENV} to a Chrome/Chromium binary). The .html and .xlsx reports "
        "need nothing: write one of those, or print the .html from any browser."
    )


def html_to_pdf(html_text: str, *, timeout: float = PRINT_TIMEOUT) -> bytes:
    """Print ``html_text`` to PDF with headless Chromium and return the PDF's bytes.

    Raises
    ------
    ReportError
        No Chromium, or it failed or timed out (its last message is quoted).
    """
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="ims-geo-pdf-") as tmp:
        folder = Path(tmp)
        page = folder / "report.html"
        page.write_text(html_text, encoding="utf-8")
        out = folder / "report.pdf"
        command = [
            str(chromium),
            "--headless",
            "--no-sandbox",  # also runs as root in containers; the page runs no script
            "--disable-gpu",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--no-default-browser-check",
            "--no-pdf-header-footer",
            f"--user-data-dir={folder / 'profile'}",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise ReportError(f"{chromium} did not print the report within {timeout:g} s") from exc
        except OSError as exc:
            raise ReportError(f"cannot run {chromium}: {exc.strerror or exc}") from exc
        content = out.read_bytes() if out.exists() else b""
        if done.returncode != 0 or not content.startswith(b"%PDF"):
            lines = [ln for ln in (done.stderr or "").splitlines() if ln.strip()]
            detail = lines[-1] if lines else f"exit status {done.returncode}"
            raise ReportError(f"{chromium} could not print the report to PDF: {detail}")
        return content
