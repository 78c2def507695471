"""Write the walk-through notebooks from their cell sources (run after editing a cell).

The notebooks are committed un-executed; the test suite executes them.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent

CONFLICTS = [
    new_markdown_cell(
        "# Conflicts between organisations' plans\n\n"
        "This walk-through loads the demo plans of six organisations (Helsinki streets), "
        "finds where and when their works collide, and shows the conflicts on a map.\n\n"
        "* **clash** — two organisations in the street at the same time;\n"
        "* **moratorium** — an excavation within 3 years after the street was resurfaced "
        '("dig after pave");\n'
        "* **synergy** — works close in space and within a year of each other: "
        "an opportunity to combine."
    ),
    new_code_cell(
        "import tempfile\n"
        "from pathlib import Path\n\n"
        "import matplotlib.pyplot as plt\n\n"
        "from ims_geo.conflicts import find_conflicts\n"
        "from ims_geo.demo import build_demo_store\n"
        "from ims_geo.rules import Rules\n"
        "from ims_geo.store import open_store"
    ),
    new_markdown_cell(
        "## 1. Load the plans\n\nEach organisation sends its plan in its own format "
        "(GeoPackage, zipped shapefile, GeoJSON, CSV with WKT, FlatGeobuf) and CRS. "
        "Importing them into a store validates every row, quarantines the bad ones "
        "with a reason, and reprojects everything into one metric working CRS."
    ),
    new_code_cell(
        "store = open_store(Path(tempfile.mkdtemp()) / 'demo.gpkg')\n"
        "for version, result in build_demo_store(store):\n"
        "    print(result.report())\n"
        "works = store.works()\n"
        "print(len(works), 'works in', works.crs)\n"
        "store.summary()"
    ),
    new_markdown_cell(
        "## 2. Find the conflicts\n\nThe defaults: works within 20 m, a synergy window "
        "of 365 days, a moratorium of 3 years. Every pair of organisations appears once."
    ),
    new_code_cell(
        "rules = Rules(distance=20, window_days=365, moratorium_years=3)\n"
        "conflicts = find_conflicts(works, rules)\n"
        "conflicts['kind'].value_counts()"
    ),
    new_code_cell(
        "# the checks a planner would do by hand, on the whole answer\n"
        "assert (conflicts['org_a'] != conflicts['org_b']).all()\n"
        "assert (conflicts['distance_m'] <= 20).all()\n"
        "assert (conflicts.loc[conflicts['kind'] == 'clash', 'gap_days'] <= 0).all()\n"
        "assert (conflicts.loc[conflicts['kind'] == 'synergy', 'gap_days'].between(1, 365)).all()\n"
        "pairs = conflicts[['org_a', 'work_id_a', 'org_b', 'work_id_b']].apply(tuple, axis=1)\n"
        "assert pairs.is_unique"
    ),
    new_markdown_cell(
        "## 3. The most pressing conflicts\n\nRanked by score (kind, time pressure, shared length)."
    ),
    new_code_cell(
        "columns = ['org_a', 'work_id_a', 'org_b', 'work_id_b', 'kind', 'severity', 'score',\n"
        "           'distance_m', 'gap_days', 'overlap_m']\n"
        "conflicts[columns].head(10)"
    ),
    new_code_cell(
        "# which organisations collide most\n"
        "conflicts.groupby(['org_a', 'org_b', 'kind']).size().unstack(fill_value=0)"
    ),
    new_markdown_cell("## 4. On the map\n\nAll works in light grey; conflicts coloured by kind."),
    new_code_cell(
        "colours = {'clash': '#d7191c', 'moratorium': '#7b3294', 'synergy': '#1a9641'}\n"
        "fig, ax = plt.subplots(figsize=(8, 8))\n"
        "works.plot(ax=ax, color='#bbbbbb', linewidth=0.8)\n"
        "for kind, colour in colours.items():\n"
        "    part = conflicts[conflicts['kind'] == kind]\n"
        "    if len(part):\n"
        "        part.plot(ax=ax, color=colour, markersize=12, linewidth=3, label=f'{kind} ({len(part)})')\n"
        "ax.legend(loc='lower right')\n"
        "ax.set_axis_off()\n"
        "ax.set_title('Conflicts between organisations, demo plans 2026-2033')\n"
        "plt.show()"
    ),
    new_markdown_cell(
        "## 5. Export\n\nThe same table goes to CSV, Excel, GeoJSON or GeoPackage "
        "(`ims-geo conflicts --out conflicts.xlsx` on the command line)."
    ),
    new_code_cell(
        "from ims_geo import export\n"
        "out = export.write(conflicts, Path(tempfile.mkdtemp()) / 'conflicts.gpkg')\n"
        "print(out.name, out.stat().st_size, 'bytes')"
    ),
]


def main() -> None:
    nb = new_notebook(
        cells=CONFLICTS,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(nb, HERE / "conflicts_walkthrough.ipynb")


if __name__ == "__main__":
    main()
