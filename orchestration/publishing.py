"""Write-audit-publish: readers never see a build that is unfinished or failed a check.

DuckDB: readers (BI tools, notebooks, an analyst's `duckdb` shell) open the *published* file
read-only. A run never writes to it: it builds in a private build file (same file name in
`<dir>/build/`, so the catalog name and every view definition stay valid), loads and builds there,
runs every check, and only when all of them passed replaces the published file with the build in
one `os.replace` (an atomic rename). A failed or killed run leaves the published file exactly as it
was. A reader that opened the old file keeps reading the old build until it reconnects, so an answer
never mixes two builds.

The build file is not a copy of the published one (a copy costs a read and a write of the whole
warehouse every night, whatever the day brought): publishing keeps the file it replaces as the
*standby* (`<dir>/build/standby/`, a hard link taken before the rename), one run behind. The next
run renames the standby into the build path, brings its raw layer, load ledger and history tables
up to the published file (ATTACH read-only; the rows of the files the published build loaded and
the standby lacks), and dbt's incremental models catch up by their own watermarks, as they do on
PostgreSQL's one-run-old `marts__next`. The run falls back to a full copy, and logs why, when there
is no usable standby: the first publish, a failed or killed run (its build file is discarded, never
reused), a published file replaced by hand since (the standby's marker names the published file's
inode), or a reader still holding the old file open (DuckDB's lock; writing into a file a reader is
reading is what the copy avoids). Disk: the standby keeps a second warehouse file between runs.

PostgreSQL: blue/green schemas. Readers (role `bi_reader`) read schema `marts`; a run builds the
marts layer (dbt models and the Python marts) into the build schema `marts__next`
(`Settings.marts_schema`, macro generate_schema_name). Raw, staging, intermediate and audit are
built in place: readers have no privilege on them. When every step and every error-severity check
passed, `publish_schema_swap` renames in ONE transaction `marts` -> `marts__swap`,
`marts__next` -> `marts`, `marts__swap` -> `marts__next`, and moves bi_reader's privileges with it
(a schema's grants and default privileges follow the schema object on rename, so they are revoked
on the new `marts__next` and granted on the new `marts`). A rename takes no lock on the tables, so
the swap first takes ACCESS EXCLUSIVE locks on every published table: a query that started on the
old build finishes on it, one that arrives during the swap waits a few milliseconds and then
resolves every table in the new build; a query never mixes two builds. The locks are requested
NOWAIT and retried (the publisher never waits while holding a lock, so it cannot deadlock a reader);
after LOCK_NOWAIT_SECONDS of readers always holding some table it waits, LOCK_WAIT_TIMEOUT per
attempt (new queries queue behind it meanwhile, and a reader transaction that takes another marts
table after that point can be the victim of a deadlock), and gives up after PUBLISH_DEADLINE_SECONDS:
the run fails with nothing published. A failed or killed run never touches `marts`; the next run
builds into `marts__next` again.

The previous build stays as the next run's `marts__next` (it is not dropped): dbt rebuilds each
table there, and incremental models compare against their own one-run-old state, which is fine for
their "new rows" predicates. History tables appended by Python (`HISTORY_TABLES`) get the rows of
the published history the build does not have, in the swap transaction, so no run's rows are lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from orchestration.settings import (
    DBT_PROJECT_DIR,
    PG_BUILD_MARTS_SCHEMA,
    PUBLISHED_MARTS_SCHEMA,
    Settings,
)

log = logging.getLogger("warehouse.publish")

SWAP_SCHEMA = "marts__swap"  # transient name of the old published schema inside the swap transaction
# Python marts appended to rather than replaced (orchestration/assets/analytics.py): table -> the
# column one run's rows share. The build schema is one run old, so the swap tops its history up.
HISTORY_TABLES = {"clv_model_fits": "fitted_at"}
LOCK_NOWAIT_SECONDS = 30.0  # then wait for the locks, at most LOCK_WAIT_TIMEOUT per attempt
LOCK_WAIT_TIMEOUT = "5s"
PUBLISH_DEADLINE_SECONDS = 180.0


def wal_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".wal")


def standby_path(settings: Settings) -> Path:
    """The previously published file, kept by publish_build for the next run to build in."""
    return settings.duckdb_build_path.parent / "standby" / settings.duckdb_path.name


def _standby_marker(settings: Settings) -> Path:
    return standby_path(settings).with_name(standby_path(settings).name + ".published")


def _file_identity(path: Path) -> str:
    st = path.stat()
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def prepare_build(settings: Settings) -> tuple[Path, str]:
    """Start a build: the standby brought up to the published file, else a full copy of the
    published file, else nothing (a first run). Returns the build path and how it was made."""
    build, published, standby = settings.duckdb_build_path, settings.duckdb_path, standby_path(settings)
    build.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (build, wal_path(build)):  # from a failed or killed run: never reused
        leftover.unlink(missing_ok=True)
    if not published.exists():
        _discard_standby(settings)
        return build, "new"
    started = time.perf_counter()
    reason = _standby_unusable(settings)
    if reason is None:
        os.replace(standby, build)
        _standby_marker(settings).unlink()
        try:
            caught_up = _catch_up_with_published(build, published)
        except Exception as exc:  # noqa: BLE001 - any doubt about the standby: copy instead
            reason = f"catching up with the published file failed ({exc})"
            build.unlink(missing_ok=True)
            wal_path(build).unlink(missing_ok=True)
        else:
            log.info("build from the standby (one run behind), caught up in %.1f s: %s",
                     time.perf_counter() - started, caught_up or "nothing to carry over")
            return build, "standby"
    _discard_standby(settings)
    shutil.copyfile(published, build)
    log.info("build copy of %s (%.1f MB) in %.1f s (%s)", published, published.stat().st_size / 1e6,
             time.perf_counter() - started, reason)
    return build, "copy"


def _discard_standby(settings: Settings) -> None:
    for path in (standby_path(settings), wal_path(standby_path(settings)), _standby_marker(settings)):
        path.unlink(missing_ok=True)


def _standby_unusable(settings: Settings) -> str | None:
    """Why the standby cannot be built in, or None when it can."""
    standby, marker = standby_path(settings), _standby_marker(settings)
    if not standby.exists():
        return "no standby"
    if not marker.exists() or marker.read_text() != _file_identity(settings.duckdb_path):
        return "the published file is not the one the standby was kept with"
    if wal_path(standby).exists():
        return "the standby has a WAL"
    if _held_open(standby):
        return "a reader still holds the standby (the previously published file) open"
    return None


def _held_open(path: Path) -> bool:
    """True when another connection holds a DuckDB lock on the file. An open-file-description lock
    (Linux) conflicts with DuckDB's locks even within this process; elsewhere a process lock."""
    import fcntl
    import struct

    with open(path, "r+b") as fh:
        try:
            if hasattr(fcntl, "F_OFD_SETLK"):
                lock = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
                fcntl.fcntl(fh.fileno(), fcntl.F_OFD_SETLK, lock)
                fcntl.fcntl(fh.fileno(), fcntl.F_OFD_SETLK, struct.pack("hhqqi", fcntl.F_UNLCK, os.SEEK_SET, 0, 0, 0))
            else:
                fcntl.lockf(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.lockf(fh.fileno(), fcntl.LOCK_UN)
        except OSError:
            return True
    return False


def _catch_up_with_published(build: Path, published: Path) -> dict[str, int]:
    """Copy into the build (the standby) the published file's load-ledger rows, raw rows and
    history rows it lacks, so the build's raw layer and ledger equal the published ones: a file
    loaded, refused or reported in the run the standby missed is not loaded or reported again."""
    import duckdb

    carried: dict[str, int] = {}
    con = duckdb.connect(str(build))
    try:
        con.execute(f"attach '{published}' as published (read_only)")
        con.execute("begin")
        ledger_cols = _common_columns(con, "audit", "load_ledger")
        # the ledger rows the build lacks, and so the files whose raw rows it lacks
        con.execute(f"create temp table new_ledger_rows as select {ledger_cols} from published.audit.load_ledger "
                    f"except all select {ledger_cols} from audit.load_ledger")
        carried["ledger_rows"] = con.execute("select count(*) from new_ledger_rows").fetchone()[0]
        new_files = ("select file_path from new_ledger_rows where outcome = 'loaded'")
        for schema, table in con.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = 'published' "
                "and starts_with(schema_name, 'raw_') order by 1, 2").fetchall():
            cols = _common_columns(con, schema, table)
            n = con.execute(f'insert into "{schema}"."{table}" ({cols}) select {cols} '
                            f'from published."{schema}"."{table}" where _source_file in ({new_files})').fetchone()[0]
            if n:
                carried[f"{schema}.{table}"] = n
        con.execute(f"insert into audit.load_ledger ({ledger_cols}) select {ledger_cols} from new_ledger_rows")
        for table, run_column in HISTORY_TABLES.items():
            if not con.execute(f"select count(*) from duckdb_tables() where table_name = '{table}' "
                               f"and schema_name = '{PUBLISHED_MARTS_SCHEMA}'").fetchone()[0] == 2:
                continue
            cols = _common_columns(con, PUBLISHED_MARTS_SCHEMA, table)
            n = con.execute(
                f'insert into {PUBLISHED_MARTS_SCHEMA}.{table} ({cols}) select {cols} '
                f'from published.{PUBLISHED_MARTS_SCHEMA}.{table} as p where not exists (select 1 from '
                f'{PUBLISHED_MARTS_SCHEMA}.{table} as b where b."{run_column}" is not distinct from p."{run_column}")'
            ).fetchone()[0]
            if n:
                carried[f"{PUBLISHED_MARTS_SCHEMA}.{table}"] = n
        con.execute("commit")
        con.execute("detach published")
    finally:
        con.close()
    return carried


def _common_columns(con, schema: str, table: str) -> str:
    """The columns the build's and the published table share, in the build's order; raises when
    the build lacks the table (the caller then copies the published file instead)."""
    cols = [c for (c,) in con.execute(
        "select b.column_name from duckdb_columns() as b where b.database_name = current_database() "
        "and b.schema_name = ? and b.table_name = ? and exists (select 1 from duckdb_columns() as p "
        "where p.database_name = 'published' and p.schema_name = b.schema_name and p.table_name = b.table_name "
        "and p.column_name = b.column_name) order by b.column_index", [schema, table]).fetchall()]
    if not cols:
        raise LookupError(f"{schema}.{table} is missing from the build or shares no column")
    return ", ".join(f'"{c}"' for c in cols)


def publish_build(settings: Settings) -> Path:
    """Make the build the published warehouse, atomically; keep the file it replaces as the standby."""
    import duckdb

    build, published, standby = settings.duckdb_build_path, settings.duckdb_path, standby_path(settings)
    if not build.exists():
        raise FileNotFoundError(f"no build to publish at {build}")
    con = duckdb.connect(str(build))
    con.execute("checkpoint")  # everything in the main file, nothing left in a WAL
    con.close()
    if wal_path(build).exists():
        raise RuntimeError(f"{wal_path(build)} still exists after a checkpoint; not publishing")
    _discard_standby(settings)
    if published.exists():
        standby.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(published, standby)  # the same file under a second name: survives the rename below
        except OSError as exc:  # a filesystem without hard links: the next run copies
            log.info("no standby kept (%s)", exc)
    os.replace(build, published)
    if standby.exists():
        # written last: a run killed before this point leaves a standby without marker, never used
        _standby_marker(settings).write_text(_file_identity(published))
    log.info("published %s", published)
    return published


def return_build_to_standby(settings: Settings) -> None:
    """A run that publishes nothing (nothing new since the last publish) hands a build made from
    the standby back as the standby: it is the standby plus the published file's raw rows and
    ledger, still behind the published build, so the next run need not copy the whole file."""
    import duckdb

    build, published = settings.duckdb_build_path, settings.duckdb_path
    if not (build.exists() and published.exists()):
        return
    con = duckdb.connect(str(build))
    con.execute("checkpoint")  # the loads' writes into the main file: a standby has no WAL
    con.close()
    _discard_standby(settings)
    standby_path(settings).parent.mkdir(parents=True, exist_ok=True)
    os.replace(build, standby_path(settings))
    _standby_marker(settings).write_text(_file_identity(published))


# ------------------------------------------------------------------------------------- PostgreSQL


@cache
def bi_reader_role() -> str:
    """The role BI tools use: the dbt var bi_reader_role (dbt_project.yml, macro grant_bi_reader)."""
    role = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["bi_reader_role"]
    return _identifier(role)


def _identifier(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def _pg_connect(settings: Settings):
    import psycopg2

    con = psycopg2.connect(host=settings.pg_host, port=settings.pg_port, user=settings.pg_user,
                           password=settings.pg_password or None, dbname=settings.pg_database,
                           connect_timeout=10, application_name="warehouse publish")
    con.autocommit = True
    return con


def _schema_exists(cur, schema: str) -> bool:
    cur.execute("select exists (select 1 from pg_namespace where nspname = %s)", (schema,))
    return cur.fetchone()[0]


def _tables(cur, schema: str) -> list[str]:
    """Tables, views and materialized views of `schema`, qualified."""
    cur.execute("select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm') order by c.relname", (schema,))
    return [f'{schema}."{name}"' for (name,) in cur.fetchall()]


def prepare_build_schema(settings: Settings) -> str:
    """Start a PostgreSQL build: make sure the build schema exists (the previous build stays in it)."""
    schema = _identifier(settings.marts_schema)
    con = _pg_connect(settings)
    try:
        with con.cursor() as cur:
            cur.execute(f"create schema if not exists {schema}")
    finally:
        con.close()
    return schema


def publish_schema_swap(settings: Settings, in_swap: Callable[[Any], None] | None = None) -> dict[str, object]:
    """Swap the build schema in for `marts` in one transaction; the old marts become the build schema.

    Retries while readers hold locks on the published tables; raises when it could not publish
    within PUBLISH_DEADLINE_SECONDS (then nothing changed, and the next run publishes).
    `in_swap(cursor)` runs inside the swap transaction, after the renames: whatever must become true
    exactly when the build is published (e.g. recording what was published) commits with it."""
    import psycopg2.errors

    published, build = PUBLISHED_MARTS_SCHEMA, _identifier(settings.marts_schema)
    if build != PG_BUILD_MARTS_SCHEMA:
        raise ValueError(f"publish_schema_swap on PostgreSQL builds only, got build schema {build!r}")
    role = bi_reader_role()
    con = _pg_connect(settings)
    started, attempts = time.monotonic(), 0
    try:
        while True:
            attempts += 1
            wait = time.monotonic() - started > LOCK_NOWAIT_SECONDS
            try:
                con.autocommit = False
                with con.cursor() as cur:
                    result = _swap(cur, published, build, role, wait)
                    if in_swap is not None:
                        in_swap(cur)
                con.commit()
                break
            except (psycopg2.errors.LockNotAvailable, psycopg2.errors.DeadlockDetected) as exc:
                con.rollback()
                if time.monotonic() - started > PUBLISH_DEADLINE_SECONDS:
                    raise RuntimeError(
                        f"could not lock the published marts for {PUBLISH_DEADLINE_SECONDS:.0f} s "
                        f"({attempts} attempts; readers hold them): nothing was published") from exc
                time.sleep(min(0.05 * attempts, 1.0))
            except BaseException:
                with contextlib.suppress(Exception):  # a broken connection: keep the original error
                    con.rollback()
                raise
            finally:
                with contextlib.suppress(Exception):
                    con.autocommit = True
    finally:
        con.close()
    log.info("published schema %s (swapped with %s) after %d attempt(s) in %.2f s", build, published,
             attempts, time.monotonic() - started)
    return {**result, "attempts": attempts}


def _swap(cur, published: str, build: str, role: str, wait: bool) -> dict[str, object]:
    if not _schema_exists(cur, build):
        raise RuntimeError(f"no build to publish: schema {build} does not exist")
    had_published = _schema_exists(cur, published)
    if had_published:
        locked = _tables(cur, published)
        if locked:
            if wait:
                cur.execute(f"set local lock_timeout = '{LOCK_WAIT_TIMEOUT}'")
            cur.execute(f"lock table {', '.join(locked)} in access exclusive mode{'' if wait else ' nowait'}")
        carried = _carry_history_forward(cur, published, build)
        cur.execute(f"alter schema {published} rename to {SWAP_SCHEMA}")
    else:
        carried = {}
    cur.execute(f"alter schema {build} rename to {published}")
    if had_published:
        cur.execute(f"alter schema {SWAP_SCHEMA} rename to {build}")
    # grants and default privileges moved with the schemas: take them off the build schema, give
    # them to the published one (in this transaction: readers never see marts without them)
    cur.execute("select exists (select 1 from pg_roles where rolname = %s)", (role,))
    if cur.fetchone()[0]:
        if had_published:
            cur.execute(f"revoke all on schema {build} from {role}")
            cur.execute(f"revoke all on all tables in schema {build} from {role}")
            cur.execute(f"alter default privileges in schema {build} revoke all on tables from {role}")
        cur.execute(f"grant usage on schema {published} to {role}")
        cur.execute(f"grant select on all tables in schema {published} to {role}")
        cur.execute(f"alter default privileges in schema {published} grant select on tables to {role}")
    else:
        log.warning("role %s does not exist (created by dbt's on-run-end hook): no grants", role)
    return {"published_schema": published, "tables": len(_tables(cur, published)),
            "first_publish": not had_published, **{f"history_rows_carried_{t}": n for t, n in carried.items()}}


def _carry_history_forward(cur, published: str, build: str) -> dict[str, int]:
    """Rows of the published history tables that the (one run old) build lacks, keyed by run."""
    carried = {}
    for table, run_column in HISTORY_TABLES.items():
        cur.execute("select count(*) = 2 from information_schema.tables where table_name = %s "
                    "and table_schema in (%s, %s)", (table, published, build))
        if not cur.fetchone()[0]:
            continue
        # the columns both builds have (a column added since is NULL in older rows)
        cur.execute("select column_name from information_schema.columns as b where table_schema = %s "
                    "and table_name = %s and exists (select 1 from information_schema.columns as p "
                    "where p.table_schema = %s and p.table_name = b.table_name and p.column_name = b.column_name) "
                    "order by ordinal_position", (build, table, published))
        cols = ", ".join(f'"{c}"' for (c,) in cur.fetchall())
        cur.execute(f'insert into {build}.{table} ({cols}) select {cols} from {published}.{table} as p '
                    f'where not exists (select 1 from {build}.{table} as b where b."{run_column}" '
                    f'is not distinct from p."{run_column}")')
        carried[table] = cur.rowcount
    return carried
