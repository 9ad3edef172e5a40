"""A thin connection wrapper over DuckDB and PostgreSQL for the Python side (loader, Python assets).

dbt talks to the warehouse through its own adapters; this wrapper only covers what Python needs:
run SQL, read a DataFrame, bulk-insert a text table, transactions.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from orchestration.settings import Settings


class Warehouse:
    """Base class; `connect(settings)` returns the engine's subclass."""

    engine: str

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        raise NotImplementedError

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        raise NotImplementedError

    def query_df(self, sql: str) -> pd.DataFrame:
        raise NotImplementedError

    def insert_arrow(self, qualified_table: str, table: pa.Table) -> None:
        raise NotImplementedError

    def write_df(self, qualified_table: str, df: pd.DataFrame, column_types: dict[str, str]) -> None:
        """Replace `qualified_table` with `df`, columns typed as given (Python-computed marts).

        Create and fill happen in one transaction, so readers see the old or the new table, never half.
        """
        self._write_typed(qualified_table, df, column_types, replace_where=None)

    def append_df(self, qualified_table: str, df: pd.DataFrame, column_types: dict[str, str],
                  replace_where: str) -> None:
        """Append `df` to a history table, first deleting the rows `replace_where` selects (re-runs)."""
        self._write_typed(qualified_table, df, column_types, replace_where=replace_where)

    def _write_typed(self, qualified_table: str, df: pd.DataFrame, column_types: dict[str, str],
                     replace_where: str | None) -> None:
        schema = qualified_table.split(".")[0]
        cols = ", ".join(f'"{c}" {t}' for c, t in column_types.items())
        frame = df.loc[:, list(column_types)]
        with self.transaction():
            self.execute(f"create schema if not exists {schema}")
            if replace_where is None:
                self.execute(f"drop table if exists {qualified_table}")
            self.execute(f"create table if not exists {qualified_table} ({cols})")
            if replace_where is not None:
                self.execute(f"delete from {qualified_table} where {replace_where}")
            if len(frame):
                self.insert_arrow(qualified_table, pa.Table.from_pandas(frame, preserve_index=False))

    # engine-specific below

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "Warehouse":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


DUCKDB_CHECKPOINT_THRESHOLD = "4GB"


class DuckDBWarehouse(Warehouse):
    engine = "duckdb"

    def __init__(self, path: str, read_only: bool = False) -> None:
        import duckdb

        self.con = duckdb.connect(path, read_only=read_only)
        self.con.execute("set TimeZone = 'UTC'")
        if not read_only:
            # Checkpoint once when the connection closes rather than every 16 MB of WAL: the loader
            # commits once per file, and the default threshold made it checkpoint every few files
            # (crm.activities at 100,000 customers: 43 s -> 28 s). Durability is unchanged: every
            # commit is in the WAL.
            self.con.execute(f"set checkpoint_threshold = '{DUCKDB_CHECKPOINT_THRESHOLD}'")

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.con.execute(sql.replace("%s", "?"), params or [])

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.con.execute(sql.replace("%s", "?"), params or []).fetchall()

    def query_df(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def insert_arrow(self, qualified_table: str, table: pa.Table) -> None:
        self.con.register("_incoming", table)
        try:
            cols = ", ".join(f'"{c}"' for c in table.column_names)
            self.con.execute(f"insert into {qualified_table} ({cols}) select {cols} from _incoming")
        finally:
            self.con.unregister("_incoming")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("begin transaction")
        try:
            yield
        except BaseException:
            self.con.execute("rollback")
            raise
        self.con.execute("commit")

    def close(self) -> None:
        self.con.close()


def pg_connect(settings: Settings, application_name: str):
    """A psycopg2 connection to the settings' PostgreSQL database, in autocommit mode; the
    application name tells the server's activity views (pg_stat_activity) who holds it."""
    import psycopg2

    con = psycopg2.connect(host=settings.pg_host, port=settings.pg_port, user=settings.pg_user,
                           password=settings.pg_password or None, dbname=settings.pg_database,
                           connect_timeout=10, application_name=application_name[:63])
    con.autocommit = True
    return con


class PostgresWarehouse(Warehouse):
    engine = "postgres"

    def __init__(self, settings: Settings) -> None:
        self.con = pg_connect(settings, "warehouse")
        self._in_tx = False

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        with self.con.cursor() as cur:
            cur.execute(sql, params)

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        with self.con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def query_df(self, sql: str) -> pd.DataFrame:
        with self.con.cursor() as cur:
            cur.execute(sql)
            cols = [d[0] for d in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=cols)

    def insert_arrow(self, qualified_table: str, table: pa.Table) -> None:
        buf = io.BytesIO()
        pacsv.write_csv(table, buf, write_options=pacsv.WriteOptions(include_header=False))
        buf.seek(0)
        cols = ", ".join(f'"{c}"' for c in table.column_names)
        with self.con.cursor() as cur:
            cur.copy_expert(f"copy {qualified_table} ({cols}) from stdin with (format csv)", buf)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_tx:
            yield
            return
        self.con.autocommit = False
        self._in_tx = True
        try:
            yield
        except BaseException:
            self.con.rollback()
            raise
        else:
            self.con.commit()
        finally:
            self._in_tx = False
            self.con.autocommit = True

    def close(self) -> None:
        self.con.close()


def connect(settings: Settings, read_only: bool = False, published: bool = False) -> Warehouse:
    """The build being written (default) or, with published=True, what readers see.

    On DuckDB those are two files (orchestration/publishing.py); on PostgreSQL the same database."""
    if settings.target == "duckdb":
        path = settings.duckdb_path if published else settings.duckdb_build_path
        path.parent.mkdir(parents=True, exist_ok=True)
        return DuckDBWarehouse(str(path), read_only=read_only)
    return PostgresWarehouse(settings)
