"""The loader: each file exactly once through the ledger, file-level rejects, idempotency, both engines."""

from __future__ import annotations


import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import base_settings
from landing_builder import CONTRACTS, VALID_LEAD, write_landing_file
from orchestration.loading.loader import LoadFailed, load_all, load_table
from orchestration.warehouse import connect

T1 = "2024-02-01T03:00:00+00:00"
LEAD = VALID_LEAD


def ledger(wh) -> list[tuple]:
    return wh.fetchall("select file_path, outcome, row_count, message from audit.load_ledger order by file_path, outcome")


def raw_count(wh, table: str = "raw_crm.leads") -> int:
    return wh.fetchall(f"select count(*) from {table}")[0][0]


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path):
    """A connected warehouse on each engine, with an empty landing folder beside it."""
    landing = tmp_path / "landing"
    landing.mkdir()
    if request.param == "postgres":
        db = request.getfixturevalue("pg_database")
        settings = base_settings(tmp_path, landing, "postgres", db)
    else:
        settings = base_settings(tmp_path, landing)
    with connect(settings) as wh:
        yield wh, landing


def test_each_file_loaded_exactly_once_with_trace_columns(warehouse):
    wh, landing = warehouse
    write_landing_file(landing, "crm.leads", "2024-02-01.csv", [LEAD, {**LEAD, "id": "L2"}], T1)
    res = load_table(wh, landing, CONTRACTS["crm.leads"])
    assert (res.files_loaded, res.rows_loaded) == (1, 2)
    rows = wh.fetchall("select id, _source_file, _row_number, _loaded_at from raw_crm.leads order by _row_number")
    assert rows == [("L1", "crm/leads/2024-02-01.csv", 1, T1), ("L2", "crm/leads/2024-02-01.csv", 2, T1)]
    # re-running with no new file changes nothing
    again = load_table(wh, landing, CONTRACTS["crm.leads"])
    assert (again.files_loaded, again.files_skipped, again.rows_loaded) == (0, 1, 0)
    assert raw_count(wh) == 2
    assert [r[:3] for r in ledger(wh)] == [("crm/leads/2024-02-01.csv", "loaded", 2)]


def test_same_content_under_another_name_is_a_duplicate_file(warehouse):
    wh, landing = warehouse
    first = write_landing_file(landing, "crm.leads", "2024-02-01.csv", [LEAD], T1)
    (first.parent / "2024-02-09-resent.csv").write_bytes(first.read_bytes())
    res = load_table(wh, landing, CONTRACTS["crm.leads"])
    assert (res.files_loaded, res.files_duplicate, raw_count(wh)) == (1, 1, 1)
    outcomes = {r[0]: r[1] for r in ledger(wh)}
    assert outcomes == {"crm/leads/2024-02-01.csv": "loaded", "crm/leads/2024-02-09-resent.csv": "duplicate_file"}


def test_changed_file_is_refused_loudly_and_not_loaded(warehouse):
    wh, landing = warehouse
    write_landing_file(landing, "crm.leads", "2024-02-01.csv", [LEAD], T1)
    load_table(wh, landing, CONTRACTS["crm.leads"])
    write_landing_file(landing, "crm.leads", "2024-02-01.csv", [LEAD, {**LEAD, "id": "L9"}], T1)
    with pytest.raises(LoadFailed, match=r"crm/leads/2024-02-01.csv: landed file changed"):
        load_all(wh, landing, {"crm.leads": CONTRACTS["crm.leads"]})
    assert raw_count(wh) == 1
    assert ("crm/leads/2024-02-01.csv", "changed_file") in [r[:2] for r in ledger(wh)]


def test_file_missing_required_columns_is_rejected_whole_good_files_still_load(warehouse):
    wh, landing = warehouse
    write_landing_file(landing, "crm.leads", "2024-02-01.csv", [LEAD], T1)
    cols = [c for c in CONTRACTS["crm.leads"].raw_columns if c not in ("status", "created_at")]
    write_landing_file(landing, "crm.leads", "2024-02-02.csv", [LEAD], T1, columns=cols)
    with pytest.raises(LoadFailed) as err:
        load_all(wh, landing, {"crm.leads": CONTRACTS["crm.leads"]})
    assert "crm/leads/2024-02-02.csv: missing required columns: status, created_at" in str(err.value)
    assert raw_count(wh) == 1  # the good file, nothing of the bad one
    row = [r for r in ledger(wh) if r[0].endswith("02-02.csv")][0]
    assert row[1] == "rejected" and "status, created_at" in row[3]
    # the rejection is reported once; a re-run does not fail again on the same file
    assert load_all(wh, landing, {"crm.leads": CONTRACTS["crm.leads"]}).errors == []


def test_invalid_utf8_and_unparseable_files_are_rejected(warehouse):
    wh, landing = warehouse
    folder = landing / "crm" / "leads"
    folder.mkdir(parents=True)
    header = ",".join(CONTRACTS["crm.leads"].raw_columns)
    (folder / "a-latin1.csv").write_bytes((header + "\nL1,caf\xe9@x.com" + "," * 11 + "\n").encode("latin-1"))
    (folder / "b-broken.csv").write_text(header + '\nL1,"unterminated\n')
    (folder / "c-broken.parquet").write_bytes(b"PAR1 not really")
    report = load_all(wh, landing, {"crm.leads": CONTRACTS["crm.leads"]}, raise_on_error=False)
    messages = "\n".join(report.errors)
    assert "crm/leads/a-latin1.csv: not valid UTF-8" in messages
    assert "crm/leads/b-broken.csv: not parseable as CSV" in messages
    assert "crm/leads/c-broken.parquet: not a readable Parquet file" in messages
    assert raw_count(wh) == 0
    assert {r[1] for r in ledger(wh)} == {"rejected"}


def test_empty_files_are_recorded_with_zero_rows_not_errors(warehouse):
    wh, landing = warehouse
    write_landing_file(landing, "crm.leads", "2024-02-01.csv", [], T1)  # header only
    (landing / "crm" / "leads" / "2024-02-02.csv").write_bytes(b"")
    report = load_all(wh, landing, {"crm.leads": CONTRACTS["crm.leads"]})
    assert report.errors == []
    assert [r[1:3] for r in ledger(wh)] == [("empty", 0), ("empty", 0)]


def test_parquet_files_load_like_csv(warehouse):
    wh, landing = warehouse
    contract = CONTRACTS["crm.leads"]
    cols = list(contract.raw_columns)
    row = {**LEAD, "_loaded_at": T1, "_is_deleted": "false"}
    table = pa.table({c: [row.get(c, "")] for c in cols})
    path = landing / "crm" / "leads" / "2024-02-01.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(table, path)
    res = load_table(wh, landing, contract)
    assert (res.files_loaded, res.rows_loaded) == (1, 1)
    assert wh.fetchall("select id, company, _source_file from raw_crm.leads") == [
        ("L1", "Acme", "crm/leads/2024-02-01.parquet")]


def test_is_deleted_column_is_optional(warehouse):
    wh, landing = warehouse
    cols = [c for c in CONTRACTS["crm.leads"].raw_columns if c != "_is_deleted"]
    write_landing_file(landing, "crm.leads", "2024-02-01.csv", [LEAD], T1, columns=cols)
    assert load_table(wh, landing, CONTRACTS["crm.leads"]).rows_loaded == 1
    assert wh.fetchall("select _is_deleted from raw_crm.leads") == [(None,)]


def test_unchanged_files_are_skipped_without_being_read_again(warehouse, monkeypatch):
    """The no-op fast path: same path, size and mtime as in the ledger -> not read, not hashed."""
    import os

    from orchestration.loading import loader

    wh, landing = warehouse
    path = write_landing_file(landing, "crm.leads", "2024-02-01.csv", [LEAD], T1)
    load_table(wh, landing, CONTRACTS["crm.leads"])

    def no_hashing(*_args):
        raise AssertionError("an unchanged file was hashed again")

    monkeypatch.setattr(loader.hashlib, "sha256", no_hashing)
    again = load_table(wh, landing, CONTRACTS["crm.leads"])
    assert (again.files_loaded, again.files_skipped) == (0, 1)
    monkeypatch.undo()
    # a touched file (new mtime, same bytes) is hashed again, found identical and skipped
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    touched = load_table(wh, landing, CONTRACTS["crm.leads"])
    assert (touched.files_loaded, touched.files_skipped, touched.errors) == (0, 1, [])
    assert raw_count(wh) == 1
    # ... and its new mtime is remembered: the next run skips it without hashing
    monkeypatch.setattr(loader.hashlib, "sha256", no_hashing)
    assert load_table(wh, landing, CONTRACTS["crm.leads"]).files_skipped == 1
