"""``ims-geo mapping suggest`` on a file without an id column: the ``[work_id_from]`` search.

Builds a seeded works table of street works without an id column (twelve
columns a composed id may be drawn from: a few references that repeat,
streets, dates, organisations, sectors, free text; one record in a hundred
repeated in every column, so no set of columns tells all rows apart and the
whole search runs) and times :func:`ims_geo.ingest.suggest.id_from_columns`
on it, the fastest of ``--repeat`` runs per size.

Run: ``.venv/bin/python benchmarks/suggest_ids.py [--sizes 200000,1000000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from ims_geo.ingest.suggest import id_from_columns

#: Share of rows that repeat an earlier record in every column.
REPEATED = 0.01


def table(rows: int, seed: int = 7) -> pd.DataFrame:
    """A works feed of ``rows`` rows without an id column (seeded)."""
    rng = np.random.default_rng(seed)
    days = pd.Timestamp("2027-01-01") + pd.to_timedelta(rng.integers(0, 1_100, rows), "D")
    frame = pd.DataFrame(
        {
            "permit_ref": [f"P{n:06d}" for n in rng.integers(0, rows // 4, rows)],
            "section_no": rng.integers(1, 40, rows).astype(str),
            "usrn_code": [f"{n:08d}" for n in rng.integers(0, rows // 50 + 1, rows)],
            "street": [f"Street {n}" for n in rng.integers(0, 5_000, rows)],
            "town": [f"Town {n}" for n in rng.integers(0, 200, rows)],
            "promoter": [f"Promoter {n}" for n in rng.integers(0, 30, rows)],
            "sector": rng.choice(["water", "gas", "electricity", "telecom", "road"], rows),
            "state": rng.choice(["planned", "in progress", "done", "cancelled"], rows),
            "start": days.strftime("%Y-%m-%d"),
            "end": (days + pd.to_timedelta(rng.integers(1, 90, rows), "D")).strftime("%Y-%m-%d"),
            "description": [f"Works {n}" for n in rng.integers(0, rows // 10 + 1, rows)],
            "cost": (rng.integers(1, 500, rows) * 100).astype(str),
        }
    )
    copies = rng.choice(rows, 2 * int(rows * REPEATED), replace=False).reshape(2, -1)
    frame.iloc[copies[1]] = frame.iloc[copies[0]].to_numpy()
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for rows in (int(s) for s in args.sizes.split(",")):
        frame = table(rows)
        times = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            columns, why = id_from_columns(frame, {})
            times.append(time.perf_counter() - began)
        print(f"{rows:>9,} rows: {min(times):6.2f} s  {columns}  {why.split(':')[0]}")


if __name__ == "__main__":
    main()
