"""Errors raised by ims_geo.

One base class, :class:`ImsGeoError`. Problems with what a user gave us
(files, columns, rules) also subclass :class:`ValueError`, so callers can
catch either. Every message says what was wrong, where (file, row, column
or key) and what to do about it.
"""

from __future__ import annotations


class ImsGeoError(Exception):
    """Base class of every error ims_geo raises on purpose."""


class InputError(ImsGeoError, ValueError):
    """A file, column, value or setting the user supplied cannot be used."""


class MissingCRSError(InputError):
    """A spatial file carries no coordinate reference system."""


class HostileInputError(InputError):
    """A file is unsafe or too large to read (zip-slip, zip bomb, size limit)."""


class ReadLimitError(HostileInputError):
    """Reading a file crashed its worker or broke a memory, CPU or time limit."""


class RulesError(InputError):
    """A rules or mapping file has an unknown key or a value of the wrong kind."""


class StoreError(ImsGeoError):
    """The works store could not be read or written."""


class ImportRefusedError(InputError):
    """A new plan version looks like the wrong file; nothing was stored.

    ``refused`` maps each refused organisation to why: ``"empty"`` (no
    accepted work) or ``"unrelated"`` (no ``work_id`` in common with a
    sizeable current plan). A caller that asked the user may repeat the
    import with ``allow_empty=True`` or ``replace=True``.
    """

    def __init__(self, message: str, refused: dict[str, str]) -> None:
        super().__init__(message)
        self.refused = dict(refused)


class ScheduleError(ImsGeoError):
    """The programme scheduler could not build or solve a model."""


class ReportError(ImsGeoError):
    """A report could not be produced (e.g. no browser to print the PDF with)."""
