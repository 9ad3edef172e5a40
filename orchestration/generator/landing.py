"""Record versions -> monthly extract batches -> dirty rows -> CSV files and the manifest."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from .core import DAY, HOUR, NULL, iso_utc, log, make_ids, make_sf_ids
from .schema import TABLES, Table, dirty_classes

ID_GEN = {"crm.users": ("sf", "005"), "crm.accounts": ("sf", "001"), "crm.contacts": ("sf", "003"),
          "crm.leads": ("sf", "00Q"), "crm.opportunities": ("sf", "006"), "crm.opportunity_history": ("sf", "008"),
          "crm.activities": ("sf", "00T"), "crm.csat_responses": ("sf", "a0C"),
          "billing.customers": ("st", "cus_", 17), "billing.products": ("st", "prod_", 11),
          "billing.prices": ("st", "price_", 13), "billing.subscriptions": ("st", "sub_", 23),
          "billing.invoices": ("st", "in_", 29), "billing.invoice_line_items": ("st", "il_", 31),
          "billing.charges": ("st", "ch_", 37), "billing.refunds": ("st", "re_", 41)}
PARENT = {"user": "crm.users", "account": "crm.accounts", "opportunity": "crm.opportunities", "lead": "crm.leads",
          "customer": "billing.customers", "product": "billing.products", "invoice": "billing.invoices",
          "charge": "billing.charges"}
ORPHAN_BASE = 900_000_000          # record counters at or above this never land

BAD_TS = np.array(["2024-13-45T10:00:00+00:00", "not a timestamp", "2024-02-30T25:61:00+01:00", "31/02/2024 10:00"])
BAD_DATE = np.array(["2024-02-30", "2024-13-01", "yesterday", "0000-00-00"])
BAD_EPOCH = np.array(["17O4067200", "epoch:1704067200", "1.7e9x", "tomorrow"])
BAD_DEC = np.array(["abc", "1.2.3", "12,5O", "$100.00", "--5"])
BAD_INT = np.array(["12a5", "ten", "1,000,0", "3.5.1"])
BAD_BOOL = np.array(["maybe", "unknown", "2", "tru"])
BAD_SCORE = np.array(["0", "6", "7", "10"])


def gen_ids(fqn: str, counters) -> np.ndarray:
    g = ID_GEN[fqn]
    if g[0] == "sf":
        return make_sf_ids(g[1], counters)
    return make_ids(g[1], counters, salt=g[2])


# ---------------------------------------------------------------- formatting
def _offset_str(tz_min: np.ndarray) -> np.ndarray:
    u, inv = np.unique(tz_min, return_inverse=True)
    s = np.array([f"{'+' if m >= 0 else '-'}{abs(int(m)) // 60:02d}:{abs(int(m)) % 60:02d}" for m in u])
    return s[inv]


def fmt_dec(v: np.ndarray, digits: int) -> np.ndarray:
    v = np.asarray(v, dtype=np.int64)
    if len(v) == 0:
        return np.zeros(0, dtype=object)
    q = 10**digits
    a = np.abs(v)
    s = np.char.add(np.char.add((a // q).astype(str), "."), np.char.zfill((a % q).astype(str), digits))
    return np.where(v < 0, np.char.add("-", s), s)


def fmt_values(kind: str, v: np.ndarray, tz: np.ndarray | None = None) -> np.ndarray:
    """Typed values -> strings as the landing contract writes them ('' = NULL)."""
    if kind == "str":
        return np.asarray(v, dtype=object)
    v = np.asarray(v)
    if len(v) == 0:
        return np.zeros(0, dtype=object)
    if kind == "bool":
        return np.where(v == 1, "true", np.where(v == 0, "false", "")).astype(object)
    null = v == NULL
    vv = np.where(null, 0, v).astype(np.int64)
    if kind == "int":
        s = vv.astype(str)
    elif kind == "date":
        s = np.datetime_as_string(vv.astype("datetime64[D]"))
    elif kind == "ts":
        local = vv + np.asarray(tz, dtype=np.int64) * 60
        s = np.char.add(np.datetime_as_string(local.astype("datetime64[s]"), unit="s"), _offset_str(tz))
    elif kind == "dec2":
        s = fmt_dec(vv, 2)
    elif kind == "dec6":
        s = fmt_dec(vv, 6)
    else:
        raise ValueError(kind)
    s = s.astype(object)
    s[null] = ""
    return s


def format_rows(t: Table, R: pd.DataFrame, idx: np.ndarray, loaded_at: np.ndarray) -> dict:
    """String columns (spec order + landing columns) for rows idx of the typed frame R."""
    sub = R.iloc[idx]
    tz = sub["_tz"].to_numpy() if "_tz" in sub else None
    out = {}
    for c, kind in t.columns:
        out[c] = fmt_values(kind, sub[c].to_numpy(), tz)
    out["_loaded_at"] = np.asarray(loaded_at, dtype=object)
    out["_is_deleted"] = np.where(sub["_del"].to_numpy(), "true", "false").astype(object)
    return out


# ---------------------------------------------------------------- batching
class Prepared:
    """One table's landed rows: typed frame R sorted by (batch, order), with batch index per row."""

    def __init__(self, t: Table, R: pd.DataFrame, n_main: int):
        self.t = t
        self.R = R
        self.n_main = n_main
        self.batch = R["_b"].to_numpy()
        self.rec = R["_rec"].to_numpy()
        self.pos = np.zeros(len(R), dtype=np.int64)
        starts = np.searchsorted(self.batch, np.arange(n_main + 2))
        self.starts = starts
        for b in range(n_main + 1):
            self.pos[starts[b]:starts[b + 1]] = np.arange(starts[b + 1] - starts[b])
        nb = n_main + 1
        self.present = np.unique(self.rec * (nb + 1) + self.batch)

    def count(self, b: int) -> int:
        return int(self.starts[b + 1] - self.starts[b])

    def has(self, rec, b) -> np.ndarray:
        """Whether record `rec` already has a row in batch `b` (vectorised; `present` is sorted)."""
        code = np.asarray(rec, dtype=np.int64) * (self.n_main + 2) + np.asarray(b, dtype=np.int64)
        if len(self.present) == 0:
            return np.zeros(code.shape, dtype=bool)
        i = np.minimum(np.searchsorted(self.present, code), len(self.present) - 1)
        return self.present[i] == code


def prepare(W, fqn: str) -> Prepared:
    t = TABLES[fqn]
    tl = W.tl
    n_main = tl.n_main
    rng = W.rng("batch:" + fqn)
    df = W.versions(fqn)
    df = df[df["_vt"].to_numpy() <= W.T_end].reset_index(drop=True)
    vt = df["_vt"].to_numpy()
    rec = df["_rec"].to_numpy()
    late = df["_late"].to_numpy() & (vt > W.T_last - 8 * DAY) & (vt <= W.T_last)
    shift = HOUR + (rec * 7919 + 104729) % (19 * HOUR)
    bt = np.where(late, np.maximum(vt, W.T_last + shift), vt)
    b = np.searchsorted(tl.extracts, bt, side="left")
    seq = np.arange(len(df))
    o = np.lexsort((seq, vt, b, rec))
    df, b, rec, vt = df.iloc[o].reset_index(drop=True), b[o], rec[o], vt[o]
    last = np.r_[(rec[1:] != rec[:-1]) | (b[1:] != b[:-1]), True]
    df, b, rec, vt = df[last].reset_index(drop=True), b[last], rec[last], vt[last]
    df["_b"] = b

    # guarantee: some record is updated in a later main batch (identical re-extract if nothing else)
    mainm = b < n_main
    multi = pd.Series(b[mainm]).groupby(rec[mainm]).nunique()
    if not (multi >= 2).any():
        cand = np.flatnonzero(mainm & (b <= n_main - 2) & ~df["_del"].to_numpy())
        if len(cand):
            ch = cand[rng.choice(len(cand), min(2, len(cand)), replace=False)]
            nxt = set(zip(rec.tolist(), b.tolist()))
            add = [i for i in ch if (rec[i], b[i] + 1) not in nxt]
            if add:
                extra = df.iloc[add].copy()
                extra["_b"] = extra["_b"] + 1
                extra["_vt"] = tl.extracts[extra["_b"].to_numpy()] - HOUR
                df = pd.concat([df, extra], ignore_index=True)
    # guarantee: the extra day has at least one row (a re-extract of an unchanged record)
    if not (df["_b"].to_numpy() == n_main).any():
        d = df.sort_values(["_rec", "_b"], kind="stable").drop_duplicates("_rec", keep="last")
        d = d[~d["_del"].to_numpy()]
        if len(d):
            x = d.iloc[[int(rng.integers(0, len(d)))]].copy()
            x["_b"] = n_main
            x["_vt"] = W.T_last + 6 * HOUR
            df = pd.concat([df, x], ignore_index=True)
    b = df["_b"].to_numpy()
    o = np.lexsort((df["_rec"].to_numpy(), df["_vt"].to_numpy(), b))
    df = df.iloc[o].reset_index(drop=True)
    return Prepared(t, df, n_main)


# ---------------------------------------------------------------- dirty rows
class DirtyPlan:
    def __init__(self):
        self.src, self.target, self.pos, self.rule, self.col = [], [], [], [], []
        self.patches = []     # (dirty indices, column, values)
        self.n = 0
        self.dropped = set()  # dirty indices given up (their key would collide with another dirty row)

    def add(self, src, target, pos, rule, col=""):
        k = len(src)
        idx = np.arange(self.n, self.n + k)
        self.n += k
        self.src.append(np.asarray(src, dtype=np.int64))
        self.target.append(np.asarray(target, dtype=np.int64))
        self.pos.append(np.asarray(pos, dtype=float))
        self.rule.append(np.broadcast_to(np.asarray(rule, dtype=object), (k,)).copy())
        self.col.append(np.broadcast_to(np.asarray(col, dtype=object), (k,)).copy())
        return idx

    def patch(self, idx, col, values):
        if len(idx):
            self.patches.append((np.asarray(idx), col, np.asarray(values, dtype=object)))

    def arrays(self):
        """(src, target, pos, rule, col); dropped rows have target -1."""
        cat = lambda x, dt: np.concatenate(x) if x else np.zeros(0, dtype=dt)
        target = cat(self.target, np.int64)
        if self.dropped:
            target[np.array(sorted(self.dropped))] = -1
        return (cat(self.src, np.int64), target, cat(self.pos, float), cat(self.rule, object), cat(self.col, object))


def _choose_col(rng, masks: dict):
    """Per row: a random column among those whose mask is true. Returns (rows, cols)."""
    cols = list(masks)
    M = np.stack([masks[c] for c in cols], 1)
    any_ = M.any(1)
    rows = np.flatnonzero(any_)
    r = rng.random((len(rows), len(cols))) * M[rows]
    ch = np.argmax(r, 1)
    return rows, np.array(cols, dtype=object)[ch]


def plan_dirty(W, P: Prepared, counts: dict, mode: str, rng, plan: DirtyPlan, orphan_base: int) -> None:
    first = plan.n
    _plan_dirty(W, P, counts, mode, rng, plan, orphan_base)
    drop_key_collisions(P, plan, first)


def _plan_dirty(W, P: Prepared, counts: dict, mode: str, rng, plan: DirtyPlan, orphan_base: int) -> None:
    t, R, nb = P.t, P.R, P.n_main
    d = t.dirty
    alive = ~R["_del"].to_numpy()
    b = P.batch
    nbk = nb + 2
    taken = np.zeros(0, dtype=np.int64)   # (record, batch) codes already holding a dirty copy
    src_cur = "upper" if t.source != "billing" else "lower"
    kinds = dict(t.columns)

    def val(c):
        return R[c].to_numpy()

    for cls, q in counts.items():
        if q <= 0:
            continue
        # ---- candidate rows and the column each would corrupt
        masks = {}
        if cls in ("missing_primary_key", "duplicate_key", "missing_fx_rate", "orphan"):
            m = alive.copy()
            if cls == "orphan":
                fk = d.orphan[0]
                m &= val(fk).astype(str) != ""
                if t.fqn == "crm.leads":
                    m &= val("is_converted") == 0
            masks[""] = m
        elif cls == "invalid_timestamp":
            masks = {c: alive & (val(c) != NULL) for c in d.ts}
        elif cls == "invalid_number":
            masks = {c: alive & (val(c) != NULL) for c in d.num}
        elif cls == "invalid_enum":
            masks = {c: alive & (val(c).astype(str) != "") for c in d.enum}
        elif cls == "invalid_boolean":
            masks = {c: alive & (val(c) != -1) for c in d.boolean}
        elif cls == "negative_amount":
            for c in d.neg:
                m = alive & (val(c) != NULL) & (val(c) > 0)
                if t.fqn == "billing.invoice_line_items" and c == "amount":
                    m &= val("proration") == 0
                masks[c] = m
        elif cls == "out_of_range":
            masks = {"score": alive & (val("score") != NULL)}
        elif cls == "future_timestamp":
            for c in d.future:
                m = alive & (val(c) != NULL)
                if t.fqn == "crm.activities":
                    m &= val("status").astype(str) == "completed"
                masks[c] = m
        rows, cols = _choose_col(rng, masks)
        # ---- placement
        rows_ok = np.ones(len(rows), dtype=bool)
        if mode == "main":
            if cls in ("duplicate_key", "missing_primary_key", "orphan"):
                rows_ok &= b[rows] < nb
            else:
                rows_ok &= b[rows] < nb - 1
        else:
            if cls == "duplicate_key":
                rows_ok &= b[rows] == nb
            elif cls not in ("missing_primary_key", "orphan"):
                rows_ok &= (b[rows] < nb) & ~P.has(P.rec[rows], np.full(len(rows), nb))
        rows, cols = rows[rows_ok], cols[rows_ok]
        if not len(rows):
            log(f"  {t.fqn}: no candidate rows for {cls}")
            continue
        perm = rng.permutation(len(rows))[: q * 4 + 8]
        rows, cols = rows[perm], cols[perm]
        rr = P.rec[rows]
        if cls in ("missing_primary_key", "orphan"):      # key blank / new: cannot collide with anything
            tgt = b[rows] if mode == "main" else np.full(len(rows), nb)
        elif cls == "duplicate_key":
            tgt = b[rows].copy()
            ok = ~np.isin(rr * nbk + tgt, taken)
            rows, cols, tgt, rr = rows[ok], cols[ok], tgt[ok], rr[ok]
        elif mode == "main":
            start = b[rows] + 1 + np.minimum(rng.geometric(0.5, len(rows)) - 1, 3)
            tgt = np.full(len(rows), -1)
            for j in range(nb):
                cand = b[rows] + 1 + (start - b[rows] - 1 + j) % np.maximum(nb - 1 - b[rows], 1)
                free = (tgt < 0) & (cand < nb) & ~P.has(rr, cand) & ~np.isin(rr * nbk + cand, taken)
                tgt[free] = cand[free]
            ok = tgt >= 0
            rows, cols, tgt, rr = rows[ok], cols[ok], tgt[ok], rr[ok]
        else:
            tgt = np.full(len(rows), nb)
            ok = ~np.isin(rr * nbk + tgt, taken)
            rows, cols, tgt, rr = rows[ok], cols[ok], tgt[ok], rr[ok]
        if cls not in ("missing_primary_key", "orphan"):
            # at most one dirty copy per (record, file)
            _, first = np.unique(rr * nbk + tgt, return_index=True)
            first = np.sort(first)
            rows, cols, tgt, rr = rows[first], cols[first], tgt[first], rr[first]
        rows, cols, tgt, rr = rows[:q], cols[:q], tgt[:q], rr[:q]
        k = len(rows)
        if k < q:
            log(f"  {t.fqn}: only {k} of {q} rows for {cls}")
        if cls not in ("missing_primary_key", "orphan"):
            taken = np.concatenate([taken, rr * nbk + tgt])
        ntgt = np.array([P.count(x) for x in tgt]) if k else np.zeros(0, np.int64)
        if cls == "duplicate_key":
            pos = P.pos[rows] + 0.5 + np.floor(rng.random(k) * (ntgt - P.pos[rows]))
        else:
            pos = np.floor(rng.random(k) * (ntgt + 1)) - 0.5
        # ---- corruption
        if cls == "missing_primary_key":
            idx = plan.add(rows, tgt, pos, "missing_primary_key")
            plan.patch(idx, d.pk_blank, np.full(k, ""))
        elif cls == "duplicate_key":
            plan.add(rows, tgt, pos, "duplicate_key")
        elif cls == "missing_fx_rate":
            idx = plan.add(rows, tgt, pos, "missing_fx_rate")
            plan.patch(idx, d.fx, np.full(k, "JPY" if src_cur == "upper" else "jpy"))
        elif cls == "orphan":
            fk, parent, blanks = d.orphan
            idx = plan.add(rows, tgt, pos, "orphan", fk)
            fresh = orphan_base + np.arange(plan.n - k, plan.n)
            plan.patch(idx, fk, gen_ids(PARENT[parent], fresh + 7_000_000))
            if t.key == ["id"]:
                plan.patch(idx, "id", gen_ids(t.fqn, fresh))
            for c in blanks:
                plan.patch(idx, c, np.full(k, ""))
        else:
            for c in np.unique(cols):
                sel = np.flatnonzero(cols == c)
                kind = kinds[c]
                r = rows[sel]
                if cls == "invalid_timestamp":
                    pool = {"ts": BAD_TS, "date": BAD_DATE, "int": BAD_EPOCH}[kind]
                    v = pool[rng.integers(0, len(pool), len(sel))]
                elif cls == "invalid_number":
                    pool = BAD_INT if kind == "int" else BAD_DEC
                    v = pool[rng.integers(0, len(pool), len(sel))]
                elif cls == "invalid_enum":
                    pool = np.array(d.enum[c])
                    v = pool[rng.integers(0, len(pool), len(sel))]
                elif cls == "invalid_boolean":
                    v = BAD_BOOL[rng.integers(0, len(BAD_BOOL), len(sel))]
                elif cls == "negative_amount":
                    v = fmt_values(kind, -val(c)[r])
                elif cls == "out_of_range":
                    v = BAD_SCORE[rng.integers(0, len(BAD_SCORE), len(sel))]
                elif cls == "future_timestamp":
                    ahead = W.tl.extracts[tgt[sel]] + rng.integers(2 * DAY, 60 * DAY, len(sel))
                    if kind == "date":
                        v = fmt_values("date", ahead // DAY + 1)
                    elif kind == "ts":
                        v = fmt_values("ts", ahead, R["_tz"].to_numpy()[r])
                    else:
                        v = fmt_values("int", ahead)
                family = {"out_of_range": "out_of_range"}.get(cls, cls)
                idx = plan.add(r, tgt[sel], pos[sel], f"{family}:{c}", c)
                plan.patch(idx, c, v)


def drop_key_collisions(P: Prepared, plan: DirtyPlan, first: int) -> None:
    """Corrupting a key column (composite keys: dates, enums) could give two dirty rows the same raw key in one
    file, which would make the second a duplicate_key as well. Keep the first of such rows only."""
    t = P.t
    if plan.n <= first or t.key == ["id"]:
        return
    src, target, pos, rule, col = plan.arrays()
    idx = np.arange(first, plan.n)
    kinds = dict(t.columns)
    tz = P.R["_tz"].to_numpy()[src[idx]] if "_tz" in P.R else None
    parts = [target[idx].astype(str)]
    for kc in t.key:
        v = fmt_values(kinds[kc], P.R[kc].to_numpy()[src[idx]], tz).astype(object)
        for pidx, c, values in plan.patches:
            if c != kc:
                continue
            m = (pidx >= first)
            loc = pidx[m] - first
            v[loc] = values[m]
        parts.append(v.astype(str))
    code = parts[0]
    for p_ in parts[1:]:
        code = np.char.add(np.char.add(code, "\x1f"), p_)
    check = ~np.isin(rule[idx], ["missing_primary_key", "duplicate_key"]) & (target[idx] >= 0)
    ser = pd.Series(code[check])
    dup = ser.duplicated().to_numpy()
    for g in idx[check][dup]:
        plan.dropped.add(int(g))


def dirty_counts(t: Table, n_rows: int, rate: float, rng, mode: str) -> dict:
    classes = dirty_classes(t)
    k = len(classes)
    if rate <= 0 or n_rows == 0:
        return {c: 0 for c in classes}
    if mode == "main":
        D = int(round(rate * n_rows))
        base = D // k
        extra = np.zeros(k, dtype=np.int64)
        rem = D - base * k
        if rem:
            extra[rng.choice(k, rem, replace=False)] = 1
        return {c: max(1, base + int(e)) for c, e in zip(classes, extra)}
    D = int(rng.binomial(n_rows, rate))
    cnt = np.bincount(rng.integers(0, k, D), minlength=k)
    return {c: int(x) for c, x in zip(classes, cnt)}


# ---------------------------------------------------------------- assembling files
class Assembled:
    """Final string rows of one file plus the dirty-row bookkeeping."""

    def __init__(self, cols: dict, dirty_rows: list):
        self.cols = cols
        self.dirty_rows = dirty_rows   # [(row_number, rule, column, key)]


def assemble_batch(W, P: Prepared, plan_arrays, patches, b: int) -> Assembled:
    t = P.t
    src, target, pos, rule, col = plan_arrays
    loaded = iso_utc(int(W.tl.extracts[b]))
    lo, hi = P.starts[b], P.starts[b + 1]
    clean_idx = np.arange(lo, hi)
    cols = format_rows(t, P.R, clean_idx, np.full(hi - lo, loaded, dtype=object))
    di = np.flatnonzero(target == b)
    order_key = np.concatenate([P.pos[lo:hi].astype(float), pos[di]])
    if len(di):
        dcols = format_rows(t, P.R, src[di], np.full(len(di), loaded, dtype=object))
        local = {g: i for i, g in enumerate(di)}
        for pidx, c, values in patches:
            m = np.isin(pidx, di)
            if m.any():
                li = np.array([local[g] for g in pidx[m]])
                dcols[c][li] = values[m]
        cols = {c: np.concatenate([cols[c], dcols[c]]) for c in cols}
    tie = np.arange(len(order_key))
    o = np.lexsort((tie, order_key))
    cols = {c: v[o] for c, v in cols.items()}
    dirty_rows = []
    if len(di):
        rank = np.empty(len(o), dtype=np.int64)
        rank[o] = np.arange(len(o))
        rn = rank[(hi - lo) + np.arange(len(di))] + 1
        keys = ["|".join(str(cols[k][r - 1]) for k in t.key) for r in rn]
        dirty_rows = [(int(r), str(rule[g]), str(col[g]), k) for r, g, k in zip(rn, di, keys)]
    return Assembled(cols, dirty_rows)


def write_csv(path: Path, cols: dict, header: list) -> None:
    df = pd.DataFrame({c: np.asarray(cols[c], dtype=object) for c in header}, columns=header, dtype=object)
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    path.write_bytes(buf.getvalue().encode("utf-8"))


def write_parquet(path: Path, cols: dict, header: list) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    tbl = pa.table({c: pa.array([str(x) for x in cols[c]], type=pa.string()) for c in header})
    pq.write_table(tbl, path, compression="snappy")


def reconcile(P: Prepared, plan_arrays, upto_batch: int) -> dict:
    """Expected reconciliation of the landed rows: staged + superseded + soft_deleted + quarantined = landed."""
    src, target, pos, rule, col = plan_arrays
    m = P.batch <= upto_batch
    rec, dl = P.rec[m], P.R["_del"].to_numpy()[m]
    clean = int(m.sum())
    last_del = pd.Series(dl).groupby(rec).last()
    keys = len(last_del)
    soft = int(last_del.sum())
    d = (target >= 0) & (target <= upto_batch)
    orphans = int((rule[d] == "orphan").sum())
    quarantined = int(d.sum()) - orphans
    return dict(landed=clean + int(d.sum()), staged=keys - soft + orphans, superseded=clean - keys,
                soft_deleted=soft, quarantined=quarantined)
