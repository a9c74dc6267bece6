"""The report's customer entry: found like the CLI finds it, optional, with its notes file."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthcheck.config import CUSTOMERS_ENV
from healthcheck.errors import ConfigError
from healthcheck.report.context import customers_file, load_customer_config
from healthcheck.report.notes import notes_html
from healthcheck.report.paths import REPOSITORY

ENTRY = "customers:\n  - name: acme\n    deployment: helm\n    notes: notes/acme.md\n"


def test_an_entry_is_read_from_the_environments_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "customers.yaml").write_text(ENTRY)
    monkeypatch.setenv(CUSTOMERS_ENV, str(tmp_path / "customers.yaml"))
    entry = load_customer_config("acme")
    assert entry is not None and entry.notes == Path("notes/acme.md")
    assert customers_file() == tmp_path / "customers.yaml"


def test_a_customer_without_entry_or_file_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "customers.yaml").write_text(ENTRY)
    assert load_customer_config("other", tmp_path / "customers.yaml") is None
    assert load_customer_config("acme", tmp_path / "missing.yaml") is None
    monkeypatch.chdir(tmp_path)  # a relative path missing here is looked up in the repository
    monkeypatch.delenv(CUSTOMERS_ENV, raising=False)
    assert customers_file("nowhere.yaml") == REPOSITORY / "nowhere.yaml"


def test_a_malformed_list_is_still_an_error(tmp_path: Path) -> None:
    (tmp_path / "customers.yaml").write_text("customers:\n  - name: acme\n")
    with pytest.raises(ConfigError):
        load_customer_config("acme", tmp_path / "customers.yaml")


def test_a_notes_file_named_but_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="notes file"):
        notes_html(tmp_path / "missing.md")
    (tmp_path / "empty.md").write_text("  \n")
    assert notes_html(tmp_path / "empty.md") == ""
