"""Incremental nightly runs equal a from-scratch build (issue 5, "Incremental nightly runs").

Land the sample, build; land one more day of files (the generator's --extra-day: updates to older
records, late rows, a soft delete, a rep leaving); run the nightly job, which only validates the new
files and the keys they touch; then build from scratch over all files into a second warehouse and
compare every table of staging, audit and marts row by row. A second nightly run with no new files
changes nothing.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal
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
# fingerprint of the landed files and code is equal, which is what lets a no-op run skip; build_run
# (PostgreSQL) names the Dagster run that started each build
NOT_COMPARED = {"audit.load_ledger", "audit.build_state", "audit.build_run"}


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
INCREMENTAL_FACTS = ("intermediate.int_invoice_lines", "marts.fct_invoice_lines", "intermediate.int_sales__opportunity_stage_intervals",
                     "marts.fct_activities", "marts.fct_leads")


def assert_recomputed_only_what_changed(settings: Settings, marts_too: bool | None = None) -> None:
    """The nightly run took the incremental path: some rows of each fact were recomputed (the
    nightly's _batch_at), most kept the first build's. On PostgreSQL the marts of night 2 are built
    in a schema that held no build yet (blue/green), so by default only the intermediate facts count."""
    marts_too = settings.target == "duckdb" if marts_too is None else marts_too
    facts = [t for t in INCREMENTAL_FACTS if marts_too or not t.startswith("marts.")]
    with connect(settings, published=True) as wh:
        for table in facts:
            per_run = [n for (n,) in wh.fetchall(f"select count(*) from {table} group by _batch_at order by _batch_at")]
            # rows kept from earlier runs, and fewer rows recomputed by the last one
            assert len(per_run) >= 2 and 0 < per_run[-1] < sum(per_run[:-1]), (table, per_run)


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


def three_nights_with_a_pruned_landing_equal_scratch(engine: str, tmp_path: Path, nightly_db: str | None = None,
                                                     scratch_db: str | None = None) -> None:
    """Three nights: the sample without its last extract, the last extract, the extra day; between
    nights 2 and 3 the last extract's files are pruned from the landing folder, as a retention job
    would, so night 3 cannot reload them. PostgreSQL publishes by swapping schemas, so night 3 builds
    its marts into the copy published the night before last (marts__next): its incremental marts
    start from night 1's state and must take in nights 2 and 3. DuckDB builds in a copy of the
    published file. Both: equal to a from-scratch build, with every night's CLV fits kept."""
    full_landing = landing_with_extra_day(tmp_path)
    extra = set(new_files(SAMPLE, full_landing))
    last_extract = {max(sample_files, key=lambda p: p.name) for folder in full_landing.glob("*/*") if folder.is_dir()
                    if (sample_files := [p for p in folder.iterdir() if p.is_file() and p not in extra])}
    nightly_landing = tmp_path / "nightly_landing"

    def land(paths) -> None:
        for path in paths:
            dest = nightly_landing / path.relative_to(full_landing)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)

    base = Settings.from_env()
    nightly = replace(base, landing_dir=nightly_landing, target=engine, pg_database=nightly_db or base.pg_database,
                      duckdb_path=tmp_path / "nightly" / "warehouse.duckdb")
    land(p for p in full_landing.rglob("*") if p.is_file() and p not in extra | last_extract)
    build(nightly, tmp_path)
    land(last_extract)
    build(nightly, tmp_path)
    for path in last_extract:
        (nightly_landing / path.relative_to(full_landing)).unlink()
    land(extra)
    build(nightly, tmp_path)
    assert_recomputed_only_what_changed(nightly, marts_too=True)
    after_nightly = warehouse_tables(nightly)
    with connect(nightly, published=True) as wh:
        # one set of fits per night (history, appended), also where the build is one run old (marts__next)
        assert wh.fetchall("select count(distinct fitted_at) from marts.clv_model_fits") == [(3,)]
    scratch = replace(nightly, landing_dir=full_landing, pg_database=scratch_db or base.pg_database,
                      duckdb_path=tmp_path / "scratch" / "warehouse.duckdb")
    build(scratch, tmp_path)
    assert_identical(after_nightly, warehouse_tables(scratch))


def test_three_nights_with_a_pruned_landing_equal_a_from_scratch_build_duckdb(tmp_path):
    three_nights_with_a_pruned_landing_equal_scratch("duckdb", tmp_path)


def test_three_nights_with_a_pruned_landing_equal_a_from_scratch_build_postgres(tmp_path):
    require_postgres(Settings.from_env())
    with fresh_pg_database() as nightly_db, fresh_pg_database() as scratch_db:
        three_nights_with_a_pruned_landing_equal_scratch("postgres", tmp_path, nightly_db, scratch_db)


# ---------------------------------------------------------------------------------------- orphans over two nights
# A parent that lands a day late un-orphans its children; a parent soft-deleted the next day
# orphans them. The incremental orphans, activities and leads must follow, exactly as a from-scratch
# build does. Hand-made rows, dbt straight on DuckDB (the pipeline path is covered above).

NIGHT_1, NIGHT_2 = "2024-02-01T03:00:00+00:00", "2024-02-02T03:00:00+00:00"
USER = dict(role="ae", is_active="true")
ACCOUNT = dict(segment="smb", created_at="2024-01-02T10:00:00+00:00")
ACTIVITY = dict(type="call", status="completed")
ORPHAN_MODELS = ("intermediate.int_sales__orphans", "marts.fct_activities", "marts.fct_leads")


def land_night_1(landing: Path) -> None:
    from landing_builder import VALID_LEAD, empty_landing, write_landing_file

    empty_landing(landing)
    write_landing_file(landing, "crm.users", "2024-02-01.csv", [dict(USER, id="U1")], NIGHT_1)
    write_landing_file(landing, "crm.accounts", "2024-02-01.csv", [dict(ACCOUNT, id="A1")], NIGHT_1)
    write_landing_file(landing, "crm.leads", "2024-02-01.csv", [
        dict(VALID_LEAD, id="L1", owner_id="U1", status="converted", is_converted="true",
             converted_at="2024-01-20T10:00:00+00:00", converted_account_id="A1"),
    ], NIGHT_1)
    write_landing_file(landing, "crm.activities", "2024-02-01.csv", [
        dict(ACTIVITY, id="X1", owner_id="U1", lead_id="L1", activity_at="2024-01-11T10:00:00+00:00"),
        dict(ACTIVITY, id="X2", owner_id="U1", lead_id="L2", activity_at="2024-01-12T10:00:00+00:00"),  # L2 late
        dict(ACTIVITY, id="X3", owner_id="U2", activity_at="2024-01-13T10:00:00+00:00"),  # U2 late
    ], NIGHT_1)


def land_night_2(landing: Path) -> None:
    from landing_builder import VALID_LEAD, write_landing_file

    write_landing_file(landing, "crm.users", "2024-02-02.csv", [dict(USER, id="U2")], NIGHT_2)
    write_landing_file(landing, "crm.leads", "2024-02-02.csv", [
        dict(VALID_LEAD, id="L2", owner_id="U1", created_at="2024-01-12T08:00:00+00:00")], NIGHT_2)
    write_landing_file(landing, "crm.accounts", "2024-02-02.csv", [
        dict(ACCOUNT, id="A1", _is_deleted="true")], NIGHT_2)  # L1 converted into it: L1 now waits


def build_dbt(settings: Settings, landing: Path, tmp: Path,
              select: tuple[str, ...] = ("+fct_leads", "+fct_activities")) -> None:
    from conftest import run_dbt
    from landing_builder import CONTRACTS
    from orchestration.loading.loader import load_all

    with connect(settings) as wh:
        load_all(wh, landing, dict(CONTRACTS))
    run_dbt(settings, ["build", "--select", *select], tmp)


def test_late_and_deleted_parents_move_orphans_like_a_full_build(tmp_path):
    from conftest import base_settings

    nightly_landing, scratch_landing = tmp_path / "nightly_landing", tmp_path / "scratch_landing"
    nightly = base_settings(tmp_path / "nightly", nightly_landing)
    land_night_1(nightly_landing)
    build_dbt(nightly, nightly_landing, tmp_path / "nightly")
    with connect(nightly) as wh:
        assert sorted(wh.fetchall("select table_name, record_id, foreign_key from intermediate.int_sales__orphans")) == [
            ("activities", "X2", "lead_id"), ("activities", "X3", "owner_id")]
    land_night_2(nightly_landing)
    build_dbt(nightly, nightly_landing, tmp_path / "nightly")

    scratch = base_settings(tmp_path / "scratch", scratch_landing)
    land_night_1(scratch_landing)
    land_night_2(scratch_landing)
    build_dbt(scratch, scratch_landing, tmp_path / "scratch")

    with connect(nightly) as wh:
        after_nightly = snapshot(wh, list(ORPHAN_MODELS))
        assert sorted(wh.fetchall("select table_name, record_id, foreign_key from intermediate.int_sales__orphans")) == [
            ("leads", "L1", "converted_account_id")]
        assert sorted(wh.fetchall("select activity_id from marts.fct_activities")) == [("X1",), ("X2",), ("X3",)]
        # L1 waits for its account; L2 landed late, with X2 as its first completed activity
        assert wh.fetchall("select lead_id, cast(first_activity_at as varchar) from marts.fct_leads") == [
            ("L2", "2024-01-12 10:00:00")]
    with connect(scratch) as wh:
        assert_identical(after_nightly, snapshot(wh, list(ORPHAN_MODELS)))


# A price and a charge that land a day late un-orphan the invoice line and the refund that point to
# them: the nightly path recomputes the line (a changed price re-selects its lines) and the refund,
# and the billing facts and revenue come out as a from-scratch build of both nights.
JAN10 = "1704880800"  # 2024-01-10 10:00:00 UTC
BILLING_ORPHAN_MODELS = ("intermediate.int_invoice_lines", "intermediate.int_refunds",
                         "marts.fct_invoice_lines", "marts.kpi_revenue")
BILLING_SELECT = ("+fct_invoice_lines", "+kpi_revenue")


def land_billing_night_1(landing: Path) -> None:
    from landing_builder import empty_landing, write_landing_file

    empty_landing(landing)
    write_landing_file(landing, "billing.customers", "2024-02-01.csv", [
        dict(id="cus_1", created=JAN10, currency="usd")], NIGHT_1)
    write_landing_file(landing, "billing.invoices", "2024-02-01.csv", [
        dict(id="in_1", customer_id="cus_1", status="paid", currency="usd", subtotal="5000", tax="0",
             total="5000", amount_paid="5000", amount_due="0", created=JAN10, paid_at=JAN10)], NIGHT_1)
    write_landing_file(landing, "billing.invoice_line_items", "2024-02-01.csv", [
        dict(id="il_1", invoice_id="in_1", price_id="price_late", type="subscription", quantity="1",
             amount="5000", discount_amount="0", proration="false", period_start=JAN10,
             period_end=str(int(JAN10) + 30 * 86400))], NIGHT_1)
    write_landing_file(landing, "billing.refunds", "2024-02-01.csv", [
        dict(id="re_1", charge_id="ch_late", amount="1000", currency="usd", status="succeeded",
             created=JAN10)], NIGHT_1)


def land_billing_night_2(landing: Path) -> None:
    from landing_builder import write_landing_file

    write_landing_file(landing, "billing.prices", "2024-02-02.csv", [
        dict(id="price_late", product_id="prod_1", unit_amount="5000", currency="usd", type="recurring",
             recurring_interval="month", recurring_interval_count="1", active="true")], NIGHT_2)
    write_landing_file(landing, "billing.charges", "2024-02-02.csv", [
        dict(id="ch_late", customer_id="cus_1", invoice_id="in_1", amount="5000", currency="usd",
             status="succeeded", created=JAN10)], NIGHT_2)


def test_late_price_and_charge_move_billing_orphans_like_a_full_build(tmp_path):
    from conftest import base_settings

    nightly_landing, scratch_landing = tmp_path / "nightly_landing", tmp_path / "scratch_landing"
    nightly = base_settings(tmp_path / "nightly", nightly_landing)
    land_billing_night_1(nightly_landing)
    build_dbt(nightly, nightly_landing, tmp_path / "nightly", BILLING_SELECT)
    with connect(nightly) as wh:
        assert wh.fetchall("select is_orphan, mrr_usd from intermediate.int_invoice_lines") == [(True, Decimal("0.00"))]
        assert wh.fetchall("select is_orphan from intermediate.int_refunds") == [(True,)]
        assert wh.fetchall("select count(*) from marts.fct_invoice_lines") == [(0,)]
    land_billing_night_2(nightly_landing)
    build_dbt(nightly, nightly_landing, tmp_path / "nightly", BILLING_SELECT)

    scratch = base_settings(tmp_path / "scratch", scratch_landing)
    land_billing_night_1(scratch_landing)
    land_billing_night_2(scratch_landing)
    build_dbt(scratch, scratch_landing, tmp_path / "scratch", BILLING_SELECT)

    with connect(nightly) as wh:
        after_nightly = snapshot(wh, list(BILLING_ORPHAN_MODELS))
        assert wh.fetchall("select is_orphan, mrr_usd from intermediate.int_invoice_lines") == [(False, Decimal("50.00"))]
        assert wh.fetchall("select invoice_line_id, amount_usd from marts.fct_invoice_lines") == [
            ("il_1", Decimal("50.00"))]
        assert wh.fetchall("select gross_revenue_usd, refunds_usd from marts.kpi_revenue "
                           "where period_type = 'month' and period_start = %s", [dt.date(2024, 1, 1)]) == [
            (Decimal("50.00"), Decimal("10.00"))]
    with connect(scratch) as wh:
        assert_identical(after_nightly, snapshot(wh, list(BILLING_ORPHAN_MODELS)))
