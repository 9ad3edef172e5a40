"""Load landed files into raw tables, each file exactly once.

For every `<landing_dir>/<source>/<table>/*.csv|*.parquet`, in name order:
  * already in the ledger with the same path, size and modification time -> skipped without being
    read (the fast path that keeps a run with nothing new cheap; a file rewritten in place gets a
    new mtime, so it is hashed and caught below);
  * already in the ledger with the same path and hash -> skipped (nothing to do);
  * same content already loaded under another path -> ledger row `duplicate_file`, not loaded;
  * same path, different content -> ledger row `changed_file`, not loaded, the load fails loudly;
  * unreadable (not UTF-8, not parseable) or missing required columns -> ledger row `rejected`
    naming the missing columns, nothing of the file loaded, the load fails after the good files;
  * zero bytes or header only -> ledger row `empty` with 0 rows;
  * otherwise every row goes into raw_<source>.<table> as text, with `_source_file` and
    `_row_number`, in the same transaction as its ledger row `loaded` (so a killed load never
    leaves half a file behind).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from orchestration.loading.contract import TRACE_COLUMNS, TableContract
from orchestration.warehouse import Warehouse

LEDGER_TABLE = "audit.load_ledger"
FILE_SUFFIXES = (".csv", ".parquet")

log = logging.getLogger("warehouse.loader")


class RejectedFile(Exception):
    """A file that cannot be loaded as a whole; the message names the file and the reason."""


class LoadFailed(Exception):
    """Raised after all good files are loaded when some files were rejected or changed."""


@dataclass
class TableLoadResult:
    table: str
    files_loaded: int = 0
    files_skipped: int = 0
    files_empty: int = 0
    files_duplicate: int = 0
    rows_loaded: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class LoadReport:
    tables: dict[str, TableLoadResult] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def errors(self) -> list[str]:
        return [e for t in self.tables.values() for e in t.errors]

    def totals(self) -> Counter:
        c: Counter = Counter()
        for t in self.tables.values():
            c.update(
                files_loaded=t.files_loaded,
                files_skipped=t.files_skipped,
                files_empty=t.files_empty,
                files_duplicate=t.files_duplicate,
                files_rejected=len(t.errors),
                rows_loaded=t.rows_loaded,
            )
        return c


def ensure_audit_schema(wh: Warehouse) -> None:
    wh.execute("create schema if not exists audit")
    wh.execute(
        f"""create table if not exists {LEDGER_TABLE} (
            file_path varchar not null,
            content_sha256 varchar not null,
            source_name varchar not null,
            table_name varchar not null,
            row_count bigint not null,
            max_loaded_at varchar,
            loaded_at timestamp not null,
            outcome varchar not null,
            message varchar,
            file_size bigint,
            file_mtime_ns bigint
        )"""
    )
    # ledgers written before the size/mtime fast path existed
    for column in ("file_size", "file_mtime_ns"):
        wh.execute(f"alter table {LEDGER_TABLE} add column if not exists {column} bigint")


def ensure_raw_table(wh: Warehouse, contract: TableContract) -> None:
    wh.execute(f"create schema if not exists {contract.schema}")
    cols = ", ".join(f'"{c}" varchar' for c in contract.raw_columns)
    wh.execute(
        f"create table if not exists {contract.qualified_name} "
        f"({cols}, _source_file varchar not null, _row_number bigint not null)"
    )


def landing_files(landing_dir: Path, contract: TableContract) -> list[Path]:
    folder = landing_dir / contract.source / contract.table
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FILE_SUFFIXES)


def read_landed_file(path: Path, content: bytes, contract: TableContract, rel_path: str) -> pa.Table:
    """Parse one file into an all-text Arrow table in the raw table's column order.

    Raises RejectedFile with a message naming the file and what is wrong with it.
    """
    if path.suffix.lower() == ".parquet":
        try:
            table = pq.read_table(io.BytesIO(content))
        except Exception as exc:  # noqa: BLE001 - any parse failure rejects the file
            raise RejectedFile(f"{rel_path}: not a readable Parquet file ({exc})") from exc
        table = table.cast(pa.schema([(n, pa.string()) for n in table.column_names]))
        if any(pc.any(pc.match_substring(col, "\x00")).as_py() for col in table.columns):
            raise RejectedFile(f"{rel_path}: contains NUL characters (byte 0x00) in a value")
    else:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RejectedFile(f"{rel_path}: not valid UTF-8 ({exc})") from exc
        if "\x00" in text:  # valid UTF-8, but no text column of PostgreSQL (or a BI tool) can hold it
            raise RejectedFile(f"{rel_path}: contains NUL characters (byte 0x00); not a text extract")
        text = text.lstrip("\ufeff")
        first_line = text.split("\n", 1)[0]
        try:
            header = next(csv.reader([first_line]))
        except (csv.Error, StopIteration) as exc:
            raise RejectedFile(f"{rel_path}: unreadable CSV header ({exc})") from exc
        header = [h.strip() for h in header]
        _check_header(header, contract, rel_path)
        try:
            table = pacsv.read_csv(
                io.BytesIO(text.encode("utf-8")),
                read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={h: pa.string() for h in header}, strings_can_be_null=False
                ),
            )
        except pa.ArrowInvalid as exc:
            raise RejectedFile(f"{rel_path}: not parseable as CSV ({exc})") from exc
    _check_header(table.column_names, contract, rel_path)
    n = table.num_rows
    arrays = []
    for col in contract.raw_columns:
        if col in table.column_names:
            arrays.append(table.column(col))
        else:  # only optional landing columns can be absent here
            arrays.append(pa.nulls(n, pa.string()))
    arrays.append(pa.array([rel_path] * n, pa.string()))
    arrays.append(pa.array(range(1, n + 1), pa.int64()))
    return pa.table(arrays, names=list(contract.raw_columns) + list(TRACE_COLUMNS))


def _check_header(header: list[str], contract: TableContract, rel_path: str) -> None:
    dupes = sorted(h for h, k in Counter(header).items() if k > 1)
    if dupes:
        raise RejectedFile(f"{rel_path}: duplicate columns in header: {', '.join(dupes)}")
    missing = [c for c in contract.required_columns if c not in header]
    if missing:
        raise RejectedFile(f"{rel_path}: missing required columns: {', '.join(missing)}")


def _max_loaded_at(table: pa.Table) -> str | None:
    if table.num_rows == 0:
        return None
    # an extract carries one or a few distinct _loaded_at values: parse those, not every row
    distinct = pc.unique(table.column("_loaded_at")).to_pandas()
    ts = pd.to_datetime(distinct, utc=True, errors="coerce", format="ISO8601")
    top = ts.max()
    return None if pd.isna(top) else top.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _record(wh: Warehouse, rel: str, digest: str, c: TableContract, rows: int, max_loaded: str | None,
            outcome: str, message: str | None, stat: os.stat_result) -> None:
    wh.execute(
        f"insert into {LEDGER_TABLE} (file_path, content_sha256, source_name, table_name, row_count, "
        "max_loaded_at, loaded_at, outcome, message, file_size, file_mtime_ns) "
        "values (%s, %s, %s, %s, %s, %s, current_timestamp, %s, %s, %s, %s)",
        [rel, digest, c.source, c.table, rows, max_loaded, outcome, message, stat.st_size, stat.st_mtime_ns],
    )


def load_table(wh: Warehouse, landing_dir: Path, contract: TableContract,
               verify_unchanged: bool = False) -> TableLoadResult:
    """Load the new files of one table. Safe to re-run: files in the ledger are skipped.

    verify_unchanged hashes every file, also those whose path, size and mtime match the ledger: it
    catches a file rewritten in place by a tool that restores the old mtime (cp -p, rsync -t)."""
    ensure_audit_schema(wh)
    ensure_raw_table(wh, contract)
    result = TableLoadResult(contract.key)
    rows = wh.fetchall(
        f"select file_path, content_sha256, outcome, file_size, file_mtime_ns from {LEDGER_TABLE} "
        "where source_name = %s and table_name = %s",
        [contract.source, contract.table],
    )
    ledger = [(p, h, o) for p, h, o, _, _ in rows]
    # (path, size, mtime) of every file seen before whose outcome needs no new report
    seen_unchanged = {(p, size, mtime) for p, _, o, size, mtime in rows if o != "changed_file" and size is not None}
    accepted = {(p, h) for p, h, o in ledger if o in ("loaded", "empty")}
    accepted_paths = {p: h for p, h, o in ledger if o in ("loaded", "empty")}
    # only files with rows count as "already delivered content": identical header-only files of
    # different dates are each just empty
    accepted_hashes = {h: p for p, h, o in ledger if o == "loaded"}
    recorded = {(p, h) for p, h, _ in ledger}
    files = landing_files(landing_dir, contract)
    for i, path in enumerate(files, start=1):
        rel = path.relative_to(landing_dir).as_posix()
        stat = path.stat()
        if not verify_unchanged and (rel, stat.st_size, stat.st_mtime_ns) in seen_unchanged:
            result.files_skipped += 1
            continue
        content = path.read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        if (rel, digest) in accepted:
            # same bytes under a new mtime (touched, copied, or a ledger from before the fast path):
            # remember the new size/mtime so the next run skips it without hashing
            wh.execute(f"update {LEDGER_TABLE} set file_size = %s, file_mtime_ns = %s "
                       "where file_path = %s and content_sha256 = %s", [stat.st_size, stat.st_mtime_ns, rel, digest])
            result.files_skipped += 1
            continue
        if rel in accepted_paths:
            msg = f"{rel}: landed file changed since it was loaded (sha256 {accepted_paths[rel][:12]} -> {digest[:12]}); landed files are immutable, not loaded"
            if (rel, digest) not in recorded:
                _record(wh, rel, digest, contract, 0, None, "changed_file", msg, stat)
                result.errors.append(msg)
            log.error(msg)
            continue
        if (rel, digest) in recorded:  # rejected or duplicate in an earlier run: already reported
            result.files_skipped += 1
            continue
        if digest in accepted_hashes:
            msg = f"{rel}: same content as {accepted_hashes[digest]}, not loaded again"
            _record(wh, rel, digest, contract, 0, None, "duplicate_file", msg, stat)
            result.files_duplicate += 1
            log.warning(msg)
            continue
        if len(content) == 0:
            _record(wh, rel, digest, contract, 0, None, "empty", "zero-byte file", stat)
            result.files_empty += 1
            continue
        try:
            table = read_landed_file(path, content, contract, rel)
        except RejectedFile as exc:
            _record(wh, rel, digest, contract, 0, None, "rejected", str(exc), stat)
            result.errors.append(str(exc))
            log.error("rejected %s", exc)
            continue
        outcome = "loaded" if table.num_rows else "empty"
        with wh.transaction():
            if table.num_rows:
                wh.insert_arrow(contract.qualified_name, table)
            _record(wh, rel, digest, contract, table.num_rows, _max_loaded_at(table), outcome, None, stat)
        if table.num_rows:
            accepted_hashes[digest] = rel
            result.files_loaded += 1
            result.rows_loaded += table.num_rows
        else:
            result.files_empty += 1
        log.info("%s: file %d/%d %s, %d rows (%d rows so far)", contract.key, i, len(files), rel,
                 table.num_rows, result.rows_loaded)
    return result


def load_all(wh: Warehouse, landing_dir: Path, contracts: dict[str, TableContract],
             raise_on_error: bool = True, verify_unchanged: bool = False) -> LoadReport:
    """Load every table; raise LoadFailed (after loading all good files) if any file was refused."""
    started = time.perf_counter()
    report = LoadReport()
    for n, contract in enumerate(contracts.values(), start=1):
        res = load_table(wh, landing_dir, contract, verify_unchanged)
        report.tables[contract.key] = res
        log.info("[%d/%d] %s: %d new files, %d rows loaded, %d skipped, %d refused",
                 n, len(contracts), contract.key, res.files_loaded, res.rows_loaded, res.files_skipped, len(res.errors))
    report.elapsed_s = time.perf_counter() - started
    if raise_on_error and report.errors:
        raise LoadFailed("Some landed files were refused:\n  " + "\n  ".join(report.errors))
    return report
