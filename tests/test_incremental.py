"""Incremental nightly runs equal a from-scratch build (issue 5, "Incremental nightly runs").

Land the sample, build; land one more day of files (the generator's --extra-day: updates to older
records, late rows, a soft delete, a rep leaving); run the nightly job, which only validates the new
files and the keys they touch; then build from scratch over all files into a second warehouse and
compare every table of staging, audit and marts row by row. A second nightly run with no new files
changes nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import fresh_pg_database, require_postgres
from orchestration.settings import PROJECT_ROOT, Settings
from orchestration.warehouse import connect
from test_pipeline import _close, run_warehouse, snapshot, table_names

pytestmark = pytest.mark.slow
SAMPLE = PROJECT_ROOT / "seeds"
# the parameters `make generate` wrote the sample with: --extra-day must use the same ones
SAMPLE_ARGS = ["--customers", "500", "--start", "2024-01-01", "--months", "24", "--dirty-rate", "0.01", "--seed", "42"]
COMPARED_SCHEMAS = ("staging", "intermediate", "audit", "marts")
# load and publish times (wall clock) differ between two warehouses by design; build_state's
# fingerprint of the landed files and code is equal, which is what lets a no-op run skip
NOT_COMPARED = {"audit.load_ledger", "audit.build_state"}


def landing_with_extra_day(tmp: Path) -> Path:
    landing = tmp / "landing"
    shutil.copytree(SAMPLE, landing)
    subprocess.run([sys.executable, "-m", "orchestration.generate", "--out", str(landing), *SAMPLE_ARGS,
                    "--extra-day"], check=True, cwd=PROJECT_ROOT, capture_output=True)
    return landing


def new_files(sample: Path, landing: Path) -> list[Path]:
    return sorted(p for p in landing.rglob("*") if p.is_file() and not (sample / p.relative_to(landing)).exists())


def build(settings: Settings, tmp: Path) -> None:
    result = run_warehouse(settings, tmp)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]


def warehouse_tables(settings: Settings) -> dict[str, list[tuple]]:
    with connect(settings, published=True) as wh:
        tables = [t for t in table_names(wh, COMPARED_SCHEMAS) if t not in NOT_COMPARED]
        tables_now = snapshot(wh, [t for t in tables if t != "audit.quarantine"])
        # quarantined_at is the load time of the row's file, which differs between the two warehouses
        tables_now["audit.quarantine"] = sorted(wh.fetchall(
            "select source_name, table_name, source_file, row_number, primary_key_value, rule, raw_row_json "
            "from audit.quarantine"), key=repr)
        # clv_model_fits keeps one set of fits per as_of (history by design): compare the latest
        tables_now["marts.clv_model_fits"] = sorted(wh.fetchall(
            "select * from marts.clv_model_fits where fitted_at = (select max(fitted_at) from marts.clv_model_fits)"),
            key=repr)
        return tables_now


def assert_identical(nightly: dict[str, list[tuple]], scratch: dict[str, list[tuple]]) -> None:
    assert sorted(nightly) == sorted(scratch)
    for table in sorted(scratch):
        a, b = nightly[table], scratch[table]
        assert len(a) == len(b), f"{table}: {len(a)} rows after the nightly run, {len(b)} from scratch"
        for ra, rb in zip(a, b):
            assert len(ra) == len(rb) and all(_close(x, y) for x, y in zip(ra, rb)), (table, ra, rb)


# incremental facts (macros/incremental_facts.sql) in the schema a reader sees after the nightly run
INCREMENTAL_FACTS = ("intermediate.int_invoice_lines", "intermediate.int_sales__opportunity_stage_intervals",
                     "marts.fct_activities", "marts.fct_leads")


def assert_recomputed_only_what_changed(settings: Settings) -> None:
    """The nightly run took the incremental path: some rows of each fact were recomputed (the
    nightly's _batch_at), most kept the first build's. On PostgreSQL the marts of night 2 are built
    in a schema that held no build yet (blue/green), so there only the intermediate facts count."""
    facts = [t for t in INCREMENTAL_FACTS if settings.target == "duckdb" or not t.startswith("marts.")]
    with connect(settings, published=True) as wh:
        for table in facts:
            per_run = [n for (n,) in wh.fetchall(f"select count(*) from {table} group by _batch_at order by _batch_at")]
            assert len(per_run) == 2 and 0 < per_run[1] < per_run[0], (table, per_run)


def nightly_equals_scratch(engine: str, tmp: Path, nightly_db: str | None = None, scratch_db: str | None = None) -> None:
    base = Settings.from_env()
    sample_only = tmp / "sample"
    shutil.copytree(SAMPLE, sample_only)
    full_landing = landing_with_extra_day(tmp)
    extra = new_files(SAMPLE, full_landing)
    assert extra, "the generator's --extra-day wrote no new file"

    # night 1: the sample; night 2: the same folder after one more day of files landed
    nightly = replace(base, landing_dir=sample_only, target=engine, duckdb_path=tmp / "nightly" / "warehouse.duckdb",
                      pg_database=nightly_db or base.pg_database)
    build(nightly, tmp)
    for path in extra:
        dest = sample_only / path.relative_to(full_landing)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    build(nightly, tmp)
    assert_recomputed_only_what_changed(nightly)
    after_nightly = warehouse_tables(nightly)

    scratch = replace(nightly, landing_dir=full_landing, duckdb_path=tmp / "scratch" / "warehouse.duckdb",
                      pg_database=scratch_db or base.pg_database)
    build(scratch, tmp)
    assert_identical(after_nightly, warehouse_tables(scratch))

    # a nightly run with nothing new changes nothing
    build(nightly, tmp)
    assert_identical(warehouse_tables(nightly), after_nightly)


def test_nightly_run_equals_a_from_scratch_build_duckdb(tmp_path):
    nightly_equals_scratch("duckdb", tmp_path)


def test_nightly_run_equals_a_from_scratch_build_postgres(tmp_path):
    require_postgres(Settings.from_env())
    with fresh_pg_database() as nightly_db, fresh_pg_database() as scratch_db:
        nightly_equals_scratch("postgres", tmp_path, nightly_db, scratch_db)
