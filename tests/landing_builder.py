"""Write small, hand-made landing folders for tests (any table, any rows, contract columns filled)."""

from __future__ import annotations

import csv
from pathlib import Path

from orchestration.loading.contract import load_contracts

CONTRACTS = load_contracts()

# One valid crm.leads row (override fields per test: dict(VALID_LEAD, id="L2")).
VALID_LEAD = dict(id="L1", email="a@x.com", company="Acme", lead_source="email", status="open", owner_id="U1",
                  created_at="2024-01-10T09:30:00+01:00", is_converted="false")


def write_landing_file(landing: Path, table: str, file_name: str, rows: list[dict], loaded_at: str,
                       columns: list[str] | None = None) -> Path:
    """Write `rows` to <landing>/<source>/<table>/<file_name>; unspecified contract columns are blank.

    `table` is "source.table"; every row gets `_loaded_at` (unless it sets its own) and `_is_deleted`.
    """
    cols = columns or list(CONTRACTS[table].raw_columns)
    path = landing_path(landing, table, file_name)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            full = {"_loaded_at": loaded_at, "_is_deleted": "false", **row}
            writer.writerow({c: full.get(c, "") for c in cols})
    return path


def empty_landing(landing: Path) -> None:
    """Every table present with a header-only file, so every raw table exists."""
    for key in CONTRACTS:
        write_landing_file(landing, key, "0000-empty.csv", [], "2024-01-01T00:00:00+00:00")


def landing_path(landing: Path, table: str, file_name: str) -> Path:
    """<landing>/<source>/<table>/<file_name> for `table` = "source.table", folder created."""
    contract = CONTRACTS[table]
    path = landing / contract.source / contract.table / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_landing_bytes(landing: Path, table: str, file_name: str, content: bytes) -> Path:
    """Land `content` exactly as given (malformed files: wrong encoding, broken CSV, zero bytes ...)."""
    path = landing_path(landing, table, file_name)
    path.write_bytes(content)
    return path


def header_line(table: str, columns: list[str] | None = None) -> str:
    """The CSV header row of `table` (contract columns in order, or `columns`), no newline."""
    return ",".join(columns or CONTRACTS[table].raw_columns)


def write_landing_parquet(landing: Path, table: str, file_name: str, rows: list[dict], loaded_at: str,
                          columns: list[str] | None = None) -> Path:
    """Like write_landing_file, as a Parquet file of string columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = columns or list(CONTRACTS[table].raw_columns)
    full = [{"_loaded_at": loaded_at, "_is_deleted": "false", **row} for row in rows]
    path = landing_path(landing, table, file_name)
    pq.write_table(pa.table({c: pa.array([r.get(c, "") for r in full], pa.string()) for c in cols}), path)
    return path
