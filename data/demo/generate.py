"""Regenerate the demo plans in this folder from the OpenStreetMap street network.

Usage (from the repository root)::

    .venv/bin/python data/demo/generate.py [--out DIR] [--seed N] [--streets GPKG]

The work is done by :func:`ims_geo.demo.generate`; the same seed and street
source give the same files, so a regeneration shows no change in git.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ims_geo.demo import DEFAULT_SEED, DEMO_DIR, STREETS, generate


def main(argv: list[str] | None = None) -> int:
    """Write the demo files and print their paths."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEMO_DIR, help="folder to write into")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--streets", type=Path, default=STREETS, help="OpenStreetMap streets GeoPackage"
    )
    args = parser.parse_args(argv)
    for path in generate(args.out, seed=args.seed, streets=args.streets):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
