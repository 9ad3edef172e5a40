"""Write-audit-publish: readers never see a build that is unfinished or failed a check.

DuckDB: readers (BI tools, notebooks, an analyst's `duckdb` shell) open the *published* file
read-only. A run never writes to it: it copies the published file to a private build file (same
file name in `<dir>/build/`, so the catalog name and every view definition stay valid), loads and
builds there, runs every check, and only when all of them passed replaces the published file with
the build in one `os.replace` (an atomic rename). A failed or killed run leaves the published file
exactly as it was; the next run starts again from it. A reader that opened the old file keeps
reading the old build until it reconnects, so an answer never mixes two builds.

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
import threading
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
from orchestration.warehouse import pg_connect

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


def early_copy_path(build: Path) -> Path:
    return build.with_name(build.name + ".early")


def _file_identity(path: Path) -> tuple[int, int, int, int] | None:
    """What changes when the published file is replaced or written: device, inode, size, mtime."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


class EarlyBuildCopy:
    """The build copy, started in a background thread when a run's process starts (`start_early_build_copy`)
    instead of when the `build_copy` step runs. Copying the 1.8 GB file of the benchmark takes 1-4 s
    (more from a cold page cache) and is I/O, while the seconds before the step are CPU (imports,
    definitions, Dagster creating the run): on two cores the two overlap. `prepare_build` takes the
    copy only if the published file is still the same file, unchanged, as when the copy started and
    ended; otherwise it copies again, as it always did."""

    def __init__(self, published: Path, build: Path) -> None:
        self.published, self.build, self.target = published, build, early_copy_path(build)
        self.error: BaseException | None = None
        self.identity = _file_identity(published)
        self.identity_after: tuple[int, int, int, int] | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._copy, name="early-build-copy", daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        started = time.perf_counter()
        try:
            self.build.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.published, self.target)  # sendfile: the GIL is released while it copies
            self.identity_after = _file_identity(self.published)
        except BaseException as exc:  # noqa: BLE001 - reported by take(); the step then copies itself
            self.error = exc
        self.seconds = time.perf_counter() - started

    def take(self) -> bool:
        """Wait for the copy; True when it is a copy of the published file as it is now, moved to
        the build path. False (copy discarded) when it failed or the published file changed."""
        self._thread.join()
        usable = (self.error is None and self.identity is not None
                  and self.identity == self.identity_after == _file_identity(self.published))
        if usable:
            os.replace(self.target, self.build)
        else:
            log.warning("early build copy not used (%s); copying again",
                        self.error or "the published file changed while it was copied")
            self.target.unlink(missing_ok=True)
        return usable


_early_copies: dict[Path, EarlyBuildCopy] = {}


def start_early_build_copy(settings: Settings) -> None:
    """Start copying the published DuckDB file to the build path in the background (see
    EarlyBuildCopy). Call it first thing in a process that is about to run the pipeline; a no-op
    on PostgreSQL, on a first run (nothing published), or when a copy was already started."""
    build, published = settings.duckdb_build_path, settings.duckdb_path
    if settings.target != "duckdb" or build in _early_copies or not published.exists():
        return
    early_copy_path(build).unlink(missing_ok=True)
    _early_copies[build] = EarlyBuildCopy(published, build)


def prepare_build(settings: Settings) -> Path:
    """Start a build: a fresh copy of the published warehouse (or nothing, on a first run); the
    early copy when this process started one and it is still a copy of the published file."""
    build, published = settings.duckdb_build_path, settings.duckdb_path
    build.parent.mkdir(parents=True, exist_ok=True)
    early = _early_copies.pop(build, None)
    for leftover in (build, wal_path(build)):  # from a failed or killed run
        leftover.unlink(missing_ok=True)
    if early is not None and early.take():
        log.info("build copy of %s (%.1f MB) made early, in %.1f s, while the run started", published,
                 build.stat().st_size / 1e6, early.seconds)
        return build
    early_copy_path(build).unlink(missing_ok=True)  # a killed run's partial early copy
    if published.exists():
        started = time.perf_counter()
        shutil.copyfile(published, build)
        log.info("build copy of %s (%.1f MB) in %.1f s", published, published.stat().st_size / 1e6,
                 time.perf_counter() - started)
    return build


def publish_build(settings: Settings) -> Path:
    """Make the build the published warehouse, atomically."""
    import duckdb

    build, published = settings.duckdb_build_path, settings.duckdb_path
    if not build.exists():
        raise FileNotFoundError(f"no build to publish at {build}")
    con = duckdb.connect(str(build))
    con.execute("checkpoint")  # everything in the main file, nothing left in a WAL
    con.close()
    if wal_path(build).exists():
        raise RuntimeError(f"{wal_path(build)} still exists after a checkpoint; not publishing")
    os.replace(build, published)
    log.info("published %s", published)
    return published


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
    con = pg_connect(settings, "warehouse publish")
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
    con = pg_connect(settings, "warehouse publish")
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
