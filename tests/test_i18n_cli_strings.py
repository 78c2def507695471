"""The import and compare command lines' new messages are known in Dutch and German.

The command line speaks English; these messages are listed as templates
(:mod:`ims_geo.i18n.messages`) so that wherever a person reads one (a page
that shows a library error, a log viewer) it is in their language. Each is
built here by the command line's own code and must be recognised, with its
values (store, organisations, counts) kept.
"""

from __future__ import annotations

import contextlib
import io
from types import SimpleNamespace

import pandas as pd
import pytest

from ims_geo import cli as ims_cli
from ims_geo import i18n
from ims_geo.errors import StoreError
from ims_geo.i18n import messages

URL = "postgresql://db.example/ims"


def refusal(identity: object, org: str | None) -> str:
    store = SimpleNamespace(identity=identity, location=URL, is_owner=False)
    with pytest.raises(StoreError) as info:
        ims_cli._import_org(URL, store, org)
    return str(info.value)


def left_out_line() -> str:
    """The line an import signed in prints about the file's other organisations."""
    table = pd.DataFrame({"org": ["A", "B"], "stored": [True, False], "works": [3, 2],
                          "rejected": [0, 0]})  # fmt: skip
    version = SimpleNamespace(n_works=3, org="A", version=1, cycle=2027, n_rejected=0)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ims_cli._import_report(table, [version], URL, signed_in=True)
    (line,) = [t for t in out.getvalue().splitlines() if t.startswith("Left out")]
    return line


def built() -> list[tuple[str, list[str]]]:
    """Each message as the command line builds it, with the values it must keep."""
    me = SimpleNamespace(user="a_plan", org="A")
    return [
        (refusal(None, None), [URL]),
        (refusal(me, "B"), ["a_plan", "'A'", "'B'"]),
        (left_out_line(), ["1"]),
        (ims_cli._compare_left_out_line(0), []),
        (ims_cli._compare_left_out_line(1234), ["1,234"]),
    ]


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_the_import_and_compare_messages_are_translated(lang: str) -> None:
    cases = built()
    with i18n.speaking(lang):
        for message, values in cases:
            said = messages.translate(message)
            assert said != message, message
            for value in values:
                assert value in said, (value, said)
