"""Load models, forecasts and right-sizing recommenders, with a backtest to compare them.

Public API (stable; see docs/rightsizing.md):

- `get_recommender(name, **params)`, `available_recommenders()`, `register_recommender(name)`
- `Recommendation`: one per series; "insufficient-data" (no recommendation) vs a ``None`` field
  (do not set)
- `recommend_for_customer(store, customer, ...)`
- `run_backtest(frame, recommenders, train_days=..., test_days=...)`, `read_trace(path)`
- `Forecaster`, `LoadModel`
"""

from __future__ import annotations

from healthcheck.models import baselines as _baselines  # noqa: F401  (registers)
from healthcheck.models import ours as _ours  # noqa: F401  (registers)
from healthcheck.models import vpa as _vpa  # noqa: F401  (registers)
from healthcheck.models.backtest import BacktestResult, BacktestRow, read_trace, run_backtest
from healthcheck.models.base import (
    Recommender,
    available_recommenders,
    get_recommender,
    register_recommender,
)
from healthcheck.models.customer import recommend_for_customer, recommend_for_frame
from healthcheck.models.forecast import Forecaster
from healthcheck.models.load import LoadModel
from healthcheck.models.pricing import PriceTable
from healthcheck.models.recommendation import Recommendation

__all__ = [
    "BacktestResult",
    "BacktestRow",
    "Forecaster",
    "LoadModel",
    "PriceTable",
    "Recommendation",
    "Recommender",
    "available_recommenders",
    "get_recommender",
    "read_trace",
    "recommend_for_customer",
    "recommend_for_frame",
    "register_recommender",
    "run_backtest",
]
