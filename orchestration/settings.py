"""Settings from the environment, with defaults that need no configuration.

Every setting is an environment variable so the same code runs from `make run`, `dagster dev`,
CI and a production scheduler. `profiles.yml` reads the same variables for dbt.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SOURCES_YML = DBT_PROJECT_DIR / "models" / "staging" / "_sources.yml"
TARGETS = ("duckdb", "postgres")
# The schema BI tools read, and where a PostgreSQL run builds the marts before it swaps them in
# (blue/green, orchestration/publishing.py). On DuckDB the build is a separate file instead.
PUBLISHED_MARTS_SCHEMA = "marts"
PG_BUILD_MARTS_SCHEMA = "marts__next"


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    target: str
    duckdb_path: Path
    pg_host: str
    pg_port: int
    pg_user: str
    pg_password: str
    pg_database: str
    schedule_timezone: str
    clv_discount_rate_annual: float
    # hash every landed file on every run, not only new or touched ones (loader fast path off)
    verify_landed_files: bool = False

    @classmethod
    def from_env(cls) -> "Settings":
        target = os.environ.get("WAREHOUSE_TARGET", "duckdb")
        if target not in TARGETS:
            raise ValueError(f"WAREHOUSE_TARGET={target!r}: expected one of {', '.join(TARGETS)}")
        return cls(
            landing_dir=Path(os.environ.get("WAREHOUSE_LANDING_DIR", PROJECT_ROOT / "seeds")).resolve(),
            target=target,
            duckdb_path=Path(
                os.environ.get("WAREHOUSE_DUCKDB_PATH", PROJECT_ROOT / ".warehouse" / "warehouse.duckdb")
            ).resolve(),
            pg_host=os.environ.get("WAREHOUSE_PG_HOST", "127.0.0.1"),
            pg_port=int(os.environ.get("WAREHOUSE_PG_PORT", "5432")),
            pg_user=os.environ.get("WAREHOUSE_PG_USER", "postgres"),
            pg_password=os.environ.get("WAREHOUSE_PG_PASSWORD", ""),
            pg_database=os.environ.get("WAREHOUSE_PG_DATABASE", "test"),
            schedule_timezone=os.environ.get("WAREHOUSE_SCHEDULE_TIMEZONE", "UTC"),
            clv_discount_rate_annual=float(os.environ.get("WAREHOUSE_CLV_DISCOUNT_RATE_ANNUAL", "0.10")),
            verify_landed_files=os.environ.get("WAREHOUSE_VERIFY_LANDED_FILES", "").lower() in ("1", "true", "yes"),
        )

    @property
    def duckdb_build_path(self) -> Path:
        """Where runs write (orchestration/publishing.py): same file name, so the DuckDB catalog
        name and view definitions match the published file it replaces."""
        return self.duckdb_path.parent / "build" / self.duckdb_path.name

    @property
    def marts_schema(self) -> str:
        """The schema a run writes the marts to (dbt models and Python marts): `marts` inside the
        DuckDB build file; on PostgreSQL the build schema `marts__next`, published by a schema swap."""
        return PG_BUILD_MARTS_SCHEMA if self.target == "postgres" else PUBLISHED_MARTS_SCHEMA

    def dbt_env(self) -> dict[str, str]:
        """The environment variables profiles.yml reads, resolved to absolute values.

        dbt always writes the build file; readers use the published `duckdb_path`."""
        self.duckdb_build_path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "WAREHOUSE_TARGET": self.target,
            "WAREHOUSE_DBT_DUCKDB_PATH": str(self.duckdb_build_path),
            "WAREHOUSE_DUCKDB_TEMP_DIR": str(self.duckdb_path.parent / "tmp"),
            "WAREHOUSE_PG_HOST": self.pg_host,
            "WAREHOUSE_PG_PORT": str(self.pg_port),
            "WAREHOUSE_PG_USER": self.pg_user,
            "WAREHOUSE_PG_PASSWORD": self.pg_password,
            "WAREHOUSE_PG_DATABASE": self.pg_database,
            # where dbt builds the marts (macro generate_schema_name, source `analytics`): `marts`
            # in the DuckDB build file, the build schema on PostgreSQL (readers never see it)
            "WAREHOUSE_MARTS_SCHEMA": self.marts_schema,
            # a test runs only once all its parents are built (or selected): partial selections
            # such as `--select staging` never run a mart's test against a missing mart
            "DBT_INDIRECT_SELECTION": "buildable",
        }

    def environ(self) -> dict[str, str]:
        """Every variable a child process needs to see these settings (from_env reads them back)."""
        return {**self.dbt_env(), "WAREHOUSE_LANDING_DIR": str(self.landing_dir),
                "WAREHOUSE_DUCKDB_PATH": str(self.duckdb_path),
                "WAREHOUSE_SCHEDULE_TIMEZONE": self.schedule_timezone,
                "WAREHOUSE_CLV_DISCOUNT_RATE_ANNUAL": str(self.clv_discount_rate_annual),
                "WAREHOUSE_VERIFY_LANDED_FILES": "true" if self.verify_landed_files else "false"}

    def apply_to_environ(self) -> None:
        """Make these settings the process's own (Dagster resources and dbt read the environment)."""
        os.environ.update(self.environ())
