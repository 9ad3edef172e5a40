"""Shared fixtures: scratch warehouses (DuckDB file or fresh PostgreSQL database) and a dbt runner."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # landing_builder

from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT, Settings  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def postgres_reachable(settings: Settings) -> str | None:
    """None when the server answers, else the reason."""
    try:
        import psycopg2

        psycopg2.connect(host=settings.pg_host, port=settings.pg_port, user=settings.pg_user,
                         dbname=settings.pg_database, connect_timeout=5).close()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL at {settings.pg_host}:{settings.pg_port} unreachable: {exc}".strip()


def require_postgres(settings: Settings) -> None:
    reason = postgres_reachable(settings)
    if reason:
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: the Postgres tests must run; start the server)")
        pytest.skip(reason)


def base_settings(tmp_path: Path, landing: Path, target: str = "duckdb", pg_database: str = "test") -> Settings:
    defaults = Settings.from_env()
    return replace(defaults, landing_dir=landing, target=target,
                   duckdb_path=tmp_path / "warehouse.duckdb", pg_database=pg_database)


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    settings = Settings.from_env()
    require_postgres(settings)
    import psycopg2

    name = f"wh_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host=settings.pg_host, port=settings.pg_port, user=settings.pg_user,
                             dbname=settings.pg_database)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"create database {name}")
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f"drop database if exists {name} with (force)")
        admin.close()


@pytest.fixture
def pg_database() -> Iterator[str]:
    with fresh_pg_database() as name:
        yield name


@pytest.fixture(scope="module")
def pg_database_module() -> Iterator[str]:
    with fresh_pg_database() as name:
        yield name


def run_dbt(settings: Settings, args: list[str], tmp_path: Path, check: bool = True,
            extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the project's dbt against `settings`' warehouse, with target/logs in tmp_path."""
    env = {**os.environ, **settings.dbt_env(), **(extra_env or {})}
    cmd = [str(Path(sys.executable).parent / "dbt"), *args, "--project-dir", str(DBT_PROJECT_DIR),
           "--profiles-dir", str(PROJECT_ROOT), "--target", settings.target,
           "--target-path", str(tmp_path / "dbt_target"), "--log-path", str(tmp_path / "dbt_logs")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}")
    return proc
