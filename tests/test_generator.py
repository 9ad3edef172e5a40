"""Tests of the sample-data generator (orchestration.generate).

The expectations below are written from the landing contract (shared/specs/raw_sources.md), not taken from the
generator's own schema, so that a drift between the two shows up here. A small reference implementation of the
row-level quarantine rules checks that exactly the rows listed in the manifest are bad, with the listed rule."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from orchestration.generate import generate_landing, main

SMALL = dict(customers=60, start=date(2024, 1, 1), months=6, dirty_rate=0.02, seed=7)

LS = ["paid_search", "paid_social", "organic_search", "email", "referral", "events", "outbound"]
STAGES = ["prospecting", "qualification", "discovery", "proposal", "negotiation", "closed_won", "closed_lost"]

# spec columns per table (raw_sources.md), in order
SPEC = {
    "crm/users": "id name email role team manager_id hired_at is_active",
    "crm/accounts": "id name industry segment country owner_id created_at",
    "crm/contacts": "id account_id first_name last_name email phone created_at",
    "crm/leads": "id email company lead_source status owner_id created_at is_converted converted_at "
                 "converted_account_id converted_opportunity_id",
    "crm/opportunities": "id account_id owner_id name type lead_source stage_name amount currency probability "
                         "created_at close_date is_closed is_won",
    "crm/opportunity_history": "id opportunity_id stage_name amount probability changed_at",
    "crm/activities": "id owner_id type lead_id contact_id opportunity_id account_id activity_at status",
    "crm/quotas": "owner_id period_month quota_amount currency",
    "crm/csat_responses": "id account_id score responded_at",
    "billing/customers": "id email name created currency crm_account_id",
    "billing/products": "id name active",
    "billing/prices": "id product_id unit_amount currency type recurring_interval recurring_interval_count active",
    "billing/subscriptions": "id customer_id status created start_date trial_start trial_end cancel_at_period_end "
                             "canceled_at ended_at",
    "billing/invoices": "id customer_id subscription_id number status currency subtotal tax total amount_paid "
                        "amount_due created period_start period_end due_date paid_at",
    "billing/invoice_line_items": "id invoice_id subscription_id price_id type quantity amount discount_amount "
                                  "proration period_start period_end description",
    "billing/charges": "id customer_id invoice_id amount currency status failure_code created",
    "billing/refunds": "id charge_id amount currency status reason created",
    "finance/marketing_spend": "spend_date channel campaign amount currency",
    "finance/operating_costs": "period_month cost_type amount currency",
    "finance/fx_rates": "rate_date currency usd_per_unit",
}
KEYS = {"crm/quotas": ["owner_id", "period_month"], "finance/marketing_spend": ["spend_date", "channel", "campaign"],
        "finance/operating_costs": ["period_month", "cost_type"], "finance/fx_rates": ["rate_date", "currency"]}
ENUMS = {
    "crm/users": {"role": ["sdr", "ae", "manager"]},
    "crm/accounts": {"segment": ["smb", "mid_market", "enterprise"]},
    "crm/leads": {"lead_source": LS, "status": ["open", "working", "qualified", "unqualified", "converted"]},
    "crm/opportunities": {"type": ["new_business", "expansion", "renewal"], "lead_source": LS + [""],
                          "stage_name": STAGES},
    "crm/opportunity_history": {"stage_name": STAGES},
    "crm/activities": {"type": ["call", "email", "meeting", "demo", "proposal", "follow_up"],
                       "status": ["completed", "planned", "cancelled"]},
    "billing/prices": {"type": ["recurring", "one_time"], "recurring_interval": ["month", "year", ""]},
    "billing/subscriptions": {"status": ["trialing", "active", "past_due", "canceled", "unpaid", "incomplete",
                                         "incomplete_expired"]},
    "billing/invoices": {"status": ["draft", "open", "paid", "void", "uncollectible"]},
    "billing/invoice_line_items": {"type": ["subscription", "invoiceitem"]},
    "billing/charges": {"status": ["succeeded", "failed", "pending"]},
    "billing/refunds": {"status": ["succeeded", "failed", "pending"]},
    "finance/marketing_spend": {"channel": LS},
    "finance/operating_costs": {"cost_type": ["cogs", "sales", "marketing_overhead"]},
}
BOOLS = {"crm/users": ["is_active"], "crm/leads": ["is_converted"], "crm/opportunities": ["is_closed", "is_won"],
         "billing/products": ["active"], "billing/prices": ["active"], "billing/subscriptions": ["cancel_at_period_end"],
         "billing/invoice_line_items": ["proration"]}
CRM_TS = {"crm/accounts": ["created_at"], "crm/contacts": ["created_at"], "crm/leads": ["created_at", "converted_at"],
          "crm/opportunities": ["created_at"], "crm/opportunity_history": ["changed_at"],
          "crm/activities": ["activity_at"], "crm/csat_responses": ["responded_at"]}
DATES = {"crm/users": ["hired_at"], "crm/opportunities": ["close_date"], "crm/quotas": ["period_month"],
         "finance/marketing_spend": ["spend_date"], "finance/operating_costs": ["period_month"],
         "finance/fx_rates": ["rate_date"]}
EPOCHS = {"billing/customers": ["created"],
          "billing/subscriptions": ["created", "start_date", "trial_start", "trial_end", "canceled_at", "ended_at"],
          "billing/invoices": ["created", "period_start", "period_end", "due_date", "paid_at"],
          "billing/invoice_line_items": ["period_start", "period_end"], "billing/charges": ["created"],
          "billing/refunds": ["created"]}
DECIMALS = {"crm/opportunities": ["amount", "probability"], "crm/opportunity_history": ["amount", "probability"],
            "crm/quotas": ["quota_amount"], "finance/marketing_spend": ["amount"], "finance/operating_costs": ["amount"],
            "finance/fx_rates": ["usd_per_unit"]}
INTEGERS = {"crm/csat_responses": ["score"], "billing/prices": ["unit_amount", "recurring_interval_count"],
            "billing/invoices": ["subtotal", "tax", "total", "amount_paid", "amount_due"],
            "billing/invoice_line_items": ["quantity", "amount", "discount_amount"], "billing/charges": ["amount"],
            "billing/refunds": ["amount"]}
MONEY = {"crm/opportunities": ["amount"], "crm/opportunity_history": ["amount"], "crm/quotas": ["quota_amount"],
         "billing/prices": ["unit_amount"], "billing/invoices": ["subtotal", "tax", "total", "amount_paid", "amount_due"],
         "billing/invoice_line_items": ["amount", "discount_amount"], "billing/charges": ["amount"],
         "billing/refunds": ["amount"], "finance/marketing_spend": ["amount"], "finance/operating_costs": ["amount"],
         "finance/fx_rates": ["usd_per_unit"]}
EVENTS = {"crm/accounts": ["created_at"], "crm/contacts": ["created_at"], "crm/leads": ["created_at", "converted_at"],
          "crm/opportunities": ["created_at"], "crm/opportunity_history": ["changed_at"],
          "crm/activities": ["activity_at"], "crm/csat_responses": ["responded_at"], "billing/customers": ["created"],
          "billing/subscriptions": ["created", "canceled_at", "ended_at"], "billing/invoices": ["created", "paid_at"],
          "billing/charges": ["created"], "billing/refunds": ["created"], "finance/marketing_spend": ["spend_date"]}
FX_DATE = {"crm/opportunities": "close_date", "crm/quotas": "period_month", "billing/invoices": "created",
           "billing/charges": "created", "billing/refunds": "created", "finance/marketing_spend": "spend_date",
           "finance/operating_costs": "period_month"}
FKS = {  # child table: [(column, parent table)]
    "crm/users": [("manager_id", "crm/users")],
    "crm/accounts": [("owner_id", "crm/users")],
    "crm/contacts": [("account_id", "crm/accounts")],
    "crm/leads": [("owner_id", "crm/users"), ("converted_account_id", "crm/accounts"),
                  ("converted_opportunity_id", "crm/opportunities")],
    "crm/opportunities": [("account_id", "crm/accounts"), ("owner_id", "crm/users")],
    "crm/opportunity_history": [("opportunity_id", "crm/opportunities")],
    "crm/activities": [("owner_id", "crm/users"), ("lead_id", "crm/leads"), ("contact_id", "crm/contacts"),
                       ("opportunity_id", "crm/opportunities"), ("account_id", "crm/accounts")],
    "crm/quotas": [("owner_id", "crm/users")],
    "crm/csat_responses": [("account_id", "crm/accounts")],
    "billing/customers": [("crm_account_id", "crm/accounts")],
    "billing/prices": [("product_id", "billing/products")],
    "billing/subscriptions": [("customer_id", "billing/customers")],
    "billing/invoices": [("customer_id", "billing/customers"), ("subscription_id", "billing/subscriptions")],
    "billing/invoice_line_items": [("invoice_id", "billing/invoices"), ("subscription_id", "billing/subscriptions"),
                                   ("price_id", "billing/prices")],
    "billing/charges": [("customer_id", "billing/customers"), ("invoice_id", "billing/invoices")],
    "billing/refunds": [("charge_id", "billing/charges")],
}
ROW_CLASSES = ["missing_primary_key", "duplicate_key", "invalid_timestamp", "invalid_number", "invalid_enum",
               "invalid_boolean", "negative_amount", "out_of_range", "missing_fx_rate", "future_timestamp", "orphan"]
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INT_RE = re.compile(r"^-?\d+$")
DEC_RE = re.compile(r"^-?\d+(\.\d+)?$")


# ------------------------------------------------------------------ helpers
def gen(out: Path, **kw) -> dict:
    args = dict(SMALL)
    args.update(kw)
    return generate_landing(out, **args)


def tree_hashes(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path).astype(str)
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def load_tree(root: Path, manifest: dict) -> dict:
    """table -> DataFrame of every landed row, with _file and _row (1-based within its file)."""
    out = {}
    for fqn, tm in manifest["tables"].items():
        tname = fqn.replace(".", "/")
        frames = []
        for f in tm["files"]:
            p = root / f["path"]
            if not p.exists():
                continue
            df = read(p)
            df["_file"] = f["path"]
            df["_row"] = range(1, len(df) + 1)
            frames.append(df)
        out[tname] = pd.concat(frames, ignore_index=True)
    return out


def ts_utc(s: str) -> datetime:
    return datetime.fromisoformat(s).astimezone(timezone.utc)


def event_time(kind: str, v: str) -> datetime:
    if kind == "epoch":
        return datetime.fromtimestamp(int(v), tz=timezone.utc)
    if kind == "date":
        return datetime.fromisoformat(v).replace(tzinfo=timezone.utc)
    return ts_utc(v)


def col_kind(table: str, col: str) -> str:
    if col in EPOCHS.get(table, []):
        return "epoch"
    if col in DATES.get(table, []):
        return "date"
    return "ts"


def valid_ts(v):
    if not TS_RE.match(v):
        return False
    try:
        datetime.fromisoformat(v)
        return True
    except ValueError:
        return False


def valid_date(v):
    if not DATE_RE.match(v):
        return False
    try:
        date.fromisoformat(v)
        return True
    except ValueError:
        return False


def reference_quarantine(tables: dict) -> dict:
    """(file, row) -> rule, applying the contract's row-level rules. Orphans are not quarantined (not returned)."""
    fx = tables["finance/fx_rates"]
    fx_ok = fx[fx["rate_date"].map(valid_date) & fx["usd_per_unit"].map(lambda v: bool(DEC_RE.match(v)) and float(v) > 0)
               & fx["currency"].ne("")]
    first_rate = fx_ok.groupby("currency")["rate_date"].min().to_dict()
    out = {}
    for table, df in tables.items():
        key = KEYS.get(table, ["id"])
        rows = df.to_dict("records")
        seen = set()
        for r in rows:
            loc = (r["_file"], r["_row"])
            k = tuple(r[c] for c in key)
            if any(v.strip() == "" for v in k):
                out[loc] = "missing_primary_key"
                continue
            fk = (r["_file"], r["_loaded_at"], k)
            if fk in seen:
                out[loc] = "duplicate_key"
                continue
            seen.add(fk)
            rule = None
            for c in CRM_TS.get(table, []):
                if r[c] and not valid_ts(r[c]):
                    rule = f"invalid_timestamp:{c}"
            for c in DATES.get(table, []):
                if r[c] and not valid_date(r[c]):
                    rule = f"invalid_timestamp:{c}"
            for c in EPOCHS.get(table, []):
                if r[c] and not INT_RE.match(r[c]):
                    rule = f"invalid_timestamp:{c}"
            for c in DECIMALS.get(table, []):
                if r[c] and not DEC_RE.match(r[c]):
                    rule = f"invalid_number:{c}"
            for c in INTEGERS.get(table, []):
                if r[c] and not INT_RE.match(r[c]):
                    rule = f"invalid_number:{c}"
            for c, allowed in ENUMS.get(table, {}).items():
                if r[c] not in allowed:
                    rule = f"invalid_enum:{c}"
            for c in BOOLS.get(table, []):
                if r[c] not in ("true", "false"):
                    rule = f"invalid_boolean:{c}"
            if r["_is_deleted"] not in ("true", "false", ""):
                rule = "invalid_boolean:_is_deleted"
            if rule is None:
                for c in MONEY.get(table, []):
                    if r[c] and DEC_RE.match(r[c]) and float(r[c]) < 0:
                        if table == "billing/invoice_line_items" and c == "amount" and r["proration"] == "true":
                            continue
                        rule = f"negative_amount:{c}"
                if table == "crm/csat_responses" and INT_RE.match(r["score"]) and not 1 <= int(r["score"]) <= 5:
                    rule = "out_of_range:score"
            if rule is None and table in FX_DATE:
                cur = r["currency"].upper()
                if cur != "USD":
                    d = r[FX_DATE[table]]
                    d = (datetime.fromtimestamp(int(d), tz=timezone.utc).date().isoformat()
                         if table.startswith("billing") else d)
                    if cur not in first_rate or first_rate[cur] > d:
                        rule = "missing_fx_rate"
            if rule is None:
                loaded = ts_utc(r["_loaded_at"])
                for c in EVENTS.get(table, []):
                    if not r[c] or (table == "crm/activities" and r["status"] != "completed"):
                        continue
                    if event_time(col_kind(table, c), r[c]) > loaded + timedelta(days=1):
                        rule = f"future_timestamp:{c}"
            if rule:
                out[loc] = rule
    return out


def staged(tables: dict, quarantined: set) -> dict:
    """table -> DataFrame of the latest valid, not deleted version per key (the contract's staging rule)."""
    out = {}
    for table, df in tables.items():
        key = KEYS.get(table, ["id"])
        ok = [(f, r) not in quarantined for f, r in zip(df["_file"], df["_row"])]
        d = df[ok].copy()
        d["_fname"] = d["_file"].map(lambda p: p.rsplit("/", 1)[1])
        d = d.sort_values(["_loaded_at", "_fname", "_row"], kind="stable")
        d = d.drop_duplicates(key, keep="last")
        out[table] = d[d["_is_deleted"] != "true"]
    return out


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("landing")
    m = gen(out)
    return out, m


@pytest.fixture(scope="module")
def small_tables(small):
    out, m = small
    return load_tree(out, m)


@pytest.fixture(scope="module")
def small_quarantine(small_tables):
    return reference_quarantine(small_tables)


@pytest.fixture(scope="module")
def small_staged(small_tables, small_quarantine):
    return staged(small_tables, set(small_quarantine))


# ------------------------------------------------------------------ tests
def test_determinism(tmp_path, small):
    out, _ = small
    gen(tmp_path / "again")
    assert tree_hashes(out) == tree_hashes(tmp_path / "again")
    gen(tmp_path / "other", seed=8)
    assert tree_hashes(out) != tree_hashes(tmp_path / "other")


def test_layout_and_headers(small):
    out, m = small
    assert (out / "_manifest.json").exists()
    assert json.loads((out / "_manifest.json").read_text()) == m
    assert sorted(p.name for p in out.iterdir()) == ["_manifest.json", "billing", "crm", "finance"]
    n_batches = SMALL["months"] + 1
    for table, cols in SPEC.items():
        files = sorted((out / table).glob("*"))
        assert len(files) == n_batches, table
        assert all(re.match(r"^\d{4}-\d{2}-\d{2}\.csv$", p.name) for p in files)
        nonempty = 0
        for p in files:
            raw = p.read_bytes()
            raw.decode("utf-8")
            header = next(csv.reader(io.StringIO(raw.decode("utf-8"))))
            assert header == cols.split() + ["_loaded_at", "_is_deleted"], table
            df = read(p)
            nonempty += len(df) > 0
            stem = p.stem
            assert set(df["_loaded_at"]) <= {f"{stem}T03:00:00+00:00"}
            assert set(df["_is_deleted"]) <= {"true", "false"}
        assert nonempty >= 2, table
    names = sorted(p.stem for p in (out / "crm/users").glob("*.csv"))
    assert names[0] == "2024-02-01" and names[-2] == "2024-07-01" and names[-1] == "2024-07-15"
    assert m["as_of"] == "2024-07-15T03:00:00+00:00"


def test_conventions(small_tables):
    t = small_tables
    offsets = {v[-6:] for v in t["crm/leads"]["created_at"] if valid_ts(v)}
    assert len(offsets) >= 3 and "+00:00" in offsets
    assert set(t["crm/opportunities"]["currency"]) >= {"USD", "EUR"}
    assert set(t["billing/invoices"]["currency"]) - {"jpy"} <= {"usd", "eur", "gbp"}
    assert t["billing/invoices"]["created"].str.match(r"^\d+$").mean() > 0.95
    assert set(t["finance/fx_rates"]["currency"]) - {""} == {"EUR", "GBP"}


def test_updates_and_soft_deletes(small, small_tables):
    _, m = small
    for table, df in small_tables.items():
        key = KEYS.get(table, ["id"])
        per_key = df.groupby(key)["_file"].nunique()
        assert (per_key >= 2).any(), f"{table} has no record updated in a later batch"
    deleted = {t for t, df in small_tables.items() if (df["_is_deleted"] == "true").any()}
    assert {"crm/leads", "crm/contacts", "crm/activities", "crm/opportunities"} <= deleted
    assert len([t for t in deleted if t.startswith("billing/")]) >= 3


def test_dirty_classes_and_rate(small):
    _, m = small
    r = SMALL["dirty_rate"]
    applicable = {  # the contract's row-level classes that apply to each table
        "crm/users": {"invalid_boolean", "invalid_enum", "invalid_timestamp"},
        "crm/opportunities": {"invalid_number", "negative_amount", "missing_fx_rate", "future_timestamp", "orphan"},
        "crm/csat_responses": {"out_of_range", "future_timestamp", "orphan"},
        "billing/invoice_line_items": {"negative_amount", "invalid_boolean", "orphan"},
        "billing/invoices": {"missing_fx_rate", "future_timestamp", "negative_amount"},
        "finance/fx_rates": {"negative_amount", "invalid_number"},
    }
    for fqn, tm in m["tables"].items():
        table = fqn.replace(".", "/")
        classes = {c for c, n in tm["dirty_by_class"].items()}
        assert {"missing_primary_key", "duplicate_key"} <= classes
        assert classes <= set(ROW_CLASSES)
        assert applicable.get(table, set()) <= classes, table
        for c, n in tm["dirty_by_class"].items():
            assert n >= 1, f"{table}: no {c} row"
        assert tm["dirty_row_count"] == len(tm["dirty_rows"])
        assert all(e["path"] == f"{table}/{e['file']}" for e in tm["dirty_rows"])
        k = len(tm["dirty_by_class"])
        if r * tm["clean_rows"] >= 3 * k:       # big enough that the rate, not the minimum, decides
            assert 0.6 * r <= tm["dirty_row_count"] / tm["rows_written"] <= 1.6 * r, table
        else:
            assert tm["dirty_row_count"] <= max(k, round(r * tm["clean_rows"]) + k)


def test_quarantine_matches_manifest(small, small_quarantine):
    _, m = small
    expected = {}
    for tm in m["tables"].values():
        for e in tm["dirty_rows"]:
            if e["quarantined"]:
                expected[(e["path"], e["row"])] = e["rule"]
    assert small_quarantine == expected


def test_reconciliation_in_manifest(small, small_tables, small_quarantine, small_staged):
    _, m = small
    q, st = set(small_quarantine), small_staged
    for fqn, tm in m["tables"].items():
        e = tm["expected"]
        table = fqn.replace(".", "/")
        assert e["landed"] == tm["rows_written"] == len(small_tables[table])
        assert e["staged"] + e["superseded"] + e["soft_deleted"] + e["quarantined"] == e["landed"]
        assert e["staged"] == len(st[table]), table
        assert e["quarantined"] == sum(1 for f, _ in q if f.startswith(table + "/"))


def test_foreign_keys_resolve_except_orphans(small, small_staged):
    _, m = small
    st = small_staged
    orphans = {(e["path"], e["row"]) for tm in m["tables"].values() for e in tm["dirty_rows"] if e["rule"] == "orphan"}
    n_orphans_found = 0
    for table, fks in FKS.items():
        df = st[table]
        for col, parent in fks:
            keys = set(st[parent]["id"])
            bad = df[(df[col] != "") & ~df[col].isin(keys)]
            locs = set(zip(bad["_file"], bad["_row"]))
            assert locs <= orphans, f"{table}.{col}: {sorted(locs - orphans)[:5]}"
            n_orphans_found += len(locs)
    assert n_orphans_found == len(orphans)


def test_clean_data_is_consistent(small_staged):
    st = small_staged
    inv = st["billing/invoices"]
    for c in ["subtotal", "tax", "total", "amount_paid", "amount_due"]:
        inv = inv[inv[c].str.match(r"^-?\d+$")]
    inv = inv.astype({c: int for c in ["subtotal", "tax", "total", "amount_paid", "amount_due"]})
    assert (inv["total"] == inv["subtotal"] + inv["tax"]).all()
    paid = inv["status"] == "paid"
    assert (inv.loc[paid, "amount_paid"] == inv.loc[paid, "total"]).all()
    assert (inv.loc[paid, "paid_at"] != "").all()
    assert (inv.loc[~paid, "amount_paid"] == 0).all()
    lines = st["billing/invoice_line_items"]
    lines = lines[lines["amount"].str.match(r"^-?\d+$")]
    sums = lines.groupby("invoice_id")["amount"].apply(lambda s: s.astype(int).sum())
    j = inv.set_index("id").join(sums.rename("line_sum"), how="inner")
    assert (j["line_sum"] == j["subtotal"]).all()
    opp = st["crm/opportunities"]
    won = opp["stage_name"] == "closed_won"
    assert (opp.loc[won, "is_won"] == "true").all() and (opp.loc[won, "is_closed"] == "true").all()
    lost = opp["stage_name"] == "closed_lost"
    assert (opp.loc[lost, "is_won"] == "false").all() and (opp.loc[lost, "is_closed"] == "true").all()
    assert (opp.loc[~won & ~lost, "is_closed"] == "false").all()
    hist = st["crm/opportunity_history"]
    assert (hist["amount"] == "").any()
    h = hist.assign(t=hist["changed_at"].map(ts_utc)).sort_values("t")
    order = {s: i for i, s in enumerate(STAGES)}
    for _, g in h.groupby("opportunity_id"):
        idx = [order[s] for s in g["stage_name"]]
        open_idx = [i for i in idx if i <= 4]
        assert open_idx == sorted(open_idx)
    leads = st["crm/leads"]
    conv = leads["is_converted"] == "true"
    assert set(leads["lead_source"]) == set(LS)
    assert (leads.loc[conv, "converted_at"] != "").all() and (leads.loc[conv, "status"] == "converted").all()
    assert (leads.loc[conv, "converted_opportunity_id"] != "").all()
    acts = st["crm/activities"]
    assert set(acts["type"]) == {"call", "email", "meeting", "demo", "proposal", "follow_up"}
    assert set(acts["status"]) == {"completed", "planned", "cancelled"}
    touched = set(acts["lead_id"])
    assert (~leads["id"].isin(touched)).any(), "some leads are never touched"
    scores = st["crm/csat_responses"]["score"].astype(int)
    assert scores.between(1, 5).all()
    users = st["crm/users"]
    assert set(users["role"]) == {"sdr", "ae", "manager"}
    assert (users["manager_id"] == "").sum() == 1 and (users["is_active"] == "false").any()
    assert set(users.loc[users["role"] != "manager", "manager_id"]) <= set(users.loc[users["role"] == "manager", "id"])
    quotas = st["crm/quotas"]
    aes = set(users.loc[(users["role"] == "ae") & (users["is_active"] == "true"), "id"])
    assert aes - set(quotas["owner_id"]), "an active AE without quota"
    assert set(quotas["currency"]) == {"USD", "EUR"}
    assert set(opp["type"]) == {"new_business", "expansion", "renewal"}
    assert set(opp["currency"]) >= {"USD", "EUR"}


def test_mrr_relevant_shapes(small_staged):
    st = small_staged
    prices = st["billing/prices"]
    rec = prices[prices["type"] == "recurring"]
    assert ((rec["recurring_interval"] == "month") & (rec["recurring_interval_count"] == "3")).any()
    assert ((rec["recurring_interval"] == "year") & (rec["recurring_interval_count"] == "1")).any()
    assert (prices["type"] == "one_time").any()
    assert set(prices["currency"]) == {"usd", "eur", "gbp"}
    lines = st["billing/invoice_line_items"]
    pro = lines[lines["proration"] == "true"]
    assert (pro["amount"].astype(int) < 0).any() and (pro["amount"].astype(int) > 0).any()
    assert (lines["discount_amount"].astype(int) > 0).any()
    # service periods: monthly ~1 month, quarterly ~3, annual ~12
    sub_lines = lines[(lines["type"] == "subscription") & (lines["amount"].astype(int) > 0)]
    j = sub_lines.merge(prices[["id", "recurring_interval", "recurring_interval_count"]], left_on="price_id",
                        right_on="id", suffixes=("", "_p"))
    days = (j["period_end"].astype(int) - j["period_start"].astype(int)) / 86400
    months = j["recurring_interval"].map({"month": 1, "year": 12}) * j["recurring_interval_count"].astype(int)
    assert ((days / months).between(27, 32)).all()
    assert set(months) >= {1, 12}
    inv = st["billing/invoices"]
    trial = inv[(inv["total"] == "0") & (inv["status"] == "paid") & (inv["subscription_id"] != "")]
    assert len(trial) > 0
    assert set(inv["status"]) == {"paid", "open", "void", "uncollectible", "draft"}
    ch = st["billing/charges"].set_index("id")
    rf = st["billing/refunds"]
    rf = rf[rf["charge_id"].isin(ch.index)]
    cm = rf["charge_id"].map(ch["created"]).astype(int).map(lambda s: datetime.fromtimestamp(s, timezone.utc).strftime("%Y-%m"))
    rm = rf["created"].astype(int).map(lambda s: datetime.fromtimestamp(s, timezone.utc).strftime("%Y-%m"))
    assert (cm != rm).any(), "a refund in a later month than its charge"
    assert (rf["amount"].astype(int) < rf["charge_id"].map(ch["amount"]).astype(int)).any(), "a partial refund"
    assert (st["billing/charges"]["status"] == "failed").any()
    cus = st["billing/customers"]
    assert (cus["crm_account_id"] == "").any() and (cus["crm_account_id"] != "").any()
    subs = st["billing/subscriptions"]
    assert {"active", "canceled"} <= set(subs["status"])
    # a customer buying one-off items repeatedly (no subscription)
    oneoff = inv[(inv["subscription_id"] == "") & (inv["status"] == "paid")]
    with_sub = set(subs["customer_id"])
    rep = oneoff[~oneoff["customer_id"].isin(with_sub)].groupby("customer_id").size()
    assert (rep >= 2).any()


def test_no_bad_files_without_flag(small):
    out, m = small
    assert m["bad_files"] == []
    assert not list(out.rglob("*.parquet"))
    for p in out.rglob("*.csv"):
        assert p.stat().st_size > 0
        assert re.match(r"^\d{4}-\d{2}-\d{2}\.csv$", p.name)


def test_bad_files(tmp_path, small, small_tables):
    out = tmp_path / "bad"
    m = gen(out, bad_files=True)
    kinds = {b["kind"]: b for b in m["bad_files"]}
    assert set(kinds) == {"missing_column", "invalid_utf8", "unparseable", "empty", "header_only", "parquet",
                          "duplicate_file"}
    for b in m["bad_files"]:
        assert (out / b["path"]).exists(), b
    p = out / kinds["missing_column"]["path"]
    header = p.read_text().splitlines()[0].split(",")
    assert "status" not in header and "id" in header
    with pytest.raises(UnicodeDecodeError):
        (out / kinds["invalid_utf8"]["path"]).read_bytes().decode("utf-8")
    with pytest.raises(Exception):
        pd.read_csv(out / kinds["unparseable"]["path"], dtype=str)
    assert (out / kinds["empty"]["path"]).stat().st_size == 0
    ho = (out / kinds["header_only"]["path"]).read_text().splitlines()
    assert len(ho) == 1 and ho[0].split(",")[-2:] == ["_loaded_at", "_is_deleted"]
    pq = pd.read_parquet(out / kinds["parquet"]["path"])
    assert list(pq.columns) == SPEC["finance/fx_rates"].split() + ["_loaded_at", "_is_deleted"] and len(pq) > 0
    dup = kinds["duplicate_file"]
    assert (out / dup["path"]).read_bytes() == (out / dup["duplicate_of"]).read_bytes()
    # the good data is the same as without bad files: the parquet batch replaces its CSV
    tables = load_tree(out, m)
    for t, df in small_tables.items():
        assert df.drop(columns="_file").equals(tables[t].drop(columns="_file")), t


def test_extra_day(tmp_path, small):
    base, m0 = small
    out = tmp_path / "x"
    shutil.copytree(base, out)
    before = tree_hashes(out)
    m = gen(out, extra_day=True)
    after = tree_hashes(out)
    new = sorted(set(after) - set(before))
    assert all(after[k] == before[k] for k in before if k != "_manifest.json")
    assert len(new) == len(SPEC) and all(n.endswith("/2024-07-16.csv") for n in new)
    assert {n.rsplit("/", 1)[0] for n in new} == set(SPEC)
    assert m["extra_day"]["written"] and m["extra_day"]["loaded_at"] == "2024-07-16T03:00:00+00:00"
    tables = load_tree(out, m)
    loaded = datetime(2024, 7, 16, 3, tzinfo=timezone.utc)
    late, updates, rows = 0, 0, 0
    for table, df in tables.items():
        x = df[df["_file"].str.endswith("2024-07-16.csv")]
        rows += len(x)
        old = df[~df["_file"].str.endswith("2024-07-16.csv")]
        key = KEYS.get(table, ["id"])
        updates += len(x.merge(old[key].drop_duplicates(), on=key))
        for c in EVENTS.get(table, []):
            v = x[c][x[c].map(lambda s: bool(s) and (valid_ts(s) or valid_date(s) or bool(INT_RE.match(s))))]
            late += sum(event_time(col_kind(table, c), s) < loaded - timedelta(days=2) for s in v)
    assert rows > 0 and updates > 0 and late > 0
    # running it again changes nothing; the reference rules still match the manifest
    gen(out, extra_day=True)
    assert tree_hashes(out) == after
    expected = {(e["path"], e["row"]): e["rule"] for tm in m["tables"].values() for e in tm["dirty_rows"] if e["quarantined"]}
    assert reference_quarantine(tables) == expected


def test_extra_day_needs_matching_tree(tmp_path, small):
    base, _ = small
    with pytest.raises(FileNotFoundError):
        gen(tmp_path / "empty", extra_day=True)
    out = tmp_path / "y"
    shutil.copytree(base, out)
    with pytest.raises(ValueError):
        gen(out, extra_day=True, seed=99)


def test_refuses_to_overwrite_foreign_tree(tmp_path):
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "keep.txt").write_text("not generated")
    with pytest.raises(FileExistsError):
        gen(tmp_path)
    assert (tmp_path / "crm" / "keep.txt").exists()


def test_cli(tmp_path):
    out = tmp_path / "cli"
    assert main(["--out", str(out), "--customers", "40", "--start", "2024-03-01", "--months", "3",
                 "--dirty-rate", "0", "--seed", "1"]) == 0
    m = json.loads((out / "_manifest.json").read_text())
    assert m["parameters"]["customers"] == 40 and m["as_of"] == "2024-06-15T03:00:00+00:00"
    assert all(tm["dirty_row_count"] == 0 and tm["dirty_rows"] == [] for tm in m["tables"].values())
