"""Reading the TOML files users write (rules, column mappings, cost tables)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from ims_geo.errors import InputError


def read_toml(
    path: str | os.PathLike[str], what: str, error: type[InputError] = InputError
) -> dict[str, Any]:
    """The TOML file at ``path`` as a dict.

    A file that is missing, unreadable, not UTF-8 or not TOML raises
    ``error`` with a message naming ``what`` (e.g. "rules file") and the path.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise error(f"{path}: cannot read the {what}: it does not exist") from exc
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror})") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: the {what} is not UTF-8 text; save it as UTF-8") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: the {what} is not a valid TOML file ({exc})") from exc
