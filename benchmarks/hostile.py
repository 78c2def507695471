"""Hostile and broken files through both reading paths: the full fuzz corpus.

Builds the seeded corpus of tests/fuzz_corpus.py (default 1,033 files:
every hand-made hostile class and wrong sidecar, then flipped bytes,
truncations and damaged zip members of valid plans in every format) and
reads each file

- through the upload page's reading path (the bytes with their name:
  :func:`ims_geo.ingest.list_layers`, then :func:`ims_geo.ingest.read_works`
  with the upload limits), storing what was accepted in a GeoPackage store
  and running every later reader and writer over it (conflicts, the map
  payload, every export format);
- through ``ims-geo import FILE --org Fuzz --store ...`` (click's runner,
  local-file limits), then the same readers and writers over the store the
  command wrote.

Each outcome is one of refused / accepted / crash / hang / lost / store
broken (see tests/fuzz_corpus.py). A watchdog alarm turns a read that does
not return within the read time limit plus a minute into "hang". The table
(class x outcome, per path) is printed, written to
``benchmarks/out/hostile.md`` and, with ``--readme``, into
benchmarks/README.md between the hostile-results markers. Exit status 1
when any file crashed, hung, was lost or broke the store.

Run: ``.venv/bin/python benchmarks/hostile.py [--files 1033] [--seed 13] [--readme]``
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import json
import random
import signal
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import fuzz_corpus as fc  # noqa: E402

README = ROOT / "benchmarks" / "README.md"
BEGIN, END = "<!-- hostile-results:begin -->", "<!-- hostile-results:end -->"
#: Read time limit of the run (the default, 300 s, would make the endless view cost 5 min).
READ_SECONDS = 20


class Hang(Exception):
    """The watchdog fired: a read did not return."""


def _alarm(_signum: int, _frame: Any) -> None:
    raise Hang


def _watched(call: Any, seconds: int) -> fc.Outcome:
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        outcome: fc.Outcome = call()
    except Hang:
        outcome = fc.Outcome("hang", f"no answer after {seconds} s")
    finally:
        signal.alarm(0)
    return outcome


def run_case(case: fc.Case, folder: Path) -> dict[str, fc.Outcome]:
    """The outcome of one file on both paths."""
    limits = {"max_read_seconds": READ_SECONDS}
    watchdog = READ_SECONDS * 2 + 60
    out = {}
    upload = _watched(lambda: fc.through_upload(case, limits), watchdog)
    if upload.outcome == "accepted":
        upload = fc.store_check(upload.result, folder / "upload") or upload
    out["upload"] = upload
    cli_folder = folder / "cli"
    cli_folder.mkdir()
    cli = _watched(lambda: fc.through_cli(case, cli_folder, limits), watchdog)
    if cli.outcome == "accepted":
        cli = fc.readers_check(cli_folder / "store.gpkg", cli_folder) or cli
    out["cli"] = cli
    return out


def _xlsx(frame: Any, formula: bool = False) -> bytes:
    """``frame`` as a workbook's first sheet (geometry as EWKT text), as openpyxl writes it."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    table_rows = list(csv.reader(fc.csv_text(frame).decode("utf-8").splitlines()))
    for row in table_rows:
        sheet.append(row)
    if formula:  # a formula openpyxl saves without its value: refused naming the cell
        sheet.cell(row=2, column=len(table_rows[0]) + 1, value="=1+2")
        sheet.cell(row=1, column=len(table_rows[0]) + 1, value="cost_eur")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def table_cases(seed: int) -> list[fc.Case]:
    """JSON record lists and Excel workbooks: honest, hostile, then with flipped bytes."""
    import pandas as pd

    frame = fc.plan(40, seed)
    text = pd.read_csv(io.BytesIO(fc.csv_text(frame)), dtype=str)
    records = json.dumps(text.to_dict("records")).encode()
    workbook = _xlsx(frame)
    # a workbook with a member that expands 60 MiB from a few KiB: refused before openpyxl
    with zipfile.ZipFile(io.BytesIO(workbook)) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    bomb = fc.zipped({**members, "xl/media/pad.bin": b"\0" * (60 << 20)})
    cases = [
        fc.Case("table: json records", "plan.json", records, rows=40),
        fc.Case("table: xlsx", "plan.xlsx", workbook, rows=40),
        fc.Case("table hostile", "deep.json", b"[" * 100_000 + b"]" * 100_000, expect="refused"),
        fc.Case("table hostile", "many.json", records, expect="refused",
                limits={"max_rows": 10}),
        fc.Case("table hostile", "bomb.xlsx", bomb, expect="refused"),
        fc.Case("table hostile", "formula.xlsx", _xlsx(frame, formula=True), expect="refused"),
        fc.Case("table hostile", "plan.xls", workbook, expect="refused"),
    ]  # fmt: skip
    rng = random.Random(seed)
    for i in range(10):
        for name, data in (("plan.json", records), ("plan.xlsx", workbook)):
            stem, suffix = name.rsplit(".", 1)
            cases.append(
                fc.Case(f"flipped bytes: {suffix}", f"{stem}_{i}.{suffix}", fc.flipped(data, rng))
            )
    return cases


def table(counts: dict[str, collections.Counter[tuple[str, str]]], classes: list[str]) -> str:
    lines = []
    for path, title in (("upload", "Upload page's reading path"), ("cli", "`ims-geo import`")):
        lines.append(f"**{title}**\n")
        lines.append("| class | files | " + " | ".join(fc.OUTCOMES) + " |")
        lines.append("|---|---:|" + "---:|" * len(fc.OUTCOMES))
        total: collections.Counter[str] = collections.Counter()
        for cls in classes:
            row = [counts[path][(cls, o)] for o in fc.OUTCOMES]
            total.update({o: n for o, n in zip(fc.OUTCOMES, row, strict=True)})
            lines.append(f"| {cls} | {sum(row)} | " + " | ".join(map(str, row)) + " |")
        lines.append(
            f"| **all** | **{sum(total.values())}** | "
            + " | ".join(f"**{total[o]}**" for o in fc.OUTCOMES)
            + " |"
        )
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1033)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    args = parser.parse_args()

    started = time.perf_counter()
    cases = fc.corpus(args.files, seed=args.seed) + table_cases(args.seed)
    built = time.perf_counter() - started
    classes = list(dict.fromkeys(c.cls for c in cases))
    counts: dict[str, collections.Counter[tuple[str, str]]] = {
        "upload": collections.Counter(),
        "cli": collections.Counter(),
    }
    problems = []
    for i, case in enumerate(cases, start=1):
        with tempfile.TemporaryDirectory(prefix="ims_geo_hostile_") as tmp:
            folder = Path(tmp)
            (folder / "upload").mkdir()
            outcomes = run_case(case, folder)
        for path, outcome in outcomes.items():
            counts[path][(case.cls, outcome.outcome)] += 1
            if outcome.outcome not in ("refused", "accepted"):
                problems.append((path, case.cls, case.name, outcome.outcome, outcome.detail[:300]))
        if i % 50 == 0:
            print(f"{i}/{len(cases)} files, {time.perf_counter() - started:.0f} s", flush=True)
    elapsed = time.perf_counter() - started
    text = (
        f"{len(cases)} files (seed {args.seed}; corpus built in {built:.0f} s), each read on "
        f"both paths in {elapsed / 60:.1f} min on 2 cores (read time limit {READ_SECONDS} s).\n\n"
        + table(counts, classes)
    )
    print(text)
    for problem in problems:
        print("PROBLEM", *problem)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "hostile.md").write_text(text, encoding="utf-8")
    if args.readme:
        readme = README.read_text(encoding="utf-8")
        head, _, rest = readme.partition(BEGIN)
        _, _, tail = rest.partition(END)
        README.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
