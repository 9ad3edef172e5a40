"""`make run`'s dbt parse is skipped when nothing it reads changed (orchestration/run.py)."""

from __future__ import annotations

import shutil
from dataclasses import replace

from orchestration.run import NOT_PARSED, parse_dbt_project
from orchestration.settings import DBT_PROJECT_DIR, Settings


def test_parse_is_skipped_only_while_project_settings_and_manifest_are_unchanged(tmp_path, monkeypatch):
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=lambda d, names: [n for n in names if n in NOT_PARSED
                                                                       and d == str(DBT_PROJECT_DIR)])
    settings = replace(Settings.from_env(), target="duckdb", duckdb_path=tmp_path / "warehouse.duckdb")
    assert parse_dbt_project(settings, project)  # first time: parsed
    assert (project / "target" / "manifest.json").exists()
    assert not parse_dbt_project(settings, project)  # nothing changed: skipped

    model = project / "models" / "marts" / "core" / "dim_date.sql"
    model.write_text(model.read_text() + "\n-- a change\n")
    assert parse_dbt_project(settings, project)  # a model changed
    assert not parse_dbt_project(settings, project)

    model.rename(project / "models" / "marts" / "dim_date.sql")  # same file, another folder: another fqn
    assert parse_dbt_project(settings, project)
    assert not parse_dbt_project(settings, project)

    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    assert parse_dbt_project(settings, project)  # a DBT_ setting changed
    assert not parse_dbt_project(settings, project)

    manifest = project / "target" / "manifest.json"
    manifest.write_text(manifest.read_text())  # rewritten since (dbt run by hand with other settings)
    assert parse_dbt_project(settings, project)
    assert not parse_dbt_project(settings, project)
