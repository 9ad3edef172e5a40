"""The skip of a no-op run: the fingerprint changes with the landed files and with the code."""

from __future__ import annotations

from conftest import base_settings
from landing_builder import CONTRACTS, VALID_LEAD, write_landing_file
from orchestration import build_state
from orchestration.loading.loader import load_all
from orchestration.warehouse import connect

LEAD = VALID_LEAD


def test_code_fingerprint_follows_every_model_macro_and_python_file(tmp_path):
    for rel in ("dbt_project/models/stg.sql", "dbt_project/macros/m.sql", "orchestration/a.py", "profiles.yml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("select 1")
    before = build_state.code_fingerprint(tmp_path)
    assert build_state.code_fingerprint(tmp_path) == before
    (tmp_path / "dbt_project/models/stg.sql").write_text("select 2")
    assert build_state.code_fingerprint(tmp_path) != before
    (tmp_path / "dbt_project/models/stg.sql").write_text("select 1")
    (tmp_path / "orchestration/__pycache__").mkdir()
    (tmp_path / "orchestration/__pycache__/a.cpython-311.pyc").write_bytes(b"\x00")  # not code
    assert build_state.code_fingerprint(tmp_path) == before


def test_build_fingerprint_changes_with_a_new_landed_file_and_is_recorded(tmp_path):
    landing = tmp_path / "landing"
    write_landing_file(landing, "crm.leads", "2024-02-01.csv", [LEAD], "2024-02-01T03:00:00+00:00")
    settings = base_settings(tmp_path, landing)
    with connect(settings) as wh:
        load_all(wh, landing, {"crm.leads": CONTRACTS["crm.leads"]})
        first = build_state.build_fingerprint(wh, settings)
        assert build_state.last_published_fingerprint(wh) is None
        build_state.record_published(wh, first)
        assert build_state.last_published_fingerprint(wh) == first
        assert build_state.build_fingerprint(wh, settings) == first  # nothing new: a run would skip
        write_landing_file(landing, "crm.leads", "2024-02-02.csv", [dict(LEAD, id="L2")], "2024-02-02T03:00:00+00:00")
        load_all(wh, landing, {"crm.leads": CONTRACTS["crm.leads"]})
        assert build_state.build_fingerprint(wh, settings) != first  # a new file: a run builds
