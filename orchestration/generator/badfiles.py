"""File-level bad inputs written with --bad-files (none of them are part of the committed sample)."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from .core import iso_utc
from .landing import Prepared, format_rows

PARQUET_TABLE = "finance.fx_rates"   # one batch of this table is delivered as Parquet instead of CSV
PARQUET_BATCH = 1


def _csv_bytes(cols: dict, header: list) -> bytes:
    buf = io.StringIO()
    pd.DataFrame({c: cols[c] for c in header}, columns=header).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def _rows(W, P: Prepared, b: int, k: int) -> dict:
    lo, hi = P.starts[b], P.starts[b + 1]
    idx = np.arange(lo, min(hi, lo + k))
    loaded = iso_utc(int(W.tl.extracts[b]))
    return format_rows(P.t, P.R, idx, np.full(len(idx), loaded, dtype=object))


def bad_files(W, prepared: dict, main_files: dict) -> list:
    """[(relative path, bytes or None, manifest entry)]. bytes None = already written (parquet batch)."""
    names = W.tl.names
    k = W.tl.n_main // 2
    stem = names[k]
    out = []
    # 1. header lacks a required column
    P = prepared["crm.leads"]
    cols = _rows(W, P, k, 20)
    header = [c for c in P.t.header if c != "status"]
    out.append((f"crm/leads/{stem}-partial-export.csv", _csv_bytes(cols, header),
                dict(kind="missing_column", table="crm.leads", expected_outcome="rejected",
                     reason="header lacks required column(s)", missing_columns=["status"], rows=len(cols["id"]))))
    # 2. not valid UTF-8 (cp1252 bytes)
    P = prepared["billing.customers"]
    cols = _rows(W, P, k, 10)
    cols["name"] = cols["name"].copy()
    cols["name"][0] = "Müller Bäckerei GmbH"
    text = _csv_bytes(cols, P.t.header).decode("utf-8")
    out.append((f"billing/customers/{stem}-latin1.csv", text.encode("cp1252", errors="replace"),
                dict(kind="invalid_utf8", table="billing.customers", expected_outcome="rejected",
                     reason="file is not valid UTF-8 (cp1252 encoded)", rows=len(cols["id"]))))
    # 3. unparseable CSV: ragged rows and an unterminated quoted field
    P = prepared["finance.marketing_spend"]
    cols = _rows(W, P, k, 5)
    good = _csv_bytes(cols, P.t.header).decode("utf-8")
    garbage = ('2024-06-10,paid_search,google_brand,12.50,USD,2024-07-01T03:00:00+00:00,false,EXTRA,FIELDS\n'
               '2024-06-11,"paid_social,linkedin_abm,99.10,USD,2024-07-01T03:00:00+00:00,false\n'
               '2024-06-12,email\n')
    out.append((f"finance/marketing_spend/{stem}-corrupt.csv", (good + garbage).encode("utf-8"),
                dict(kind="unparseable", table="finance.marketing_spend", expected_outcome="rejected",
                     reason="not parseable as CSV (ragged rows, unterminated quote)")))
    # 4. empty file (zero bytes) and 5. header only: loaded with 0 rows, not an error
    out.append((f"crm/activities/{stem}-empty.csv", b"",
                dict(kind="empty", table="crm.activities", expected_outcome="loaded_empty", rows=0)))
    P = prepared["billing.refunds"]
    out.append((f"billing/refunds/{stem}-header-only.csv", (",".join(P.t.header) + "\n").encode("utf-8"),
                dict(kind="header_only", table="billing.refunds", expected_outcome="loaded_empty", rows=0)))
    # 6. the same content delivered again under another name
    first = main_files["crm.users"][0]
    out.append((f"crm/users/{names[0]}-redelivered.csv", ("COPY", first),
                dict(kind="duplicate_file", table="crm.users", expected_outcome="duplicate_file",
                     duplicate_of=first, reason="same sha256 as an already loaded file")))
    # 7. a regular batch delivered as Parquet (good data, counted in the table's files)
    pq = [f for f in main_files[PARQUET_TABLE] if f.endswith(".parquet")]
    for f in pq:
        out.append((f, None, dict(kind="parquet", table=PARQUET_TABLE, expected_outcome="loaded",
                                  reason="regular extract delivered as Parquet (string columns)")))
    return out
