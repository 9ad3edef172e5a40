"""Staging on a hand-made landing folder: typing, latest version per key, soft deletes, quarantine
rules and the reconciliation landed = staged + superseded + soft-deleted + quarantined."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from conftest import base_settings, run_dbt
from landing_builder import empty_landing, write_landing_file
from orchestration.loading.contract import load_contracts
from orchestration.loading.loader import load_all
from orchestration.warehouse import connect

FEB = "2024-02-01T03:00:00+00:00"
MAR = "2024-03-01T03:00:00+00:00"
LEAD = dict(email="A@X.com", company="Acme", lead_source="email", status="open", owner_id="U1",
            created_at="2024-01-10T09:30:00+01:00", is_converted="false")
INVOICE = dict(customer_id="cus_1", status="paid", currency="eur", subtotal="1000", tax="234", total="1234",
               amount_paid="1234", amount_due="0", created="1706000000", paid_at="1706000100")


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def staged(request, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp(f"staging_{request.param}")
    landing = tmp_path / "landing"
    empty_landing(landing)
    write_landing_file(landing, "crm.leads", "2024-02-01.csv", [
        dict(LEAD, id="L1"),                                   # updated in March
        dict(LEAD, id="L2", company="first in file"),          # duplicate below: first wins
        dict(LEAD, id="L2", company="second in file"),         # -> duplicate_key
        dict(LEAD, id="L3"),                                   # deleted in March
        dict(LEAD, id="L4", company="valid"),                  # newest version in March is bad
        dict(LEAD, id="", company="no key"),                   # -> missing_primary_key
        dict(LEAD, id="L5", lead_source="tv"),                 # -> invalid_enum:lead_source
        dict(LEAD, id="L6", created_at="2024-02-30T00:00:00Z"),  # -> invalid_timestamp:created_at
        dict(LEAD, id="L7", created_at="2024-02-05T00:00:00+00:00"),  # > loaded_at + 1 day
        dict(LEAD, id="L8", is_converted="maybe"),             # -> invalid_boolean:is_converted
    ], FEB)
    write_landing_file(landing, "crm.leads", "2024-03-01.csv", [
        dict(LEAD, id="L1", status="working"),
        dict(LEAD, id="L3", _is_deleted="true"),
        dict(LEAD, id="L4", company="bad newest", lead_source="fax"),
        dict(LEAD, id="L9", company="tie: earlier file"),
    ], MAR)
    write_landing_file(landing, "crm.leads", "2024-03-01b.csv", [dict(LEAD, id="L9", company="tie: later file")], MAR)
    write_landing_file(landing, "billing.invoices", "2024-02-01.csv", [
        dict(INVOICE, id="in_eur"),
        dict(INVOICE, id="in_usd", currency="usd", subtotal="1999", tax="0", total="1999"),
        dict(INVOICE, id="in_neg", total="-5"),               # -> negative_amount:total
        dict(INVOICE, id="in_jpy", currency="jpy"),           # -> missing_fx_rate (no JPY rate)
        dict(INVOICE, id="in_old", created="1577836800"),     # 2020-01-01: before the first EUR rate
        dict(INVOICE, id="in_txt", subtotal="12.5x"),         # -> invalid_number:subtotal
    ], FEB)
    write_landing_file(landing, "finance.fx_rates", "2024-02-01.csv", [
        dict(rate_date="2023-12-29", currency="EUR", usd_per_unit="1.10"),
        dict(rate_date="2024-01-02", currency="eur", usd_per_unit="-1"),  # -> negative_amount
        dict(rate_date="2024-01-03", currency="EUR", usd_per_unit="0"),   # -> out_of_range (> 0 required)
    ], FEB)
    write_landing_file(landing, "crm.csat_responses", "2024-02-01.csv", [
        dict(id="S1", account_id="A1", score="5", responded_at="2024-01-20T10:00:00-05:00"),
        dict(id="S2", account_id="A1", score="6", responded_at="2024-01-20T10:00:00-05:00"),
    ], FEB)
    if request.param == "postgres":
        settings = base_settings(tmp_path, landing, "postgres", request.getfixturevalue("pg_database_module"))
    else:
        settings = base_settings(tmp_path, landing)
    with connect(settings) as wh:
        load_all(wh, landing, load_contracts())
    run_dbt(settings, ["build", "--select", "staging", "audit"], tmp_path)
    with connect(settings) as wh:
        yield wh


def test_latest_valid_version_per_key(staged):
    rows = dict(staged.fetchall("select lead_id, company from staging.stg_crm__leads"))
    assert rows == {"L1": "Acme", "L2": "first in file", "L4": "valid", "L9": "tie: later file"}
    assert staged.fetchall("select status from staging.stg_crm__leads where lead_id = 'L1'") == [("working",)]


def test_typing_to_utc_major_units_upper_case(staged):
    created = staged.fetchall("select created_at from staging.stg_crm__leads where lead_id = 'L1'")[0][0]
    assert created == dt.datetime(2024, 1, 10, 8, 30)  # 09:30+01:00 -> 08:30 UTC, naive timestamp
    inv = staged.fetchall(
        "select currency, subtotal, tax, total, created_at, paid_at from staging.stg_billing__invoices "
        "where invoice_id = 'in_eur'")[0]
    assert inv == ("EUR", Decimal("10.00"), Decimal("2.34"), Decimal("12.34"),
                   dt.datetime(2024, 1, 23, 8, 53, 20), dt.datetime(2024, 1, 23, 8, 55))
    assert staged.fetchall("select responded_at from staging.stg_crm__csat_responses") == [
        (dt.datetime(2024, 1, 20, 15, 0),)]


def test_pii_is_hashed_in_staging(staged):
    cols = [r[0] for r in staged.fetchall(
        "select column_name from information_schema.columns where table_schema = 'staging' "
        "and table_name = 'stg_crm__leads'")]
    assert "email" not in cols and "email_hash" in cols


def test_bad_rows_quarantined_with_named_rule(staged):
    got = set(staged.fetchall("select table_name, primary_key_value, rule from audit.quarantine"))
    assert got == {
        ("leads", "L2", "duplicate_key"),
        ("leads", "L4", "invalid_enum:lead_source"),
        ("leads", None, "missing_primary_key"),
        ("leads", "L5", "invalid_enum:lead_source"),
        ("leads", "L6", "invalid_timestamp:created_at"),
        ("leads", "L7", "future_timestamp:created_at"),
        ("leads", "L8", "invalid_boolean:is_converted"),
        ("invoices", "in_neg", "negative_amount:total"),
        ("invoices", "in_jpy", "missing_fx_rate"),
        ("invoices", "in_old", "missing_fx_rate"),
        ("invoices", "in_txt", "invalid_number:subtotal"),
        ("fx_rates", "2024-01-02|eur", "negative_amount:usd_per_unit"),
        ("fx_rates", "2024-01-03|EUR", "out_of_range:usd_per_unit"),
        ("csat_responses", "S2", "out_of_range:score"),
    }
    raw = staged.fetchall("select raw_row_json from audit.quarantine where primary_key_value = 'L5'")[0][0]
    assert '"lead_source":"tv"' in raw.replace(" ", "")


def test_reconciliation_per_table(staged):
    rows = staged.fetchall(
        "select table_name, landed_rows, staged_rows, superseded_rows, soft_deleted_rows, quarantined_rows, "
        "is_reconciled from audit.reconciliation where landed_rows > 0 order by table_name")
    assert rows == [
        ("csat_responses", 2, 1, 0, 0, 1, True),
        ("fx_rates", 3, 1, 0, 0, 2, True),
        ("invoices", 6, 2, 0, 0, 4, True),
        # leads: 15 landed = 4 staged (L1 L2 L4 L9) + 3 superseded (old L1, old L3, L9 of the earlier
        #        file) + 1 soft-deleted (L3) + 7 quarantined
        ("leads", 15, 4, 3, 1, 7, True),
    ]
