"""Skip the build when nothing changed since the last published one.

A build is a pure function of (the landed files that loaded, the code that transforms them): the
warehouse's "now" is the latest `_loaded_at` of the data (kpis.md, As of), never the wall clock.
So a nightly run that loaded no new file, with the same dbt project and Python code as the last
published build, would rebuild exactly the same warehouse. Such a run records nothing new: the dbt
step sees the fingerprint of its inputs equal to the one stored with the published build
(`audit.build_state`) and skips, and everything downstream of it (Python marts, publish) is skipped
with it. `make run FULL_REFRESH=1` (dbt's DBT_FULL_REFRESH) always builds.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from orchestration.settings import PROJECT_ROOT, Settings
from orchestration.warehouse import Warehouse, connect

STATE_TABLE = "audit.build_state"
# which Dagster run lineage (a run and its re-executions) started the build in progress: written
# when the build starts, checked before it is published (assets/publishing.py); PostgreSQL only,
# DuckDB keeps it in a file beside the build file (lineage_file)
BUILD_RUN_TABLE = "audit.build_run"
# everything that decides what a build computes, besides the landed data
CODE_PATHS = ("dbt_project/models", "dbt_project/macros", "dbt_project/tests", "dbt_project/dbt_project.yml",
              "profiles.yml", "orchestration")


def code_fingerprint(root: Path = PROJECT_ROOT) -> str:
    digest = hashlib.sha256()
    for rel in CODE_PATHS:
        path = root / rel
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()
                                                     and p.suffix in (".sql", ".yml", ".yaml", ".py"))
        for file in files:
            digest.update(file.relative_to(root).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def input_fingerprint(wh: Warehouse) -> str:
    """The set of files whose rows are in the raw tables (from the load ledger)."""
    rows = wh.fetchall("select file_path, content_sha256 from audit.load_ledger where outcome = 'loaded' "
                       "order by file_path, content_sha256")
    digest = hashlib.sha256()
    for path, sha in rows:
        digest.update(f"{path}\0{sha}\n".encode())
    return digest.hexdigest()


def build_fingerprint(wh: Warehouse, settings: Settings) -> str:
    return hashlib.sha256(f"{settings.target}|{code_fingerprint()}|{input_fingerprint(wh)}".encode()).hexdigest()


def ensure_state_table(executor) -> None:
    executor.execute("create schema if not exists audit")
    executor.execute(f"create table if not exists {STATE_TABLE} (fingerprint varchar not null, published_at timestamp not null)")


def last_published_fingerprint(wh: Warehouse) -> str | None:
    ensure_state_table(wh)
    rows = wh.fetchall(f"select fingerprint from {STATE_TABLE} order by published_at desc limit 1")
    return rows[0][0] if rows else None


def record_published(executor, fingerprint: str) -> None:
    """Called by the publish step: in the DuckDB build file before it is renamed into place, or in
    the PostgreSQL schema-swap transaction. `executor`: a Warehouse or a DB-API cursor (%s params)."""
    ensure_state_table(executor)
    executor.execute(f"delete from {STATE_TABLE}")
    executor.execute(f"insert into {STATE_TABLE} values (%s, current_timestamp)", [fingerprint])


def lineage_file(settings: Settings) -> Path:
    return settings.duckdb_build_path.with_name(settings.duckdb_build_path.name + ".run")


def record_build_started(settings: Settings, lineage: str) -> None:
    """Called by the build_copy step: the run lineage the fresh build belongs to. DuckDB: a file
    beside the build file (a row written into the fresh copy would make DuckDB flush the whole
    1.8 GB copy to disk when the connection closes, ~1 s a run with nothing new never needs).
    PostgreSQL: table audit.build_run (the audit schema is built in place)."""
    if settings.target == "duckdb":
        lineage_file(settings).write_text(lineage)
        return
    with connect(settings) as wh:
        wh.execute("create schema if not exists audit")
        wh.execute(f"create table if not exists {BUILD_RUN_TABLE} (run_id varchar not null, started_at timestamp not null)")
        wh.execute(f"delete from {BUILD_RUN_TABLE}")
        wh.execute(f"insert into {BUILD_RUN_TABLE} values (%s, current_timestamp)", [lineage])


def build_lineage(settings: Settings) -> str | None:
    """The run lineage that started the current build; None when no build is in progress."""
    if settings.target == "duckdb":
        path = lineage_file(settings)
        return path.read_text() if path.exists() and settings.duckdb_build_path.exists() else None
    with connect(settings) as wh:
        if not wh.fetchall("select count(*) from information_schema.tables where table_schema = 'audit' "
                           "and table_name = 'build_run'")[0][0]:
            return None
        rows = wh.fetchall(f"select run_id from {BUILD_RUN_TABLE}")
    return rows[0][0] if rows else None
