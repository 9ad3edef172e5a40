"""The landing contract (/work/shared/specs/raw_sources.md) as data: columns, kinds, keys, dirty rules.

Column kinds (how a typed value is rendered into the CSV):
  str   text ('' = NULL)
  ts    crm timestamp: epoch seconds rendered ISO-8601 with the row's offset (`_tz`, minutes)
  date  epoch days rendered YYYY-MM-DD
  bool  int8 1/0 (-1 = NULL) rendered true/false
  int   int64 (NULL sentinel) rendered as an integer (billing epochs and minor units)
  dec2  int64 hundredths rendered as a decimal with 2 places
  dec6  int64 millionths rendered as a decimal with 6 places
"""
from __future__ import annotations

from dataclasses import dataclass, field

LOAD_COLS = ["_loaded_at", "_is_deleted"]

LEAD_SOURCES = ["paid_search", "paid_social", "organic_search", "email", "referral", "events", "outbound"]
STAGES = ["prospecting", "qualification", "discovery", "proposal", "negotiation", "closed_won", "closed_lost"]
STAGE_PROB = [10, 20, 40, 60, 80, 100, 0]
ACTIVITY_TYPES = ["call", "email", "meeting", "demo", "proposal", "follow_up"]
SUB_STATUSES = ["trialing", "active", "past_due", "canceled", "unpaid", "incomplete", "incomplete_expired"]


@dataclass
class Dirty:
    """Which row-level bad-input classes apply to a table and on which columns."""
    pk_blank: str                                   # key column blanked for missing_primary_key
    ts: list = field(default_factory=list)           # invalid_timestamp:<col>
    num: list = field(default_factory=list)          # invalid_number:<col>
    enum: dict = field(default_factory=dict)         # invalid_enum:<col> -> bad values
    boolean: list = field(default_factory=list)      # invalid_boolean:<col>
    neg: list = field(default_factory=list)          # negative_amount:<col>
    score: bool = False                              # out_of_range:score
    fx: str | None = None                            # currency column for missing_fx_rate
    future: list = field(default_factory=list)       # future_timestamp:<col>
    orphan: tuple | None = None                      # (fk column, parent id kind, columns to blank)


@dataclass
class Table:
    source: str
    name: str
    columns: list          # [(name, kind)]
    key: list
    dirty: Dirty

    @property
    def fqn(self) -> str:
        return f"{self.source}.{self.name}"

    @property
    def header(self) -> list:
        return [c for c, _ in self.columns] + LOAD_COLS


def _t(source, name, cols, key, dirty):
    return Table(source, name, [tuple(c.split(":")) for c in cols.split()], key, dirty)


TABLES: dict[str, Table] = {}


def _add(t: Table):
    TABLES[t.fqn] = t


# ------------------------------------------------------------------ crm
_add(_t("crm", "users", "id:str name:str email:str role:str team:str manager_id:str hired_at:date is_active:bool",
        ["id"], Dirty("id", ts=["hired_at"], enum={"role": ["vp", "Sales Rep", "intern"]}, boolean=["is_active"])))
_add(_t("crm", "accounts", "id:str name:str industry:str segment:str country:str owner_id:str created_at:ts",
        ["id"], Dirty("id", ts=["created_at"], enum={"segment": ["smallbiz", "mid-market", "strategic"]},
                      future=["created_at"], orphan=("owner_id", "user", []))))
_add(_t("crm", "contacts", "id:str account_id:str first_name:str last_name:str email:str phone:str created_at:ts",
        ["id"], Dirty("id", ts=["created_at"], future=["created_at"], orphan=("account_id", "account", []))))
_add(_t("crm", "leads", "id:str email:str company:str lead_source:str status:str owner_id:str created_at:ts "
        "is_converted:bool converted_at:ts converted_account_id:str converted_opportunity_id:str",
        ["id"], Dirty("id", ts=["created_at", "converted_at"],
                      enum={"lead_source": ["webinar", "cold_call", "affiliate"], "status": ["new", "nurturing", "dead"]},
                      boolean=["is_converted"], future=["created_at", "converted_at"], orphan=("owner_id", "user", []))))
_add(_t("crm", "opportunities", "id:str account_id:str owner_id:str name:str type:str lead_source:str stage_name:str "
        "amount:dec2 currency:str probability:int created_at:ts close_date:date is_closed:bool is_won:bool",
        ["id"], Dirty("id", ts=["created_at", "close_date"], num=["amount", "probability"],
                      enum={"stage_name": ["closed-won", "Negotiation/Review", "stalled"], "type": ["upsell", "new"]},
                      boolean=["is_closed", "is_won"], neg=["amount"], fx="currency", future=["created_at"],
                      orphan=("account_id", "account", []))))
_add(_t("crm", "opportunity_history", "id:str opportunity_id:str stage_name:str amount:dec2 probability:int changed_at:ts",
        ["id"], Dirty("id", ts=["changed_at"], num=["probability", "amount"], enum={"stage_name": ["won", "demo_scheduled"]},
                      neg=["amount"], future=["changed_at"], orphan=("opportunity_id", "opportunity", []))))
_add(_t("crm", "activities", "id:str owner_id:str type:str lead_id:str contact_id:str opportunity_id:str account_id:str "
        "activity_at:ts status:str",
        ["id"], Dirty("id", ts=["activity_at"], enum={"type": ["linkedin_message", "sms", "voicemail"], "status": ["done", "open"]},
                      future=["activity_at"], orphan=("lead_id", "lead", ["contact_id", "opportunity_id", "account_id"]))))
_add(_t("crm", "quotas", "owner_id:str period_month:date quota_amount:dec2 currency:str",
        ["owner_id", "period_month"], Dirty("owner_id", ts=["period_month"], num=["quota_amount"], neg=["quota_amount"],
                                            fx="currency", orphan=("owner_id", "user", []))))
_add(_t("crm", "csat_responses", "id:str account_id:str score:int responded_at:ts",
        ["id"], Dirty("id", ts=["responded_at"], num=["score"], score=True, future=["responded_at"],
                      orphan=("account_id", "account", []))))

# ------------------------------------------------------------------ billing
_add(_t("billing", "customers", "id:str email:str name:str created:int currency:str crm_account_id:str",
        ["id"], Dirty("id", ts=["created"], future=["created"])))
_add(_t("billing", "products", "id:str name:str active:bool", ["id"], Dirty("id", boolean=["active"])))
_add(_t("billing", "prices", "id:str product_id:str unit_amount:int currency:str type:str recurring_interval:str "
        "recurring_interval_count:int active:bool",
        ["id"], Dirty("id", num=["unit_amount", "recurring_interval_count"],
                      enum={"type": ["metered", "recurring_monthly"], "recurring_interval": ["quarter", "weekly"]},
                      boolean=["active"], neg=["unit_amount"], orphan=("product_id", "product", []))))
_add(_t("billing", "subscriptions", "id:str customer_id:str status:str created:int start_date:int trial_start:int "
        "trial_end:int cancel_at_period_end:bool canceled_at:int ended_at:int",
        ["id"], Dirty("id", ts=["created", "start_date"], enum={"status": ["cancelled", "paused", "on_hold"]},
                      boolean=["cancel_at_period_end"], future=["created", "canceled_at", "ended_at"],
                      orphan=("customer_id", "customer", []))))
_add(_t("billing", "invoices", "id:str customer_id:str subscription_id:str number:str status:str currency:str "
        "subtotal:int tax:int total:int amount_paid:int amount_due:int created:int period_start:int period_end:int "
        "due_date:int paid_at:int",
        ["id"], Dirty("id", ts=["created", "period_start"], num=["total", "subtotal"],
                      enum={"status": ["finalized", "refunded", "settled"]}, neg=["total"], fx="currency",
                      future=["created", "paid_at"], orphan=("customer_id", "customer", ["subscription_id"]))))
_add(_t("billing", "invoice_line_items", "id:str invoice_id:str subscription_id:str price_id:str type:str quantity:int "
        "amount:int discount_amount:int proration:bool period_start:int period_end:int description:str",
        ["id"], Dirty("id", ts=["period_start", "period_end"], num=["amount", "quantity"],
                      enum={"type": ["subscription_item", "one_time"]}, boolean=["proration"],
                      neg=["amount", "discount_amount"], orphan=("invoice_id", "invoice", []))))
_add(_t("billing", "charges", "id:str customer_id:str invoice_id:str amount:int currency:str status:str "
        "failure_code:str created:int",
        ["id"], Dirty("id", ts=["created"], num=["amount"], enum={"status": ["paid", "declined", "refunded"]},
                      neg=["amount"], fx="currency", future=["created"],
                      orphan=("customer_id", "customer", ["invoice_id"]))))
_add(_t("billing", "refunds", "id:str charge_id:str amount:int currency:str status:str reason:str created:int",
        ["id"], Dirty("id", ts=["created"], num=["amount"], enum={"status": ["canceled", "done"]}, neg=["amount"],
                      fx="currency", future=["created"], orphan=("charge_id", "charge", []))))

# ------------------------------------------------------------------ finance
_add(_t("finance", "marketing_spend", "spend_date:date channel:str campaign:str amount:dec2 currency:str",
        ["spend_date", "channel", "campaign"],
        Dirty("campaign", ts=["spend_date"], num=["amount"], enum={"channel": ["tv", "display", "radio"]},
              neg=["amount"], fx="currency", future=["spend_date"])))
_add(_t("finance", "operating_costs", "period_month:date cost_type:str amount:dec2 currency:str",
        ["period_month", "cost_type"],
        Dirty("cost_type", ts=["period_month"], num=["amount"], enum={"cost_type": ["rent", "r_and_d"]},
              neg=["amount"], fx="currency")))
_add(_t("finance", "fx_rates", "rate_date:date currency:str usd_per_unit:dec6",
        ["rate_date", "currency"],
        Dirty("currency", ts=["rate_date"], num=["usd_per_unit"], neg=["usd_per_unit"])))

TABLE_ORDER = list(TABLES)


def dirty_classes(t: Table) -> list[str]:
    """Row-level bad-input classes that apply to table t (class = rule family)."""
    d = t.dirty
    out = ["missing_primary_key", "duplicate_key"]
    if d.ts:
        out.append("invalid_timestamp")
    if d.num:
        out.append("invalid_number")
    if d.enum:
        out.append("invalid_enum")
    if d.boolean:
        out.append("invalid_boolean")
    if d.neg:
        out.append("negative_amount")
    if d.score:
        out.append("out_of_range")
    if d.fx:
        out.append("missing_fx_rate")
    if d.future:
        out.append("future_timestamp")
    if d.orphan:
        out.append("orphan")
    return out
