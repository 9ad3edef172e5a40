"""Dagster resources: the warehouse connection settings and the dbt CLI."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from orchestration.run_lock import WarehouseBusyError, acquire_run_lock
from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings
from orchestration.warehouse import Warehouse, connect


class WarehouseDbtCliResource(DbtCliResource):
    """DbtCliResource without two start-up costs of every dbt step (both override private members of
    DbtCliResource; tests/test_definitions.py fails if dagster-dbt renames them):
    - the dbt version comes from the installed dbt-core package instead of `dbt --version` in a
      subprocess (~1.5 s of dbt's imports per run, measured). dbt-core is installed in this same
      environment (pyproject.toml), so the executable and the package cannot disagree;
    - no in-process dbt adapter (`_initialize_dbt_core_adapter`)."""

    @cached_property
    def _cli_version(self) -> Version:
        return Version(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        """No in-process dbt adapter. DbtCliResource builds one at the start of every `cli()` call
        (loading the profile and parsing every macro: 1.5-3 s of this process's CPU before dbt
        starts, measured) only for `fetch_row_counts()` / `fetch_column_metadata()`, which the
        warehouse does not use; the dbt build itself runs in its own process either way."""
        return None


class WarehouseResource(dg.ConfigurableResource):
    """Connects to the warehouse the settings point at (DuckDB file or PostgreSQL)."""

    def settings(self) -> Settings:
        settings = Settings.from_env()
        settings.apply_to_environ()
        return settings

    def connect(self) -> Warehouse:
        return connect(self.settings())

    def hold_run_lock(self) -> Settings:
        """Called first by every step that writes: take the warehouse's run lock for this run's
        process (re-entrant, orchestration/run_lock.py), so that a run started from the UI for a few
        assets cannot write into the build of a run in progress. A run that finds it taken fails at
        once, without retrying (it would find it taken again)."""
        settings = self.settings()
        try:
            acquire_run_lock(settings)
        except WarehouseBusyError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
        return settings

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
        "dbt": WarehouseDbtCliResource(
            project_dir=project,
            profiles_dir=str(PROJECT_ROOT),
            target=settings.target,
            dbt_executable=dbt_executable(),
        ),
    }
