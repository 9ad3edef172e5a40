"""Finance simulation: fx rates (business days), daily marketing spend per campaign, monthly operating costs."""
from __future__ import annotations

import numpy as np

from .core import DAY, HOUR, month_index, month_start_epoch, pick_masked, to_days, log

# channel, campaign, currency (0 USD, 1 EUR, 2 GBP), weight within channel, lumpy (events)
CAMPAIGNS = [("paid_search", "google_brand", 0, 0.30, False), ("paid_search", "google_nonbrand", 0, 0.50, False),
             ("paid_search", "google_emea", 1, 0.20, False),
             ("paid_social", "linkedin_abm", 0, 0.70, False), ("paid_social", "linkedin_uk", 2, 0.30, False),
             ("email", "nurture_sequences", 0, 1.0, False),
             ("events", "trade_shows", 0, 0.7, True), ("events", "field_events_emea", 1, 0.3, True)]
CHANNEL_SHARE = {"paid_search": 0.40, "paid_social": 0.25, "email": 0.05, "events": 0.30}
FX0 = np.array([1.0, 1.09, 1.27])
CUR_UP = np.array(["USD", "EUR", "GBP"], dtype=object)


def _holiday(days):
    d = np.asarray(days).astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    dom = (d - m.astype("datetime64[D]")).astype(np.int64) + 1
    mon = m.astype(np.int64) % 12 + 1
    return ((mon == 1) & (dom == 1)) | ((mon == 12) & ((dom == 25) | (dom == 26)))


def build_fx(W) -> None:
    rng = W.rng("fx")
    d0 = int(to_days(month_start_epoch(month_index(np.array([W.T0]))))[0]) - 12
    d1 = int(to_days(np.array([W.T_end]))[0])
    days = np.arange(d0, d1 + 1)
    dow = (days + 3) % 7                    # 1970-01-01 was a Thursday -> Monday = 0
    bd = days[(dow < 5) & ~_holiday(days)]
    n = len(bd)
    path = np.empty((2, n))
    for c in range(2):
        r = rng.normal(0, 0.004, n)
        path[c] = FX0[c + 1] * np.exp(np.cumsum(r))
    rates = np.round(path * 1e6).astype(np.int64)
    date_ = np.concatenate([bd, bd])
    cur = np.concatenate([np.full(n, "EUR", dtype=object), np.full(n, "GBP", dtype=object)])
    rate = np.concatenate([rates[0], rates[1]])
    o = np.lexsort((cur, date_))
    date_, cur, rate = date_[o], cur[o], rate[o]
    m = len(date_)
    vt = date_ * DAY + 16 * HOUR
    keep = vt <= W.T_end
    rec = W.recs("finance.fx_rates", m)
    W.add("finance.fx_rates", rec[keep], vt[keep], rate_date=date_[keep], currency=cur[keep], usd_per_unit=rate[keep])
    # restatements a few days later
    rs = pick_masked(rng, keep & (vt < W.T_last - 10 * DAY), 0.01, 1)
    W.add("finance.fx_rates", rec[rs], vt[rs] + rng.integers(DAY, 5 * DAY, len(rs)), rate_date=date_[rs], currency=cur[rs],
          usd_per_unit=np.round(rate[rs] * rng.uniform(0.998, 1.002, len(rs))).astype(np.int64))
    W.info["fx"] = dict(days=bd, eur=path[0], gbp=path[1])
    log(f"finance.fx_rates: {int(keep.sum())} rates ({n} business days from {np.datetime64(int(bd[0]), 'D')})")


def usd_factor(W, cur, days):
    """Approximate USD value of one unit of cur (0/1/2) at epoch day(s) (latest earlier business-day rate)."""
    F = W.info["fx"]
    i = np.clip(np.searchsorted(F["days"], days, side="right") - 1, 0, len(F["days"]) - 1)
    out = np.ones(len(cur))
    out[cur == 1] = F["eur"][i[cur == 1]]
    out[cur == 2] = F["gbp"][i[cur == 2]]
    return out


def build_marketing_spend(W) -> None:
    rng = W.rng("marketing")
    P = W.info["cust"]
    d0 = int(to_days(np.array([W.T0]))[0])
    d1 = int(to_days(np.array([W.T_end]))[0]) - 1
    days = np.arange(d0, d1 + 1)
    nd = len(days)
    mi = month_index(days * DAY)
    m0 = mi.min()
    acq = np.bincount(month_index(P["t_acq"]) - m0, minlength=int(mi.max() - m0) + 2)
    budget_m = 2000.0 * np.maximum(2, acq[1:len(acq)] if len(acq) > 1 else acq)   # spend precedes acquisition
    budget_m = np.concatenate([budget_m, budget_m[-1:]])
    dim = np.bincount(mi - m0)
    per_day = budget_m[mi - m0] / dim[mi - m0]
    weekend = ((days + 3) % 7) >= 5
    rows_d, rows_c, rows_amt = [], [], []
    for ci, (ch, camp, cur, w, lumpy) in enumerate(CAMPAIGNS):
        base = per_day * CHANNEL_SHARE[ch] * w
        if lumpy:
            on = np.zeros(nd, bool)
            starts = np.flatnonzero(rng.random(nd) < 1.5 / 30.4)
            for k in range(3):
                on[np.minimum(starts + k, nd - 1)] |= rng.random(len(starts)) < (1.0 if k == 0 else 0.5)
            amt = np.where(on, base * 30.4 / 3.0 * rng.uniform(0.5, 1.5, nd), 0)
        else:
            amt = base * rng.uniform(0.6, 1.4, nd) * np.where(weekend, 0.6, 1.0)
        amt = amt / usd_factor(W, np.full(nd, cur), days)
        sel = amt > 0.5
        rows_d.append(days[sel]); rows_c.append(np.full(int(sel.sum()), ci)); rows_amt.append(np.round(amt[sel] * 100))
    d = np.concatenate(rows_d)
    c = np.concatenate(rows_c)
    a = np.concatenate(rows_amt).astype(np.int64)
    o = np.lexsort((c, d))
    d, c, a = d[o], c[o], a[o]
    n = len(d)
    rec = W.recs("finance.marketing_spend", n)
    chn = np.array([x[0] for x in CAMPAIGNS], dtype=object)
    cmp_ = np.array([x[1] for x in CAMPAIGNS], dtype=object)
    cur = CUR_UP[np.array([x[2] for x in CAMPAIGNS])]
    base = dict(spend_date=d, channel=chn[c], campaign=cmp_[c], currency=cur[c])
    vt = (d + 1) * DAY + 2 * HOUR
    late = np.zeros(n, bool)
    late[pick_masked(rng, (vt > W.T_last - 5 * DAY) & (vt < W.T_last - DAY), 0.05, 1)] = True
    W.add("finance.marketing_spend", rec, vt, late=late, amount=a, **base)
    rs = pick_masked(rng, vt < W.T_last - 10 * DAY, 0.03, 1)
    xr = pick_masked(rng, (vt > W.T_last - 6 * DAY) & (vt < W.T_last - 2 * DAY) & ~late, 0.05, 1)
    t_rs = np.concatenate([vt[rs] + rng.integers(2 * DAY, 6 * DAY, len(rs)), W.T_last + rng.integers(HOUR, 20 * HOUR, len(xr))])
    rs = np.concatenate([rs, xr])
    W.add("finance.marketing_spend", rec[rs], t_rs, amount=np.round(a[rs] * rng.uniform(0.9, 1.1, len(rs))).astype(np.int64),
          **{k: v[rs] for k, v in base.items()})
    W.info["spend_usd_by_month"] = np.bincount(month_index(d * DAY) - m0,
                                               weights=a / 100.0 * usd_factor(W, np.array([x[2] for x in CAMPAIGNS])[c], d))
    log(f"finance.marketing_spend: {n} campaign-days over {len(CAMPAIGNS)} campaigns, {len(rs)} restated")


def build_operating_costs(W) -> None:
    rng = W.rng("opex")
    I, U = W.info["inv"], W.info["users"]
    m0 = int(month_index(np.array([W.T0]))[0])
    m_last = int(month_index(np.array([W.T_last]))[0]) - 1          # latest complete month
    months = np.arange(m0, m_last + 1)
    nm = len(months)
    paid = I["status"] == "paid"
    rev = np.bincount(month_index(I["created"][paid]) - m0,
                      weights=I["subtotal"][paid] / 100.0 * usd_factor(W, I["cur"][paid], I["created"][paid] // DAY),
                      minlength=nm + 2)[:nm]
    ms = month_start_epoch(months)
    heads = np.array([((U["hire"] <= t) & (U["leave"] > t)).sum() for t in ms])
    spend = W.info.get("spend_usd_by_month", np.zeros(nm))
    spend = np.concatenate([spend, np.zeros(max(0, nm - len(spend)))])[:nm]
    cogs = 0.2 * rev + 3000 + rng.uniform(0, 1500, nm)
    sales = heads * 9000.0 * rng.uniform(0.95, 1.05, nm)
    mkt = (15000.0 + 0.1 * spend) / usd_factor(W, np.ones(nm, np.int64), ms // DAY)
    amt = np.round(np.stack([cogs, sales, mkt], 1) * 100).astype(np.int64)   # cents
    types = np.array(["cogs", "sales", "marketing_overhead"], dtype=object)
    curs = np.array(["USD", "USD", "EUR"], dtype=object)
    mi = np.repeat(np.arange(nm), 3)
    ti = np.tile(np.arange(3), nm)
    n = len(mi)
    rec = W.recs("finance.operating_costs", n)
    post = month_start_epoch(months[mi] + 1) + rng.integers(2, 7, n) * DAY + 10 * HOUR
    base = dict(period_month=to_days(ms[mi]), cost_type=types[ti], currency=curs[ti])
    W.add("finance.operating_costs", rec, post, amount=amt[mi, ti], **base)
    # restatements one month later; and one on the extra day
    rs = pick_masked(rng, post + 30 * DAY < W.T_last, 0.25, 1)
    t_rs = post[rs] + 28 * DAY + rng.integers(0, 3 * DAY, len(rs))
    xs = np.flatnonzero((mi == nm - 1) & (ti == 0))
    rs2 = np.concatenate([rs, xs])
    t2 = np.concatenate([t_rs, np.full(len(xs), W.T_last + 6 * HOUR)])
    W.add("finance.operating_costs", rec[rs2], t2, amount=np.round(amt[mi[rs2], ti[rs2]] * rng.uniform(0.97, 1.05, len(rs2))).astype(np.int64),
          **{k: v[rs2] for k, v in base.items()})
    log(f"finance.operating_costs: {n} rows ({nm} months), {len(rs)} restated")
