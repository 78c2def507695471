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
        "from ims_geo.conflicts.rules import Rules\n"
        "from ims_geo.demo import build_demo_store\n"
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


PLANNING_CYCLE = [
    new_markdown_cell(
        "# The planning cycle: two years of the demo area\n\n"
        "The yearly cycle of the Integrated Management System carries a decision from one "
        "year to the next:\n\n"
        "1. **baseline** — every organisation's current plan, the conflicts between them;\n"
        "2. **targets** — named numbers the partners commit to;\n"
        "3. **commitment** — the adopted programme, frozen with its decision;\n"
        "4. **implementation and monitoring** — progress reports, deviations, a red/amber/green "
        "state per combined project;\n"
        "5. **evaluation and reporting** — the council pack.\n\n"
        "Then each organisation updates its plan (*Fortschreibung*) and the next cycle starts. "
        "The same steps on the command line: `ims-geo cycle targets|adopt|progress|status` and "
        "`ims-geo report --cycle YEAR --out council.html`."
    ),
    new_code_cell(
        "import datetime as dt\n"
        "import tempfile\n"
        "from pathlib import Path\n\n"
        "import matplotlib.pyplot as plt\n"
        "import openpyxl\n"
        "import pandas as pd\n\n"
        "from ims_geo import cycle\n"
        "from ims_geo.demo import build_demo_store\n"
        "from ims_geo.programme import propose\n"
        "from ims_geo.report import write_report\n"
        "from ims_geo.report.assemble import report_data\n"
        "from ims_geo.store import open_store\n\n"
        "folder = Path(tempfile.mkdtemp())"
    ),
    new_code_cell(
        "# seconds the proposer searches for each year's programme (longer: a better programme)\n"
        "time_limit = 20",
        metadata={"tags": ["parameters"]},
    ),
    new_markdown_cell(
        "## Cycle 2026\n\n### 1. Baseline\n\nSix organisations' plans for 2026 go into a "
        "store; the baseline counts the conflicts between them."
    ),
    new_code_cell(
        "store = open_store(folder / 'area.gpkg')\n"
        "build_demo_store(store)\n"
        "baseline = cycle.baseline(store, 2026)\n"
        "print(len(store.works()), 'works of', store.works()['org'].nunique(), 'organisations')\n"
        "baseline.conflict_counts"
    ),
    new_markdown_cell(
        "### 2. Targets\n\nThe known KPIs, and one the partners named themselves "
        "(`custom=True`: without it a typo is an error that lists the known names)."
    ),
    new_code_cell(
        "cycle.set_targets(store, 2026, {'combined_share': 0.3, 'moratorium_violations': 0,\n"
        "                                'max_disruption_days': 120, 'savings_eur': 2_000_000,\n"
        "                                'submitted_share': 1.0})\n"
        "cycle.set_targets(store, 2026, {'residents_informed_share': 0.9}, custom=True)\n"
        "cycle.targets(store, 2026)[['kpi', 'target', 'better']]"
    ),
    new_markdown_cell(
        "### 3. Commitment: propose, then adopt\n\nThe proposer combines works that meet in "
        "the street; the steering group adopts the proposal. From then on the programme is "
        "frozen: later imports, proposals and rule changes never change it."
    ),
    new_code_cell(
        "proposal = propose(store.works(), time_limit=time_limit)\n"
        "adoption = cycle.adopt(store, 2026, proposal, decision='Steering group decision 2026/03',\n"
        "                       decision_date='2026-03-12')\n"
        "print('adopted revision', adoption.revision, 'with', adoption.n_projects, 'combined projects')\n"
        "assert adoption.n_projects > 0\n"
        "programme = cycle.programme(store, 2026)\n"
        "programme[programme['project'].notna()].head(8)[['project', 'org', 'work_id', 'start', 'end',\n"
        "                                                 'order', 'cost_share_eur', 'funding_year']]"
    ),
    new_code_cell(
        "# the cost split adds up to each project's cost\n"
        "projects = cycle.projects(store, 2026)\n"
        "shares = programme.groupby('project')['cost_share_eur'].sum()\n"
        "assert ((shares.reindex(projects['project']).to_numpy() - projects['cost_eur'].to_numpy()).__abs__() < 0.01).all()\n"
        "cycle.financing(store, 2026).head()"
    ),
    new_markdown_cell(
        "### 4. Implementation and monitoring\n\nHelsinki Water reports progress on six of its "
        "combined works (two done, one started three weeks late, one cancelled, one started "
        "200 days early); the city reports two resurfacings done, which protects those "
        "streets by a moratorium."
    ),
    new_code_cell(
        "water = programme[(programme['org'] == 'Helsinki Water') & programme['project'].notna()].head(6)\n"
        "start, end = water['start'].reset_index(drop=True), water['end'].reset_index(drop=True)\n"
        "reports = pd.DataFrame({\n"
        "    'work_id': water['work_id'].to_numpy(),\n"
        "    'status': ['done', 'done', 'in_progress', 'in_progress', 'cancelled', 'in_progress'],\n"
        "    'actual_start': [start[0], start[1], start[2] + pd.Timedelta(days=21), start[3], None,\n"
        "                     start[5] - pd.Timedelta(days=200)],\n"
        "    'actual_end': [end[0], end[1], None, None, None, None],\n"
        "    'remark': ['', '', 'contractor late', '', 'merged into another work', 'brought forward'],\n"
        "})\n"
        "print(cycle.record_progress(store, 2026, 'Helsinki Water', reports).report())\n"
        "roads = programme[(programme['org'] == 'Helsinki City Streets')\n"
        "                  & (programme['discipline'] == 'road') & (programme['layer'] == 'surface')].head(2)\n"
        "done = pd.DataFrame({'work_id': roads['work_id'], 'status': 'done',\n"
        "                     'actual_start': roads['start'], 'actual_end': roads['end']})\n"
        "print(cycle.record_progress(store, 2026, 'Helsinki City Streets', done).report())"
    ),
    new_code_cell(
        "deviations = cycle.deviations(store, 2026)\n"
        "water_dev = deviations[deviations['org'] == 'Helsinki Water'].set_index('work_id')\n"
        "ids = water['work_id'].to_numpy()\n"
        "assert water_dev.loc[ids[4], 'deviation'] == 'dropped'\n"
        "assert water_dev.loc[ids[5], 'deviation'] == 'not_combined'\n"
        "deviations['deviation'].value_counts()"
    ),
    new_markdown_cell(
        "Most projects are red: the organisations' own plans still carry their old dates, "
        "outside the joint periods they agreed to. That is what the next Fortschreibung fixes."
    ),
    new_code_cell(
        "status = cycle.project_status(store, 2026)\n"
        "colours = {'red': '#d7191c', 'amber': '#f0a202', 'green': '#1a9641'}\n"
        "members = programme[programme['project'].notna()].merge(status[['project', 'rag']], on='project')\n"
        "fig, ax = plt.subplots(figsize=(8, 8))\n"
        "store.works().plot(ax=ax, color='#c8c8c8', linewidth=0.8)\n"
        "for rag, colour in colours.items():\n"
        "    part = members[members['rag'] == rag]\n"
        "    if len(part):\n"
        "        part.plot(ax=ax, color=colour, linewidth=2.5, label=f'{rag} ({part[\"project\"].nunique()} projects)')\n"
        "cycle.moratoria(store).plot(ax=ax, color='#7b3294', linewidth=4, label='moratorium')\n"
        "ax.legend(loc='lower right')\n"
        "ax.set_axis_off()\n"
        "ax.set_title('Combined projects of the 2026 programme by state')\n"
        "plt.show()\n"
        "status['rag'].value_counts()"
    ),
    new_markdown_cell(
        "### 5. Evaluation and reporting: the council pack\n\nOne self-contained HTML file "
        "(maps and Gantt charts drawn inside it: it opens from a USB stick), the same tables "
        "as a workbook, and the six-monthly status report. `.pdf` prints the HTML with headless "
        "Chromium."
    ),
    new_code_cell(
        "data_2026 = report_data(store, 2026, as_of=dt.date(2026, 9, 30), area='Helsinki demo')\n"
        "html = write_report(data_2026, folder / 'council_2026.html')\n"
        "xlsx = write_report(data_2026, folder / 'council_2026.xlsx')\n"
        "write_report(data_2026, folder / 'status_2026.html', kind='status')\n"
        "text = html.read_text('utf-8')\n"
        "assert 'http://' not in text and 'https://' not in text and '<script' not in text\n"
        "print(html.name, f'{html.stat().st_size / 1e6:.1f} MB,', text.count('class=\"sheet\"'), 'measure sheets')\n"
        "print(openpyxl.load_workbook(xlsx).sheetnames)\n"
        "data_2026.kpis[['kpi', 'target', 'value', 'state']]"
    ),
    new_code_cell("data_2026.conflicts.groupby(['kind', 'status']).size().unstack(fill_value=0)"),
    new_markdown_cell(
        "## Cycle 2027\n\n### Fortschreibung\n\nHelsinki Water uploads its plan for 2027: five "
        "works dropped, eight moved by four months, two new ones. The previous version stays "
        "in the store, so the changes are counted against it."
    ),
    new_code_cell(
        "current = store.works(orgs=['Helsinki Water'])\n"
        "plan = current.iloc[5:].copy()\n"
        "moved = plan.index[:8]\n"
        "for column in ('start_date', 'end_date', 'earliest', 'latest'):\n"
        "    plan.loc[moved, column] += pd.Timedelta(days=120)\n"
        "new = current.iloc[:2].copy()\n"
        "new['work_id'] = ['W2027-NEW-1', 'W2027-NEW-2']\n"
        "new['start_date'] = new['earliest'] = pd.Timestamp('2028-04-01')\n"
        "new['end_date'] = new['latest'] = pd.Timestamp('2028-06-30')\n"
        "plan = pd.concat([plan, new], ignore_index=True)\n"
        "version = store.import_plan(plan, org='Helsinki Water', cycle=2027, source='helsinki_water_2027.gpkg')\n"
        "print(version)\n"
        "changes = cycle.changes(store, 2027)\n"
        "assert changes.groupby('change').size().to_dict() == {'added': 2, 'dropped': 5, 'moved': 8}\n"
        "changes[['org', 'work_id', 'change', 'days_moved']].head(10)"
    ),
    new_markdown_cell(
        "### Targets, a new programme, the 2027 report\n\nThe 2026 programme stays as it was "
        "adopted; 2027 gets its own."
    ),
    new_code_cell(
        "cycle.set_targets(store, 2027, {'combined_share': 0.35, 'moratorium_violations': 0})\n"
        "adoption_2027 = cycle.adopt(store, 2027, decision='Steering group decision 2027/02',\n"
        "                            decision_date='2027-03-10', time_limit=time_limit)\n"
        "assert cycle.programme(store, 2026).equals(programme)  # frozen\n"
        "data_2027 = report_data(store, 2027, as_of=dt.date(2027, 3, 31), area='Helsinki demo')\n"
        "council_2027 = write_report(data_2027, folder / 'council_2027.html')\n"
        "write_report(data_2027, folder / 'council_2027.xlsx')\n"
        "print('changes counted since the', data_2027.info.previous_year, 'cycle')\n"
        "# the workbook speaks the report's language: sheet names and headers in words\n"
        "changes_sheet = pd.read_excel(folder / 'council_2027.xlsx', sheet_name='Changes')\n"
        "changes_sheet.groupby(['Organisation', 'Change']).size()"
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
    nbformat.write(
        new_notebook(cells=PLANNING_CYCLE, metadata=nb.metadata), HERE / "planning_cycle.ipynb"
    )


if __name__ == "__main__":
    main()
