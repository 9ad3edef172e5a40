"""Write-audit-publish for the DuckDB warehouse.

Readers (BI tools, notebooks, an analyst's `duckdb` shell) open the *published* file read-only.
A run never writes to it: it copies the published file to a private build file (same file name in
`<dir>/build/`, so the catalog name and every view definition stay valid), loads and builds there,
runs every check, and only when all of them passed replaces the published file with the build in
one `os.replace` (an atomic rename). A failed or killed run leaves the published file exactly as it
was; the next run starts again from it. A reader that opened the old file keeps reading the old
build until it reconnects, so an answer never mixes two builds.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from orchestration.settings import Settings

log = logging.getLogger("warehouse.publish")


def wal_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".wal")


def prepare_build(settings: Settings) -> Path:
    """Start a build: a fresh copy of the published warehouse (or nothing, on a first run)."""
    build, published = settings.duckdb_build_path, settings.duckdb_path
    build.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (build, wal_path(build)):  # from a failed or killed run
        leftover.unlink(missing_ok=True)
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
