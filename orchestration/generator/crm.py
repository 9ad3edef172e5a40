"""CRM simulation: users, the customer plan, accounts, contacts, leads (part 1) and
opportunities + stage history, activities, quotas, csat (part 2, after billing)."""
from __future__ import annotations

import numpy as np

from . import names
from .core import (DAY, HOUR, NULL, CURRENCIES_UP, choice_idx, group_arange, lognormal_days, make_sf_ids, pick,
                   pick_masked, sample_growth, to_days, month_index, month_start_epoch, log)
from .schema import LEAD_SOURCES, STAGES, STAGE_PROB, ACTIVITY_TYPES

REGION_TZ = [np.array([-300, -360, -480, -240]), np.array([0, 60, 60, 120]), np.array([480, 600, 330, 540])]
COUNTRIES = [(np.array(["US", "CA"]), [0.85, 0.15]),
             (np.array(["GB", "DE", "FR", "NL", "ES", "IE", "SE"]), [0.35, 0.25, 0.15, 0.1, 0.07, 0.05, 0.03]),
             (np.array(["AU", "SG", "JP", "IN"]), [0.4, 0.25, 0.2, 0.15])]
DIAL = {"US": "1", "CA": "1", "GB": "44", "DE": "49", "FR": "33", "NL": "31", "ES": "34", "IE": "353", "SE": "46",
        "AU": "61", "SG": "65", "JP": "81", "IN": "91"}
SEGMENTS = np.array(["smb", "mid_market", "enterprise"])
SEG_SHORT = ["smb", "mid", "ent"]
REGIONS = ["na", "emea", "apac"]
CYCLE_MEDIAN = np.array([25.0, 50.0, 100.0])      # sales cycle days by segment
CYCLE_RANGE = [(5, 90), (14, 160), (30, 270)]
# lead channels: share of raw leads and lead->opportunity conversion rate
LEAD_SHARE = np.array([0.22, 0.15, 0.20, 0.10, 0.08, 0.10, 0.15])
LEAD_CONV = np.array([0.22, 0.12, 0.25, 0.15, 0.45, 0.20, 0.15])
USER_DOMAIN = "northwind-saas.com"


def _country(rng, region):
    n = len(region)
    out = np.empty(n, dtype="U2")
    for r in range(3):
        sel = region == r
        c, p = COUNTRIES[r]
        out[sel] = c[choice_idx(rng, p, int(sel.sum()))]
    return out


def currency_of_country(country):
    cur = np.zeros(len(country), dtype=np.int64)              # usd
    cur[np.isin(country, ["DE", "FR", "NL", "ES", "IE", "SE"])] = 1  # eur
    cur[country == "GB"] = 2                                   # gbp
    return cur


def _tz(rng, region):
    out = np.zeros(len(region), dtype=np.int64)
    for r in range(3):
        sel = region == r
        out[sel] = REGION_TZ[r][rng.integers(0, len(REGION_TZ[r]), int(sel.sum()))]
    return out


# ====================================================================== users
def build_users(W) -> None:
    rng = W.rng("users")
    N, T0, span = W.N, W.T0, W.T_last - W.T0
    if N < 1000:
        teams = [(0, 0), (0, 1), (1, 0), (1, 2)]
    elif N < 10000:
        teams = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    else:
        teams = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1)]
    team_names = [f"{REGIONS[r]}-{SEG_SHORT[s]}" for r, s in teams]
    n_ae = max(3, min(15, round(N / (len(teams) * 600))))
    n_sdr = max(2, min(8, (n_ae + 1) // 2))

    role, team, mgr, hire, leave = [], [], [], [], []
    BIG = np.int64(2**62)

    def add(r, t, m, h, lv=BIG):
        role.append(r); team.append(t); mgr.append(m); hire.append(int(h)); leave.append(int(lv))
        return len(role) - 1

    # one manager per region (the first one heads sales); reps report to their region's manager
    regions = sorted({r for r, _ in teams})
    team_mgr = np.zeros(len(teams), dtype=np.int64)
    head = -1
    for r in regions:
        ti0 = min(i for i, t in enumerate(teams) if t[0] == r)
        mg = add("manager", ti0, head, T0 - int(rng.integers(300, 1400)) * DAY)
        if head < 0:
            head = mg
        for i, t in enumerate(teams):
            if t[0] == r:
                team_mgr[i] = mg
    for ti in range(len(teams)):
        m = int(team_mgr[ti])
        for _ in range(n_sdr):
            add("sdr", ti, m, T0 - int(rng.integers(30, 900)) * DAY)
        for _ in range(n_ae):
            add("ae", ti, m, T0 - int(rng.integers(60, 1500)) * DAY)
        # one AE hired during the period; half the teams also hire an SDR
        add("ae", ti, m, T0 + int(rng.uniform(0.15, 0.7) * span))
        if ti % 2 == 0:
            add("sdr", ti, m, T0 + int(rng.uniform(0.2, 0.8) * span))
    role, team, mgr = np.array(role), np.array(team), np.array(mgr)
    hire = (np.array(hire) // DAY) * DAY + 9 * HOUR
    leave = np.array(leave, dtype=np.int64)
    n = len(role)

    # departures: one initial rep per team leaves during the period
    for ti in range(len(teams)):
        cand = np.flatnonzero((team == ti) & (role != "manager") & (hire < T0))
        cand = cand[1:]  # the first AE/SDR of each team stays
        u = cand[rng.integers(0, len(cand))]
        leave[u] = T0 + int(rng.uniform(0.3, 0.9) * span)
    # the last initial AE of the last team is a player-coach without quota
    no_quota = np.zeros(n, dtype=bool)
    nq = np.flatnonzero((team == len(teams) - 1) & (role == "ae") & (hire < T0) & (leave == BIG))[-1]
    no_quota[nq] = True
    # quota currency: the first AE of each emea team is measured in EUR
    quota_cur = np.zeros(n, dtype=np.int64)
    for ti, (r, s) in enumerate(teams):
        if r == 1:
            quota_cur[np.flatnonzero((team == ti) & (role == "ae"))[0]] = 1
    # one SDR transfers from team 0 to team 1 mid-way
    sdr0 = np.flatnonzero((team == 0) & (role == "sdr") & (leave == BIG) & (hire < T0))[0]
    t_transfer = T0 + int(0.45 * span)
    # extra-day update: one active SDR of the last team leaves on the extra day
    xs = np.flatnonzero((team == len(teams) - 1) & (role == "sdr") & (leave == BIG) & (hire < T0))
    x_leaver = xs[-1] if len(xs) else None

    region = np.array([teams[t][0] for t in team])
    tz = _tz(rng, region)
    f, l, fs, ls = names.people(rng, n)
    uname = names.cat(f, " ", l).astype(object)
    email = names.cat(fs, ".", ls, np.arange(n).astype(str), "@", USER_DOMAIN).astype(object)
    rec = W.recs("crm.users", n)
    uid = make_sf_ids("005", rec)
    team_str = np.array(team_names, dtype=object)[team]
    mgr_id = np.where(mgr >= 0, uid[np.maximum(mgr, 0)], "").astype(object)
    hired_day = to_days(hire)

    base = dict(id=uid, name=uname, email=email, role=role.astype(object), team=team_str, manager_id=mgr_id,
                hired_at=hired_day)
    W.add("crm.users", rec, hire, tz=tz, is_active=1, **base)
    gone = np.flatnonzero(leave < BIG)
    W.add("crm.users", rec[gone], leave[gone], tz=tz[gone], is_active=0, **{k: v[gone] for k, v in base.items()})
    # transfer (team change)
    tb = {k: v[[sdr0]] for k, v in base.items()}
    tb["team"] = np.array([team_names[1]], dtype=object)
    tb["manager_id"] = uid[[team_mgr[1]]].astype(object)
    W.add("crm.users", rec[[sdr0]], t_transfer, tz=tz[[sdr0]], is_active=1, **tb)
    if x_leaver is not None:
        xb = {k: v[[x_leaver]] for k, v in base.items()}
        W.add("crm.users", rec[[x_leaver]], W.T_last + 5 * HOUR, tz=tz[[x_leaver]], is_active=0, **xb)
        leave[x_leaver] = W.T_last + 5 * HOUR

    # assignment windows for owner picking (the transfer splits one SDR over two teams)
    a_user = list(range(n)) + [sdr0]
    a_team = list(team) + [1]
    a_from = list(hire) + [t_transfer]
    a_to = list(leave) + [leave[sdr0]]
    a_to[sdr0] = t_transfer
    W.info["users"] = dict(id=uid, role=role, team=team, hire=hire, leave=leave, no_quota=no_quota,
                           quota_cur=quota_cur, tz=tz, teams=teams, team_names=team_names, n=n, team_mgr=team_mgr,
                           name=uname,
                           a_user=np.array(a_user), a_team=np.array(a_team), a_from=np.array(a_from, dtype=np.int64),
                           a_to=np.array(a_to, dtype=np.int64), a_role=role[np.array(a_user)])
    log(f"crm.users: {n} users in {len(teams)} teams ({len(regions)} managers, {n_ae}+1 AEs, {n_sdr} SDRs per team)")


def team_for(W, region, segment):
    teams = W.info["users"]["teams"]
    out = np.zeros(len(region), dtype=np.int64)
    for r in range(3):
        for s in range(3):
            sel = (region == r) & (segment == s)
            if not sel.any():
                continue
            rr = r if any(t[0] == r for t in teams) else 0
            cands = [(abs(t[1] - s), -t[1], i) for i, t in enumerate(teams) if t[0] == rr]
            out[sel] = min(cands)[2]
    return out


def pick_owner(W, rng, team, t, roles):
    """A random user with one of `roles` assigned to `team` at time t (vectorised)."""
    U = W.info["users"]
    team = np.asarray(team)
    t = np.asarray(t, dtype=np.int64)
    out = np.full(len(team), -1, dtype=np.int64)
    u = rng.random(len(team))
    for tm in np.unique(team):
        sel = np.flatnonzero(team == tm)
        cm = (U["a_team"] == tm) & np.isin(U["a_role"], roles)
        cu, cf, ct = U["a_user"][cm], U["a_from"][cm], U["a_to"][cm]
        act = (cf[None, :] <= t[sel, None]) & (t[sel, None] < ct[None, :])
        cnt = act.sum(1)
        r = np.floor(u[sel] * cnt).astype(np.int64)
        ch = np.argmax(np.cumsum(act, 1) > r[:, None], axis=1)
        res = cu[ch]
        if (cnt == 0).any():  # nobody in that role: fall back to the team's manager
            res[cnt == 0] = U["team_mgr"][tm]
        out[sel] = res
    return out


# ====================================================================== plan + accounts + leads + contacts
def build_plan(W) -> None:
    """Billing customers (kinds, segments, acquisition times) and the CRM deals behind them."""
    rng = W.rng("plan")
    N, T0, T_end = W.N, W.T0, W.T_end
    kind = choice_idx(rng, [0.81, 0.12, 0.07], N)         # 0 subscription, 1 one-off only, 2 never paid
    u = rng.random(N)
    crm = np.where(kind == 0, u < 0.95, np.where(kind == 1, u < 0.7, u < 0.6))
    seg = choice_idx(rng, [0.6, 0.3, 0.1], N)
    seg[kind == 1] = choice_idx(rng, [0.75, 0.25], int((kind == 1).sum()))
    seg[~crm] = 0
    region = choice_idx(rng, [0.55, 0.35, 0.10], N)
    country = _country(rng, region)
    t_acq = sample_growth(rng, N, T0 + 10 * DAY, T_end - 2 * HOUR, growth=1.2)
    o = np.argsort(t_acq, kind="stable")
    kind, crm, seg, region, country, t_acq = kind[o], crm[o], seg[o], region[o], country[o], t_acq[o]
    W.info["cust"] = dict(kind=kind, crm=crm, seg=seg, region=region, country=country, cur=currency_of_country(country),
                          t_acq=t_acq, n=N)

    # ---- NB deals: A1 won->customer, A2 won without customer, A3 lost, A4 open at the end
    ci = np.flatnonzero(crm)
    n1 = len(ci)
    n2 = max(1, round(0.05 * n1))
    n3 = max(2, round(1.0 * (n1 + n2)))
    n4 = max(3, round(0.12 * (n1 + n2)))
    grp = np.concatenate([np.zeros(n1), np.ones(n2), np.full(n3, 2), np.full(n4, 3)]).astype(np.int64)
    nA = len(grp)
    a_seg = np.concatenate([seg[ci], choice_idx(rng, [0.6, 0.3, 0.1], nA - n1)])
    a_region = np.concatenate([region[ci], choice_idx(rng, [0.55, 0.35, 0.10], nA - n1)])
    a_country = np.concatenate([country[ci], _country(rng, a_region[n1:])])
    cyc = np.empty(nA)
    for s in range(3):
        sel = a_seg == s
        cyc[sel] = lognormal_days(rng, int(sel.sum()), CYCLE_MEDIAN[s], 0.5, *CYCLE_RANGE[s])
    cyc_s = (cyc * DAY).astype(np.int64)
    close = np.empty(nA, dtype=np.int64)
    created = np.empty(nA, dtype=np.int64)
    outcome = np.zeros(nA, dtype=np.int64)       # 0 won, 1 lost, 2 open
    close[:n1] = t_acq[ci] - rng.integers(HOUR, 20 * HOUR, n1)
    close[n1:n1 + n2] = sample_growth(rng, n2, T0 + 14 * DAY, T_end - HOUR, 1.2)
    m = slice(0, n1 + n2)
    created[m] = np.maximum(close[m] - cyc_s[m], T0 + rng.integers(HOUR, 3 * DAY, n1 + n2))
    created[m] = np.minimum(created[m], close[m] - HOUR)
    s3 = slice(n1 + n2, n1 + n2 + n3)
    created[s3] = sample_growth(rng, n3, T0 + HOUR, T_end - 2 * DAY, 1.2)
    close[s3] = created[s3] + (cyc_s[s3] * rng.uniform(0.4, 1.1, n3)).astype(np.int64)
    outcome[s3] = 1
    s4 = slice(n1 + n2 + n3, nA)
    created[s4] = np.maximum(T0 + HOUR, T_end - rng.integers(HOUR, 100 * DAY, n4))
    close[s4] = created[s4] + cyc_s[s4]
    outcome[s4] = np.where(close[s4] > T_end, 2, 1)
    # lost deals that would close after the horizon are simply still open
    outcome[(outcome == 1) & (close > T_end)] = 2

    from_lead = rng.random(nA) < 0.75
    w_conv = LEAD_SHARE * LEAD_CONV
    lead_src = np.full(nA, -1, dtype=np.int64)
    lead_src[from_lead] = choice_idx(rng, w_conv, int(from_lead.sum()))
    ob = ~from_lead
    lead_src[ob] = np.array([6, 4, 5, -1])[choice_idx(rng, [0.5, 0.2, 0.1, 0.2], int(ob.sum()))]

    acc_created = np.where(from_lead, created, np.maximum(T0 + 60, created - rng.integers(0, 30 * DAY, nA)))
    acc_created = np.minimum(acc_created, created)
    a_team = team_for(W, a_region, a_seg)
    a_owner = pick_owner(W, rng, a_team, acc_created, ["ae"])
    U = W.info["users"]
    opp_owner = a_owner.copy()
    gone = U["leave"][a_owner] <= created
    if gone.any():
        opp_owner[gone] = pick_owner(W, rng, a_team[gone], created[gone], ["ae"])

    # ---- accounts
    rec = W.recs("crm.accounts", nA)
    aid = make_sf_ids("001", rec)
    cname, domain = names.companies(rng, nA)
    industry = names.INDUSTRIES[rng.integers(0, len(names.INDUSTRIES), nA)].astype(object)
    no_ind = rng.random(nA) < 0.12
    industry[no_ind] = ""
    tz = _tz(rng, a_region)
    o_ids = U["id"][a_owner]
    base = dict(id=aid, name=cname, industry=industry, segment=SEGMENTS[a_seg].astype(object),
                country=a_country.astype(object), owner_id=o_ids.astype(object), created_at=acc_created)
    W.add("crm.accounts", rec, acc_created + rng.integers(60, 2 * HOUR, nA), tz=tz, **base)
    # updates: industry filled in later; owner reassigned when the owner leaves
    fill = np.flatnonzero(no_ind & (rng.random(nA) < 0.5))
    t_fill = acc_created[fill] + rng.integers(5 * DAY, 120 * DAY, len(fill))
    b2 = {k: v[fill].copy() for k, v in base.items()}
    b2["industry"] = names.INDUSTRIES[rng.integers(0, len(names.INDUSTRIES), len(fill))].astype(object)
    keep = t_fill < W.T_end
    W.add("crm.accounts", rec[fill][keep], t_fill[keep], tz=tz[fill][keep], **{k: v[keep] for k, v in b2.items()})
    industry_final = industry.copy()
    industry_final[fill[keep]] = b2["industry"][keep]
    lv = U["leave"][a_owner]
    re = np.flatnonzero(lv < W.T_end)
    if len(re):
        new_owner = pick_owner(W, rng, a_team[re], lv[re] + DAY, ["ae"])
        b3 = {k: v[re].copy() for k, v in base.items()}
        b3["industry"] = industry_final[re]
        b3["owner_id"] = U["id"][new_owner].astype(object)
        W.add("crm.accounts", rec[re], np.maximum(lv[re], acc_created[re]) + DAY, tz=tz[re], **b3)
    # extra-day update: a few accounts change industry on the extra day
    xa = pick_masked(rng, acc_created < W.T_last - 30 * DAY, 0.002, 1)
    b4 = {k: v[xa].copy() for k, v in base.items()}
    b4["industry"] = names.INDUSTRIES[rng.integers(0, len(names.INDUSTRIES), len(xa))].astype(object)
    if len(re):
        ro = dict(zip(re, U["id"][new_owner]))
        b4["owner_id"] = np.array([ro.get(i, o) for i, o in zip(xa, b4["owner_id"])], dtype=object)
    W.add("crm.accounts", rec[xa], W.T_last + rng.integers(HOUR, 20 * HOUR, len(xa)), tz=tz[xa], **b4)

    acc_cust = np.full(nA, -1, dtype=np.int64)
    acc_cust[:n1] = ci
    cust_acc = np.full(N, -1, dtype=np.int64)
    cust_acc[ci] = np.arange(n1)
    W.info["cust"]["acc"] = cust_acc
    W.info["acc"] = dict(id=aid, rec=rec, seg=a_seg, region=a_region, country=a_country, cur=currency_of_country(a_country),
                         created=acc_created, owner=a_owner, team=a_team, tz=tz, name=cname, domain=domain, n=nA,
                         cust=acc_cust)
    # the NB opportunity of every account
    W.info["nb"] = dict(acc=np.arange(nA), created=created, close=close, outcome=outcome, from_lead=from_lead,
                        lead_src=lead_src, owner=opp_owner, grp=grp)
    log(f"plan: {N} billing customers ({int((kind == 0).sum())} subscription, {int((kind == 1).sum())} one-off, "
        f"{int((kind == 2).sum())} never paid; {int((~crm).sum())} without CRM account); {nA} accounts")


def build_contacts(W) -> None:
    rng = W.rng("contacts")
    A = W.info["acc"]
    nA = A["n"]
    k = np.where(A["seg"] == 0, rng.integers(1, 3, nA), np.where(A["seg"] == 1, rng.integers(2, 4, nA),
                                                                    rng.integers(2, 5, nA)))
    acc = np.repeat(np.arange(nA), k)
    j = group_arange(k)
    n = len(acc)
    created = A["created"][acc] + np.where(j == 0, rng.integers(0, 600, n), rng.integers(DAY, 150 * DAY, n))
    keep = created < W.T_end - HOUR
    acc, j, created = acc[keep], j[keep], created[keep]
    n = len(acc)
    rec = W.recs("crm.contacts", n)
    cid = make_sf_ids("003", rec)
    f, l, fs, ls = names.people(rng, n)
    email = names.emails(rng, fs, ls, A["domain"][acc])
    dial = np.array([DIAL[c] for c in A["country"][acc]])
    phone = names.phones(rng, dial)
    phone[rng.random(n) < 0.3] = ""
    tz = A["tz"][acc]
    base = dict(id=cid, account_id=A["id"][acc].astype(object), first_name=f.astype(object), last_name=l.astype(object),
                email=email, phone=phone, created_at=created)
    W.add("crm.contacts", rec, created + rng.integers(30, HOUR, n), tz=tz, **base)
    # updates: phone / email changes
    up = pick(rng, n, 0.08)
    t_up = created[up] + rng.integers(3 * DAY, 300 * DAY, len(up))
    ok = t_up < W.T_end
    up, t_up = up[ok], t_up[ok]
    b = {kk: v[up].copy() for kk, v in base.items()}
    b["phone"] = names.phones(rng, dial[up])
    W.add("crm.contacts", rec[up], t_up, tz=tz[up], **b)
    # soft deletes (GDPR erasure) of non-primary contacts: never referenced by activities
    dele = pick_masked(rng, (j > 0) & (created < W.T_last - 20 * DAY), 0.02, 1)
    dele = np.setdiff1d(dele, up)
    t_del = created[dele] + rng.integers(2 * DAY, 200 * DAY, len(dele))
    t_del = np.minimum(t_del, W.T_last - HOUR)
    t_del = np.maximum(t_del, created[dele] + HOUR)
    W.add("crm.contacts", rec[dele], t_del, deleted=True, tz=tz[dele], **{kk: v[dele] for kk, v in base.items()})
    # extra-day update
    xc = pick_masked(rng, created < W.T_last - 10 * DAY, 0.001, 1)
    xc = np.setdiff1d(np.setdiff1d(xc, dele), up)
    b = {kk: v[xc].copy() for kk, v in base.items()}
    b["phone"] = names.phones(rng, dial[xc])
    W.add("crm.contacts", rec[xc], W.T_last + rng.integers(HOUR, 20 * HOUR, len(xc)), tz=tz[xc], **b)
    primary = np.full(nA, -1, dtype=np.int64)
    primary[acc[j == 0]] = np.flatnonzero(j == 0)
    W.info["contacts"] = dict(id=cid, acc=acc, primary=primary, email=email, first_s=fs, last_s=ls,
                              full=names.cat(f, " ", l))
    log(f"crm.contacts: {n} contacts, {len(up)} updated, {len(dele)} deleted")


def build_leads(W) -> None:
    rng = W.rng("leads")
    T0, T_end = W.T0, W.T_end
    A, NB, C, U = W.info["acc"], W.info["nb"], W.info["contacts"], W.info["users"]
    # converted leads: one per NB deal that came from a lead
    ca = np.flatnonzero(NB["from_lead"])
    nc = len(ca)
    conv_t = NB["created"][ca]
    gap = (lognormal_days(rng, nc, 6, 0.9, 0.3, 60) * DAY).astype(np.int64)
    c_created = np.maximum(conv_t - gap, T0 + rng.integers(0, np.maximum(conv_t - T0, 2), nc) // 2)
    c_created = np.minimum(c_created, conv_t - 600)
    c_src = NB["lead_src"][ca]
    # unconverted leads per channel so that channel conversion rates are as configured
    conv_cnt = np.bincount(c_src, minlength=7)
    n_un = np.round(conv_cnt * (1 - LEAD_CONV) / LEAD_CONV).astype(np.int64) + 1
    u_src = np.repeat(np.arange(7), n_un)
    nu = len(u_src)
    u_created = sample_growth(rng, nu, T0 + 60, T_end - HOUR, 1.2)
    # spam leads: soft deleted later
    ns = max(2, round(0.01 * (nc + nu)))
    s_src = rng.choice([0, 1, 2], ns)
    s_created = sample_growth(rng, ns, T0 + DAY, W.T_last - 10 * DAY, 0.5)

    n = nc + nu + ns
    grp = np.concatenate([np.zeros(nc), np.ones(nu), np.full(ns, 2)]).astype(np.int64)
    src = np.concatenate([c_src, u_src, s_src])
    created = np.concatenate([c_created, u_created, s_created])
    region = np.concatenate([A["region"][ca], choice_idx(rng, [0.55, 0.35, 0.10], nu + ns)])
    seg = np.concatenate([A["seg"][ca], choice_idx(rng, [0.6, 0.3, 0.1], nu + ns)])
    team = team_for(W, region, seg)
    is_sdr = rng.random(n) < 0.85
    owner = np.empty(n, dtype=np.int64)
    owner[is_sdr] = pick_owner(W, rng, team[is_sdr], created[is_sdr], ["sdr"])
    owner[~is_sdr] = pick_owner(W, rng, team[~is_sdr], created[~is_sdr], ["ae"])
    owner[:nc][~is_sdr[:nc]] = A["owner"][ca][~is_sdr[:nc]]
    tz = _tz(rng, region)
    tz[:nc] = A["tz"][ca]

    company, domain = names.companies(rng, n)
    company[:nc] = A["name"][ca]
    f, l, fs, ls = names.people(rng, n)
    email = names.emails(rng, fs, ls, domain)
    pc = C["primary"][ca]
    email[:nc] = np.where(pc >= 0, C["email"][np.maximum(pc, 0)], email[:nc])

    # status timeline
    touched = np.ones(n, dtype=bool)
    touched[nc:] = rng.random(nu + ns) >= 0.18
    touched[grp == 2] = False
    resp_h = lognormal_days(rng, n, 5, 1.3, 0.05, 240)  # hours
    t1 = created + (resp_h * HOUR).astype(np.int64)
    t1[:nc] = np.minimum(t1[:nc], created[:nc] + (conv_t - created[:nc]) // 2)
    fate = np.full(n, -1, dtype=np.int64)           # 0 unqualified, 1 qualified (stuck), 2 working, 3 converted
    fate[:nc] = 3
    fate[nc:nc + nu] = choice_idx(rng, [0.65, 0.07, 0.28], nu)
    t_out = np.full(n, NULL, dtype=np.int64)
    sel = fate == 0
    t_out[sel] = t1[sel] + rng.integers(2 * DAY, 35 * DAY, int(sel.sum()))
    sel = fate == 1
    t_out[sel] = t1[sel] + rng.integers(3 * DAY, 20 * DAY, int(sel.sum()))
    t_q = np.full(n, NULL, dtype=np.int64)
    t_q[:nc] = t1[:nc] + ((conv_t - t1[:nc]) * rng.uniform(0.3, 0.95, nc)).astype(np.int64)

    rec = W.recs("crm.leads", n)
    lid = make_sf_ids("00Q", rec)
    acc_id = np.full(n, "", dtype=object)
    acc_id[:nc] = A["id"][ca]
    opp_id = np.full(n, "", dtype=object)   # filled by build_opportunities (ids are known from the NB index)
    W.info["leads"] = dict(id=lid, n=n, nc=nc, ca=ca, created=created, owner=owner, touched=touched, t1=t1, fate=fate,
                           t_out=t_out, t_q=t_q, conv=np.concatenate([conv_t, np.full(nu + ns, NULL)]), src=src, grp=grp,
                           tz=tz, rec=rec)
    W.info["leads_base"] = dict(id=lid, email=email, company=company, lead_source=np.array(LEAD_SOURCES, dtype=object)[src],
                                owner_id=U["id"][owner].astype(object), created_at=created, conv_acc=acc_id,
                                conv_opp=opp_id)
    log(f"crm.leads: {n} leads ({nc} converted, {ns} spam)")


def emit_leads(W) -> None:
    """Lead versions (after opportunities got their ids)."""
    rng = W.rng("leads-emit")
    L, B = W.info["leads"], W.info["leads_base"]
    n, rec, tz = L["n"], L["rec"], L["tz"]
    base = {k: B[k] for k in ["id", "email", "company", "lead_source", "owner_id", "created_at"]}
    NULLS = np.full(n, NULL, dtype=np.int64)
    E = np.full(n, "", dtype=object)

    def emit(mask, t, status, conv=False):
        i = np.flatnonzero(mask & (t <= W.T_end) & (t != NULL))
        if not len(i):
            return
        late = L["late"][i]
        W.add("crm.leads", rec[i], t[i] + rng.integers(30, 900, len(i)), tz=tz[i], late=late,
              status=np.full(len(i), status, dtype=object), is_converted=int(conv),
              converted_at=L["conv"][i] if conv else NULLS[i],
              converted_account_id=B["conv_acc"][i] if conv else E[i],
              converted_opportunity_id=B["conv_opp"][i] if conv else E[i], **{k: v[i] for k, v in base.items()})

    # a few untouched leads of the last week land late (on the extra day)
    win = (L["grp"] == 1) & ~L["touched"] & (L["created"] > W.T_last - 7 * DAY) & (L["created"] < W.T_last - DAY)
    L["late"] = np.zeros(n, dtype=bool)
    L["late"][pick_masked(rng, win, 0.3, 1)] = True
    allm = np.ones(n, dtype=bool)
    emit(allm, L["created"], "open")
    emit(L["touched"], L["t1"], "working")
    emit(L["fate"] == 0, L["t_out"], "unqualified")
    emit(L["fate"] == 1, L["t_out"], "qualified")
    emit(L["fate"] == 3, L["t_q"], "qualified")
    emit(L["fate"] == 3, L["conv"], "converted", conv=True)
    spam = np.flatnonzero(L["grp"] == 2)
    t_del = L["created"][spam] + rng.integers(DAY, 20 * DAY, len(spam))
    W.add("crm.leads", rec[spam], t_del, deleted=True, tz=tz[spam], status=np.full(len(spam), "open", dtype=object),
          is_converted=0, converted_at=NULL, converted_account_id="", converted_opportunity_id="",
          **{k: v[spam] for k, v in base.items()})


# ====================================================================== part 2: opportunities, activities, quotas, csat
SEG_AMOUNT = np.array([3_000.0, 25_000.0, 180_000.0])   # typical deal size (major units) by segment


def build_opportunities(W) -> None:
    rng = W.rng("opportunities")
    T_end = W.T_end
    A, NB, U, P = W.info["acc"], W.info["nb"], W.info["users"], W.info["cust"]
    acc_of_cust = P["acc"]
    parts = []

    # ---- new business: amount = first-year value of what the customer bought
    nA = A["n"]
    amt = (SEG_AMOUNT[A["seg"]] * rng.lognormal(0, 0.5, nA) * 100).round(-2).astype(np.int64)
    sp = W.info.get("span") or {}
    if sp:
        o = np.lexsort((sp["t0"], sp["cust"]))
        c, m = sp["cust"][o], sp["mrr"][o]
        first = np.r_[True, c[1:] != c[:-1]]
        a_i = acc_of_cust[c[first]]
        ok = a_i >= 0
        amt[a_i[ok]] = np.maximum(100, np.round(m[first][ok] * 12)).astype(np.int64)
    inv = W.info["inv"]
    oo = np.flatnonzero((inv["kind"] == 3) & (inv["subtotal"] > 0) & (P["kind"][np.minimum(inv["cust"], P["n"] - 1)] == 1))
    oo = oo[np.argsort(inv["created"][oo], kind="stable")[::-1]]   # last write wins -> earliest purchase
    a_i = acc_of_cust[inv["cust"][oo]]
    ok = a_i >= 0
    amt[a_i[ok]] = inv["subtotal"][oo][ok]
    parts.append(dict(acc=np.arange(nA), created=NB["created"], close=NB["close"], outcome=NB["outcome"],
                      start=np.zeros(nA, np.int64), amount=amt, owner=NB["owner"], type=np.zeros(nA, np.int64),
                      lead_src=NB["lead_src"]))

    def owner_at(acc, t):
        o = A["owner"][acc].copy()
        gone = (U["leave"][o] <= t) | (U["hire"][o] > t)
        if gone.any():
            o[gone] = pick_owner(W, rng, A["team"][acc[gone]], t[gone], ["ae"])
        return o

    # ---- expansions from billing upgrades of CRM customers (won), plus some lost ones
    ch = W.info.get("chg") or {}
    if ch:
        sel = ch["up"] & (acc_of_cust[ch["cust"]] >= 0) & (ch["d_mrr"] > 0) & (rng.random(len(ch["up"])) < 0.6)
        acc = acc_of_cust[ch["cust"][sel]]
        close = ch["t"][sel]
        created = np.maximum(close - rng.integers(7 * DAY, 40 * DAY, len(acc)), A["created"][acc] + DAY)
        created = np.minimum(created, close - HOUR)
        k = len(acc)
        parts.append(dict(acc=acc, created=created, close=close, outcome=np.zeros(k, np.int64), start=np.ones(k, np.int64),
                          amount=np.maximum(100, np.round(ch["d_mrr"][sel] * 12)).astype(np.int64),
                          owner=owner_at(acc, created), type=np.ones(k, np.int64), lead_src=np.full(k, -1)))
    else:
        k = 0
    crm_sp = np.flatnonzero((acc_of_cust[sp["cust"]] >= 0) & (sp["t0"] < W.T_last - 15 * DAY)) if sp else np.zeros(0, np.int64)
    if len(crm_sp):   # expansion talks that did not (or not yet) close
        kl = max(1, round(0.3 * k))
        j = crm_sp[rng.integers(0, len(crm_sp), kl)]
        acc = acc_of_cust[sp["cust"][j]]
        hi_t = np.maximum(np.minimum(sp["t1"][j], W.T_last - 10 * DAY), sp["t0"][j] + HOUR)
        created = sp["t0"][j] + ((hi_t - sp["t0"][j]) * rng.random(kl)).astype(np.int64)
        close = created + rng.integers(20 * DAY, 60 * DAY, kl)
        parts.append(dict(acc=acc, created=created, close=close, outcome=np.where(close > T_end, 2, 1),
                          start=np.ones(kl, np.int64),
                          amount=np.maximum(100, np.round(sp["mrr"][j] * 12 * rng.uniform(0.2, 0.6, kl))).astype(np.int64),
                          owner=owner_at(acc, created), type=np.ones(kl, np.int64), lead_src=np.full(kl, -1)))
    # ---- renewals of quarterly and annual subscriptions
    rn = W.info.get("ren") or {}
    if rn:
        sel = acc_of_cust[rn["cust"]] >= 0
        acc = acc_of_cust[rn["cust"][sel]]
        t, oc = rn["t"][sel], rn["outcome"][sel]
        lead_days = np.where(rn["iv"][sel] >= 12, 75, 40) * DAY
        close = np.where(oc == 0, t - rng.integers(0, 10 * DAY, len(t)), t)
        created = np.maximum(t - lead_days, A["created"][acc] + DAY)
        created = np.minimum(created, close - HOUR)
        keep = created <= T_end - HOUR
        acc, close, created, oc, amount = acc[keep], close[keep], created[keep], oc[keep], rn["amount"][sel][keep]
        oc = np.where((oc == 2) | (close > T_end), 2, oc)
        k = len(acc)
        parts.append(dict(acc=acc, created=created, close=close, outcome=oc, start=np.full(k, 2, np.int64),
                          amount=amount, owner=owner_at(acc, created), type=np.full(k, 2, np.int64), lead_src=np.full(k, -1)))
    # ---- duplicates entered by mistake, deleted a few days later
    kd = max(1, round(0.01 * nA))
    src = pick_masked(rng, NB["created"] < W.T_last - 20 * DAY, kd / max(1, nA), 1)
    created = NB["created"][src] + rng.integers(HOUR, 3 * DAY, len(src))
    parts.append(dict(acc=src, created=created, close=NB["close"][src], outcome=np.full(len(src), 3, np.int64),
                      start=np.zeros(len(src), np.int64), amount=amt[src], owner=NB["owner"][src],
                      type=np.zeros(len(src), np.int64), lead_src=NB["lead_src"][src]))

    O = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n = len(O["acc"])
    rec = W.recs("crm.opportunities", n)
    oid = make_sf_ids("006", rec)
    # NB opportunity ids go back to the converted leads
    L, LB = W.info["leads"], W.info["leads_base"]
    LB["conv_opp"][:L["nc"]] = oid[L["ca"]]
    deleted = O["outcome"] == 3
    t_del = np.where(deleted, O["created"] + rng.integers(DAY, 10 * DAY, n), NULL)
    outcome = np.where(deleted, 2, O["outcome"])
    close = np.where(deleted, O["created"] + 30 * DAY, O["close"])
    created = O["created"]
    dur = np.maximum(close - created, HOUR)

    # stage path
    start = O["start"]
    last_open = np.full(n, 4, dtype=np.int64)
    lost = outcome == 1
    last_open[lost] = start[lost] + np.floor(rng.random(int(lost.sum())) ** 1.5 * (5 - start[lost])).astype(np.int64)
    last_open = np.clip(last_open, start, 4)
    last_open[deleted] = start[deleted]
    s = np.arange(5)
    visited = (s[None, :] >= start[:, None]) & (s[None, :] <= last_open[:, None])
    skip = (rng.random((n, 5)) < 0.12) & (s[None, :] > start[:, None]) & (s[None, :] < last_open[:, None])
    visited &= ~skip
    u = np.sort(rng.random((n, 5)) * 0.95, axis=1)
    entry = created[:, None] + (u * dur[:, None]).astype(np.int64)
    entry[np.arange(n), start] = created
    closed = outcome <= 1
    # history rows: visited open stages + the closing stage
    hi, hs = np.nonzero(visited)
    ht = entry[hi, hs]
    ci = np.flatnonzero(closed)
    hi = np.concatenate([hi, ci])
    hs = np.concatenate([hs, np.where(outcome[ci] == 0, 5, 6)])
    ht = np.concatenate([ht, close[ci]])
    o = np.lexsort((hs, ht, hi))
    hi, hs, ht = hi[o], hs[o], ht[o]
    keep = ht <= T_end
    keep &= ~(deleted[hi] & (ht > t_del[hi]))
    hi, hs, ht = hi[keep], hs[keep], ht[keep]
    # amounts along the path
    final = O["amount"]
    pre = (final * rng.uniform(0.8, 1.3, n)).round(-2).astype(np.int64)
    null_init = (rng.random(n) < 0.35) & (O["type"] == 0)
    h_amt = np.where(hs >= 3, final[hi], pre[hi])
    h_amt = np.where(null_init[hi] & (hs == start[hi]), NULL, h_amt)
    prob = np.array(STAGE_PROB)[hs]
    nh = len(hi)
    hrec = W.recs("crm.opportunity_history", nh + 0)
    hid = make_sf_ids("008", hrec)
    tz = A["tz"][O["acc"]]
    late_h = np.zeros(nh, bool)
    late_h[pick_masked(rng, (ht > W.T_last - 7 * DAY) & (ht < W.T_last - DAY), 0.2, 1)] = True
    hbase = dict(id=hid, opportunity_id=oid[hi].astype(object), stage_name=np.array(STAGES, dtype=object)[hs],
                 amount=h_amt, probability=prob, changed_at=ht)
    W.add("crm.opportunity_history", hrec, ht + rng.integers(30, 300, nh), tz=tz[hi], late=late_h, **hbase)
    dh = np.flatnonzero(deleted[hi])
    W.add("crm.opportunity_history", hrec[dh], t_del[hi[dh]], deleted=True, tz=tz[hi[dh]],
          **{k: v[dh] for k, v in hbase.items()})

    # opportunity versions: one per stage entry
    is_closed = hs >= 5
    frac_left = np.clip((close[hi] - ht) / dur[hi], 0, 1)
    slip = (rng.integers(0, 25 * DAY, nh) * frac_left).astype(np.int64)
    cdate = np.where(is_closed, to_days(close[hi]), to_days(np.maximum(close[hi], ht + 7 * DAY) + slip))
    names_ = names.cat(A["name"][O["acc"]].astype(str),
                       np.array([" - New Business", " - Expansion", " - Renewal"])[O["type"]]).astype(object)
    obase = dict(id=oid, account_id=A["id"][O["acc"]].astype(object), owner_id=U["id"][O["owner"]].astype(object),
                 name=names_, type=np.array(["new_business", "expansion", "renewal"], dtype=object)[O["type"]],
                 lead_source=np.where(O["lead_src"] >= 0, np.array(LEAD_SOURCES, dtype=object)[np.maximum(O["lead_src"], 0)], "").astype(object),
                 currency=CURRENCIES_UP[A["cur"][O["acc"]]].astype(object), created_at=created)
    # owners who leave while the opportunity is open hand it over the next day (a reassignment version)
    owner = O["owner"].copy()
    t_re = U["leave"][owner] + DAY
    re = np.flatnonzero((t_re < np.minimum(close, T_end)) & (t_re > created) & ~deleted & (outcome <= 2))
    new_owner = owner.copy()
    if len(re):
        new_owner[re] = pick_owner(W, rng, A["team"][O["acc"][re]], t_re[re], ["ae"])
    v_owner = np.where(ht >= t_re[hi], new_owner[hi], owner[hi])
    obase_h = {k: v[hi] for k, v in obase.items()}
    obase_h["owner_id"] = U["id"][v_owner].astype(object)
    W.add("crm.opportunities", rec[hi], ht + rng.integers(30, 300, nh), tz=tz[hi],
          stage_name=hbase["stage_name"], amount=h_amt, probability=prob, close_date=cdate,
          is_closed=is_closed.astype(np.int8), is_won=(hs == 5).astype(np.int8), **obase_h)
    if len(re) and nh:
        K = np.int64(2**32)
        keys = hi.astype(np.int64) * K + ht           # sorted: history rows are ordered by (opp, time)
        pos = np.searchsorted(keys, re.astype(np.int64) * K + t_re[re]) - 1
        ok = (pos >= 0) & (hi[np.maximum(pos, 0)] == re)
        re, pos = re[ok], pos[ok]
        rb = {k: v[re] for k, v in obase.items()}
        rb["owner_id"] = U["id"][new_owner[re]].astype(object)
        W.add("crm.opportunities", rec[re], t_re[re], tz=tz[re], stage_name=hbase["stage_name"][pos], amount=h_amt[pos],
              probability=prob[pos], close_date=cdate[pos], is_closed=0, is_won=0, **rb)
    # deletion of the duplicates: the full last row with _is_deleted
    last = np.r_[hi[1:] != hi[:-1], True] if nh else np.zeros(0, bool)
    dl = np.flatnonzero(last & deleted[hi])
    W.add("crm.opportunities", rec[hi[dl]], t_del[hi[dl]], deleted=True, tz=tz[hi[dl]],
          stage_name=hbase["stage_name"][dl], amount=h_amt[dl], probability=prob[dl], close_date=cdate[dl],
          is_closed=0, is_won=0, **{k: v[hi[dl]] for k, v in obase.items()})
    final_owner = np.where(close >= t_re, new_owner, owner)
    W.info["opps"] = dict(id=oid, acc=O["acc"], created=created, close=close, outcome=outcome, owner=final_owner,
                          deleted=deleted, type=O["type"], amount=final, cur=A["cur"][O["acc"]], n=n)
    log(f"crm.opportunities: {n} ({int((outcome == 0).sum())} won, {int((outcome == 1).sum())} lost, "
        f"{int((outcome == 2).sum())} open, {int(deleted.sum())} deleted), {nh} stage history rows")


def build_activities(W) -> None:
    rng = W.rng("activities")
    T_end = W.T_end
    L, O, A, U, Cn, P = W.info["leads"], W.info["opps"], W.info["acc"], W.info["users"], W.info["contacts"], W.info["cust"]
    parts = []
    # (a) lead activities: first response (logged, completed), then follow-ups
    tl = np.flatnonzero(L["touched"])
    end = np.where(L["fate"][tl] == 3, L["conv"][tl], np.where(L["t_out"][tl] != NULL, L["t_out"][tl], L["t1"][tl] + 30 * DAY))
    k = 1 + rng.poisson(0.8, len(tl))
    li = np.repeat(tl, k)
    j = group_arange(k)
    e = np.repeat(end, k)
    t = np.where(j == 0, L["t1"][li], L["t1"][li] + ((e - L["t1"][li]) * rng.random(len(li))).astype(np.int64))
    parts.append(dict(owner=L["owner"][li], typ=np.where(j == 0, rng.integers(0, 2, len(li)), choice_idx(rng, [4, 5, 0, 0, 0, 1], len(li))),
                      lead=li, contact=np.full(len(li), -1), opp=np.full(len(li), -1), acc=np.full(len(li), -1), at=t,
                      parent=L["created"][li], forced=j == 0, tz=L["tz"][li]))
    # (b) opportunity activities
    live = np.flatnonzero(~O["deleted"])
    dur = np.maximum(O["close"][live] - O["created"][live], HOUR)
    k = 1 + rng.poisson(np.minimum(dur / DAY / 14.0, 7.0))
    oi = np.repeat(live, k)
    fr = rng.random(len(oi))
    t = O["created"][oi] + (np.repeat(dur, k) * fr).astype(np.int64)
    typ = np.where(fr < 0.35, choice_idx(rng, [4, 4, 3, 0, 0, 1], len(oi)),
                   np.where(fr < 0.7, choice_idx(rng, [1, 2, 3, 3, 0, 1], len(oi)), choice_idx(rng, [1, 2, 1, 0, 3, 3], len(oi))))
    acc = O["acc"][oi]
    pc = Cn["primary"][acc]
    contact = np.where(rng.random(len(oi)) < 0.8, pc, -1)
    parts.append(dict(owner=O["owner"][oi], typ=typ, lead=np.full(len(oi), -1), contact=contact, opp=oi, acc=acc, at=t,
                      parent=O["created"][oi], forced=np.zeros(len(oi), bool), tz=A["tz"][acc]))
    # (c) account check-ins for CRM customers
    sp = W.info.get("span") or {}
    if sp:
        a_i = P["acc"][sp["cust"]]
        ok = np.flatnonzero(a_i >= 0)
        months = (sp["t1"][ok] - sp["t0"][ok]) / (30.4 * DAY)
        k = rng.poisson(np.maximum(months, 0) * 0.25)
        si = np.repeat(ok, k)
        acc = a_i[si]
        t = sp["t0"][si] + ((sp["t1"][si] - sp["t0"][si]) * rng.random(len(si))).astype(np.int64)
        parts.append(dict(owner=A["owner"][acc], typ=choice_idx(rng, [3, 2, 4, 0, 0, 2], len(si)), lead=np.full(len(si), -1),
                          contact=Cn["primary"][acc], opp=np.full(len(si), -1), acc=acc, at=t, parent=sp["t0"][si],
                          forced=np.zeros(len(si), bool), tz=A["tz"][acc]))
    X = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    o = np.argsort(X["at"], kind="stable")
    X = {k: v[o] for k, v in X.items()}
    n = len(X["at"])
    at = X["at"]
    gone = np.flatnonzero((U["leave"][X["owner"]] <= at) | (U["hire"][X["owner"]] > at))
    if len(gone):
        ow = X["owner"][gone]
        team = U["team"][ow]
        newo = np.empty(len(gone), dtype=np.int64)
        for role in np.unique(U["role"][ow]):
            sel = U["role"][ow] == role
            newo[sel] = pick_owner(W, rng, team[sel], at[gone][sel], [role])
        X["owner"][gone] = newo
    logged = X["forced"] | (rng.random(n) < 0.4)
    t_sched = np.maximum(at - rng.integers(HOUR, 7 * DAY, n), X["parent"] + 60)
    t_sched = np.minimum(t_sched, at)
    fate = np.where(logged, 0, choice_idx(rng, [0.88, 0.08, 0.04], n))   # 0 completed, 1 cancelled, 2 stays planned
    t_done = at + rng.integers(300, 2 * HOUR, n)
    t_canc = t_sched + ((at - t_sched) * rng.random(n)).astype(np.int64)
    rec = W.recs("crm.activities", n)
    aid = make_sf_ids("00T", rec)
    owner_ids = U["id"][X["owner"]].astype(object)
    base = dict(id=aid, owner_id=owner_ids, type=np.array(ACTIVITY_TYPES, dtype=object)[X["typ"]],
                lead_id=np.where(X["lead"] >= 0, L["id"][np.maximum(X["lead"], 0)], "").astype(object),
                contact_id=np.where(X["contact"] >= 0, Cn["id"][np.maximum(X["contact"], 0)], "").astype(object),
                opportunity_id=np.where(X["opp"] >= 0, O["id"][np.maximum(X["opp"], 0)], "").astype(object),
                account_id=np.where(X["acc"] >= 0, A["id"][np.maximum(X["acc"], 0)], "").astype(object), activity_at=at)
    late = np.zeros(n, bool)
    late[pick_masked(rng, (fate == 0) & (t_done > W.T_last - 7 * DAY) & (t_done < W.T_last - DAY), 0.1, 2)] = True

    def emit(idx, vt, status, deleted=False):
        W.add("crm.activities", rec[idx], vt, deleted=deleted, tz=X["tz"][idx], late=late[idx],
              status=np.full(len(idx), status, dtype=object), **{k: v[idx] for k, v in base.items()})

    sch = np.flatnonzero(~logged & (t_sched <= T_end))
    emit(sch, t_sched[sch] + 30, "planned")
    c = np.flatnonzero((fate == 0) & (t_done <= T_end))
    emit(c, t_done[c], "completed")
    cc = np.flatnonzero((fate == 1) & (t_canc <= T_end))
    emit(cc, t_canc[cc] + 60, "cancelled")
    # soft deletes
    dcand = (fate == 0) & (t_done < W.T_last - 40 * DAY)
    d = pick_masked(rng, dcand, 0.01, 1)
    t_del = t_done[d] + rng.integers(DAY, 30 * DAY, len(d))
    W.add("crm.activities", rec[d], t_del, deleted=True, tz=X["tz"][d], status="completed",
          **{k: v[d] for k, v in base.items()})
    W.info["activities_n"] = n
    fut = int(((at > W.T_last) & (t_sched <= W.T_last) & ~logged).sum())
    log(f"crm.activities: {n} activities ({len(sch)} scheduled first, {fut} planned in the future, {len(d)} deleted)")


def build_quotas(W) -> None:
    rng = W.rng("quotas")
    U, O = W.info["users"], W.info["opps"]
    T0, T_end = W.T0, W.T_end
    # typical monthly bookings per AE, in USD (approximate fx)
    fx = np.array([1.0, 1.08, 1.27])
    won = (O["outcome"] == 0) & (O["type"] <= 1) & ~O["deleted"] & (O["close"] <= T_end)
    book_usd = (O["amount"][won] * fx[O["cur"][won]]).sum() / 100.0
    m0, m1 = int(month_index(np.array([T0]))[0]), int(month_index(np.array([T_end]))[0])
    ae = np.flatnonzero((U["role"] == "ae") & ~U["no_quota"])
    n_months = m1 - m0 + 1
    per_ae = max(5000.0, book_usd / max(1, n_months) / max(1, len(ae)))
    rows_u, rows_m = [], []
    for u in ae:
        a = max(m0, int(month_index(np.array([U["hire"][u]]))[0]))
        b = min(m1, int(month_index(np.array([min(U["leave"][u], T_end)]))[0]))
        if U["leave"][u] < 2**62 and U["leave"][u] <= T_end:
            b = int(month_index(np.array([U["leave"][u]]))[0])
        for m in range(a, b + 1):
            rows_u.append(u); rows_m.append(m)
    qu, qm = np.array(rows_u), np.array(rows_m)
    n = len(qu)
    base_amt = per_ae * rng.uniform(0.9, 1.3, U["n"])
    growth = 1 + 0.02 * (qm - m0)
    usd = base_amt[qu] * growth
    qcur = U["quota_cur"][qu]
    amount = np.round(usd / fx[qcur] / 100) * 100 * 100     # whole hundreds, in cents
    amount = amount.astype(np.int64)
    ms = month_start_epoch(qm)
    q_start = month_start_epoch(qm - (qm % 3))               # calendar quarters
    pub = np.maximum(q_start + 4 * DAY + 8 * HOUR, U["hire"][qu] + 3 * DAY)
    pub = np.where(q_start <= T0, np.minimum(pub, np.maximum(T0 - 5 * DAY, U["hire"][qu] + 3 * DAY)), pub)
    keep = pub <= T_end
    rec = W.recs("crm.quotas", n)
    base = dict(owner_id=U["id"][qu].astype(object), period_month=to_days(ms), currency=CURRENCIES_UP[qcur].astype(object))
    W.add("crm.quotas", rec[keep], pub[keep], quota_amount=amount[keep], **{k: v[keep] for k, v in base.items()})
    # revisions: months 2-3 of a quarter revised on the 5th of the quarter's second month
    qkey = qu * 100_000 + qm // 3
    uk, inv_k = np.unique(qkey, return_inverse=True)
    rv = (qm % 3 >= 1) & keep & (rng.random(len(uk))[inv_k] < 0.3)
    t_rev = month_start_epoch(qm - (qm % 3) + 1) + 4 * DAY + 10 * HOUR
    rv &= (t_rev <= T_end) & (t_rev > pub)
    if not rv.any():
        cand = np.flatnonzero(keep & (ms > T0 + 40 * DAY))
        if len(cand):
            rv[cand[0]] = True
            t_rev[cand[0]] = max(pub[cand[0]] + DAY, int(ms[cand[0]]) - DAY)
    ri = np.flatnonzero(rv)
    new_amt = (np.round(amount[ri] * rng.uniform(0.85, 1.15, len(ri)) / 10000) * 10000).astype(np.int64)
    W.add("crm.quotas", rec[ri], t_rev[ri], quota_amount=new_amt, **{k: v[ri] for k, v in base.items()})
    # extra-day revision of the current month for one AE
    cm = np.flatnonzero(keep & (qm == int(month_index(np.array([W.T_last]))[0])))
    if len(cm):
        x = cm[:1]
        W.add("crm.quotas", rec[x], W.T_last + 8 * HOUR, quota_amount=amount[x] + 500000, **{k: v[x] for k, v in base.items()})
    log(f"crm.quotas: {int(keep.sum())} AE-months for {len(ae)} AEs ({int(U['no_quota'].sum())} AE without quota), "
        f"{len(ri)} revisions")


def build_csat(W) -> None:
    rng = W.rng("csat")
    P, A = W.info["cust"], W.info["acc"]
    sp = W.info.get("span") or {}
    if not sp:
        return
    a_i = P["acc"][sp["cust"]]
    ok = np.flatnonzero(a_i >= 0)
    months = np.maximum(sp["t1"][ok] - sp["t0"][ok], 0) / (30.4 * DAY)
    k = rng.poisson(months * 0.2)
    si = np.repeat(ok, k)
    acc = a_i[si]
    t = sp["t0"][si] + ((sp["t1"][si] - sp["t0"][si]) * rng.random(len(si))).astype(np.int64)
    o = np.argsort(t, kind="stable")
    acc, t = acc[o], t[o]
    n = len(t)
    score = 1 + choice_idx(rng, [0.05, 0.07, 0.15, 0.35, 0.38], n)
    rec = W.recs("crm.csat_responses", n)
    cid = make_sf_ids("a0C", rec)
    tz = A["tz"][acc]
    late = np.zeros(n, bool)
    late[pick_masked(rng, (t > W.T_last - 7 * DAY) & (t < W.T_last - DAY), 0.3, 1)] = True
    base = dict(id=cid, account_id=A["id"][acc].astype(object), responded_at=t)
    W.add("crm.csat_responses", rec, t + rng.integers(60, HOUR, n), tz=tz, late=late, score=score, **base)
    rv = pick_masked(rng, t < W.T_last - 30 * DAY, 0.03, 1)
    W.add("crm.csat_responses", rec[rv], t[rv] + rng.integers(DAY, 14 * DAY, len(rv)), tz=tz[rv],
          score=np.clip(score[rv] + rng.choice([-1, 1], len(rv)), 1, 5), **{kk: v[rv] for kk, v in base.items()})
    dl = np.setdiff1d(pick_masked(rng, t < W.T_last - 40 * DAY, 0.01, 1), rv)
    W.add("crm.csat_responses", rec[dl], t[dl] + rng.integers(DAY, 30 * DAY, len(dl)), deleted=True, tz=tz[dl],
          score=score[dl], **{kk: v[dl] for kk, v in base.items()})
    log(f"crm.csat_responses: {n} responses, {len(rv)} revised, {len(dl)} deleted")
