"""Unknown values through the real ``ims-geo`` CLI: stored with their fallback, warned, --strict."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from ims_geo import schema
from ims_geo.cli import EXIT_REJECTED, main
from ims_geo.store import open_store


def _run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def utility_plan(tmp_path):
    """5 works: 3 'in preparation', 2 'Utility' disciplines, 1 of them both; 1 bad date."""
    frame = pd.DataFrame(
        {
            "work_id": ["u1", "u2", "u3", "u4", "u5", "u6"],
            "org": ["Waterbedrijf"] * 6,
            "discipline": ["water", "Utility", "Utility", "water", "riool", "water"],
            "status": ["in preparation", "in preparation", "planned", "gepland", "in preparation",
                       "planned"],
            "start_date": ["2027-01-01"] * 5 + ["Q3"],
            "end_date": ["2027-02-01"] * 6,
            "geometry": [f"POINT({5 + i / 1000} 52)" for i in range(6)],
        }
    )  # fmt: skip
    path = tmp_path / "utility.csv"
    frame.to_csv(path, index=False)
    return path


def test_unknown_values_are_stored_with_their_fallback_and_warned_on_stderr(utility_plan, tmp_path):
    store = tmp_path / "s.gpkg"
    result = _run("import", utility_plan, "--store", store)
    assert result.exit_code == 0, result.output
    assert "accepted: 5" in result.stdout and "rejected: 1" in result.stdout
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]
    assert warnings == [
        "Warning: utility.csv: discipline 'Utility' (2 rows) read as other — add it to "
        "[values.discipline] in a mapping file",
        "Warning: utility.csv: status 'in preparation' (3 rows) read as planned — add it to "
        "[values.status] in a mapping file",
    ]
    works = open_store(store).works().sort_values(schema.WORK_ID)
    assert works[schema.WORK_ID].tolist() == ["u1", "u2", "u3", "u4", "u5"]
    assert works[schema.DISCIPLINE].tolist() == ["water", "other", "other", "water", "sewer"]
    assert works[schema.STATUS].tolist() == ["planned"] * 5
    raw = [None if pd.isna(v) else v for v in works["status_raw"]]
    assert raw == ["in preparation", "in preparation", None, None, "in preparation"]


def test_strict_fails_on_warnings_and_stores_nothing(utility_plan, tmp_path):
    store = tmp_path / "s.gpkg"
    result = _run("import", utility_plan, "--strict", "--store", store)
    assert result.exit_code == EXIT_REJECTED
    assert "1 rows rejected, 2 warnings (--strict fails on both); nothing stored" in result.stderr
    # without rejected rows, warnings alone fail too
    clean = pd.read_csv(utility_plan).iloc[:5]
    only_warned = tmp_path / "warned.csv"
    clean.to_csv(only_warned, index=False)
    result = _run("import", only_warned, "--strict", "--store", store)
    assert result.exit_code == EXIT_REJECTED
    assert "0 rows rejected, 2 warnings" in result.stderr
    assert open_store(store).works().empty
    out = tmp_path / "c.csv"
    result = _run("conflicts", only_warned, "--out", out, "--strict")
    assert result.exit_code == EXIT_REJECTED
    assert "status 'in preparation' (3 rows) read as planned" in result.stderr
    # a mapping line fixes it: no warning left, --strict passes
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[values.status]\n"in preparation" = "idea"\n[values.discipline]\n"Utility" = "other"\n',
        encoding="utf-8",
    )
    result = _run("import", only_warned, "--strict", "--mapping", mapping, "--store", store)
    assert result.exit_code == 0, result.output
    works = open_store(store).works().sort_values(schema.WORK_ID)
    assert works[schema.STATUS].tolist() == ["idea", "idea", "planned", "planned", "idea"]


def test_mapping_suggest_prints_a_mapping_that_loads_and_never_overwrites(utility_plan, tmp_path):
    import tomllib

    from ims_geo.ingest import load_mapping

    printed = _run("mapping", "suggest", utility_plan)
    assert printed.exit_code == 0, printed.output
    toml = tomllib.loads(printed.stdout)
    assert toml["columns"] == {
        "work_id": "work_id", "org": "org", "discipline": "discipline",
        "start_date": "start_date", "end_date": "end_date", "status": "status",
        "geometry": "geometry",
    }  # fmt: skip
    assert toml["values"]["status"] == {
        "in preparation": "planned", "planned": "planned", "gepland": "planned",
    }  # fmt: skip
    assert '"in preparation" = "planned"  # 3 rows; no match: the fallback' in printed.stdout
    out = tmp_path / "m.toml"
    out.write_text("# mine\n", encoding="utf-8")
    refused = _run("mapping", "suggest", utility_plan, "--out", out)
    assert refused.exit_code == 2
    assert "exists; choose another --out or add --force" in refused.stderr
    assert out.read_text(encoding="utf-8") == "# mine\n"
    forced = _run("mapping", "suggest", utility_plan, "--out", out, "--force")
    assert forced.exit_code == 0
    assert load_mapping(out).values["status"]["in preparation"] == "planned"
    # the starter mapping, unedited, leaves no warning; the bad date still rejects its row
    store = tmp_path / "s.gpkg"
    result = _run("import", utility_plan, "--mapping", out, "--strict", "--store", store)
    assert result.exit_code == 3 and "1 rows rejected, 0 warnings" in result.stderr
