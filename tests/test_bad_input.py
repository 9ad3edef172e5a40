"""Every row of the bad-input table (raw_sources.md, "Bad input and what happens to it"), each landed
next to good data, on both engines.

One small landing per engine holds every case in its own files and keys; it is loaded once (plus a
second load for the changed-file case) and built once with dbt. Each test then asserts exactly what
happened to its case: the file rejected whole (ledger + the loader's error), or each bad row in
audit.quarantine with its rule, file and row number, or the orphan flagged; and in every case the
good rows of the same tables are still staged and audit.reconciliation balances.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from conftest import base_settings, fresh_pg_database, run_dbt
from landing_builder import (
    CONTRACTS,
    empty_landing,
    header_line,
    write_landing_bytes,
    write_landing_file,
    write_landing_parquet,
)
from orchestration.loading.loader import LoadFailed, load_all
from orchestration.settings import Settings
from orchestration.warehouse import Warehouse, connect

ENGINES = ["duckdb", "postgres"]

LOADED = "2024-02-01T03:00:00+00:00"   # _loaded_at of every landed row
LOADED_EPOCH = 1706756400              # the same instant as epoch seconds
DAY = 86400
JAN23 = "1706000000"                   # 2024-01-23 08:53:20 UTC: invoice date of the good invoices

# dbt: everything the bad-input rules touch, up to a KPI mart that must leave orphans out
DBT_SELECT = ["staging", "audit", "+fct_invoice_lines", "+kpi_revenue"]

LEAD = dict(email="a@x.com", company="Acme", lead_source="email", status="open", owner_id="U1",
            created_at="2024-01-10T09:30:00+01:00", is_converted="false")
INVOICE = dict(customer_id="cus_1", status="paid", currency="eur", subtotal="1000", tax="0", total="1000",
               amount_paid="1000", amount_due="0", created=JAN23, paid_at=JAN23)
LINE = dict(type="subscription", quantity="1", amount="1000", discount_amount="0", proration="false",
            period_start=JAN23, period_end=str(int(JAN23) + 30 * DAY), description="Pro plan")
OPP = dict(account_id="A1", owner_id="U1", name="Deal", type="new_business", lead_source="email",
           stage_name="closed_won", amount="5000", currency="USD", probability="100",
           created_at="2024-01-02T10:00:00+00:00", close_date="2024-01-15", is_closed="true", is_won="true")
ACTIVITY = dict(owner_id="U1", type="call", lead_id="L1", activity_at="2024-01-20T10:00:00+00:00",
                status="completed")
CSAT = dict(account_id="A1", score="4", responded_at="2024-01-20T10:00:00-05:00")


def build_landing(landing: Path) -> None:
    """The good landing plus every bad-input case, each in its own file."""
    empty_landing(landing)
    # ---------------------------------------------------------------- good data
    write_landing_file(landing, "crm.leads", "2024-02-01.csv",
                       [dict(LEAD, id="L1"), dict(LEAD, id="L2"), dict(LEAD, id="L3")], LOADED)
    write_landing_file(landing, "billing.invoices", "2024-02-01.csv", [
        dict(INVOICE, id="in_1"),
        dict(INVOICE, id="in_2", currency="usd", subtotal="1999", total="1999", amount_paid="1999"),
    ], LOADED)
    write_landing_file(landing, "billing.invoice_line_items", "2024-02-01.csv", [
        dict(LINE, id="il_1", invoice_id="in_1"),                      # 10.00 EUR -> 11.00 USD
        dict(LINE, id="il_2", invoice_id="in_2", amount="1999"),        # 19.99 USD
    ], LOADED)
    write_landing_file(landing, "finance.fx_rates", "2024-02-01.csv",
                       [dict(rate_date="2023-12-29", currency="EUR", usd_per_unit="1.10")], LOADED)
    write_landing_parquet(landing, "finance.fx_rates", "2024-02-01b.parquet",
                          [dict(rate_date="2024-01-15", currency="CHF", usd_per_unit="1.15")], LOADED)
    write_landing_file(landing, "crm.opportunities", "2024-02-01.csv", [dict(OPP, id="O1")], LOADED)
    write_landing_file(landing, "crm.activities", "2024-02-01.csv", [dict(ACTIVITY, id="A1")], LOADED)
    write_landing_file(landing, "crm.csat_responses", "2024-02-01.csv",
                       [dict(CSAT, id="S1", score="5"), dict(CSAT, id="S2", score="1")], LOADED)

    # ---------------------------------------------------------------- file-level cases
    # header lacks required columns (CSV and Parquet); a file of an unknown layout
    cols = [c for c in CONTRACTS["crm.leads"].raw_columns if c not in ("status", "created_at")]
    write_landing_file(landing, "crm.leads", "2024-02-02-missing-columns.csv", [dict(LEAD, id="L_REJ1")],
                       LOADED, columns=cols)
    cols = [c for c in CONTRACTS["finance.fx_rates"].raw_columns if c != "usd_per_unit"]
    write_landing_parquet(landing, "finance.fx_rates", "2024-02-02-missing-columns.parquet",
                          [dict(rate_date="2024-01-20", currency="DKK")], LOADED, columns=cols)
    write_landing_bytes(landing, "billing.invoices", "2024-02-02-unknown-layout.csv",
                        b"Invoice No;Customer;Amount\nin_REJ2;cus_1;10,00\n")
    # not UTF-8 (Latin-1), not parseable CSV (ragged row, unterminated quote), not Parquet
    write_landing_bytes(landing, "crm.leads", "2024-02-03-latin1.csv", (
        header_line("crm.leads") + "\nL_REJ3,caf\xe9@x.com,Caf\xe9,email,open,U1,2024-01-10T09:30:00+01:00,false,,,,"
        + LOADED + ",false\n").encode("latin-1"))
    write_landing_bytes(landing, "billing.invoices", "2024-02-03-broken.csv", (
        header_line("billing.invoices") + "\n"
        + "in_REJ4,cus_1,,,paid,eur,1000,0,1000,1000,0," + JAN23 + ",,,,," + LOADED + ",false,EXTRA,FIELDS\n"
        + 'in_REJ5,"cus_1,,,paid\n').encode("utf-8"))
    write_landing_bytes(landing, "finance.fx_rates", "2024-02-03-broken.parquet", b"PAR1\x00\x01 not a parquet file")
    # empty files: header only and zero bytes (CSV and Parquet)
    write_landing_file(landing, "crm.activities", "2024-02-04-header-only.csv", [], LOADED)
    write_landing_bytes(landing, "crm.activities", "2024-02-04-zero-bytes.csv", b"")
    write_landing_bytes(landing, "finance.fx_rates", "2024-02-04-zero-bytes.parquet", b"")
    # changed after loading: the first version is loaded; build_changed_file() rewrites it later
    write_landing_file(landing, "crm.leads", "2024-02-05-changed.csv",
                       [dict(LEAD, id="L_CHG", company="as first landed")], LOADED)

    # ---------------------------------------------------------------- row-level cases
    # null or blank primary key (single and composite keys)
    write_landing_file(landing, "crm.leads", "2024-02-10-keys.csv", [
        dict(LEAD, id="L10"),                                  # row 1 good
        dict(LEAD, id="", company="no key"),                   # row 2 missing_primary_key
        dict(LEAD, id="   ", company="blank key"),             # row 3 missing_primary_key
        dict(LEAD, id="L11"),                                  # row 4 good
    ], LOADED)
    write_landing_file(landing, "finance.fx_rates", "2024-02-10-keys.csv", [
        dict(rate_date="2024-01-16", currency="", usd_per_unit="1.2"),     # row 1 missing_primary_key
        dict(rate_date="", currency="NOK", usd_per_unit="0.09"),           # row 2 missing_primary_key
        dict(rate_date="2024-01-16", currency="SEK", usd_per_unit="0.095"),  # row 3 good
    ], LOADED)
    # whitespace around values: tab, no-break and em space are stripped like spaces, on every engine
    write_landing_file(landing, "crm.leads", "2024-02-10-whitespace.csv", [
        dict(LEAD, id="\tL90\u00a0", email="\tAnn@X.com\u2003"),   # row 1 good: key L90
        dict(LEAD, id="\u00a0\t ", company="whitespace key"),     # row 2 missing_primary_key
        dict(LEAD, id="L91", email="ann@x.com"),                   # row 3 good: the same email_hash as L90
    ], LOADED)
    write_landing_file(landing, "billing.invoices", "2024-02-10-whitespace.csv", [
        dict(INVOICE, id="in_95", currency="\u00a0usd", subtotal="\u00a01999\t", total="1999\u3000",
             amount_paid=" 1999\n"),                                # row 1 good: 19.99 USD
    ], LOADED)
    # the same key twice (three times) in one file with the same _loaded_at: the first wins
    write_landing_file(landing, "crm.leads", "2024-02-11-duplicates.csv", [
        dict(LEAD, id="L20", company="first"),                 # row 1 kept
        dict(LEAD, id="L21"),                                  # row 2 good
        dict(LEAD, id="L20", company="second"),                # row 3 duplicate_key
        dict(LEAD, id="L20", company="third"),                 # row 4 duplicate_key
    ], LOADED)
    # unparseable timestamp, epoch, date and numbers
    write_landing_file(landing, "crm.leads", "2024-02-12-typing.csv", [
        dict(LEAD, id="L30"),                                              # row 1 good
        dict(LEAD, id="L31", created_at="2024-02-30T00:00:00+00:00"),       # row 2 invalid_timestamp
        dict(LEAD, id="L32", created_at="yesterday"),                       # row 3 invalid_timestamp
    ], LOADED)
    write_landing_file(landing, "billing.invoices", "2024-02-12-typing.csv", [
        dict(INVOICE, id="in_30", subtotal="12.5x"),            # row 1 invalid_number:subtotal
        dict(INVOICE, id="in_31", created="2024-01-23"),        # row 2 invalid_timestamp:created (not epoch)
        dict(INVOICE, id="in_32"),                              # row 3 good
    ], LOADED)
    write_landing_file(landing, "crm.contacts", "2024-02-12-typing-words.csv", [
        dict(id="C1", account_id="A1", created_at="2024-01-05T08:00:00+00:00"),  # row 1 good
        dict(id="C2", account_id="A1", created_at="epoch"),                      # row 2 invalid_timestamp
        dict(id="C3", account_id="A1", created_at="-infinity"),                  # row 3 invalid_timestamp
        dict(id="C4", account_id="A1", created_at="Infinity"),                   # row 4 invalid_timestamp
    ], LOADED)
    write_landing_file(landing, "finance.fx_rates", "2024-02-12-typing.csv", [
        dict(rate_date="2024-13-01", currency="EUR", usd_per_unit="1.2"),   # row 1 invalid_timestamp:rate_date
        dict(rate_date="2024-01-17", currency="EUR", usd_per_unit="1,10"),  # row 2 invalid_number:usd_per_unit
    ], LOADED)
    # values outside an allowed list
    write_landing_file(landing, "crm.opportunities", "2024-02-13-enum.csv", [
        dict(OPP, id="O30", stage_name="won"),                  # row 1 invalid_enum:stage_name
        dict(OPP, id="O31"),                                    # row 2 good
        dict(OPP, id="O32", type="upsell"),                     # row 3 invalid_enum:type
    ], LOADED)
    write_landing_file(landing, "crm.leads", "2024-02-13-enum.csv", [
        dict(LEAD, id="L40", lead_source="tv"),                 # row 1 invalid_enum:lead_source
        dict(LEAD, id="L41", status="OPEN"),                    # row 2 invalid_enum:status (case matters)
        dict(LEAD, id="L42"),                                   # row 3 good
    ], LOADED)
    # negative amounts (a proration line may be negative) and scores outside 1-5
    write_landing_file(landing, "billing.invoices", "2024-02-14-negative.csv", [
        dict(INVOICE, id="in_40", total="-5"),                  # row 1 negative_amount:total
        dict(INVOICE, id="in_41", status="open", amount_paid="0", amount_due="1000", paid_at=""),  # row 2 good
    ], LOADED)
    write_landing_file(landing, "billing.invoice_line_items", "2024-02-14-negative.csv", [
        dict(LINE, id="il_40", invoice_id="in_1", amount="-500"),                    # row 1 negative_amount:amount
        dict(LINE, id="il_41", invoice_id="in_1", amount="-500", proration="true"),  # row 2 good: proration
        dict(LINE, id="il_42", invoice_id="in_1", discount_amount="-10"),            # row 3 negative discount
    ], LOADED)
    write_landing_file(landing, "finance.fx_rates", "2024-02-14-negative.csv", [
        dict(rate_date="2024-01-18", currency="EUR", usd_per_unit="-1.1"),  # row 1 negative_amount:usd_per_unit
    ], LOADED)
    write_landing_file(landing, "crm.csat_responses", "2024-02-14-scores.csv", [
        dict(CSAT, id="S40", score="6"),                        # row 1 out_of_range:score
        dict(CSAT, id="S41", score="0"),                        # row 2 out_of_range:score
        dict(CSAT, id="S42", score="3"),                        # row 3 good
    ], LOADED)
    # currency with no FX rate on or before the conversion date
    write_landing_file(landing, "billing.invoices", "2024-02-15-fx.csv", [
        dict(INVOICE, id="in_50", currency="jpy"),              # row 1 missing_fx_rate: no JPY rate at all
        dict(INVOICE, id="in_51", created="1577836800", paid_at="1577836800"),  # row 2 2020-01-01: before any EUR rate
        dict(INVOICE, id="in_52", currency="usd"),              # row 3 good: USD needs no rate
        dict(INVOICE, id="in_53", status="open", paid_at="", amount_paid="0", amount_due="1000",
             created=str(1705000000)),                       # row 4 good: 2024-01-11, earlier EUR rate applies
    ], LOADED)
    write_landing_file(landing, "billing.invoice_line_items", "2024-02-15-fx.csv", [
        dict(LINE, id="il_50", invoice_id="in_50"),             # line of a quarantined invoice: follows it
    ], LOADED)
    write_landing_file(landing, "crm.opportunities", "2024-02-15-fx.csv", [
        dict(OPP, id="O50", currency="EUR", close_date="2023-06-30"),  # row 1 missing_fx_rate
        dict(OPP, id="O51", currency="GBP", close_date="2024-01-20"),  # row 2 missing_fx_rate
        dict(OPP, id="O52", currency="EUR", close_date="2024-01-10"),  # row 3 good
    ], LOADED)
    # foreign key pointing to nothing: kept and flagged
    write_landing_file(landing, "billing.invoice_line_items", "2024-02-16-orphan.csv", [
        dict(LINE, id="il_60", invoice_id="in_never_landed", amount="99999"),  # orphan
        dict(LINE, id="il_61", invoice_id="in_2", amount="500"),               # good: 5.00 USD
        dict(LINE, id="il_62", invoice_id="in_2", price_id="price_never_landed", amount="700"),  # orphan: price
    ], LOADED)
    write_landing_file(landing, "billing.charges", "2024-02-16-orphan.csv", [
        dict(id="ch_1", customer_id="cus_1", invoice_id="in_2", amount="1999", currency="usd", status="succeeded",
             created=JAN23),
    ], LOADED)
    write_landing_file(landing, "billing.refunds", "2024-02-16-orphan.csv", [
        dict(id="re_60", charge_id="ch_never_landed", amount="7777", currency="usd", status="succeeded",
             created=JAN23),                                                    # orphan
        dict(id="re_61", charge_id="ch_1", amount="300", currency="usd", status="succeeded",
             created=JAN23),                                                    # good: 3.00 USD
    ], LOADED)
    # event timestamps more than a day after _loaded_at; exempt and within-a-day dates are kept
    write_landing_file(landing, "crm.leads", "2024-02-17-future.csv", [
        dict(LEAD, id="L70", created_at="2024-02-02T04:00:00+00:00"),  # row 1 25 h later: future_timestamp
        dict(LEAD, id="L71", created_at="2024-02-02T02:00:00+00:00"),  # row 2 23 h later: good
        dict(LEAD, id="L72", status="converted", is_converted="true",
             converted_at="2024-02-05T00:00:00+01:00"),                 # row 3 future_timestamp:converted_at
    ], LOADED)
    write_landing_file(landing, "billing.invoices", "2024-02-17-future.csv", [
        dict(INVOICE, id="in_70", paid_at=str(LOADED_EPOCH + 2 * DAY)),               # row 1 future paid_at
        dict(INVOICE, id="in_71", created=str(LOADED_EPOCH + 2 * DAY),
             paid_at=""),                                                                 # row 2 future created
        dict(INVOICE, id="in_72", status="open", paid_at="", amount_paid="0", amount_due="1000",
             period_start=JAN23, period_end=str(LOADED_EPOCH + 30 * DAY),
             due_date=str(LOADED_EPOCH + 14 * DAY)),                                   # row 3 good: exempt dates
    ], LOADED)
    write_landing_file(landing, "crm.activities", "2024-02-17-future.csv", [
        dict(ACTIVITY, id="A70", activity_at="2024-03-15T10:00:00+00:00"),                    # row 1 future, completed
        dict(ACTIVITY, id="A71", activity_at="2024-03-15T10:00:00+00:00", status="planned"),  # row 2 good: planned
    ], LOADED)
    write_landing_file(landing, "crm.opportunities", "2024-02-17-future.csv", [
        dict(OPP, id="O70", stage_name="proposal", is_closed="false", is_won="false", probability="50",
             close_date="2024-06-30"),                          # row 1 good: open deal, expected close ahead
        dict(OPP, id="O71", created_at="2024-02-03T00:00:00+00:00"),  # row 2 future_timestamp:created_at
    ], LOADED)


CHANGED_FILE = "crm/leads/2024-02-05-changed.csv"


def change_landed_file(landing: Path) -> None:
    """The same path lands again with different content (after it was loaded)."""
    write_landing_file(landing, "crm.leads", "2024-02-05-changed.csv", [
        dict(LEAD, id="L_CHG", company="changed afterwards"), dict(LEAD, id="L_CHG2")], LOADED)


# Keys staged per stg_ view after the build: the good rows of every file above.
STAGED = {
    "stg_crm__leads": ("lead_id", {"L1", "L2", "L3", "L_CHG", "L10", "L11", "L20", "L21", "L30", "L42",
                                   "L71", "L90", "L91"}),
    "stg_billing__invoices": ("invoice_id", {"in_1", "in_2", "in_32", "in_41", "in_52", "in_53", "in_72", "in_95"}),
    "stg_billing__invoice_line_items": ("invoice_line_id", {"il_1", "il_2", "il_41", "il_50", "il_60", "il_61",
                                                                     "il_62"}),
    "stg_crm__opportunities": ("opportunity_id", {"O1", "O31", "O52", "O70"}),
    "stg_crm__activities": ("activity_id", {"A1", "A71"}),
    "stg_crm__csat_responses": ("csat_response_id", {"S1", "S2", "S42"}),
}
# audit.reconciliation per table that landed rows:
# (landed, staged, superseded, soft_deleted, quarantined); nothing here is superseded or deleted
RECONCILIATION = {
    "activities": (3, 2, 0, 0, 1),
    "charges": (1, 1, 0, 0, 0),
    "csat_responses": (5, 3, 0, 0, 2),
    "fx_rates": (8, 3, 0, 0, 5),
    "invoice_line_items": (9, 7, 0, 0, 2),
    "invoices": (15, 8, 0, 0, 7),
    "leads": (24, 13, 0, 0, 11),
    "opportunities": (9, 4, 0, 0, 5),
    "refunds": (2, 2, 0, 0, 0),
}


@dataclass
class Built:
    engine: str
    settings: Settings
    wh: Warehouse
    first_load_error: str
    second_load_error: str
    run_results: dict

    @property
    def marts(self) -> str:
        """Where dbt built the marts: `marts`, or PostgreSQL's build schema where the settings have one
        (Settings.marts_schema, blue/green publishing of the marts)."""
        return getattr(self.settings, "marts_schema", "marts")


@pytest.fixture(scope="module", params=ENGINES)
def built(request, tmp_path_factory):
    engine = request.param
    tmp = tmp_path_factory.mktemp(f"bad_input_{engine}")
    landing = tmp / "landing"
    build_landing(landing)
    if engine == "postgres":
        settings = base_settings(tmp, landing, "postgres", request.getfixturevalue("pg_database_module"))
    else:
        settings = base_settings(tmp, landing)
    contracts = dict(CONTRACTS)
    with connect(settings) as wh:
        with pytest.raises(LoadFailed) as first:
            load_all(wh, landing, contracts)
        change_landed_file(landing)
        with pytest.raises(LoadFailed) as second:
            load_all(wh, landing, contracts)
    proc = run_dbt(settings, ["build", "--select", *DBT_SELECT], tmp, check=False)
    if proc.returncode != 0:  # other people edit the models concurrently: one retry, then fail loudly
        proc = run_dbt(settings, ["build", "--select", *DBT_SELECT], tmp)
    run_results = json.loads((tmp / "dbt_target" / "run_results.json").read_text())
    with connect(settings) as wh:
        yield Built(engine, settings, wh, str(first.value), str(second.value), run_results)


# ---------------------------------------------------------------------------------------- helpers

def quarantined(wh: Warehouse, source_file: str) -> set[tuple]:
    """(row_number, primary_key_value, rule) of every quarantined row of one landed file."""
    return {(int(r), k, rule) for r, k, rule in wh.fetchall(
        "select row_number, primary_key_value, rule from audit.quarantine where source_file = %s",
        [source_file])}


def staged_keys(wh: Warehouse, view: str) -> set[str]:
    column, _ = STAGED[view]
    return {r[0] for r in wh.fetchall(f"select {column} from staging.{view}")}


def assert_good_rows_staged(wh: Warehouse, *views: str) -> None:
    for view in views:
        assert staged_keys(wh, view) == STAGED[view][1], view


def assert_reconciled(wh: Warehouse, *tables: str) -> None:
    rows = {t: (landed, staged, sup, deleted, quar, ok) for t, landed, staged, sup, deleted, quar, ok in wh.fetchall(
        "select table_name, landed_rows, staged_rows, superseded_rows, soft_deleted_rows, quarantined_rows, "
        "is_reconciled from audit.reconciliation")}
    assert len(rows) == 20 and all(r[-1] for r in rows.values()), rows
    for table in tables:
        assert rows[table] == (*RECONCILIATION[table], True), table


def ledger(wh: Warehouse, file_path: str) -> list[tuple]:
    return wh.fetchall("select outcome, row_count, message from audit.load_ledger where file_path = %s "
                       "order by loaded_at, outcome", [file_path])


def raw_keys(wh: Warehouse, table: str, source_file: str | None = None) -> set[str]:
    sql = f"select id from {table}" + (" where _source_file = %s" if source_file else "")
    return {r[0] for r in wh.fetchall(sql, [source_file] if source_file else None)}


# ---------------------------------------------------------------------------------------- the table

def test_file_missing_required_columns_or_of_unknown_layout_is_rejected_whole(built):
    wh = built.wh
    lead_cols = "status, created_at"
    invoice_cols = ", ".join(CONTRACTS["billing.invoices"].required_columns)
    expected = {
        "crm/leads/2024-02-02-missing-columns.csv": f"missing required columns: {lead_cols}",
        "finance/fx_rates/2024-02-02-missing-columns.parquet": "missing required columns: usd_per_unit",
        "billing/invoices/2024-02-02-unknown-layout.csv": f"missing required columns: {invoice_cols}",
    }
    for path, reason in expected.items():
        message = f"{path}: {reason}"
        assert ledger(wh, path) == [("rejected", 0, message)]
        assert message in built.first_load_error  # the load fails naming the file and the columns
    # nothing of those files is loaded, and the good files beside them are
    assert "L_REJ1" not in raw_keys(wh, "raw_crm.leads")
    assert wh.fetchall("select count(*) from raw_finance.fx_rates where currency = 'DKK'") == [(0,)]
    assert wh.fetchall("select count(*) from raw_billing.invoices where _source_file like '%unknown-layout%'") == [(0,)]
    assert_good_rows_staged(wh, "stg_crm__leads", "stg_billing__invoices")
    assert {r[0] for r in wh.fetchall("select currency from staging.stg_finance__fx_rates")} == {"EUR", "CHF", "SEK"}
    assert_reconciled(wh, "leads", "invoices", "fx_rates")


def test_file_not_utf8_or_not_parseable_is_rejected_whole(built):
    wh = built.wh
    expected = {
        "crm/leads/2024-02-03-latin1.csv": "not valid UTF-8",
        "billing/invoices/2024-02-03-broken.csv": "not parseable as CSV",
        "finance/fx_rates/2024-02-03-broken.parquet": "not a readable Parquet file",
    }
    for path, reason in expected.items():
        rows = ledger(wh, path)
        assert [r[:2] for r in rows] == [("rejected", 0)], path
        assert rows[0][2].startswith(f"{path}: {reason}")
        assert f"{path}: {reason}" in built.first_load_error
    assert "L_REJ3" not in raw_keys(wh, "raw_crm.leads")
    assert not {"in_REJ4", "in_REJ5"} & raw_keys(wh, "raw_billing.invoices")
    assert_good_rows_staged(wh, "stg_crm__leads", "stg_billing__invoices")
    assert_reconciled(wh, "leads", "invoices", "fx_rates")
    # the first load failed on exactly the six refused files, and says so once: the second load
    # (which only met the changed file) does not report them again
    refused = [line.strip() for line in built.first_load_error.splitlines()[1:]]
    assert sorted(r.split(":")[0] for r in refused) == sorted([
        "crm/leads/2024-02-02-missing-columns.csv", "finance/fx_rates/2024-02-02-missing-columns.parquet",
        "billing/invoices/2024-02-02-unknown-layout.csv", *expected])
    assert built.second_load_error.count("\n  ") == 1


def test_empty_files_are_recorded_with_zero_rows_and_are_no_error(built):
    wh = built.wh
    for path in ("crm/activities/2024-02-04-header-only.csv", "crm/activities/2024-02-04-zero-bytes.csv",
                 "finance/fx_rates/2024-02-04-zero-bytes.parquet"):
        assert [r[:2] for r in ledger(wh, path)] == [("empty", 0)], path
        assert path not in built.first_load_error
    assert_good_rows_staged(wh, "stg_crm__activities")
    assert_reconciled(wh, "activities", "fx_rates")


def test_same_path_landing_again_with_different_content_is_refused_and_not_loaded(built):
    wh = built.wh
    assert CHANGED_FILE not in built.first_load_error
    assert built.second_load_error.startswith("Some landed files were refused:")
    assert f"{CHANGED_FILE}: landed file changed since it was loaded" in built.second_load_error
    assert [r[:2] for r in ledger(wh, CHANGED_FILE)] == [("loaded", 1), ("changed_file", 0)]
    assert ledger(wh, CHANGED_FILE)[1][2] == built.second_load_error.splitlines()[1].strip()
    # the first version stays as landed; nothing of the new content is loaded
    assert wh.fetchall("select id, company from raw_crm.leads where _source_file = %s", [CHANGED_FILE]) == [
        ("L_CHG", "as first landed")]
    assert wh.fetchall("select company from staging.stg_crm__leads where lead_id = 'L_CHG'") == [("as first landed",)]
    assert_good_rows_staged(wh, "stg_crm__leads")
    assert_reconciled(wh, "leads")


@pytest.mark.parametrize("engine", ENGINES)
def test_changed_file_with_the_same_size_and_mtime_is_refused_when_verifying(engine, request, tmp_path):
    """The size/mtime fast path trusts a file whose path, size and mtime match the ledger; a file
    rewritten in place by an mtime-preserving copy (cp -p, rsync -t) is caught with
    WAREHOUSE_VERIFY_LANDED_FILES=true (load_all(..., verify_unchanged=True)), which hashes every file."""
    import os

    landing = tmp_path / "landing"
    path = write_landing_file(landing, "crm.leads", "2024-02-01.csv", [dict(LEAD, id="L1")], LOADED)
    db = request.getfixturevalue("pg_database") if engine == "postgres" else "test"
    settings = base_settings(tmp_path, landing, engine, db)
    with connect(settings) as wh:
        load_all(wh, landing, {"crm.leads": CONTRACTS["crm.leads"]})
        stat = path.stat()
        write_landing_file(landing, "crm.leads", "2024-02-01.csv", [dict(LEAD, id="L9")], LOADED)  # same size
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert path.stat().st_size == stat.st_size
        # the fast path does not read it ...
        assert load_all(wh, landing, {"crm.leads": CONTRACTS["crm.leads"]}).totals()["files_skipped"] == 1
        # ... verifying does, and refuses it
        with pytest.raises(LoadFailed, match="crm/leads/2024-02-01.csv: landed file changed since it was loaded"):
            load_all(wh, landing, {"crm.leads": CONTRACTS["crm.leads"]}, verify_unchanged=True)


def test_null_or_blank_primary_key_is_quarantined(built):
    wh = built.wh
    assert quarantined(wh, "crm/leads/2024-02-10-keys.csv") == {
        (2, None, "missing_primary_key"), (3, None, "missing_primary_key")}
    assert quarantined(wh, "finance/fx_rates/2024-02-10-keys.csv") == {
        (1, "2024-01-16|", "missing_primary_key"), (2, "|NOK", "missing_primary_key")}
    raw = wh.fetchall("select raw_row_json from audit.quarantine where source_file = 'crm/leads/2024-02-10-keys.csv' "
                      "and row_number = 3")[0][0]
    assert json.loads(raw)["company"] == "blank key"
    assert_good_rows_staged(wh, "stg_crm__leads")
    assert {"L10", "L11"} <= staged_keys(wh, "stg_crm__leads")
    assert wh.fetchall("select rate_date, currency from staging.stg_finance__fx_rates where currency = 'SEK'") == [
        (dt.date(2024, 1, 16), "SEK")]
    assert_reconciled(wh, "leads", "fx_rates")


def test_whitespace_around_values_is_stripped_the_same_way_on_every_engine(built):
    """Tab, line feed, no-break and other Unicode spaces are whitespace like the ASCII space (each
    engine's own trim() strips another set): the same landed value is blank, or a valid number, on
    DuckDB and PostgreSQL alike."""
    wh = built.wh
    assert quarantined(wh, "crm/leads/2024-02-10-whitespace.csv") == {(2, None, "missing_primary_key")}
    hashes = dict(wh.fetchall("select lead_id, email_hash from staging.stg_crm__leads where lead_id in ('L90', 'L91')"))
    assert set(hashes) == {"L90", "L91"} and hashes["L90"] == hashes["L91"]
    assert wh.fetchall("select currency, subtotal, total, amount_paid from staging.stg_billing__invoices "
                       "where invoice_id = 'in_95'") == [("USD", Decimal("19.99"), Decimal("19.99"), Decimal("19.99"))]
    assert_reconciled(wh, "leads", "invoices")


def test_same_key_twice_in_one_file_first_wins_later_ones_quarantined(built):
    wh = built.wh
    assert quarantined(wh, "crm/leads/2024-02-11-duplicates.csv") == {
        (3, "L20", "duplicate_key"), (4, "L20", "duplicate_key")}
    assert wh.fetchall("select company from staging.stg_crm__leads where lead_id = 'L20'") == [("first",)]
    assert_good_rows_staged(wh, "stg_crm__leads")
    assert_reconciled(wh, "leads")


def test_unparseable_timestamp_date_or_number_is_quarantined_naming_the_column(built):
    wh = built.wh
    assert quarantined(wh, "crm/leads/2024-02-12-typing.csv") == {
        (2, "L31", "invalid_timestamp:created_at"), (3, "L32", "invalid_timestamp:created_at")}
    assert quarantined(wh, "billing/invoices/2024-02-12-typing.csv") == {
        (1, "in_30", "invalid_number:subtotal"), (2, "in_31", "invalid_timestamp:created")}
    # a date column names its rule invalid_timestamp too (one rule family for timestamps, epochs, dates)
    assert quarantined(wh, "finance/fx_rates/2024-02-12-typing.csv") == {
        (1, "2024-13-01|EUR", "invalid_timestamp:rate_date"), (2, "2024-01-17|EUR", "invalid_number:usd_per_unit")}
    assert_good_rows_staged(wh, "stg_crm__leads", "stg_billing__invoices")
    assert_reconciled(wh, "leads", "invoices", "fx_rates")


def test_value_outside_the_allowed_list_is_quarantined(built):
    wh = built.wh
    assert quarantined(wh, "crm/opportunities/2024-02-13-enum.csv") == {
        (1, "O30", "invalid_enum:stage_name"), (3, "O32", "invalid_enum:type")}
    assert quarantined(wh, "crm/leads/2024-02-13-enum.csv") == {
        (1, "L40", "invalid_enum:lead_source"), (2, "L41", "invalid_enum:status")}
    assert_good_rows_staged(wh, "stg_crm__opportunities", "stg_crm__leads")
    assert_reconciled(wh, "opportunities", "leads")


def test_negative_amount_and_score_out_of_range_are_quarantined_proration_lines_are_not(built):
    wh = built.wh
    assert quarantined(wh, "billing/invoices/2024-02-14-negative.csv") == {(1, "in_40", "negative_amount:total")}
    assert quarantined(wh, "billing/invoice_line_items/2024-02-14-negative.csv") == {
        (1, "il_40", "negative_amount:amount"), (3, "il_42", "negative_amount:discount_amount")}
    assert quarantined(wh, "finance/fx_rates/2024-02-14-negative.csv") == {
        (1, "2024-01-18|EUR", "negative_amount:usd_per_unit")}
    assert quarantined(wh, "crm/csat_responses/2024-02-14-scores.csv") == {
        (1, "S40", "out_of_range:score"), (2, "S41", "out_of_range:score")}
    # the negative proration line is staged, typed, and counts (credit for unused time)
    assert wh.fetchall("select amount_minor, is_proration from staging.stg_billing__invoice_line_items "
                       "where invoice_line_id = 'il_41'") == [(-500, True)]
    assert wh.fetchall(f"select amount, amount_usd from {built.marts}.fct_invoice_lines "
                       "where invoice_line_id = 'il_41'") == [(Decimal("-5.00"), Decimal("-5.50"))]
    assert_good_rows_staged(wh, "stg_billing__invoices", "stg_billing__invoice_line_items", "stg_crm__csat_responses")
    assert sorted(r[0] for r in wh.fetchall("select score from staging.stg_crm__csat_responses")) == [1, 3, 5]
    assert_reconciled(wh, "invoices", "invoice_line_items", "fx_rates", "csat_responses")


def test_currency_without_fx_rate_on_or_before_the_date_is_quarantined(built):
    wh = built.wh
    assert quarantined(wh, "billing/invoices/2024-02-15-fx.csv") == {
        (1, "in_50", "missing_fx_rate"), (2, "in_51", "missing_fx_rate")}
    assert quarantined(wh, "crm/opportunities/2024-02-15-fx.csv") == {
        (1, "O50", "missing_fx_rate"), (2, "O51", "missing_fx_rate")}
    # the lines of a quarantined invoice follow it: kept, but as orphans outside the facts
    assert quarantined(wh, "billing/invoice_line_items/2024-02-15-fx.csv") == set()
    assert wh.fetchall("select is_orphan from intermediate.int_invoice_lines where invoice_line_id = 'il_50'") == [
        (True,)]
    assert wh.fetchall(f"select count(*) from {built.marts}.fct_invoice_lines where invoice_id = 'in_50'") == [(0,)]
    # a date without its own rate converts at the latest earlier one (EUR 2023-12-29)
    assert wh.fetchall("select amount_usd from intermediate.int_invoice_lines where invoice_line_id = 'il_1'") == [
        (Decimal("11.00"),)]
    assert_good_rows_staged(wh, "stg_billing__invoices", "stg_crm__opportunities", "stg_billing__invoice_line_items")
    assert_reconciled(wh, "invoices", "opportunities", "invoice_line_items")


def test_orphan_invoice_line_and_refund_are_kept_flagged_and_left_out_of_kpis(built):
    wh = built.wh
    assert quarantined(wh, "billing/invoice_line_items/2024-02-16-orphan.csv") == set()
    assert wh.fetchall("select invoice_line_id, is_orphan, amount, amount_usd, mrr_usd from "
                       "intermediate.int_invoice_lines where invoice_id = 'in_never_landed'") == [
        ("il_60", True, None, None, Decimal("0.00"))]
    facts = dict(wh.fetchall(f"select invoice_line_id, amount_usd from {built.marts}.fct_invoice_lines"))
    assert facts == {"il_1": Decimal("11.00"), "il_2": Decimal("19.99"), "il_41": Decimal("-5.50"),
                     "il_61": Decimal("5.00")}
    # a line whose price never landed: kept and flagged, not a fact, no MRR until the price lands
    assert wh.fetchall("select is_orphan, amount_usd, mrr_usd from intermediate.int_invoice_lines "
                       "where invoice_line_id = 'il_62'") == [(True, Decimal("7.00"), Decimal("0.00"))]
    # January revenue = the good paid lines only (the orphans' 999.99 and 7.00 are not in it)
    assert wh.fetchall(f"select gross_revenue_usd from {built.marts}.kpi_revenue where period_type = 'month' "
                       "and period_start = %s", [dt.date(2024, 1, 1)]) == [(Decimal("30.49"),)]
    # a refund whose charge never landed: kept and flagged; January's refunds are the good one only
    assert wh.fetchall("select refund_id, is_orphan, customer_id, amount_usd from intermediate.int_refunds "
                       "order by refund_id") == [("re_60", True, None, Decimal("77.77")),
                                                 ("re_61", False, "cus_1", Decimal("3.00"))]
    assert wh.fetchall(f"select refunds_usd, net_revenue_usd from {built.marts}.kpi_revenue "
                       "where period_type = 'month' and period_start = %s", [dt.date(2024, 1, 1)]) == [
        (Decimal("3.00"), Decimal("27.49"))]
    # the warn-level check counts the orphans (il_60, il_50 of the quarantined invoice, il_62, re_60)
    warn = [r for r in built.run_results["results"] if "warn_orphan_billing_records" in r["unique_id"]]
    assert [(r["status"], r["failures"]) for r in warn] == [("warn", 4)]
    assert_good_rows_staged(wh, "stg_billing__invoice_line_items")
    assert_reconciled(wh, "invoice_line_items", "charges", "refunds")


def test_event_timestamp_more_than_a_day_after_loaded_at_is_quarantined_exempt_dates_are_not(built):
    wh = built.wh
    assert quarantined(wh, "crm/leads/2024-02-17-future.csv") == {
        (1, "L70", "future_timestamp:created_at"), (3, "L72", "future_timestamp:converted_at")}
    assert quarantined(wh, "billing/invoices/2024-02-17-future.csv") == {
        (1, "in_70", "future_timestamp:paid_at"), (2, "in_71", "future_timestamp:created")}
    assert quarantined(wh, "crm/activities/2024-02-17-future.csv") == {(1, "A70", "future_timestamp:activity_at")}
    assert quarantined(wh, "crm/opportunities/2024-02-17-future.csv") == {(2, "O71", "future_timestamp:created_at")}
    # exempt: a planned activity, an open deal's close date, an invoice's due date and period end
    assert wh.fetchall("select status, activity_at from staging.stg_crm__activities where activity_id = 'A71'") == [
        ("planned", dt.datetime(2024, 3, 15, 10, 0))]
    assert wh.fetchall("select close_date from staging.stg_crm__opportunities where opportunity_id = 'O70'") == [
        (dt.date(2024, 6, 30),)]
    assert wh.fetchall("select due_at from staging.stg_billing__invoices where invoice_id = 'in_72'") == [
        (dt.datetime(2024, 2, 15, 3, 0),)]
    assert "L71" in staged_keys(wh, "stg_crm__leads")  # 23 h after its extract: within the day allowed
    assert_good_rows_staged(wh, "stg_crm__leads", "stg_billing__invoices", "stg_crm__activities",
                            "stg_crm__opportunities")
    assert_reconciled(wh, "leads", "invoices", "activities", "opportunities")


def test_timestamp_words_are_unparseable_on_every_engine(built):
    """'epoch', '-infinity', 'infinity' are no ISO-8601 timestamps: quarantined, as PostgreSQL does."""
    wh = built.wh
    assert quarantined(wh, "crm/contacts/2024-02-12-typing-words.csv") == {
        (2, "C2", "invalid_timestamp:created_at"), (3, "C3", "invalid_timestamp:created_at"),
        (4, "C4", "invalid_timestamp:created_at")}
    assert {r[0] for r in wh.fetchall("select contact_id from staging.stg_crm__contacts")} == {"C1"}


def test_every_quarantined_row_is_one_of_the_cases_above(built):
    """Nothing else was quarantined: no good row of any file was caught by a rule."""
    got = built.wh.fetchall("select count(*), count(distinct source_file) from audit.quarantine "
                            "where table_name <> 'contacts'")  # contacts: the test just above
    assert got == [(sum(r[4] for r in RECONCILIATION.values()), 19)]


# ---------------------------------------------------------------------------------------- the load asset

@pytest.mark.parametrize("engine", ENGINES)
def test_load_asset_fails_naming_the_file_and_missing_columns(engine, request, tmp_path, monkeypatch):
    """The Dagster asset (not just the loader): after loading the good file, it fails, naming the file."""
    from orchestration.assets.loading import load_assets
    from orchestration.resources import WarehouseResource

    landing = tmp_path / "landing"
    write_landing_file(landing, "crm.leads", "2024-02-01.csv", [dict(LEAD, id="L1")], LOADED)
    cols = [c for c in CONTRACTS["crm.leads"].raw_columns if c not in ("status", "created_at")]
    write_landing_file(landing, "crm.leads", "2024-02-02-missing-columns.csv", [dict(LEAD, id="L2")], LOADED,
                       columns=cols)
    db = request.getfixturevalue("pg_database") if engine == "postgres" else "test"
    settings = base_settings(tmp_path, landing, engine, db)
    for name, value in settings.environ().items():  # the resource reads the environment; restored afterwards
        monkeypatch.setenv(name, value)
    asset = next(a for a in load_assets if dg.AssetKey(["crm", "leads"]) in a.keys)
    result = dg.materialize([asset], resources={"warehouse": WarehouseResource()}, raise_on_error=False)
    with connect(settings) as wh:
        assert raw_keys(wh, "raw_crm.leads") == {"L1"}  # the good file is loaded first
    assert not result.success
    errors = [e.step_failure_data.error.message for e in result.get_step_failure_events()]
    assert len(errors) == 1
    assert "crm/leads/2024-02-02-missing-columns.csv: missing required columns: status, created_at" in errors[0]


# ---------------------------------------------------------------------------------------- out-of-range values
# Values that pass the cast's pattern but not the column's type used to fail the whole build
# instead of one row. They get their own landing and build: a failing base model would take
# audit.quarantine and every model downstream with it.

@dataclass
class CrashBuild:
    engine: str
    wh: Warehouse
    status: dict[str, str]  # dbt model name -> run_results status


@pytest.fixture(scope="module", params=ENGINES)
def out_of_range_build(request, tmp_path_factory):
    engine = request.param
    tmp = tmp_path_factory.mktemp(f"bad_input_range_{engine}")
    landing = tmp / "landing"
    empty_landing(landing)
    write_landing_file(landing, "finance.fx_rates", "2024-02-01-range.csv", [
        dict(rate_date="2023-12-29", currency="EUR", usd_per_unit="1.10"),          # row 1 good
        dict(rate_date="2024-01-02", currency="EUR", usd_per_unit="12345678901"),   # row 2 > decimal(18, 8)
    ], LOADED)
    write_landing_file(landing, "crm.opportunity_history", "2024-02-01-range.csv", [
        dict(id="H1", opportunity_id="O1", stage_name="proposal", amount="100", probability="50",
             changed_at="2024-01-05T10:00:00+00:00"),                                # row 1 good
        dict(id="H2", opportunity_id="O1", stage_name="proposal", amount="9999999999999999.999", probability="50",
             changed_at="2024-01-05T10:00:00+00:00"),                                # row 2 rounds past decimal(18, 2)
    ], LOADED)
    write_landing_file(landing, "billing.customers", "2024-02-01-range.csv", [
        dict(id="cus_1", name="Acme", created=JAN23, currency="usd"),                # row 1 good
        dict(id="cus_2", name="Old", created="-999999999999", currency="usd"),        # row 2 year 29720 BC
    ], LOADED)
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(fresh_pg_database()) if engine == "postgres" else "test"
        settings = base_settings(tmp, landing, engine, db)
        with connect(settings) as wh:
            load_all(wh, landing, dict(CONTRACTS))
        run_dbt(settings, ["build", "--select", "staging"], tmp, check=False)
        results = json.loads((tmp / "dbt_target" / "run_results.json").read_text())["results"]
        status = {r["unique_id"].split(".")[-1]: r["status"] for r in results if r["unique_id"].startswith("model.")}
        with connect(settings) as wh:
            yield CrashBuild(engine, wh, status)


def base_rows(wh: Warehouse, model: str) -> set[tuple]:
    return {(int(n), status, rule) for n, status, rule in wh.fetchall(
        f"select _row_number, _row_status, _dq_rule from staging.{model}")}


def test_number_too_large_for_its_column_is_quarantined_not_failing_the_build(out_of_range_build):
    b = out_of_range_build
    assert b.status["base_finance__fx_rates"] == "success"
    assert b.status["base_crm__opportunity_history"] == "success"
    assert base_rows(b.wh, "base_finance__fx_rates") == {
        (1, "current", None), (2, "quarantined", "invalid_number:usd_per_unit")}
    assert base_rows(b.wh, "base_crm__opportunity_history") == {
        (1, "current", None), (2, "quarantined", "invalid_number:amount")}


def test_epoch_out_of_the_engines_range_is_not_failing_the_build(out_of_range_build, request):
    """-999999999999 fits the epoch pattern (12 digits) but not PostgreSQL's timestamp range."""
    b = out_of_range_build
    assert b.status["base_billing__customers"] == "success"
    # epochs have at most 11 digits (about 1200 BC to 5100 AD, inside every engine's range)
    assert base_rows(b.wh, "base_billing__customers") == {
        (1, "current", None), (2, "quarantined", "invalid_timestamp:created")}


@pytest.mark.parametrize("engine", ENGINES)
def test_nul_character_in_a_value_does_not_crash_the_load(engine, request, tmp_path):
    """A NUL byte is valid UTF-8 and valid CSV: the file is loaded or refused, never a crash."""
    landing = tmp_path / "landing"
    write_landing_file(landing, "crm.leads", "2024-02-01.csv", [dict(LEAD, id="L1", company="Ac\x00me")], LOADED)
    write_landing_file(landing, "crm.leads", "2024-02-02.csv", [dict(LEAD, id="L2")], LOADED)
    db = request.getfixturevalue("pg_database") if engine == "postgres" else "test"
    settings = base_settings(tmp_path, landing, engine, db)
    with connect(settings) as wh:
        report = load_all(wh, landing, {"crm.leads": CONTRACTS["crm.leads"]}, raise_on_error=False)
        outcome = ledger(wh, "crm/leads/2024-02-01.csv")
        # rejected on every engine: PostgreSQL text cannot hold NUL, and the engines must agree
        assert [r[0] for r in outcome] == ["rejected"]
        assert report.errors == ["crm/leads/2024-02-01.csv: contains NUL characters (byte 0x00); not a text extract"]
        assert ledger(wh, "crm/leads/2024-02-02.csv")[0][:2] == ("loaded", 1)
