"""Property-based tests (hypothesis): random garbage rows mixed with valid rows, and random malformed
files, landed for crm.leads and billing.invoice_line_items.

* Loader only (many examples, no dbt): every file gets exactly one ledger outcome that follows from
  what the file is; loaded files land every row exactly as written; refused files land nothing and
  are each reported once; a re-run changes nothing; a changed file is refused.
* Load + staging (DuckDB, few examples, one dbt build each): nothing crashes; every valid row is
  staged as its key's latest valid version (or superseded / soft-deleted / a later duplicate, by
  design); every invalid row is quarantined with a rule naming what was wrong with it; rows of
  refused files are nowhere; reconciliation balances with exactly the expected counts.

Examples are derandomized (the same on every run, no example database), so CI is reproducible.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from conftest import base_settings, run_dbt
from landing_builder import CONTRACTS, empty_landing, landing_path
from orchestration.loading.loader import load_all
from orchestration.warehouse import Warehouse, connect

TABLES = ("crm.leads", "billing.invoice_line_items")
SUBSET = {t: CONTRACTS[t] for t in TABLES}
UTC = dt.timezone.utc
BASE_LOADED = dt.datetime(2024, 3, 1, 3, 0, tzinfo=UTC)
DAY = dt.timedelta(days=1)


TRUE_WORDS = {"true", "t", "1", "yes"}
BOOL_WORDS = TRUE_WORDS | {"false", "f", "0", "no"}
LEAD_SOURCES = ["paid_search", "paid_social", "organic_search", "email", "referral", "events", "outbound"]
LEAD_STATUSES = ["open", "working", "qualified", "unqualified", "converted"]
LINE_TYPES = ["subscription", "invoiceitem"]
MAX_BIGINT_TEXT = 10**17 - 1          # the contract's integers: up to 17 digits

# ------------------------------------------------------------------------------------------ text

# any code point (newlines, emoji ...) but surrogates and NUL: a file with a NUL is refused whole
# (tests/test_bad_input.py), which would refuse most generated files here
CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
SPECIAL = ['"', '""', ",", "\n", "\r\n", "\r", "'", ";", "\t", " ", "\\", "\\N", "NULL", "null", "\ufeff",
           "\u200b", "🙂", "Ωμέγα", "東京", "ä", "=1+1", "<b>", "%s", "{}"]
junk_text = st.one_of(
    st.text(CHARS, max_size=10),
    st.lists(st.sampled_from(SPECIAL), max_size=5).map("".join),
    st.tuples(st.text(CHARS, max_size=3), st.integers(100, 2000)).map(lambda t: t[0] * t[1]),  # long values
)
# plain ids for columns that only need to be some string
plain_id = st.sampled_from(["", "U1", "U2", "A1", "in_1", "sub_1", "price_1", " x ", "a,b", 'q"uote'])


# What the warehouse strips from every value, on every engine (macro wh_trim): Unicode White_Space.
TRIM = ("\t\n\x0b\x0c\r \x85\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
        "\u2028\u2029\u202f\u205f\u3000")


def blank(value: str) -> bool:
    """Blank as the warehouse sees it (after trim)."""
    return value.strip(TRIM) == ""


def no_ascii_digit(value: str) -> bool:
    return not any(c in "0123456789" for c in value)


# ------------------------------------------------------------------------------------------ values

def iso(instant: dt.datetime, offset_minutes: int) -> str:
    local = instant.astimezone(dt.timezone(dt.timedelta(minutes=offset_minutes)))
    text = local.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if offset_minutes == 0 and text.endswith("+00:00") else text


offsets = st.integers(-48, 56).map(lambda q: q * 15)  # -12:00 .. +14:00


@st.composite
def timestamp_text(draw, earliest: dt.datetime, latest: dt.datetime) -> tuple[str, dt.datetime]:
    seconds = draw(st.integers(0, int((latest - earliest).total_seconds())))
    instant = earliest + dt.timedelta(seconds=seconds)
    return iso(instant, draw(offsets)), instant


NEAR_MISS_TIMESTAMPS = ["2024-02-30T00:00:00+00:00", "2024-13-01T00:00:00Z", "2024-01-01T25:00:00Z",
                        "01/02/2024 10:00", "yesterday", "1706000000", "2024-01-01Tfoo", "2024", "2024-01",
                        "a2024-01-01", "2024-01-01 junk", "nan", "null", "--", "２０２４-０１-０１"]
bad_timestamp = st.one_of(
    st.sampled_from(NEAR_MISS_TIMESTAMPS),
    st.text(CHARS, min_size=1, max_size=12).filter(
        lambda s: no_ascii_digit(s) and not blank(s)),
    # words some engines read as timestamps: every engine must quarantine them
    st.sampled_from(["epoch", "infinity", "-infinity", "inf", "-inf", "now", "today"]),
)
NEAR_MISS_INTEGERS = ["12.50", "1e3", "1,000", "1 000", "0x1F", "--5", "5-", "+5", "１０", "½", "1.", ".5",
                      "2024-01-01", "123456789012345678"]
bad_integer = st.one_of(
    st.sampled_from(NEAR_MISS_INTEGERS),
    st.integers(10**17, 10**40).map(str),                       # huge: more digits than a bigint holds
    st.integers(-(10**40), -(10**17)).map(str),
    st.text(CHARS, min_size=1, max_size=12).filter(lambda s: no_ascii_digit(s) and not blank(s)),
)
bad_epoch = st.one_of(
    st.sampled_from(["2024-01-01", "1.5", "1e9", "1234567890123", "+1706000000", "１７０６", "17 06", "-"]),
    st.text(CHARS, min_size=1, max_size=12).filter(lambda s: no_ascii_digit(s) and not blank(s)),
)
bad_boolean = st.one_of(
    st.sampled_from(["maybe", "ja", "y", "n", "2", "-1", "truee", "on", "off", "nil"]),
    st.text(CHARS, min_size=1, max_size=8).filter(
        lambda s: not blank(s) and s.strip(TRIM).lower() not in BOOL_WORDS),
)
true_text = st.sampled_from(["true", "t", "1", "yes", "TRUE", "True", " true "])
false_text = st.sampled_from(["false", "f", "0", "no", "FALSE", "No", " false "])


def enum_text(values: list[str]):
    return st.tuples(st.sampled_from(values), st.sampled_from(["", " ", "  "]), st.sampled_from(["", " "])).map(
        lambda t: t[1] + t[0] + t[2])


def bad_enum(values: list[str]):
    return st.one_of(
        st.sampled_from([v.upper() for v in values] + [v + "_x" for v in values] + ["other", "n/a"]),
        st.text(CHARS, min_size=1, max_size=12).filter(lambda s: not blank(s) and s.strip(TRIM) not in values),
    )


# ------------------------------------------------------------------------------------------ rows

@dataclass
class Row:
    values: dict[str, str]            # every raw column -> the text as landed
    key: str | None                   # the key as the warehouse reads it (trimmed), None when blank
    valid: bool
    expected_rules: set[str] = field(default_factory=set)  # invalid rows: the rule must be one of these


def corrupt(draw, row: dict[str, str], corruptions: dict) -> set[str]:
    """Apply 1-3 random corruptions to `row`; returns the rules each one triggers."""
    rules: set[str] = set()
    names = draw(st.lists(st.sampled_from(sorted(corruptions)), min_size=1, max_size=3, unique=True))
    for name in names:
        updates, rule = draw(corruptions[name])
        row.update(updates)
        rules.add(rule)
    return rules


def _one(column: str, strategy, family: str, nullable: bool = False):
    """A corruption of one column: (updates, rule). Blank on a required column is missing_value."""
    def rule_for(value: str) -> str:
        return f"missing_value:{column}" if blank(value) else f"{family}:{column}"
    if nullable:
        strategy = strategy.filter(lambda v: not blank(v))
    return strategy.map(lambda v: ({column: v}, rule_for(v)))


def row_corruptions() -> dict:
    """Corruptions every table has: a blank key, a bad _loaded_at, a bad _is_deleted."""
    return {
        "id": st.sampled_from(["", " ", "   "]).map(lambda v: ({"id": v}, "missing_primary_key")),
        "_loaded_at": st.one_of(bad_timestamp, st.just("")).map(
            lambda v: ({"_loaded_at": v}, "invalid_timestamp:_loaded_at")),
        "_is_deleted": bad_boolean.map(lambda v: ({"_is_deleted": v}, "invalid_boolean:_is_deleted")),
    }


def future_text(loaded_at: dt.datetime):
    """An event time more than a day after the row's _loaded_at."""
    return timestamp_text(loaded_at + DAY + dt.timedelta(minutes=1), loaded_at + 2000 * DAY).map(lambda t: t[0])


@st.composite
def lead_row(draw, key_raw: str, key: str, loaded_at: dt.datetime, loaded_text: str, garbage: bool) -> Row:
    created, _ = draw(timestamp_text(dt.datetime(2015, 1, 1, tzinfo=UTC), loaded_at + dt.timedelta(hours=23)))
    converted = draw(st.one_of(st.just(""), timestamp_text(dt.datetime(2015, 1, 1, tzinfo=UTC), loaded_at).map(
        lambda t: t[0])))
    values = {
        "id": key_raw, "email": draw(junk_text), "company": draw(junk_text),
        "lead_source": draw(enum_text(LEAD_SOURCES)), "status": draw(enum_text(LEAD_STATUSES)),
        "owner_id": draw(plain_id), "created_at": created, "is_converted": draw(st.one_of(true_text, false_text)),
        "converted_at": converted, "converted_account_id": draw(plain_id),
        "converted_opportunity_id": draw(plain_id), "_loaded_at": loaded_text,
        "_is_deleted": draw(st.sampled_from(["", "false", "false", "false", "False", "0", "true", "TRUE"])),
    }
    if not garbage:
        return Row(values, key, True)
    future = future_text(loaded_at)
    corruptions = row_corruptions()
    corruptions.update({
        "lead_source": _one("lead_source", st.one_of(bad_enum(LEAD_SOURCES), st.just("")), "invalid_enum"),
        "status": _one("status", st.one_of(bad_enum(LEAD_STATUSES), st.just("")), "invalid_enum"),
        "created_at": _one("created_at", st.one_of(bad_timestamp, st.just("")), "invalid_timestamp"),
        "created_at_future": future.map(lambda v: ({"created_at": v}, "future_timestamp:created_at")),
        "is_converted": _one("is_converted", st.one_of(bad_boolean, st.just("")), "invalid_boolean"),
        "converted_at": _one("converted_at", bad_timestamp, "invalid_timestamp", nullable=True),
        "converted_at_future": future.map(lambda v: ({"converted_at": v}, "future_timestamp:converted_at")),
    })
    rules = corrupt(draw, values, corruptions)
    return Row(values, None if blank(values["id"]) else key, False, rules)


@st.composite
def line_row(draw, key_raw: str, key: str, loaded_at: dt.datetime, loaded_text: str, garbage: bool) -> Row:
    proration = draw(st.booleans())
    amount = draw(st.integers(-MAX_BIGINT_TEXT if proration else 0, MAX_BIGINT_TEXT))
    start = draw(st.integers(0, 4_000_000_000))
    values = {
        "id": key_raw, "invoice_id": draw(junk_text), "subscription_id": draw(plain_id),
        "price_id": draw(plain_id), "type": draw(enum_text(LINE_TYPES)),
        "quantity": draw(st.one_of(st.just(""), st.integers(0, 10**9).map(str))),
        "amount": str(amount),
        "discount_amount": draw(st.one_of(st.just(""), st.integers(0, MAX_BIGINT_TEXT).map(str))),
        "proration": draw(true_text if proration else false_text),
        "period_start": str(start), "period_end": str(start + draw(st.integers(0, 400 * 86400))),
        "description": draw(junk_text), "_loaded_at": loaded_text,
        "_is_deleted": draw(st.sampled_from(["", "false", "false", "false", "no", "true"])),
    }
    if not garbage:
        return Row(values, key, True)
    corruptions = row_corruptions()
    negative = st.integers(-MAX_BIGINT_TEXT, -1).map(str)
    corruptions.update({
        "type": _one("type", st.one_of(bad_enum(LINE_TYPES), st.just("")), "invalid_enum"),
        "quantity": _one("quantity", bad_integer, "invalid_number", nullable=True),
        "quantity_range": st.one_of(st.integers(-MAX_BIGINT_TEXT, -1), st.integers(10**9 + 1, MAX_BIGINT_TEXT)).map(
            lambda v: ({"quantity": str(v)}, "out_of_range:quantity")),
        "amount": _one("amount", st.one_of(bad_integer, st.just("")), "invalid_number"),
        "amount_negative": st.tuples(negative, false_text).map(
            lambda t: ({"amount": t[0], "proration": t[1]}, "negative_amount:amount")),
        "discount_amount": _one("discount_amount", bad_integer, "invalid_number", nullable=True),
        "discount_negative": negative.map(lambda v: ({"discount_amount": v}, "negative_amount:discount_amount")),
        "proration": _one("proration", st.one_of(bad_boolean, st.just("")), "invalid_boolean"),
        "period_start": _one("period_start", st.one_of(bad_epoch, st.just("")), "invalid_timestamp"),
        "period_end": _one("period_end", st.one_of(bad_epoch, st.just("")), "invalid_timestamp"),
    })
    rules = corrupt(draw, values, corruptions)
    return Row(values, None if blank(values["id"]) else key, False, rules)


ROW_STRATEGY = {"crm.leads": lead_row, "billing.invoice_line_items": line_row}
KEY_PREFIX = {"crm.leads": "L", "billing.invoice_line_items": "il_"}


# ------------------------------------------------------------------------------------------ files

@dataclass
class File:
    table: str
    name: str
    kind: str                          # csv | parquet | bad kinds below
    content: bytes
    rows: list[Row] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # hypothesis prints failing examples: keep them short (see note())
        return f"File({self.path!r}, {self.kind}, {len(self.rows)} rows, {len(self.content)} bytes)"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))

    @property
    def path(self) -> str:
        c = CONTRACTS[self.table]
        return f"{c.source}/{c.table}/{self.name}"


def csv_bytes(columns: list[str], rows: list[dict]) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return buf.getvalue().encode("utf-8")


def parquet_bytes(columns: list[str], rows: list[dict]) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({c: pa.array([r.get(c, "") for r in rows], pa.string()) for c in columns}), buf)
    return buf.getvalue()


@st.composite
def good_file(draw, table: str, index: int, keys: list[str], loaded_at: dt.datetime,
              garbage_share: float, min_rows: int, max_rows: int) -> File:
    loaded_text = iso(loaded_at, 0).replace("Z", "+00:00")
    rows = []
    for _ in range(draw(st.integers(min_rows, max_rows))):
        key = draw(st.sampled_from(keys))
        pad = draw(st.sampled_from([("", ""), (" ", ""), ("", "  ")]))
        garbage = draw(st.floats(0, 1)) >= 1 - garbage_share
        rows.append(draw(ROW_STRATEGY[table](pad[0] + key + pad[1], key, loaded_at, loaded_text, garbage)))
    kind = draw(st.sampled_from(["csv", "csv", "parquet"]))
    columns = list(CONTRACTS[table].raw_columns)
    if draw(st.booleans()):  # any column order; the optional _is_deleted may be left out
        columns = draw(st.permutations(columns))
        if draw(st.booleans()) and all(r.values["_is_deleted"].strip(TRIM).lower() in ("", "false", "0", "no", "f")
                                       for r in rows):
            columns.remove("_is_deleted")
    dicts = [r.values for r in rows]
    content = parquet_bytes(columns, dicts) if kind == "parquet" else csv_bytes(columns, dicts)
    return File(table, f"{index:02d}-batch.{kind}", kind, content, rows, columns)


BAD_KINDS = ["missing_columns", "duplicate_header", "latin1", "binary", "broken_parquet", "zero_bytes", "header_only"]


@st.composite
def bad_file(draw, table: str, index: int, kind: str) -> File:
    contract = CONTRACTS[table]
    columns = list(contract.raw_columns)
    key = f"X{index}"  # rows of refused files carry keys found nowhere else
    row = {c: "" for c in columns} | {"id": key, "_loaded_at": iso(BASE_LOADED, 0)}
    if kind == "missing_columns":
        missing = draw(st.lists(st.sampled_from(list(contract.required_columns)), min_size=1, unique=True))
        kept = [c for c in columns if c not in missing]
        as_parquet = draw(st.booleans())
        content = parquet_bytes(kept, [row]) if as_parquet else csv_bytes(kept, [row])
        missing = [c for c in contract.required_columns if c in missing]  # reported in contract order
        return File(table, f"{index:02d}-missing.{'parquet' if as_parquet else 'csv'}", kind, content, missing=missing)
    if kind == "duplicate_header":
        dup = draw(st.sampled_from(columns))
        return File(table, f"{index:02d}-dupheader.csv", kind, csv_bytes(columns + [dup], [row]), missing=[dup])
    if kind == "latin1":
        text = csv_bytes(columns, [row | {columns[1]: draw(st.sampled_from(["Café Müller", "é", "Bäckerei ß"]))}])
        return File(table, f"{index:02d}-latin1.csv", kind, text.decode("utf-8").encode("latin-1"))
    if kind == "binary":
        content = draw(st.binary(min_size=1, max_size=300))
        return File(table, f"{index:02d}-binary.{draw(st.sampled_from(['csv', 'parquet']))}", kind, content)
    if kind == "broken_parquet":
        good = parquet_bytes(columns, [row])
        return File(table, f"{index:02d}-broken.parquet", kind, good[:draw(st.integers(0, len(good) - 1))] or b"x")
    if kind == "zero_bytes":
        return File(table, f"{index:02d}-zero.{draw(st.sampled_from(['csv', 'parquet']))}", kind, b"")
    return File(table, f"{index:02d}-header.csv", kind, csv_bytes(columns, []))


def expected_message_prefix(f: File) -> str:
    if f.kind == "missing_columns":
        return f"{f.path}: missing required columns: {', '.join(f.missing)}"
    if f.kind == "duplicate_header":
        return f"{f.path}: duplicate columns in header: {f.missing[0]}"
    if f.kind == "latin1":
        return f"{f.path}: not valid UTF-8"
    if f.kind == "broken_parquet":
        return f"{f.path}: not a readable Parquet file"
    return f"{f.path}: "


@st.composite
def landings(draw, max_good_files: int = 3, max_bad_files: int = 2, min_rows: int = 0, max_rows: int = 8) -> list[File]:
    """Files for both tables: batches of valid and garbage rows (keys repeat across batches, so
    versions supersede each other), and malformed files."""
    files: list[File] = []
    garbage_share = draw(st.sampled_from([0.1, 0.3, 0.6]))
    for table in TABLES:
        n_keys = draw(st.integers(1, 30))
        suffixes = draw(st.lists(st.text(CHARS, max_size=4), min_size=n_keys, max_size=n_keys))
        # keys with quotes, commas, unicode ..., unique after trimming
        keys = [f"{KEY_PREFIX[table]}{i}:{suffix}".rstrip(TRIM) for i, suffix in enumerate(suffixes)]
        index = 0
        for _ in range(draw(st.integers(1, max_good_files))):
            loaded_at = BASE_LOADED + draw(st.integers(0, 2)) * DAY  # equal _loaded_at across files: later file wins
            files.append(draw(good_file(table, index, keys, loaded_at, garbage_share, min_rows, max_rows)))
            index += 1
        for kind in draw(st.lists(st.sampled_from(BAD_KINDS), max_size=max_bad_files)):
            files.append(draw(bad_file(table, index, kind)))
            index += 1
    return files


# ------------------------------------------------------------------------------------------ the oracle

@dataclass
class Expected:
    outcome: dict[str, str]                        # path -> ledger outcome
    refused: set[str]                              # paths the load reports as refused
    landed_rows: dict[str, list[tuple[File, int, Row]]]  # table -> (file, row number, row) of loaded files


def expected_outcomes(files: list[File]) -> Expected:
    outcome, refused = {}, set()
    landed: dict[str, list] = {t: [] for t in TABLES}
    loaded_hashes: set[tuple[str, str]] = set()
    for f in sorted(files, key=lambda f: (f.table, f.name)):
        digest = hashlib.sha256(f.content).hexdigest()
        if f.kind in ("csv", "parquet") and any("\x00" in v for r in f.rows for v in r.values.values()):
            outcome[f.path] = "rejected"
            refused.add(f.path)
        elif f.kind in ("csv", "parquet"):
            if (f.table, digest) in loaded_hashes and f.rows:
                outcome[f.path] = "duplicate_file"
            elif f.rows:
                outcome[f.path] = "loaded"
                loaded_hashes.add((f.table, digest))
                landed[f.table] += [(f, n, r) for n, r in enumerate(f.rows, start=1)]
            else:
                outcome[f.path] = "empty"
        elif f.kind in ("zero_bytes", "header_only"):
            outcome[f.path] = "empty"
        else:
            outcome[f.path] = "rejected"
            refused.add(f.path)
    return Expected(outcome, refused, landed)


def write_landing(landing: Path, files: list[File]) -> None:
    for f in files:
        landing_path(landing, f.table, f.name).write_bytes(f.content)


def ledger_rows(wh: Warehouse) -> list[tuple]:
    return wh.fetchall("select file_path, outcome, row_count, message from audit.load_ledger "
                       "order by file_path, outcome")


def describe(files: list[File]) -> str:
    return "\n".join(f"{f.path} [{f.kind}] rows={len(f.rows)} valid={sum(r.valid for r in f.rows)}" for f in files)


# ------------------------------------------------------------------------------------------ loader only

def truncated(files: list[File], data) -> list[File]:
    """Extra files: CSV batches cut at a random byte (the outcome depends on where the cut falls)."""
    out = []
    for f in files:
        if f.kind == "csv" and len(f.content) > 1 and data.draw(st.booleans(), label=f"truncate {f.name}"):
            cut = data.draw(st.integers(1, len(f.content) - 1), label="cut at")
            out.append(File(f.table, f.name.replace("-batch", "-truncated"), "truncated", f.content[:cut],
                            f.rows, f.columns))
    return out


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(files=landings(max_good_files=3, max_bad_files=4), data=st.data())
def test_loader_lands_every_row_of_good_files_exactly_and_nothing_of_refused_ones(files, data):
    files = files + truncated(files, data)
    duplicate_of = data.draw(st.sampled_from([None] + [f for f in files if f.kind in ("csv", "parquet")]),
                             label="re-delivered under another name")
    if duplicate_of is not None:
        files.append(File(duplicate_of.table, "99-resent" + Path(duplicate_of.name).suffix, duplicate_of.kind,
                          duplicate_of.content, duplicate_of.rows, duplicate_of.columns))
    plain = [f for f in files if f.kind != "truncated"]
    expected = expected_outcomes(plain)
    note(describe(files))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        landing = tmp / "landing"
        write_landing(landing, files)
        with connect(base_settings(tmp, landing)) as wh:
            report = load_all(wh, landing, SUBSET, raise_on_error=False)
            ledger = {p: (o, n, m) for p, o, n, m in ledger_rows(wh)}
            # exactly one ledger row per file
            assert sorted(ledger) == sorted(f.path for f in files)
            for f in plain:
                got_outcome, got_rows, message = ledger[f.path]
                assert got_outcome == expected.outcome[f.path], (f.path, message)
                if got_outcome == "loaded":
                    assert got_rows == len(f.rows)
                    assert_raw_rows_equal(wh, f, f.rows)
                else:
                    assert got_rows == 0
                    assert raw_count(wh, f) == 0
                if got_outcome == "rejected":
                    assert message.startswith(expected_message_prefix(f)), message
            for f in files:
                if f.kind == "truncated":  # refused, or its rows before the cut landed exactly
                    got_outcome, got_rows, message = ledger[f.path]
                    # (duplicate_file: cut exactly where another batch of the same rows ends)
                    assert got_outcome in ("loaded", "empty", "rejected", "duplicate_file"), got_outcome
                    if got_outcome == "rejected":
                        assert message.startswith(f"{f.path}: ")
                    else:
                        assert got_rows == raw_count(wh, f) <= len(f.rows)
                        if got_rows > 1:
                            assert_raw_rows_equal(wh, f, f.rows[:got_rows - 1])
            refused = {p for p, (o, _, _) in ledger.items() if o in ("rejected", "changed_file")}
            assert sorted(e.split(": ")[0] for e in report.errors) == sorted(refused)
            assert refused >= expected.refused

            # a re-run changes nothing and reports nothing again
            before = (ledger_rows(wh), total_raw(wh))
            again = load_all(wh, landing, SUBSET, raise_on_error=False)
            assert again.errors == [] and (ledger_rows(wh), total_raw(wh)) == before

            # a loaded file that changes is refused loudly, once, and nothing of it is loaded
            changed = next((f for f in plain if ledger[f.path][0] == "loaded"), None)
            if changed is not None:
                (landing / changed.path).write_bytes(changed.content + b"\n")
                third = load_all(wh, landing, SUBSET, raise_on_error=False)
                assert [e.split(": ")[0] for e in third.errors] == [changed.path]
                assert "landed file changed" in third.errors[0]
                assert total_raw(wh) == before[1]
                assert load_all(wh, landing, SUBSET, raise_on_error=False).errors == []


def raw_count(wh: Warehouse, f: File) -> int:
    return wh.fetchall(f"select count(*) from {CONTRACTS[f.table].qualified_name} where _source_file = %s",
                       [f.path])[0][0]


def total_raw(wh: Warehouse) -> list[int]:
    return [wh.fetchall(f"select count(*) from {c.qualified_name}")[0][0] for c in SUBSET.values()]


def assert_raw_rows_equal(wh: Warehouse, f: File, rows: list[Row]) -> None:
    """The raw table holds the file's first len(rows) rows, every column exactly as written."""
    cols = list(CONTRACTS[f.table].raw_columns)
    quoted = ", ".join(f'"{c}"' for c in cols)
    got = wh.fetchall(
        f"select {quoted}, _row_number from {CONTRACTS[f.table].qualified_name} "
        "where _source_file = %s and _row_number <= %s order by _row_number", [f.path, len(rows)])
    want = [tuple(r.values[c] if c in f.columns else None for c in cols) + (n,) for n, r in enumerate(rows, start=1)]
    assert got == want


# ------------------------------------------------------------------------------------------ load + staging

@pytest.fixture(scope="module")
def dbt_workdir(tmp_path_factory) -> Path:
    """One folder for every example: the same DuckDB path keeps dbt's profile (and so its partial
    parse in <workdir>/dbt_target) the same from one example to the next; each example wipes it."""
    return tmp_path_factory.mktemp("property_dbt")


@dataclass
class Oracle:
    current: dict[str, dict[str, Row]]        # table -> key -> the staged version
    quarantined: dict[str, dict[tuple[str, int], tuple[Row, set[str]]]]  # (path, row) -> (row, allowed rules)
    counts: dict[str, tuple[int, int, int, int, int]]  # landed, staged, superseded, soft_deleted, quarantined


def staging_oracle(expected: Expected) -> Oracle:
    current, quarantined, counts = {}, {}, {}
    for table in TABLES:
        rows = expected.landed_rows[table]
        quar: dict = {}
        candidates: dict[str, list] = {}
        seen_in_file: set[tuple[str, str]] = set()
        for f, n, row in rows:
            if not row.valid:
                quar[(f.path, n)] = (row, row.expected_rules)
            elif (f.path, row.key) in seen_in_file:  # same key, same file, same _loaded_at: first wins
                quar[(f.path, n)] = (row, {"duplicate_key"})
            else:
                seen_in_file.add((f.path, row.key))
                candidates.setdefault(row.key, []).append((row.values["_loaded_at"], f.path, row))
        cur, deleted, superseded = {}, 0, 0
        for key, versions in candidates.items():
            versions.sort(key=lambda v: (dt.datetime.fromisoformat(v[0]), v[1]))
            superseded += len(versions) - 1
            winner = versions[-1][2]
            if winner.values["_is_deleted"].strip(TRIM).lower() in TRUE_WORDS:
                deleted += 1
            else:
                cur[key] = winner
        current[table], quarantined[table] = cur, quar
        counts[table] = (len(rows), len(cur), superseded, deleted, len(quar))
    return Oracle(current, quarantined, counts)


def text_or_none(value: str) -> str | None:
    return None if blank(value) else value.strip(TRIM)


@settings(max_examples=5, deadline=None, derandomize=True, database=None,
          # one dbt build per example (~20 s): generate only; a failure is reported as drawn (see the note)
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(files=landings(max_good_files=3, max_bad_files=2, min_rows=4, max_rows=15))
def test_staging_stages_every_valid_row_and_quarantines_every_invalid_one(dbt_workdir, files):
    expected = expected_outcomes(files)
    oracle = staging_oracle(expected)
    note(describe(files))
    shutil.rmtree(dbt_workdir / "landing", ignore_errors=True)
    shutil.rmtree(dbt_workdir / "build", ignore_errors=True)
    landing = dbt_workdir / "landing"
    empty_landing(landing)  # every other raw table exists, empty
    write_landing(landing, files)
    wh_settings = base_settings(dbt_workdir, landing)
    with connect(wh_settings) as wh:
        report = load_all(wh, landing, dict(CONTRACTS), raise_on_error=False)
        assert sorted(e.split(": ")[0] for e in report.errors) == sorted(expected.refused)
        ledger = {p: o for p, o, _, _ in ledger_rows(wh)}
        assert {p: ledger[p] for p in expected.outcome} == expected.outcome
    run_dbt(wh_settings, ["build", "--select", "staging", "audit"], dbt_workdir)  # never fails on bad rows

    with connect(wh_settings, read_only=True) as wh:
        # every valid row's key is staged with its latest valid version, and nothing else is
        leads = {k: (company, lead_source, created_at) for k, company, lead_source, created_at in wh.fetchall(
            "select lead_id, company, lead_source, created_at from staging.stg_crm__leads")}
        want = {k: (text_or_none(r.values["company"]), r.values["lead_source"].strip(TRIM),
                    dt.datetime.fromisoformat(r.values["created_at"].replace("Z", "+00:00"))
                    .astimezone(UTC).replace(tzinfo=None))
                for k, r in oracle.current["crm.leads"].items()}
        assert leads == want
        lines = {k: (amount, proration, description) for k, amount, proration, description in wh.fetchall(
            "select invoice_line_id, amount_minor, is_proration, description "
            "from staging.stg_billing__invoice_line_items")}
        want = {k: (int(r.values["amount"]), r.values["proration"].strip(TRIM).lower() in TRUE_WORDS,
                    text_or_none(r.values["description"]))
                for k, r in oracle.current["billing.invoice_line_items"].items()}
        assert lines == want

        # every invalid row is quarantined, with a rule naming what was wrong with it
        for table in TABLES:
            got = {(f, int(n)): (k, rule) for f, n, k, rule in wh.fetchall(
                "select source_file, row_number, primary_key_value, rule from audit.quarantine "
                "where table_name = %s", [CONTRACTS[table].table])}
            assert sorted(got) == sorted(oracle.quarantined[table]), table
            for where, (row, allowed) in oracle.quarantined[table].items():
                key, rule = got[where]
                assert rule in allowed, (where, rule, allowed, row.values)
                assert key == row.key, where

        # rows of refused files are nowhere
        for f in files:
            if f.path in expected.refused:
                assert raw_count(wh, f) == 0

        # landed = staged + superseded + soft-deleted + quarantined, with exactly the expected counts
        rec = {t: tuple(r) for t, *r in wh.fetchall(
            "select table_name, landed_rows, staged_rows, superseded_rows, soft_deleted_rows, quarantined_rows, "
            "is_reconciled from audit.reconciliation")}
        assert len(rec) == 20 and all(r[-1] for r in rec.values())
        for table in TABLES:
            assert rec[CONTRACTS[table].table] == (*oracle.counts[table], True), table
