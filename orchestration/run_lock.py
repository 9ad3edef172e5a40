"""One run at a time per warehouse.

Two runs on one warehouse would write the same build (the DuckDB build file, the PostgreSQL build
schema `marts__next`) at once: the second run's build copy would replace the file the first is
writing, and whichever published last would publish a mix. A run therefore takes the warehouse's
run lock before its first write and holds it until it ends; a second run that finds it taken stops
at once, before changing anything, with an error naming the run that holds it (`make run` exits
with EXIT_BUSY). The nightly schedule and a hand-started `make run` can then never collide.

- DuckDB: an exclusive `flock` on `<build dir>/<file>.lock` (beside the build file, which only runs
  touch). The kernel releases it when the holding process exits, however it exits.
- PostgreSQL: a session-level advisory lock on a connection of its own, held for the run. The
  server releases it when that connection closes, including when the process dies.

The lock is re-entrant within a process (`make run` takes it before the early build copy, and the
`build_copy` step takes it again for runs Dagster starts itself).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from orchestration.settings import Settings
from orchestration.warehouse import pg_connect

EXIT_BUSY = 75  # EX_TEMPFAIL: try again later (a scheduler may retry)
# one advisory lock key per PostgreSQL database (advisory locks are per database already)
PG_LOCK_KEY = int.from_bytes(hashlib.sha256(b"sales_kpi_warehouse run lock").digest()[:8], "big", signed=True)


class WarehouseBusyError(RuntimeError):
    """Another run holds the warehouse's run lock."""


_held: dict[str, object] = {}  # lock name -> the open file descriptor or PostgreSQL connection


def lock_name(settings: Settings) -> str:
    if settings.target == "duckdb":
        return str(settings.duckdb_build_path.with_name(settings.duckdb_build_path.name + ".lock"))
    return f"postgresql://{settings.pg_host}:{settings.pg_port}/{settings.pg_database}"


def _busy(settings: Settings, holder: str) -> WarehouseBusyError:
    return WarehouseBusyError(
        f"another run is building this warehouse ({holder}); this run stopped before changing anything. "
        f"The published warehouse stays as that run leaves it: run again once it has finished. "
        f"Lock: {lock_name(settings)}")


def acquire_run_lock(settings: Settings) -> None:
    """Take the warehouse's run lock, or raise WarehouseBusyError at once (no waiting)."""
    name = lock_name(settings)
    if name in _held:
        return
    me = f"pid {os.getpid()} on {socket.gethostname()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
    if settings.target == "duckdb":
        path = Path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes (O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 400, 0).decode(errors="replace").strip() or "holder unknown"
            os.close(fd)
            raise _busy(settings, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{me}\n".encode(), 0)
        _held[name] = fd
        return
    con = pg_connect(settings, f"warehouse run lock ({me})")
    with con.cursor() as cur:
        cur.execute("select pg_try_advisory_lock(%s)", (PG_LOCK_KEY,))
        if cur.fetchone()[0]:
            _held[name] = con
            return
        cur.execute("select a.application_name, a.pid from pg_locks l join pg_stat_activity a on a.pid = l.pid "
                    "where l.locktype = 'advisory' and l.granted and l.objsubid = 1 "
                    "and l.classid::text::bigint = ((%(key)s::bigint >> 32) & 4294967295) "
                    "and l.objid::text::bigint = (%(key)s::bigint & 4294967295) "
                    "and l.database = (select oid from pg_database where datname = current_database())",
                    {"key": PG_LOCK_KEY})
        row = cur.fetchone()
    con.close()
    raise _busy(settings, f"{row[0]}, server pid {row[1]}" if row else "holder unknown")


def release_run_lock(settings: Settings) -> None:
    held = _held.pop(lock_name(settings), None)
    if held is None:
        return
    if isinstance(held, int):
        os.close(held)  # closing the descriptor releases the flock
    else:
        held.close()  # ends the session: the server releases the advisory lock


@contextlib.contextmanager
def run_lock(settings: Settings) -> Iterator[None]:
    """Hold the run lock for the block; released after it only if the block took it."""
    taken_here = lock_name(settings) not in _held
    acquire_run_lock(settings)
    try:
        yield
    finally:
        if taken_here:
            release_run_lock(settings)
