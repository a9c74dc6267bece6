"""The recommender interface, its registry, and what every recommender shares.

A recommender is a scikit-learn style estimator: hyper-parameters in ``__init__`` (stored
verbatim), ``fit(history)`` returns ``self`` and keeps learned state in trailing-underscore
attributes, ``recommend()`` checks it was fitted and returns one `Recommendation` per series.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd
from pydantic import BaseModel, ValidationError
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from healthcheck.errors import ParameterError
from healthcheck.models.history import Series, usage_series
from healthcheck.models.pricing import PriceTable
from healthcheck.models.recommendation import Recommendation, insufficient, series_name

# A series needs this much history for any recommendation (issue 4: "at least three days").
MIN_HISTORY_DAYS = 3.0
# ... and this many points of each usage metric (KRR's `points_required`).
MIN_POINTS = 100


class Recommender(BaseEstimator):  # type: ignore[misc]
    """Base class: subclasses implement `_recommend_series` for one series."""

    name: str = ""
    Settings: type[BaseModel] = BaseModel

    def fit(self, history: pd.DataFrame, *, until: Any = None) -> Recommender:
        """Learn from a canonical long frame; points after `until` (if given) are never read."""
        try:
            self.settings_ = self.Settings.model_validate(self.get_params())
        except ValidationError as exc:
            raise ParameterError(f"recommender {self.name!r}: {exc}") from exc
        limit = None
        if until is not None:
            stamp = pd.Timestamp(until)
            stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
            limit = int(stamp.timestamp())
        self.series_ = usage_series(history, until=limit)
        ends = [int(p.t[-1]) for s in self.series_ for p in (s.cpu, s.memory) if len(p)]
        self.until_ = max(ends) if ends else limit
        return self

    def recommend(self, prices: PriceTable | None = None) -> list[Recommendation]:
        """One recommendation per series fitted, "insufficient-data" where history is short."""
        check_is_fitted(self, "series_")
        table = prices or PriceTable()
        out = []
        for series in self.series_:
            reason = _too_short(series)
            if reason:
                out.append(insufficient(self.name, series.service, series.instance, reason))
                continue
            rec = self._recommend_series(series)
            rec.current_monthly_cost = table.monthly(
                series.config.get("cpu_request_cores", series.config.get("cpu_limit_cores")),
                series.config.get("memory_request_bytes", series.config.get("memory_limit_bytes")),
            )
            rec.monthly_cost = table.monthly(
                rec.cpu_request_cores if rec.cpu_request_cores is not None else rec.cpu_limit_cores,
                rec.memory_request_bytes
                if rec.memory_request_bytes is not None
                else rec.memory_limit_bytes,
            )
            out.append(rec)
        return out

    @abstractmethod
    def _recommend_series(self, series: Series) -> Recommendation:
        """The recommendation for one series with enough history."""

    def _result(self, series: Series, **fields: Any) -> Recommendation:
        return Recommendation(
            series=series_name(series.service, series.instance),
            service=series.service,
            instance=series.instance,
            recommender=self.name,
            **fields,
        )


def _too_short(series: Series) -> str:
    if not len(series.cpu) or not len(series.memory):
        missing = "cpu_usage_cores" if not len(series.cpu) else "memory_working_set_bytes"
        return f"no {missing} points"
    days = series.span_days()
    if days < MIN_HISTORY_DAYS:
        return f"{days:.1f} days of history, at least {MIN_HISTORY_DAYS:g} needed"
    points = min(len(series.cpu), len(series.memory))
    if points < MIN_POINTS:
        return f"{points} points, at least {MIN_POINTS} needed"
    return ""


R = TypeVar("R", bound=type[Recommender])
_REGISTRY: dict[str, type[Recommender]] = {}


def register_recommender(name: str) -> Callable[[R], R]:
    """Class decorator: make a recommender available under `name`."""

    def decorate(cls: R) -> R:
        if name in _REGISTRY:
            raise ValueError(f"recommender {name!r} is already registered")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def available_recommenders() -> list[str]:
    """Names of every registered recommender, sorted."""
    return sorted(_REGISTRY)


def get_recommender(name: str, **params: Any) -> Recommender:
    """A new, unfitted recommender; an unknown name or parameter names what exists."""
    try:
        cls = _REGISTRY[name]
    except KeyError:
        raise ParameterError(
            f"unknown recommender {name!r}; available: {', '.join(available_recommenders())}"
        ) from None
    allowed = sorted(cls().get_params())
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ParameterError(
            f"recommender {name!r} has no parameter(s) {unknown}; it takes {allowed}"
        )
    return cls(**params)
