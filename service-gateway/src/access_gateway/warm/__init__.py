"""Cache warm: the hot served queries, planned per tenant and stored ahead of reads."""

from access_gateway.warm.plan import BUILTIN_HOT_QUERIES, HotQueriesError, load_hot_queries, plan
from access_gateway.warm.service import Warmer, WarmReport

__all__ = [
    "BUILTIN_HOT_QUERIES",
    "HotQueriesError",
    "WarmReport",
    "Warmer",
    "load_hot_queries",
    "plan",
]
