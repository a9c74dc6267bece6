"""The user survey end to end: a survey export with e-mail addresses, user ids, tokens and
markup planted in its answers is imported, analysed and rendered; none of them appears in the
store, the artefact, the executed notebook, the report or the logs, and the section is there."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from content_testdata import (  # noqa: F401  (fixtures)
    CUSTOMER,
    GENERATED_ON,
    Q2,
    Q3,
    SCRIPT,
    analysis,
    content_customers,
    content_store,
    write_customer,
)

from healthcheck.analysis import QuarterAnalysis
from healthcheck.cli import cli
from healthcheck.config import CUSTOMERS_ENV
from healthcheck.report import render_report
from healthcheck.report.sections.feedback import feedback_figure, feedback_html
from healthcheck.store import Store

EMAIL = "chris.jones@acme-corp.example"
USER_ID = "VXNlcjoxMjM0NQ=="  # Sourcegraph's GraphQL id of user 12345
TOKENS = (
    "sgp_abcdef0123456789abcdef0123456789abcdef01",
    "ghp_PLANTEDplanted0123456789abcdefABCDEF",
    "glpat-PlantedToken123456789",
)
PLANTED = (EMAIL, USER_ID, *TOKENS)
ANSWERS = (
    ("search is slow on big repos, mail {email}", "faster search please"),
    ("search results time out", "my token {token} stopped working"),
    ("code navigation is great", "user {user} says more languages"),
    ("clone of the monorepo failed", "fix clones {script}"),
)


def survey_csv(path: Path) -> Path:
    lines = ["createdAt,score,reason,better,otherUseCase"]
    for quarter, count in ((Q2, 12), (Q3, 30)):
        for i in range(count):
            reason, better = ANSWERS[i % len(ANSWERS)]
            fill = {"email": EMAIL, "token": TOKENS[i % 3], "user": USER_ID, "script": SCRIPT}
            when = (quarter.start + timedelta(hours=41 * i + 3)).isoformat()
            cells = [when, str((i * 7) % 11), reason.format(**fill), better.format(**fill), ""]
            lines.append(",".join('"' + c.replace('"', '""') + '"' for c in cells))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.notebook
def test_planted_identities_reach_no_output_and_the_section_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = Store(tmp_path / "store")
    write_customer(store)
    customers = tmp_path / "customers.yaml"
    customers.write_text(f"customers:\n  - name: {CUSTOMER}\n    deployment: helm\n")
    monkeypatch.setenv(CUSTOMERS_ENV, str(customers))
    imported = CliRunner().invoke(
        cli, ["import", str(survey_csv(tmp_path / "survey.csv")), "--customer", CUSTOMER,
              "--store", str(store.root)],
    )  # fmt: skip
    assert imported.exit_code == 0, imported.output
    assert "Imported 42 survey responses" in imported.stdout

    result = render_report(
        store=store,
        customer=CUSTOMER,
        quarter=Q3,
        reports_dir=tmp_path / "reports",
        generated_on=GENERATED_ON,
    )
    page = result.html_path.read_text(encoding="utf-8")
    assert "What users say" in re.findall(r"<h2[^>]*>(.*?)<", page)
    assert "Net Promoter Score" in page and "from 30 responses in 2026Q3" in page
    assert "[email removed]" in page and "<q>" in page  # quotes, with the address gone
    assert SCRIPT not in page and "&lt;script&gt;" in page

    outputs = {
        str(path): path.read_bytes().decode("utf-8", errors="replace")
        for folder in (store.root, tmp_path / "reports")
        for path in folder.rglob("*")
        if path.is_file() and path.suffix != ".parquet"
    }
    outputs["stdout"] = imported.output
    outputs["logs"] = caplog.text
    assert any("analysis.json" in name for name in outputs)  # the artefact is among them
    for planted in PLANTED:
        leaks = [name for name, text in outputs.items() if planted in text]
        assert leaks == [], (planted, leaks)


def test_without_a_survey_the_section_says_why_and_its_chart_stays_small(
    analysis: QuarterAnalysis,  # noqa: F811
) -> None:
    assert analysis.feedback is not None and not analysis.feedback.available
    assert "No survey response was collected" in feedback_html(analysis)
    reason = "not available on this version (the schema has no Query.surveyResponses)"
    assert analysis.inventory is not None
    inventory = analysis.inventory.model_copy(update={"unavailable": {"survey_responses": reason}})
    gated = replace(analysis, inventory=inventory, feedback=None)
    assert f"user survey is {reason}: there is no feedback" in feedback_html(gated)
    figure = feedback_figure(gated).to_json()
    assert set(re.findall(r'"type":\s*"(\w+)"', figure)) <= {"linear", "category", "date"}
