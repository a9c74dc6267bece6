"""Recommender specs on the command line, horizons, and customer price tables."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from healthcheck.cli.models import parse_horizon
from healthcheck.errors import ConfigError, ParameterError
from healthcheck.models.backtest import label, recommender_from_spec
from healthcheck.models.customer import default_horizon_end
from healthcheck.models.pricing import PriceTable, prices_for


def test_spec_sets_parameters_and_labels_what_differs() -> None:
    model = recommender_from_spec("healthcheck:cpu_risk=0.01,forecast_growth=false")
    assert model.get_params()["cpu_risk"] == 0.01
    assert model.get_params()["forecast_growth"] is False
    assert label(model) == "healthcheck:cpu_risk=0.01,forecast_growth=False"
    assert label(recommender_from_spec("vpa")) == "vpa"
    with pytest.raises(ParameterError, match="use k=v"):
        recommender_from_spec("vpa:margin")


def test_horizons() -> None:
    start = datetime(2026, 8, 15, tzinfo=UTC)
    assert parse_horizon("30d", start) == datetime(2026, 9, 14, tzinfo=UTC)
    assert parse_horizon("2w", start) == datetime(2026, 8, 29, tzinfo=UTC)
    assert parse_horizon("2026-12-31", start) == datetime(2026, 12, 31, tzinfo=UTC)
    assert default_horizon_end(start) == datetime(2027, 1, 1, tzinfo=UTC)  # end of Q4
    with pytest.raises(ParameterError, match="malformed --horizon"):
        parse_horizon("soon", start)


def test_prices_from_a_customer_entry() -> None:
    table = prices_for({"name": "acme", "prices": {"vcpu_hour": 0.05, "gib_hour": 0.01}})
    assert table.monthly(2.0, 4 * 2**30) == pytest.approx((2 * 0.05 + 4 * 0.01) * 730)
    assert prices_for({"name": "acme"}) == PriceTable()
    assert PriceTable().monthly(None, None) is None
    with pytest.raises(ConfigError, match="prices"):
        prices_for({"prices": {"vcpu_hour": -1}})
