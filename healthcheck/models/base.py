"""The recommender interface, its registry, and what every recommender shares.

A recommender is a scikit-learn style estimator: hyper-parameters in ``__init__`` (stored
verbatim), ``fit(history)`` returns ``self`` and keeps learned state in trailing-underscore
attributes, ``recommend()`` checks it was fitted and returns one `Recommendation` per series.

Each hyper-parameter is declared once, as a field of the recommender's pydantic ``Settings``
model (default, bounds, description): the keyword-only ``__init__`` (and so ``get_params``) is
generated from it, ``fit`` validates with it, and the report prints its descriptions.

CPU and memory are answered separately (`_cpu` and `_memory`): a series with only one of the
two gets that part, and the other is named in `Recommendation.missing`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from healthcheck.errors import ParameterError
from healthcheck.models.history import CPU, MEMORY, Points, Series, usage_series
from healthcheck.models.pricing import PriceTable
from healthcheck.models.recommendation import Recommendation, insufficient, series_name

# A series needs this much history for any recommendation (issue 4: "at least three days").
MIN_HISTORY_DAYS = 3.0
# ... and this many points of each usage metric (KRR's `points_required`).
MIN_POINTS = 100


@dataclass
class Part:
    """One resource's answer: the fields it sets, the evidence, the measured risk."""

    fields: dict[str, float | None]
    evidence: dict[str, Any] = field(default_factory=dict)
    risk: dict[str, float | None] = field(default_factory=dict)


def _init_from_settings(settings: type[BaseModel]) -> Callable[..., None]:
    """A keyword-only ``__init__`` storing each settings field verbatim (its default if absent)."""
    fields = settings.model_fields

    def __init__(self: Any, **params: Any) -> None:
        unknown = sorted(set(params) - set(fields))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected parameter(s) {unknown}; "
                f"it takes {sorted(fields)}"
            )
        for name, info in fields.items():
            setattr(self, name, params.get(name, info.get_default(call_default_factory=True)))

    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)] + [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=info.get_default(call_default_factory=True),
        )
        for name, info in fields.items()
    ]
    __init__.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return __init__


class Recommender(BaseEstimator):  # type: ignore[misc]
    """Base class: subclasses declare `Settings` and implement `_cpu` and `_memory`."""

    name: ClassVar[str] = ""
    Settings: ClassVar[type[BaseModel]] = BaseModel

    def __init__(self, **params: Any) -> None:  # replaced per subclass from its Settings
        if params:
            raise TypeError(f"{type(self).__name__} takes no parameters")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            cls.__init__ = _init_from_settings(cls.Settings)  # type: ignore[method-assign]

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
        self._learn(self.series_)
        return self

    def _learn(self, series: list[Series]) -> None:
        """Anything learnt across the series (none by default)."""

    def recommend(self, prices: PriceTable | None = None) -> list[Recommendation]:
        """One recommendation per series fitted, "insufficient-data" where history is short."""
        check_is_fitted(self, "series_")
        table = prices or PriceTable()
        out = []
        for series in self.series_:
            rec = self._recommend_series(series)
            if rec.ok:
                rec.current_monthly_cost = table.monthly(
                    series.config.get("cpu_request_cores", series.config.get("cpu_limit_cores")),
                    series.config.get(
                        "memory_request_bytes", series.config.get("memory_limit_bytes")
                    ),
                )
                rec.monthly_cost = table.monthly(
                    rec.cpu_request_cores
                    if rec.cpu_request_cores is not None
                    else rec.cpu_limit_cores,
                    rec.memory_request_bytes
                    if rec.memory_request_bytes is not None
                    else rec.memory_limit_bytes,
                )
            out.append(rec)
        return out

    def _recommend_series(self, series: Series) -> Recommendation:
        """CPU and memory answered separately; a part without enough data is named missing."""
        fields: dict[str, Any] = {}
        evidence: dict[str, Any] = {}
        risk: dict[str, float | None] = {}
        missing: dict[str, str] = {}
        for resource, points, metric, answer in (
            ("cpu", series.cpu, CPU, self._cpu),
            ("memory", series.memory, MEMORY, self._memory),
        ):
            reason = too_short(points, metric)
            part = reason if reason else answer(series)
            if isinstance(part, str):
                missing[resource] = part
                continue
            fields.update(part.fields)
            evidence.update(part.evidence)
            risk.update(part.risk)
        if len(missing) == 2:
            return insufficient(
                self.name,
                series.service,
                series.instance,
                "; ".join(f"{k}: {v}" for k, v in missing.items()),
            )
        return self._result(series, evidence=evidence, risk=risk, missing=missing, **fields)

    def _cpu(self, series: Series) -> Part | str:
        """The CPU request and limit (or why there is none)."""
        raise NotImplementedError

    def _memory(self, series: Series) -> Part | str:
        """The memory request and limit (or why there is none)."""
        raise NotImplementedError

    def _result(self, series: Series, **fields: Any) -> Recommendation:
        return Recommendation(
            series=series_name(series.service, series.instance),
            service=series.service,
            instance=series.instance,
            recommender=self.name,
            **fields,
        )


def series_end(series: Series) -> int:
    """The last usage point of either metric (unix seconds)."""
    return int(max(int(p.t[-1]) for p in (series.cpu, series.memory) if len(p)))


def too_short(points: Points, metric: str) -> str:
    """Why one usage metric cannot be answered ("" when it can)."""
    if not len(points):
        return f"no {metric} points"
    days = float(points.t[-1] - points.t[0]) / 86_400
    if days < MIN_HISTORY_DAYS:
        return f"{metric}: {days:.1f} days of history, at least {MIN_HISTORY_DAYS:g} needed"
    if len(points) < MIN_POINTS:
        return f"{metric}: {len(points)} points, at least {MIN_POINTS} needed"
    if not np.isfinite(points.v).all():
        return f"{metric}: non-finite values"
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
    allowed = sorted(cls.Settings.model_fields)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ParameterError(
            f"recommender {name!r} has no parameter(s) {unknown}; it takes {allowed}"
        )
    return cls(**params)
