"""Dagster resources: the warehouse connection settings and the dbt CLI."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject

from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings
from orchestration.warehouse import Warehouse, connect


class WarehouseResource(dg.ConfigurableResource):
    """Connects to the warehouse the settings point at (DuckDB file or PostgreSQL)."""

    def settings(self) -> Settings:
        settings = Settings.from_env()
        settings.apply_to_environ()
        return settings

    def connect(self) -> Warehouse:
        return connect(self.settings())

    @property
    def landing_dir(self) -> Path:
        return self.settings().landing_dir


def dbt_project_for(settings: Settings) -> DbtProject:
    settings.apply_to_environ()
    project = DbtProject(
        project_dir=DBT_PROJECT_DIR,
        profiles_dir=PROJECT_ROOT,
        target=settings.target,
    )
    # `dagster dev` parses the project itself; `make run` / CI run `dbt parse` first.
    project.prepare_if_dev()
    return project


def dbt_executable() -> str:
    """The dbt next to this interpreter (the project venv), even when the venv is not activated."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def build_resources(settings: Settings) -> dict[str, object]:
    project = dbt_project_for(settings)
    return {
        "warehouse": WarehouseResource(),
        "dbt": DbtCliResource(
            project_dir=project,
            profiles_dir=str(PROJECT_ROOT),
            target=settings.target,
            dbt_executable=dbt_executable(),
        ),
    }
