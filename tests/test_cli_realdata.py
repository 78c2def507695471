"""``ims-geo conflicts`` on the real UK street-works notices of Ashford, Kent (June 2018).

The expected conflicts are computed here, independently of the package,
straight from the raw GeoPackage: all pairs of works of different promoters
within 20 m (British National Grid metres), DESIGN §3 written out naively.
Two of them were checked by hand against the records:

* Highways England, A28 Canterbury Road, Godmersham, 26-30 June (item 4468350)
  and Kent County Council on the same road, 26-27 June (item 4491303),
  7.93 m apart: a clash;
* Kent County Council on A2042 Victoria Road, Ashford, 18-29 June (4412184)
  and the street-works licence on the same stretch, same days (4412195): a clash.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from ims_geo.cli import main

from conftest import ROOT, shared_data

SEAL_SECTOR = "Highway Authority"
UTILITY_SECTORS = {"Water", "Telecommunications", "Electricity", "Gas"}


def _expected(raw: gpd.GeoDataFrame, distance: float = 20.0) -> set[tuple[str, str, str]]:
    org = raw["responsible_org_name"].str.lower().to_numpy()
    start = pd.to_datetime(raw["i__start_date"]).dt.normalize().to_numpy()
    end = pd.to_datetime(raw["i__end_date"]).dt.normalize().to_numpy()
    state = raw["e__works_state"].fillna("").to_numpy()
    sector = raw["responsible_org_sector"].to_numpy()
    seals = sector == SEAL_SECTOR
    digs = np.isin(sector, list(UTILITY_SECTORS))
    active = ~np.isin(state, ["Work cancelled", "Work completed"])
    protecting = (state == "Work completed") & seals
    geoms = raw.geometry.to_numpy()
    ids = raw["item_id"].astype(str).to_numpy()
    found = set()
    for i in range(len(raw)):
        d = shapely.distance(geoms[i], geoms[i + 1 :])
        for k in np.flatnonzero(d <= distance):
            j = i + 1 + k
            if org[i] == org[j]:
                continue
            gap = (max(start[i], start[j]) - min(end[i], end[j])) // np.timedelta64(1, "D")
            kind = None
            both_active = active[i] and active[j]
            for sealer, digger in ((i, j), (j, i)):
                sealing_ok = seals[sealer] and (active[sealer] or protecting[sealer])
                if sealing_ok and digs[digger] and active[digger] and start[digger] > end[sealer]:
                    if (start[digger] - end[sealer]) // np.timedelta64(1, "D") <= 3 * 365:
                        kind = "moratorium"
            if both_active and gap <= 0:
                kind = "clash"
            elif both_active and kind is None and gap <= 365:
                kind = "synergy"
            if kind:
                found.add((*sorted((ids[i], ids[j])), kind))
    return found


@pytest.mark.realdata
def test_conflicts_between_real_promoters(tmp_path):
    gpkg = shared_data("uk_eton_kent_roadworks_2018", "htdd_ashford_2018-06.gpkg")
    out = tmp_path / "ashford.csv"
    result = CliRunner().invoke(
        main,
        [
            "conflicts",
            str(gpkg),
            "--mapping",
            str(ROOT / "data/mappings/uk_eton.toml"),
            "--out",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "rejected: 0" in result.stderr
    table = pd.read_csv(out, dtype={"work_id_a": str, "work_id_b": str})
    got = {(*sorted((r.work_id_a, r.work_id_b)), r.kind) for r in table.itertuples()}

    raw = gpd.read_file(gpkg)
    assert got == _expected(raw)

    canterbury = table[
        (table[["work_id_a", "work_id_b"]].apply(set, axis=1) == {"4468350", "4491303"})
    ].iloc[0]
    assert {canterbury.org_a, canterbury.org_b} == {"Highways England", "Kent County Council"}
    assert canterbury.kind == "clash"
    # 7.9287 m between the two works; conflict exports round distances to centimetres
    assert canterbury.distance_m == 7.93
    assert canterbury.gap_days == -1  # 26-30 June and 26-27 June share two days
    victoria = table[table[["work_id_a", "work_id_b"]].apply(set, axis=1) == {"4412184", "4412195"}]
    assert victoria["kind"].tolist() == ["clash"]
    assert victoria["gap_days"].tolist() == [-11]
