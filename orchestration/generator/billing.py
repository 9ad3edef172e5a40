"""Billing simulation (Stripe-like): products, prices, customers, subscriptions, invoices, lines, charges, refunds."""
from __future__ import annotations

import numpy as np

from . import names
from .core import (CURRENCIES, DAY, HOUR, NULL, add_months, choice_idx, group_arange, lognormal_days, make_ids, pick,
                   pick_masked, log, month_index, month_start_epoch)

PLANS = ["Starter", "Growth", "Enterprise"]
MONTHLY = np.array([[2900, 2700, 2300], [7900, 7300, 6300], [19900, 18500, 15900]])  # tier x currency, minor units
INTERVALS = np.array([1, 3, 12])                   # months: monthly, quarterly, annual
ONE_TIME = [("Onboarding package", [150000, 140000, 120000]), ("Training workshop", [90000, 85000, 72000]),
            ("Data migration", [250000, 230000, 200000]), ("Consulting hour", [20000, 18500, 16000]),
            ("Template pack", [4900, 4500, 3900]), ("Premium support", [50000, 46000, 40000])]
OT_ONBOARD, OT_TRAIN, OT_MIGR, OT_CONSULT, OT_TEMPL, OT_PREMIUM = range(6)
TAX = {"US": 0.0, "CA": 0.05, "GB": 0.20, "DE": 0.19, "FR": 0.20, "NL": 0.21, "ES": 0.21, "IE": 0.23, "SE": 0.25,
       "AU": 0.10, "SG": 0.09, "JP": 0.10, "IN": 0.18}
FAIL_CODES = np.array(["card_declined", "insufficient_funds", "expired_card", "processing_error", "do_not_honor"])
REFUND_REASONS = np.array(["requested_by_customer", "duplicate", "fraudulent", ""], dtype=object)
# invoice kinds
K_TRIAL, K_PERIOD, K_PRORATE, K_ONEOFF, K_VOIDDUP, K_INCOMPLETE, K_DELDRAFT, K_PENDDRAFT, K_EDITDRAFT = range(9)
# line description kinds
D_REGULAR, D_TRIAL, D_UNUSED, D_REMAIN, D_ONEOFF = range(5)


def _interval_amount(m, interval):
    if interval == 1:
        return m
    if interval == 3:
        return int(round(3 * m * 0.95 / 100) * 100)
    return int(round(12 * m * 0.85 / 100) * 100)


# ====================================================================== catalogue
def build_catalog(W) -> None:
    T0, span = W.T0, W.T_last - W.T0
    t_cat = T0 - 30 * DAY
    t_launch = T0 + int(0.5 * span)          # Premium support launched
    t_legacy = T0 + int(0.6 * span)          # Analytics add-on retired
    t_pricechg = T0 + int(0.4 * span)        # Starter monthly USD price increase
    # products: 3 plans, legacy add-on, 6 one-time
    p_names = PLANS + ["Analytics add-on (legacy)"] + [n for n, _ in ONE_TIME]
    n_p = len(p_names)
    p_rec = W.recs("billing.products", n_p)
    p_id = make_ids("prod_", p_rec, salt=11)
    p_t = np.full(n_p, t_cat)
    p_t[4 + OT_PREMIUM] = t_launch
    W.add("billing.products", p_rec, p_t, id=p_id, name=np.array(p_names, dtype=object), active=1)
    W.add("billing.products", p_rec[[3]], t_legacy, id=p_id[[3]], name=np.array([p_names[3]], dtype=object), active=0)
    xi = 4 + OT_CONSULT
    W.add("billing.products", p_rec[[xi]], W.T_last + 7 * HOUR, id=p_id[[xi]],
          name=np.array(["Consulting hour (remote)"], dtype=object), active=1)

    # prices
    rows = []  # (product, currency, unit, type, interval_code, created, key)
    plan_price = {}
    for tier in range(3):
        for cur in range(3):
            for ic, iv in enumerate(INTERVALS):
                plan_price[(tier, cur, ic)] = len(rows)
                rows.append((tier, cur, _interval_amount(MONTHLY[tier, cur], iv), "recurring", ic, t_cat))
    legacy_prices = []
    for ic in (0, 2):
        legacy_prices.append(len(rows))
        rows.append((3, 0, _interval_amount(4900, INTERVALS[ic]), "recurring", ic, t_cat))
    ot_price = {}
    for j, (_, amts) in enumerate(ONE_TIME):
        for cur in range(3):
            ot_price[(j, cur)] = len(rows)
            rows.append((4 + j, cur, amts[cur], "one_time", -1, t_launch if j == OT_PREMIUM else t_cat))
    new_starter = len(rows)
    rows.append((0, 0, 3200, "recurring", 0, t_pricechg))
    n_pr = len(rows)
    pr_rec = W.recs("billing.prices", n_pr)
    pr_id = make_ids("price_", pr_rec, salt=13)
    prod = np.array([r[0] for r in rows])
    cur = np.array([r[1] for r in rows])
    unit = np.array([r[2] for r in rows], dtype=np.int64)
    ptype = np.array([r[3] for r in rows], dtype=object)
    ic = np.array([r[4] for r in rows])
    created = np.array([r[5] for r in rows], dtype=np.int64)
    interval = np.where(ic < 0, "", np.where(ic == 2, "year", "month")).astype(object)
    icount = np.where(ic < 0, NULL, np.where(ic == 1, 3, 1)).astype(np.int64)
    base = dict(id=pr_id, product_id=p_id[prod].astype(object), unit_amount=unit, currency=CURRENCIES[cur].astype(object),
                type=ptype, recurring_interval=interval, recurring_interval_count=icount)
    W.add("billing.prices", pr_rec, created, active=1, **base)
    old = plan_price[(0, 0, 0)]
    upd = np.array([old] + legacy_prices)
    t_upd = np.array([t_pricechg, t_legacy, t_legacy], dtype=np.int64)
    W.add("billing.prices", pr_rec[upd], t_upd, active=0, **{k: v[upd] for k, v in base.items()})
    xp = np.array([ot_price[(OT_MIGR, 2)]])
    W.add("billing.prices", pr_rec[xp], W.T_last + 9 * HOUR, active=0, **{k: v[xp] for k, v in base.items()})
    W.info["catalog"] = dict(p_id=p_id, p_names=np.array(p_names, dtype=object), pr_id=pr_id, prod=prod, unit=unit,
                             cur=cur, ic=ic, plan_price=plan_price, ot_price=ot_price, new_starter=new_starter,
                             t_pricechg=t_pricechg, t_launch=t_launch)
    log(f"billing.products: {n_p}, billing.prices: {n_pr}")


def plan_price_idx(W, tier, cur, icode, t_start):
    C = W.info["catalog"]
    table = np.zeros((3, 3, 3), dtype=np.int64)
    for (t, c, i), v in C["plan_price"].items():
        table[t, c, i] = v
    out = table[tier, cur, icode]
    chg = (tier == 0) & (cur == 0) & (icode == 0) & (t_start >= C["t_pricechg"])
    out[chg] = C["new_starter"]
    return out


def ot_idx(W, product, cur):
    C = W.info["catalog"]
    table = np.zeros((6, 3), dtype=np.int64)
    for (j, c), v in C["ot_price"].items():
        table[j, c] = v
    return table[product, cur]


# ====================================================================== customers
def build_customers(W) -> None:
    rng = W.rng("customers")
    P, A, Cn = W.info["cust"], W.info["acc"], W.info["contacts"]
    N = P["n"]
    stray = max(1, round(0.01 * N))
    n = N + stray
    rec = W.recs("billing.customers", n)
    cid = make_ids("cus_", rec, salt=17)
    acc = np.concatenate([P["acc"], np.full(stray, -1)])
    has_acc = acc >= 0
    f, l, fs, ls = names.people(rng, n)
    pname = names.cat(f, " ", l).astype(object)
    pemail = names.cat(fs, ".", ls, "@", names.DOMAINS[rng.integers(0, len(names.DOMAINS), n)]).astype(object)
    # the customer's name is its billing contact's (a person: PII, like Stripe's cardholder / contact name)
    name = pname.copy()
    email = pemail.copy()
    ai = np.maximum(acc, 0)
    pc = Cn["primary"][ai]
    has_pc = has_acc & (pc >= 0)
    name[has_pc] = Cn["full"][pc[has_pc]]
    use_c = has_acc & (pc >= 0)
    email[use_c] = Cn["email"][pc[use_c]]
    nc = has_acc & (pc < 0)
    email[nc] = names.cat("billing@", A["domain"][ai[nc]]).astype(object)
    # never the same full name as a sales rep (rep names are allowed in the marts, customer names are not)
    reps = set(W.info["users"]["name"].tolist())
    clash = np.array([x in reps for x in name])
    if clash.any():
        initials = np.array(list("ABCDEFGHJKLMNPRSTW"))[rng.integers(0, 18, int(clash.sum()))]
        parts = [x.split(" ", 1) for x in name[clash]]
        name[clash] = np.array([f"{a} {i}. {b}" for (a, b), i in zip(parts, initials)], dtype=object)
    cur = np.concatenate([P["cur"], rng.integers(0, 3, stray)])
    created = np.concatenate([P["t_acq"], np.sort(rng.integers(W.T0 + DAY, W.T_last - 15 * DAY, stray))])
    crm_id = np.where(has_acc, A["id"][ai], "").astype(object)
    base = dict(id=cid, email=email, name=name, created=created, currency=CURRENCIES[cur].astype(object))
    late_link = has_acc & (rng.random(n) < 0.12)
    v0 = crm_id.copy()
    v0[late_link] = ""
    W.add("billing.customers", rec, created + rng.integers(5, 300, n), crm_account_id=v0, **base)
    li = np.flatnonzero(late_link)
    t_link = created[li] + rng.integers(HOUR, 20 * DAY, len(li))
    ok = t_link < W.T_end
    li, t_link = li[ok], t_link[ok]
    W.add("billing.customers", rec[li], t_link, crm_account_id=crm_id[li], **{k: v[li] for k, v in base.items()})
    # email changes (a few on the extra day)
    ch = pick(rng, N, 0.04)
    t_ch = created[ch] + rng.integers(10 * DAY, 400 * DAY, len(ch))
    xc = pick_masked(rng, created[:N] < W.T_last - 30 * DAY, 0.002, 1)
    ch = np.concatenate([ch, xc])
    t_ch = np.concatenate([t_ch, W.T_last + rng.integers(HOUR, 20 * HOUR, len(xc))])
    o = np.argsort(t_ch, kind="stable")
    ch, t_ch = ch[o], t_ch[o]
    ok = t_ch < W.T_end
    ch, t_ch = ch[ok], t_ch[ok]
    b = {k: v[ch].copy() for k, v in base.items()}
    f2, l2, fs2, ls2 = names.people(rng, len(ch))
    b["email"] = names.cat(fs2, ".", ls2, "@", names.DOMAINS[rng.integers(0, len(names.DOMAINS), len(ch))]).astype(object)
    W.add("billing.customers", rec[ch], t_ch, crm_account_id=crm_id[ch], **b)
    # stray duplicate customers are deleted a few days later
    si = np.arange(N, n)
    W.add("billing.customers", rec[si], created[si] + rng.integers(DAY, 10 * DAY, stray), deleted=True,
          crm_account_id=crm_id[si], **{k: v[si] for k, v in base.items()})
    country = np.concatenate([P["country"], np.full(stray, "US")])
    tax = np.array([TAX[c] for c in country])
    us = country == "US"
    tax[us & (rng.random(n) < 0.3)] = 0.0825
    W.info["bcust"] = dict(id=cid, cur=cur, created=created, tax=tax, n=N,
                           prefix=np.char.upper(make_ids("", rec, width=8, salt=19)))
    log(f"billing.customers: {N} (+{stray} deleted duplicates), {len(li)} linked to CRM later")


# ====================================================================== subscriptions
class InvoiceBook:
    """Collects planned invoices and lines; `finalize` turns them into versions, charges and refunds."""

    def __init__(self):
        self.inv = []
        self.lines = []
        self.n = 0

    def add_invoices(self, **cols) -> np.ndarray:
        k = len(cols["cust"])
        idx = np.arange(self.n, self.n + k)
        self.n += k
        cols = {c: np.broadcast_to(np.asarray(v), (k,)).copy() for c, v in cols.items()}
        self.inv.append(cols)
        return idx

    def add_lines(self, **cols) -> None:
        k = len(cols["inv"])
        if k:
            self.lines.append({c: np.broadcast_to(np.asarray(v), (k,)).copy() for c, v in cols.items()})


INV_DEFAULTS = dict(sub=-1, p_start=NULL, p_end=NULL, collection=0, n_fail=0, sepa=False, t_aux=NULL)


def _inv(book, **cols):
    c = dict(INV_DEFAULTS)
    c.update(cols)
    return book.add_invoices(**c)


def _line(book, inv, sub, price, ltype, qty, amount, disc, proration, ps, pe, dkind, qty_old=None, amount_old=None):
    k = len(inv)
    book.add_lines(inv=inv, sub=np.broadcast_to(sub, (k,)), price=price, ltype=ltype, qty=qty, amount=amount,
                   disc=disc, proration=proration, ps=ps, pe=pe, dkind=dkind,
                   qty_old=qty if qty_old is None else qty_old, amount_old=amount if amount_old is None else amount_old)


def simulate_subs(W, rng, book, S, sub_events, collect):
    """Simulate subscription periods for the subscriptions in S (dict of arrays, one entry per sub).

    Adds invoices/lines to `book`, subscription events to `sub_events`, and upgrade / renewal / span facts to
    `collect`. Returns per-sub (churned, end_time, last qty, last tier)."""
    T_end = W.T_end
    n = len(S["cust"])
    if n == 0:
        return np.zeros(0, bool), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    iv = INTERVALS[S["icode"]]
    anchor = S["start"] + S["trial_days"] * DAY
    never = S["never"]
    p = 1 - (1 - S["hazard"]) ** iv
    n_per = rng.geometric(p)
    force_unc = -1
    if S.get("force_changes", False):       # one monthly subscription that ends with an unpaid 2nd invoice
        c = np.flatnonzero((iv == 1) & (never == 0) & (anchor < W.T_last - 75 * DAY))
        if len(c):
            force_unc = int(c[len(c) // 2])
            n_per[force_unc] = 2
    n_cap = (np.maximum(T_end - anchor, 0) // (iv * 28 * DAY)) + 2
    n_eff = np.minimum(n_per, n_cap)
    n_eff[never > 0] = 0
    K = max(1, int(n_eff.max()))
    kk = np.arange(K)
    anc2 = np.broadcast_to(anchor[:, None], (n, K))
    P = add_months(anc2.ravel(), (kk[None, :] * iv[:, None]).ravel()).reshape(n, K)
    PE = add_months(anc2.ravel(), ((kk[None, :] + 1) * iv[:, None]).ravel()).reshape(n, K)
    valid = (kk[None, :] < n_eff[:, None]) & (P <= T_end)
    nv = valid.sum(1)
    final = (n_per <= n_cap) & (nv == n_per) & (never == 0) & (nv > 0)

    # quantity / tier path
    qty = np.zeros((n, K), dtype=np.int64)
    tier = np.zeros((n, K), dtype=np.int64)
    ev = np.zeros((n, K), dtype=np.int8)         # 1 up, 2 down at the boundary into period k
    tdown = np.zeros((n, K), dtype=bool)
    qty[:, 0], tier[:, 0] = S["qty"], S["tier"]
    pu = 1 - (1 - 0.035) ** iv
    pd_ = 1 - (1 - 0.015) ** iv
    # guarantee one mid-period upgrade and one mid-period downgrade (prorations) at any scale
    forced = []
    if S.get("force_changes", False) and K > 1:
        cand = np.flatnonzero(valid[:, 1] & (iv == 1) & (never == 0))
        f_up = cand[:1]
        f_dn = cand[(S["qty"][cand] >= 3) & ~np.isin(cand, f_up)][:1]
        forced = [(f_up, 0), (f_dn, 1)]
    for k in range(1, K):
        u, u2, u3, f1, f2 = rng.random(n), rng.random(n), rng.random(n), rng.uniform(1.1, 1.6, n), rng.uniform(0.1, 0.4, n)
        if k == 1:
            for f, direction in forced:
                u[f] = 0.0 if direction == 0 else pu[f] + 1e-9
                u2[f] = u3[f] = 0.99
        q, t = qty[:, k - 1].copy(), tier[:, k - 1].copy()
        up = u < pu
        dn = (u >= pu) & (u < pu + pd_)
        t_up = up & (u2 < 0.2) & (t < 2)
        t[t_up] += 1
        qu = up & ~t_up
        q[qu] = np.maximum(q[qu] + 1, np.round(q[qu] * f1[qu]).astype(np.int64))
        t_dn = dn & (u3 < 0.1) & (t > 0)
        t[t_dn] -= 1
        qd = dn & ~t_dn
        q[qd] = np.maximum(np.ceil(0.6 * q[qd]).astype(np.int64), q[qd] - np.maximum(1, np.round(q[qd] * f2[qd])).astype(np.int64))
        qty[:, k], tier[:, k] = q, t
        ev[:, k] = np.where(t_up | (q > qty[:, k - 1]), 1, np.where(t_dn | (q < qty[:, k - 1]), 2, 0))
        tdown[:, k] = t_dn
    mid = (ev > 0) & ~tdown & (rng.random((n, K)) < 0.6) & valid
    for f, _ in forced:
        mid[f, 1] = (ev[f, 1] > 0) & valid[f, 1]
    ev[~valid] = 0
    frac_at = rng.uniform(0.1, 0.9, (n, K))

    cur2 = np.broadcast_to(S["cur"][:, None], (n, K))
    price = plan_price_idx(W, tier.ravel(), cur2.ravel(), np.broadcast_to(S["icode"][:, None], (n, K)).ravel(),
                           np.broadcast_to(S["start"][:, None], (n, K)).ravel()).reshape(n, K)
    unit = W.info["catalog"]["unit"][price]
    cperiods = np.where(S["coupon_forever"], K + 1, np.ceil(3 / iv).astype(np.int64))
    dpct = np.where(kk[None, :] < cperiods[:, None], S["coupon"][:, None], 0.0)
    gross = unit * qty
    disc = np.round(gross * dpct).astype(np.int64)
    amt = gross - disc

    # churn of subs whose last drawn period is inside the horizon
    kl = np.maximum(nv - 1, 0)
    rows = np.arange(n)
    mode = choice_idx(rng, [0.75, 0.07, 0.18], n)       # 0 cancel at period end, 1 immediate, 2 involuntary
    mode[~final] = -1
    if force_unc >= 0 and final[force_unc]:
        mode[force_unc] = 2                            # at least one involuntary churn (uncollectible invoice)
    pl, pel = P[rows, kl], PE[rows, kl]
    plen = pel - pl
    canceled_at = np.full(n, NULL, dtype=np.int64)
    ended_at = np.full(n, NULL, dtype=np.int64)
    m0 = mode == 0
    lead = np.minimum(rng.integers(DAY, 25 * DAY, n), plen - HOUR)
    canceled_at[m0] = np.maximum(pel[m0] - lead[m0], pl[m0] + HOUR)
    ended_at[m0] = pel[m0]
    m1 = mode == 1
    canceled_at[m1] = pl[m1] + (plen[m1] * rng.uniform(0.05, 0.95, int(m1.sum()))).astype(np.int64)
    ended_at[m1] = canceled_at[m1]
    m2 = mode == 2
    t_unc = pl + HOUR + 22 * DAY
    unpaid = m2 & (rng.random(n) < 0.3)
    if force_unc >= 0:
        unpaid[force_unc] = False
    canceled_at[m2 & ~unpaid] = t_unc[m2 & ~unpaid]
    ended_at[m2 & ~unpaid] = t_unc[m2 & ~unpaid]
    # never-paid subscriptions
    n1 = never == 1                                    # trial never converted
    canceled_at[n1] = anchor[n1]
    ended_at[n1] = anchor[n1]
    n2 = never == 2                                    # first payment failed: incomplete -> incomplete_expired

    # ---- invoices for periods
    vi, vk = np.nonzero(valid)
    coll = S["collection"][vi]
    nf = np.where(coll == 0, choice_idx(rng, [0.92, 0.05, 0.02, 0.01], len(vi)), 0)
    nf[vk == 0] = 0
    last_inv = mode[vi] == 2
    last_inv &= vk == kl[vi]
    nf[last_inv] = 4
    coll[last_inv] = 0
    inv = _inv(book, kind=K_PERIOD, cust=S["cust"][vi], sub=S["sid"][vi], cur=S["cur"][vi], created=P[vi, vk],
               p_start=P[vi, vk], p_end=PE[vi, vk], collection=coll, n_fail=nf, sepa=S["sepa"][vi])
    _line(book, inv, S["sid"][vi], price[vi, vk], 0, qty[vi, vk], amt[vi, vk], disc[vi, vk], False, P[vi, vk],
          PE[vi, vk], D_REGULAR)
    inv_of = np.full((n, K), -1, dtype=np.int64)
    inv_of[vi, vk] = inv
    # onboarding package on the first paid invoice of some mid/enterprise subscriptions
    ob = np.flatnonzero((vk == 0) & S["onboard"][vi])
    if len(ob):
        pr = ot_idx(W, np.full(len(ob), OT_ONBOARD), S["cur"][vi[ob]])
        u_ = W.info["catalog"]["unit"][pr]
        _line(book, inv[ob], -1, pr, 1, 1, u_, 0, False, P[vi[ob], 0], P[vi[ob], 0], D_ONEOFF)
    # void duplicates of a few renewal invoices
    dup = pick_masked(rng, vk > 0, 0.004, 1 if S.get("force_changes", False) else 0)
    if len(dup):
        di = _inv(book, kind=K_VOIDDUP, cust=S["cust"][vi[dup]], sub=S["sid"][vi[dup]], cur=S["cur"][vi[dup]],
                  created=P[vi[dup], vk[dup]] + 300, p_start=P[vi[dup], vk[dup]], p_end=PE[vi[dup], vk[dup]],
                  t_aux=P[vi[dup], vk[dup]] + rng.integers(DAY, 2 * DAY, len(dup)))
        _line(book, di, S["sid"][vi[dup]], price[vi[dup], vk[dup]], 0, qty[vi[dup], vk[dup]], amt[vi[dup], vk[dup]],
              disc[vi[dup], vk[dup]], False, P[vi[dup], vk[dup]], PE[vi[dup], vk[dup]], D_REGULAR)

    # ---- mid-period changes: prorations
    ci, ck = np.nonzero(mid)
    if len(ci):
        ps, pe = P[ci, ck - 1], PE[ci, ck - 1]
        t_chg = ps + ((pe - ps) * frac_at[ci, ck]).astype(np.int64)
        fr = (pe - t_chg) / (pe - ps)
        d_old = dpct[ci, ck - 1]
        old_net = amt[ci, ck - 1]
        new_net = np.round(unit[ci, ck] * qty[ci, ck] * (1 - d_old)).astype(np.int64)
        unused = -np.round(old_net * fr).astype(np.int64)
        remain = np.round(new_net * fr).astype(np.int64)
        is_up = ev[ci, ck] == 1
        u_i = np.flatnonzero(is_up)
        pinv = _inv(book, kind=K_PRORATE, cust=S["cust"][ci[u_i]], sub=S["sid"][ci[u_i]], cur=S["cur"][ci[u_i]],
                    created=t_chg[u_i], p_start=t_chg[u_i], p_end=pe[u_i], collection=S["collection"][ci[u_i]],
                    sepa=S["sepa"][ci[u_i]])
        target = np.empty(len(ci), dtype=np.int64)
        target[u_i] = pinv
        d_i = np.flatnonzero(~is_up)
        target[d_i] = inv_of[ci[d_i], ck[d_i]]
        for amount, pr, q, dk in ((unused, price[ci, ck - 1], qty[ci, ck - 1], D_UNUSED),
                                  (remain, price[ci, ck], qty[ci, ck], D_REMAIN)):
            _line(book, target, S["sid"][ci], pr, 1, q, amount, 0, True, t_chg, pe, dk)
        collect["chg"].append(dict(cust=S["cust"][ci], t=t_chg, mid=np.ones(len(ci), bool), up=is_up,
                                   d_mrr=(amt[ci, ck] - amt[ci, ck - 1]) / iv[ci], cur=S["cur"][ci]))
    # boundary changes (no proration) are also facts for expansion opportunities
    bi, bk = np.nonzero((ev > 0) & ~mid & valid)
    if len(bi):
        collect["chg"].append(dict(cust=S["cust"][bi], t=P[bi, bk], mid=np.zeros(len(bi), bool), up=ev[bi, bk] == 1,
                                   d_mrr=(amt[bi, bk] - amt[bi, bk - 1]) / iv[bi], cur=S["cur"][bi]))

    # ---- trials and incomplete first invoices
    tr = np.flatnonzero(S["trial_days"] > 0)
    if len(tr):
        ti = _inv(book, kind=K_TRIAL, cust=S["cust"][tr], sub=S["sid"][tr], cur=S["cur"][tr], created=S["start"][tr],
                  p_start=S["start"][tr], p_end=anchor[tr])
        _line(book, ti, S["sid"][tr], price[tr, 0], 0, qty[tr, 0], 0, 0, False, S["start"][tr], anchor[tr], D_TRIAL)
    ic = np.flatnonzero(n2)
    if len(ic):
        ii = _inv(book, kind=K_INCOMPLETE, cust=S["cust"][ic], sub=S["sid"][ic], cur=S["cur"][ic],
                  created=S["start"][ic], p_start=S["start"][ic], p_end=PE[ic, 0], n_fail=1,
                  t_aux=S["start"][ic] + 23 * HOUR)
        _line(book, ii, S["sid"][ic], price[ic, 0], 0, qty[ic, 0], amt[ic, 0], disc[ic, 0], False, S["start"][ic],
              PE[ic, 0], D_REGULAR)

    # ---- subscription status events: (sub index, time, status code, order)
    ev_s, ev_t, ev_st = [], [], []

    def E(idx, t, st):
        ev_s.append(idx); ev_t.append(t); ev_st.append(np.broadcast_to(np.asarray(st), (len(idx),)))

    allsub = np.arange(n)
    st0 = np.where(S["trial_days"] > 0, 0, np.where(n2, 5, 1))
    E(allsub, S["start"], st0)
    E(tr, anchor[tr], np.where(never[tr] == 1, 3, 1))
    E(ic, S["start"][ic] + 23 * HOUR, 6)
    pdue = np.flatnonzero(nf > 0)
    first_fail = P[vi[pdue], vk[pdue]] + HOUR
    E(vi[pdue], first_fail, 2)
    rec_ok = pdue[nf[pdue] < 4]
    ok_t = P[vi[rec_ok], vk[rec_ok]] + HOUR + np.array([0, 3, 8, 15])[nf[rec_ok]] * DAY + 120
    E(vi[rec_ok], ok_t, 1)
    c0 = np.flatnonzero(m0)
    E(c0, canceled_at[c0], 1)
    E(c0, ended_at[c0], 3)
    c1 = np.flatnonzero(m1)
    E(c1, canceled_at[c1], 3)
    c2 = np.flatnonzero(m2)
    E(c2, t_unc[c2], np.where(unpaid[c2], 4, 3))
    sub_events.append(dict(sid=S["sid"], cust=S["cust"], start=S["start"], trial_days=S["trial_days"], anchor=anchor,
                           canceled_at=canceled_at, ended_at=ended_at, cape=m0, ev_s=np.concatenate(ev_s),
                           ev_t=np.concatenate(ev_t), ev_st=np.concatenate(ev_st)))

    # ---- facts for the CRM: renewals of annual subscriptions, paid spans
    ann = S["icode"] >= 1          # quarterly and annual contracts get renewal opportunities
    ri, rk = np.nonzero(valid & (kk[None, :] >= 1) & ann[:, None])
    collect["ren"].append(dict(cust=S["cust"][ri], t=P[ri, rk], outcome=np.zeros(len(ri), np.int64),
                               amount=amt[ri, rk] * (12 // iv[ri]), iv=iv[ri]))
    lost = np.flatnonzero(ann & final & (mode != 1))
    collect["ren"].append(dict(cust=S["cust"][lost], t=pel[lost] - rng.integers(5 * DAY, 30 * DAY, len(lost)) // (12 // iv[lost]),
                               outcome=np.ones(len(lost), np.int64), amount=amt[lost, kl[lost]] * (12 // iv[lost]),
                               iv=iv[lost]))
    live = np.flatnonzero(ann & ~final & (nv > 0) & (never == 0))
    nxt = PE[live, kl[live]]
    collect["ren"].append(dict(cust=S["cust"][live], t=nxt, outcome=np.full(len(live), 2, np.int64),
                               amount=amt[live, kl[live]] * (12 // iv[live]), iv=iv[live]))
    end_t = np.where(final, np.where(ended_at != NULL, ended_at, t_unc), T_end)
    paid = (nv > 0) & (never == 0)
    collect["span"].append(dict(cust=S["cust"][paid], t0=anchor[paid], t1=np.minimum(end_t[paid], T_end),
                                mrr=amt[paid, 0] / iv[paid]))
    churned = final & (mode != -1)
    return churned, np.where(ended_at != NULL, ended_at, t_unc), qty[rows, kl], tier[rows, kl]


def _sub_attrs(W, rng, cust, start, seg, crm, cur, never, first=True):
    n = len(cust)
    tier = np.where(seg == 0, choice_idx(rng, [0.9, 0.1], n),
                    np.where(seg == 1, choice_idx(rng, [0.15, 0.8, 0.05], n), choice_idx(rng, [0, 0.15, 0.85], n)))
    qty = np.where(seg == 0, 1 + np.minimum(rng.poisson(3, n), 14),
                   np.where(seg == 1, np.clip(np.round(rng.lognormal(np.log(18), 0.5, n)), 5, 80),
                            np.clip(np.round(rng.lognormal(np.log(90), 0.6, n)), 30, 500))).astype(np.int64)
    icode = np.where(seg == 0, choice_idx(rng, [0.75, 0.10, 0.15], n),
                     np.where(seg == 1, choice_idx(rng, [0.45, 0.20, 0.35], n), choice_idx(rng, [0.10, 0.20, 0.70], n)))
    icode[~crm] = np.where(rng.random(int((~crm).sum())) < 0.85, 0, 2)
    # heterogeneous churn: each subscription's monthly churn probability ~ Beta with the segment's mean
    # (the shifted-beta-geometric story: retention improves with tenure as the churn-prone leave first)
    mean_h = np.array([0.035, 0.025, 0.015])[seg]
    a_h = 0.35
    hazard = np.clip(rng.beta(a_h, a_h * (1 - mean_h) / mean_h), 1e-4, 0.6)
    trial_p = np.where(~crm, 0.7, np.array([0.25, 0.10, 0.0])[seg])
    trial = (rng.random(n) < trial_p) if first else np.zeros(n, bool)
    trial[never == 1] = True
    trial[never == 2] = False
    coupon = np.where(rng.random(n) < 0.15, rng.choice([0.10, 0.15, 0.20, 0.25], n), 0.0)
    collection = np.where((seg == 2) & (rng.random(n) < 0.4) | (seg == 1) & (rng.random(n) < 0.1), 1, 0)
    return dict(cust=cust, start=start, tier=tier, qty=qty, icode=icode, hazard=hazard,
                trial_days=np.where(trial, 14, 0), coupon=coupon, coupon_forever=rng.random(n) < 0.3,
                collection=collection, cur=cur, sepa=(cur == 1) & (collection == 0) & (rng.random(n) < 0.15),
                never=never, onboard=crm & (seg >= 1) & (rng.random(n) < 0.3) & first)


def build_subscriptions(W, book) -> None:
    rng = W.rng("subscriptions")
    P, B = W.info["cust"], W.info["bcust"]
    subs_meta = {"n": 0}

    def new_ids(k):
        s = subs_meta["n"]
        subs_meta["n"] += k
        return np.arange(s, s + k)

    sub_events, collect = [], {"chg": [], "ren": [], "span": []}
    # incomplete_expired first attempts (never-paid kind 2, and 3% of subscribers who then retry)
    ks = np.flatnonzero(P["kind"] == 0)
    kn = np.flatnonzero(P["kind"] == 2)
    retry = ks[rng.random(len(ks)) < 0.03]
    never_kind = np.where(rng.random(len(kn)) < 0.7, 1, 2)
    cust0 = np.concatenate([ks, kn])
    start0 = P["t_acq"][cust0] + rng.integers(60, 2 * DAY, len(cust0))
    nk = np.concatenate([np.zeros(len(ks), np.int64), never_kind])
    is_retry = np.isin(cust0, retry)
    # the retrying subscribers: an incomplete_expired sub first, the real one a little later
    ri = np.flatnonzero(is_retry)
    pre_cust, pre_start = cust0[ri], start0[ri]
    start0[ri] = start0[ri] + rng.integers(2 * HOUR, 3 * DAY, len(ri))
    keep = start0 < W.T_end - HOUR
    cust0, start0, nk = cust0[keep], start0[keep], nk[keep]
    pk = pre_start < W.T_end - HOUR
    pre_cust, pre_start = pre_cust[pk], pre_start[pk]
    cust_all = np.concatenate([pre_cust, cust0])
    start_all = np.concatenate([pre_start, start0])
    nk_all = np.concatenate([np.full(len(pre_cust), 2), nk])
    S = _sub_attrs(W, rng, cust_all, start_all, P["seg"][cust_all], P["crm"][cust_all], P["cur"][cust_all], nk_all)
    # at any scale: an early quarterly and an early annual CRM subscription (renewals, multi-month service periods)
    early = np.flatnonzero(P["crm"][cust_all] & (nk_all == 0))
    early = early[np.argsort(start_all[early], kind="stable")]
    for i, code in zip(early[2:4], (1, 2)):
        S["icode"][i] = code
        S["trial_days"][i] = 0
        S["hazard"][i] = 0.005
    S["force_changes"] = True
    S["sid"] = new_ids(len(cust_all))
    churned, end_t, lq, lt = simulate_subs(W, rng, book, S, sub_events, collect)
    # reactivations: some churned subscribers come back with a new subscription
    for rnd in range(2):
        cand = np.flatnonzero(churned & (end_t < W.T_end - 30 * DAY) & (P["kind"][S["cust"]] == 0))
        back = cand[rng.random(len(cand)) < 0.15]
        st = end_t[back] + rng.integers(30 * DAY, 300 * DAY, len(back))
        ok = st < W.T_end - DAY
        back, st = back[ok], st[ok]
        if not len(back):
            break
        c = S["cust"][back]
        S2 = _sub_attrs(W, rng, c, st, P["seg"][c], P["crm"][c], P["cur"][c], np.zeros(len(c), np.int64), first=False)
        S2["qty"] = np.maximum(1, lq[back])
        S2["tier"] = lt[back]
        S2["sid"] = new_ids(len(c))
        churned, end_t, lq, lt = simulate_subs(W, rng, book, S2, sub_events, collect)
        S = S2
        log(f"billing.subscriptions: reactivation round {rnd + 1}: {len(c)} subscriptions")

    # ---- subscription versions
    n = subs_meta["n"]
    rec = W.recs("billing.subscriptions", n)
    sid_str = make_ids("sub_", rec, salt=23)
    cat = {k: np.concatenate([e[k] for e in sub_events]) for k in
           ["sid", "cust", "start", "trial_days", "anchor", "canceled_at", "ended_at", "cape"]}
    order = np.argsort(cat["sid"])
    for k in cat:
        cat[k] = cat[k][order]
    ev_s = np.concatenate([e["sid"][e["ev_s"]] for e in sub_events])
    ev_t = np.concatenate([e["ev_t"] for e in sub_events])
    ev_st = np.concatenate([e["ev_st"] for e in sub_events])
    keep = ev_t <= W.T_end
    ev_s, ev_t, ev_st = ev_s[keep], ev_t[keep], ev_st[keep]
    ca, ea = cat["canceled_at"][ev_s], cat["ended_at"][ev_s]
    show_c = (ca != NULL) & (ev_t >= ca)
    show_e = (ea != NULL) & (ev_t >= ea)
    trial = cat["trial_days"][ev_s] > 0
    statuses = np.array(["trialing", "active", "past_due", "canceled", "unpaid", "incomplete", "incomplete_expired"],
                        dtype=object)
    W.add("billing.subscriptions", rec[ev_s], ev_t + 30, id=sid_str[ev_s], customer_id=B["id"][cat["cust"][ev_s]],
          status=statuses[ev_st], created=cat["start"][ev_s], start_date=cat["start"][ev_s],
          trial_start=np.where(trial, cat["start"][ev_s], NULL), trial_end=np.where(trial, cat["anchor"][ev_s], NULL),
          cancel_at_period_end=(cat["cape"][ev_s] & show_c).astype(np.int8), canceled_at=np.where(show_c, ca, NULL),
          ended_at=np.where(show_e, ea, NULL))
    W.info["subs"] = dict(id=sid_str, n=n)
    for k in collect:
        parts = collect[k]
        W.info[k] = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]} if parts else {}
    log(f"billing.subscriptions: {n} subscriptions, {len(ev_s)} status versions")


# ====================================================================== one-off purchases
def build_oneoffs(W, book) -> None:
    rng = W.rng("oneoff")
    P, C = W.info["cust"], W.info["catalog"]
    T_end = W.T_end
    oc = np.flatnonzero(P["kind"] == 1)
    lam = rng.gamma(2.0, 0.25, len(oc)) / (30.4 * DAY)       # purchases per second
    drop = rng.beta(1.0, 4.0, len(oc))
    if len(oc):                                               # the earliest one-off buyer is a loyal repeat buyer
        e = int(np.argmin(P["t_acq"][oc]))
        lam[e], drop[e] = 1.0 / (12 * DAY), 0.0
    # spend heterogeneity across buyers (Gamma-Gamma): a favourite product and a quantity scale per customer
    fav = choice_idx(rng, [0.0, 0.15, 0.03, 0.30, 0.45, 0.07], len(oc))
    scale = rng.gamma(3.0, 1.0 / 3.0, len(oc))
    pos_of = np.full(P["n"], -1, dtype=np.int64)
    pos_of[oc] = np.arange(len(oc))
    times, custs = [], []
    t = P["t_acq"][oc] + rng.integers(60, 2 * HOUR, len(oc))
    alive = t < T_end
    for _ in range(200):
        if not alive.any():
            break
        times.append(t[alive]); custs.append(oc[alive])
        cont = rng.random(len(oc)) >= drop
        t = t + rng.exponential(1.0 / lam).astype(np.int64)
        alive &= cont & (t < T_end)
    # subscribers occasionally buy one-off services too
    ks = np.flatnonzero((P["kind"] == 0) & P["crm"])
    extra = ks[rng.random(len(ks)) < 0.1]
    te = P["t_acq"][extra] + rng.integers(20 * DAY, 400 * DAY, len(extra))
    ok = te < T_end
    times.append(te[ok]); custs.append(extra[ok])
    t_all = np.concatenate(times)
    c_all = np.concatenate(custs)
    o = np.lexsort((c_all, t_all))
    t_all, c_all = t_all[o], c_all[o]
    n = len(t_all)
    cur = P["cur"][c_all]
    kind = np.full(n, K_ONEOFF)
    edit = rng.random(n) < 0.03
    kind[edit] = K_EDITDRAFT
    t_fin = np.where(edit, t_all + rng.integers(HOUR, 3 * DAY, n), NULL)
    coll = (rng.random(n) < 0.1).astype(np.int64)
    nf = np.where(coll == 0, choice_idx(rng, [0.93, 0.05, 0.02], n), 0)
    inv = _inv(book, kind=kind, cust=c_all, cur=cur, created=t_all, p_start=t_all, p_end=t_all, collection=coll,
               n_fail=nf, sepa=(cur == 1) & (coll == 0) & (rng.random(n) < 0.15), t_aux=t_fin)
    nl = np.where(rng.random(n) < 0.2, 2, 1)
    li = np.repeat(np.arange(n), nl)
    m = len(li)
    launched = t_all[li] >= C["t_launch"]
    prod = choice_idx(rng, [0.0, 0.15, 0.03, 0.30, 0.45, 0.07], m)
    ci = pos_of[c_all[li]]
    loyal = (ci >= 0) & (rng.random(m) < 0.7)
    prod[loyal] = fav[ci[loyal]]
    prod[(prod == OT_PREMIUM) & ~launched] = OT_TEMPL
    second = group_arange(nl) == 1
    prod[second & (prod == OT_TEMPL)] = OT_CONSULT
    qty = np.where(prod == OT_TEMPL, rng.integers(1, 4, m), np.where(prod == OT_CONSULT, rng.integers(2, 11, m), 1))
    qs = np.where(ci >= 0, scale[np.maximum(ci, 0)], 1.0)
    qty = np.where(np.isin(prod, [OT_TEMPL, OT_CONSULT]), np.maximum(1, np.round(qty * qs)), qty).astype(np.int64)
    pr = ot_idx(W, prod, cur[li])
    gross = C["unit"][pr] * qty
    d = np.where(rng.random(m) < 0.1, rng.choice([0.1, 0.2], m), 0.0)
    disc = np.round(gross * d).astype(np.int64)
    qty_old = np.where(edit[li], np.maximum(1, qty - rng.integers(1, 3, m)), qty)
    amount_old = C["unit"][pr] * qty_old - np.round(C["unit"][pr] * qty_old * d).astype(np.int64)
    _line(book, inv[li], -1, pr, 1, qty, gross - disc, disc, False, t_all[li], t_all[li], D_ONEOFF,
          qty_old=qty_old, amount_old=amount_old)

    # deleted drafts and drafts still pending at the end
    anyc = np.flatnonzero(P["kind"] <= 1)
    anyc = anyc[P["t_acq"][anyc] < W.T_last - 20 * DAY]
    for kind_, k_n, lo_f in ((K_DELDRAFT, max(1, round(0.01 * len(oc))), None), (K_PENDDRAFT, max(1, round(0.003 * P["n"])), 1)):
        if not len(anyc):
            break
        c = anyc[rng.integers(0, len(anyc), k_n)]
        if lo_f is None:
            t = P["t_acq"][c] + ((W.T_last - 10 * DAY - P["t_acq"][c]) * rng.random(k_n)).astype(np.int64)
            aux = t + rng.integers(DAY, 7 * DAY, k_n)
        else:
            t = W.T_last - rng.integers(HOUR, 5 * DAY, k_n)
            aux = np.full(k_n, NULL)
        di = _inv(book, kind=kind_, cust=c, cur=P["cur"][c], created=t, p_start=t, p_end=t, t_aux=aux)
        pr = ot_idx(W, np.full(k_n, OT_TRAIN), P["cur"][c])
        _line(book, di, -1, pr, 1, 1, C["unit"][pr], 0, False, t, t, D_ONEOFF)
    log(f"billing: {n} one-off purchase invoices for {len(oc)} one-off customers")


# ====================================================================== invoices -> versions, charges, refunds
def finalize_invoices(W, book) -> None:
    rng = W.rng("invoices")
    T_end = W.T_end
    B, C = W.info["bcust"], W.info["catalog"]
    I = {k: np.concatenate([p[k] for p in book.inv]) for k in book.inv[0]}
    L = {k: np.concatenate([p[k] for p in book.lines]) for k in book.lines[0]}
    # order invoices by creation time for realistic ids / numbers
    o = np.lexsort((np.arange(book.n), I["created"]))
    rank = np.empty(book.n, dtype=np.int64)
    rank[o] = np.arange(book.n)
    I = {k: v[o] for k, v in I.items()}
    L["inv"] = rank[L["inv"]]
    lo = np.lexsort((np.arange(len(L["inv"])), L["inv"]))
    L = {k: v[lo] for k, v in L.items()}
    n = book.n
    sub_ids = W.info["subs"]["id"]

    subtotal = np.bincount(L["inv"], weights=L["amount"], minlength=n).round().astype(np.int64)
    subtotal_old = np.bincount(L["inv"], weights=L["amount_old"], minlength=n).round().astype(np.int64)
    assert (subtotal >= 0).all(), "negative invoice subtotal"
    tax_rate = B["tax"][I["cust"]]
    tax = np.round(subtotal * tax_rate).astype(np.int64)
    total = subtotal + tax
    tax_old = np.round(subtotal_old * tax_rate).astype(np.int64)
    kind = I["kind"]
    created = I["created"]
    fin = np.where(kind == K_EDITDRAFT, I["t_aux"], created)     # finalisation time
    card = I["collection"] == 0
    nf = I["n_fail"].copy()
    pay_kinds = np.isin(kind, [K_PERIOD, K_PRORATE, K_ONEOFF, K_EDITDRAFT]) & (total > 0)
    nf[~pay_kinds & (kind != K_INCOMPLETE)] = 0
    # force at least one SEPA-style pending charge so the pending->succeeded update exists
    sepa = I["sepa"] & card & pay_kinds & (nf < 4)
    if not sepa.any():
        cand = np.flatnonzero(card & pay_kinds & (nf == 0) & (created < W.T_last - 60 * DAY))
        if len(cand):
            sepa[cand[len(cand) // 2]] = True
    OFF = np.array([0, 3, 8, 15, 22]) * DAY
    att0 = fin + HOUR
    t_paid = np.full(n, NULL, dtype=np.int64)
    m = pay_kinds & card & (nf < 4)
    t_paid[m] = att0[m] + OFF[nf[m]] + 120
    t_paid[m & sepa] += 3 * DAY
    send_delay = (lognormal_days(rng, n, 12, 0.7, 1, 75) * DAY).astype(np.int64)
    # at least one invoice is still open (unpaid, sent on terms) at the end of the data
    fo = np.flatnonzero((kind == K_PERIOD) & card & (nf == 0) & (total > 0) & (created > W.T_last - 10 * DAY)
                        & (created < W.T_last - 2 * HOUR))
    if len(fo):
        card[fo[-1]] = False
        sepa[fo[-1]] = False
        send_delay[fo[-1]] = 45 * DAY
    send = pay_kinds & ~card
    t_paid[send] = fin[send] + send_delay[send]
    zero = (total == 0) & ~np.isin(kind, [K_VOIDDUP, K_INCOMPLETE, K_DELDRAFT, K_PENDDRAFT])
    t_paid[zero] = created[zero] + 60
    unc = pay_kinds & card & (nf >= 4)
    t_unc = att0 + OFF[4]
    # statuses: final status + the time it is reached
    final_st = np.full(n, "paid", dtype=object)
    t_final = t_paid.copy()
    final_st[unc] = "uncollectible"
    t_final[unc] = t_unc[unc]
    vd = np.isin(kind, [K_VOIDDUP, K_INCOMPLETE])
    final_st[vd] = "void"
    t_final[vd] = I["t_aux"][vd]
    dd = kind == K_DELDRAFT
    final_st[dd] = "draft"
    t_final[dd] = I["t_aux"][dd]
    pdft = kind == K_PENDDRAFT
    final_st[pdft] = "draft"
    t_final[pdft] = NULL

    rec = W.recs("billing.invoices", n)
    iid = make_ids("in_", rec, salt=29)
    # invoice numbers: customer prefix + sequence
    oc = np.lexsort((np.arange(n), I["cust"]))
    seq = np.empty(n, dtype=np.int64)
    cs = I["cust"][oc]
    starts = np.r_[0, np.flatnonzero(np.diff(cs)) + 1]
    counts = np.diff(np.r_[starts, n])
    seq[oc] = group_arange(counts) + 1
    number = np.char.add(np.char.add(B["prefix"][I["cust"]], "-"), np.char.zfill(seq.astype(str), 4)).astype(object)
    due = np.where(~card & pay_kinds, created + 30 * DAY, NULL)
    sub_str = np.where(I["sub"] >= 0, sub_ids[np.maximum(I["sub"], 0)], "").astype(object)
    base = dict(id=iid, customer_id=B["id"][I["cust"]], subscription_id=sub_str, number=number,
                currency=CURRENCIES[I["cur"]].astype(object), created=created, period_start=I["p_start"],
                period_end=I["p_end"], due_date=due)
    # late family: a few invoices of the last week (with lines and charges) land on the extra day
    late_inv = np.zeros(n, dtype=bool)
    win = np.isin(kind, [K_PERIOD, K_ONEOFF]) & (created > W.T_last - 7 * DAY) & (created < W.T_last - DAY) & \
        (t_final != NULL) & (t_final < W.T_last) & (nf == 0)
    late_inv[pick_masked(rng, win, 0.05, 1)] = True

    def emit(idx, t, status, paid, deleted=False, old=False):
        if not len(idx):
            return
        sub_ = subtotal_old[idx] if old else subtotal[idx]
        tx = tax_old[idx] if old else tax[idx]
        tot = sub_ + tx
        W.add("billing.invoices", rec[idx], t, deleted=deleted, late=late_inv[idx], status=status, subtotal=sub_, tax=tx,
              total=tot, amount_paid=np.where(paid, tot, 0), amount_due=tot,
              paid_at=np.where(paid, t_paid[idx], NULL), **{k: v[idx] for k, v in base.items()})

    # first version: draft (draft kinds), else open when not settled immediately
    draft_first = np.isin(kind, [K_DELDRAFT, K_PENDDRAFT, K_EDITDRAFT])
    i_d = np.flatnonzero(draft_first)
    emit(i_d, created[i_d] + 60, "draft", False, old=True)
    immediate = (t_final != NULL) & (t_final <= fin + HOUR + 600) & ~draft_first | (zero & ~draft_first)
    i_o = np.flatnonzero(~immediate & ~np.isin(kind, [K_DELDRAFT, K_PENDDRAFT]))
    emit(i_o, fin[i_o] + HOUR, "open", False)
    i_f = np.flatnonzero((t_final != NULL) & ~dd)
    emit(i_f, t_final[i_f] + 30, final_st[i_f], final_st[i_f] == "paid")
    i_x = np.flatnonzero(dd)
    emit(i_x, t_final[i_x], "draft", False, deleted=True, old=True)
    first_vt = np.where(draft_first, created + 60, np.where(immediate, t_final + 30, fin + HOUR))

    # ---- lines
    nl = len(L["inv"])
    lrec = W.recs("billing.invoice_line_items", nl)
    lid = make_ids("il_", lrec, salt=31)
    li = L["inv"]
    pname = C["p_names"][C["prod"][L["price"]]]
    q_s = L["qty"].astype(str)
    desc = np.select([L["dkind"] == D_TRIAL, L["dkind"] == D_UNUSED, L["dkind"] == D_REMAIN,
                      (L["dkind"] == D_ONEOFF) & (L["qty"] == 1)],
                     [np.char.add("Trial period for ", pname.astype(str)),
                      names.cat("Unused time on ", q_s, " × ", pname.astype(str)),
                      names.cat("Remaining time on ", q_s, " × ", pname.astype(str)),
                      pname.astype(str)],
                     names.cat(q_s, " × ", pname.astype(str))).astype(object)
    desc_old = names.cat(L["qty_old"].astype(str), " × ", pname.astype(str)).astype(object)
    desc_old = np.where(L["qty_old"] == 1, pname.astype(str), desc_old).astype(object)
    lsub = np.where(L["sub"] >= 0, sub_ids[np.maximum(L["sub"], 0)], "").astype(object)
    lbase = dict(id=lid, invoice_id=iid[li], subscription_id=lsub, price_id=C["pr_id"][L["price"]].astype(object),
                 type=np.where(L["ltype"] == 0, "subscription", "invoiceitem").astype(object),
                 discount_amount=L["disc"], proration=L["proration"].astype(np.int8),
                 period_start=L["ps"], period_end=L["pe"])
    lk = kind[li]
    ed = lk == K_EDITDRAFT
    W.add("billing.invoice_line_items", lrec, first_vt[li], late=late_inv[li], quantity=np.where(ed, L["qty_old"], L["qty"]),
          amount=np.where(ed, L["amount_old"], L["amount"]), description=np.where(ed, desc_old, desc), **lbase)
    e = np.flatnonzero(ed & (fin[li] <= T_end))
    W.add("billing.invoice_line_items", lrec[e], fin[li[e]] + HOUR, quantity=L["qty"][e], amount=L["amount"][e],
          description=desc[e], **{k: v[e] for k, v in lbase.items()})
    x = np.flatnonzero(lk == K_DELDRAFT)
    W.add("billing.invoice_line_items", lrec[x], t_final[li[x]], deleted=True, quantity=L["qty"][x],
          amount=L["amount"][x], description=desc[x], **{k: v[x] for k, v in lbase.items()})

    # ---- charges: failed attempts, then success (or pending -> succeeded)
    att_inv, att_t, att_st = [], [], []
    for j in range(4):
        fj = np.flatnonzero(card & (pay_kinds | (kind == K_INCOMPLETE)) & (nf > j))
        att_inv.append(fj); att_t.append(att0[fj] + OFF[j]); att_st.append(np.full(len(fj), 0))
    ok = np.flatnonzero(pay_kinds & (nf < 4))
    t_ok = np.where(card[ok], att0[ok] + OFF[nf[ok]], t_paid[ok] - 60)
    att_inv.append(ok); att_t.append(t_ok); att_st.append(np.where(sepa[ok], 2, 1))
    ch_inv = np.concatenate(att_inv)
    ch_t = np.concatenate(att_t)
    ch_st = np.concatenate(att_st)
    o = np.lexsort((ch_inv, ch_t))
    ch_inv, ch_t, ch_st = ch_inv[o], ch_t[o], ch_st[o]
    keep = ch_t <= T_end
    ch_inv, ch_t, ch_st = ch_inv[keep], ch_t[keep], ch_st[keep]
    # card verification failures without an invoice
    nv = max(1, round(0.01 * B["n"]))
    vc = rng.integers(0, B["n"], nv)
    vt_ = B["created"][vc] + rng.integers(60, HOUR, nv)
    nc = len(ch_inv)
    m_all = nc + nv
    crec = W.recs("billing.charges", m_all)
    chid = np.where(np.arange(m_all) % 3 == 0, make_ids("py_", crec, salt=37), make_ids("ch_", crec, salt=37)).astype(object)
    c_cust = np.concatenate([I["cust"][ch_inv], vc])
    c_inv = np.concatenate([iid[ch_inv], np.full(nv, "", dtype=object)]).astype(object)
    c_amt = np.concatenate([total[ch_inv], np.full(nv, 100)])
    c_cur = np.concatenate([I["cur"][ch_inv], B["cur"][vc]])
    c_t = np.concatenate([ch_t, vt_])
    c_st = np.concatenate([ch_st, np.zeros(nv, np.int64)])
    fc = np.where(c_st == 0, FAIL_CODES[rng.integers(0, len(FAIL_CODES), m_all)], "").astype(object)
    c_late = np.concatenate([late_inv[ch_inv], np.zeros(nv, bool)])
    cbase = dict(id=chid, customer_id=B["id"][c_cust], invoice_id=c_inv, amount=c_amt,
                 currency=CURRENCIES[c_cur].astype(object), created=c_t)
    stn = np.array(["failed", "succeeded", "pending"], dtype=object)
    W.add("billing.charges", crec, c_t + 5, late=c_late, status=stn[c_st], failure_code=fc, **cbase)
    pe = np.flatnonzero(c_st == 2)
    t_s = c_t[pe] + 3 * DAY
    okp = t_s <= T_end
    pe, t_s = pe[okp], t_s[okp]
    W.add("billing.charges", crec[pe], t_s, late=c_late[pe], status="succeeded", failure_code="",
          **{k: v[pe] for k, v in cbase.items()})
    succ_t = c_t.copy()
    succ_t[c_st == 2] += 3 * DAY
    succeeded = (c_st >= 1) & (c_amt > 0) & (succ_t <= W.T_last)

    # ---- refunds
    cand = np.flatnonzero(succeeded & ~c_late)
    r = pick(rng, len(cand), 0.03, 12)
    ri = cand[r]
    k = len(ri)
    delay = (lognormal_days(rng, k, 8, 0.9, 0.1, 90) * DAY).astype(np.int64)
    r_t = succ_t[ri] + delay
    if k:  # make sure one refund lands in a later month than its charge
        nm = month_start_epoch(month_index(succ_t[ri[:1]]) + 1)
        r_t[0] = max(r_t[0], int(nm[0]) + int(rng.integers(DAY, 5 * DAY)))
    keep = r_t <= T_end
    ri, r_t = ri[keep], r_t[keep]
    k = len(ri)
    partial = rng.random(k) < 0.4
    partial[:2] = True
    r_amt = np.where(partial, np.maximum(1, np.round(c_amt[ri] * rng.uniform(0.1, 0.9, k))).astype(np.int64), c_amt[ri])
    r_st = choice_idx(rng, [0.9, 0.04, 0.06], k)   # 0 succeeded, 1 failed, 2 pending -> succeeded
    if k >= 3:
        r_st[1], r_st[2] = 1, 2
    rrec = W.recs("billing.refunds", k)
    rid = make_ids("re_", rrec, salt=41)
    rbase = dict(id=rid, charge_id=chid[ri], amount=r_amt, currency=CURRENCIES[c_cur[ri]].astype(object),
                 reason=REFUND_REASONS[choice_idx(rng, [0.7, 0.1, 0.05, 0.15], k)], created=r_t)
    late_r = np.zeros(k, bool)
    late_r[pick_masked(rng, (r_t > W.T_last - 7 * DAY) & (r_t < W.T_last - DAY), 0.3, 1)] = True
    rs = np.array(["succeeded", "failed", "pending"], dtype=object)
    W.add("billing.refunds", rrec, r_t + 60, late=late_r, status=rs[r_st], **rbase)
    p2 = np.flatnonzero(r_st == 2)
    t2 = r_t[p2] + rng.integers(2 * DAY, 8 * DAY, len(p2))
    okk = t2 <= T_end
    W.add("billing.refunds", rrec[p2[okk]], t2[okk], late=late_r[p2[okk]], status="succeeded",
          **{kk: v[p2[okk]] for kk, v in rbase.items()})

    W.info["inv"] = dict(cust=I["cust"], created=created, total=total, subtotal=subtotal, cur=I["cur"], status=final_st,
                         t_paid=t_paid, kind=kind)
    log(f"billing.invoices: {n} invoices, {nl} lines, {m_all} charges, {k} refunds")
