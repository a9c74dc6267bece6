"""The one headless Chromium of a test session, shared by the report's browser tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chromium import Browser, BrowserStartError, started_browser


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Chromium for the test session; its own profile; no network of its own."""
    try:
        with started_browser(tmp_path_factory.mktemp("chromium")) as started:
            yield started
    except BrowserStartError as exc:
        pytest.fail(str(exc))
