"""Survey responses at the door: the CSV import, the redaction, the merge into the store."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from healthcheck.cli import cli
from healthcheck.feedback.responses import FEEDBACK_FILE, stored_responses
from healthcheck.redact import redact_free_text
from healthcheck.store import Store

HEADER = "createdAt,score,reason,better,otherUseCase\n"
EMAIL = "pat.smith@acme-corp.example"
TOKEN = "sgp_0123456789abcdef0123456789abcdef01234567"


def run(tmp_path: Path, *args: str) -> Result:
    customers = tmp_path / "customers.yaml"
    customers.write_text("customers:\n  - name: acme\n    deployment: helm\n")
    return CliRunner().invoke(
        cli,
        ["import", *args, "--store", str(tmp_path / "store"), "--customers", str(customers)],
    )


def test_a_survey_csv_is_imported_redacted_and_merged(tmp_path: Path) -> None:
    path = tmp_path / "survey.csv"
    path.write_text(
        HEADER
        + f'2026-07-03T09:00:00Z,9,"love it, write to {EMAIL}",,\n'
        + f"2026-08-10T12:30:00+02:00,2,search is slow,my token is {TOKEN},\n"
        + "2026-09-01,7,,,code review\n"
    )
    result = run(tmp_path, str(path), "--customer", "acme")
    assert result.exit_code == 0, result.output
    assert "Imported 3 survey responses (2026-07-03 to 2026-09-01)" in result.stdout
    again = run(tmp_path, str(path), "--customer", "acme")  # a re-import adds nothing
    assert again.exit_code == 0, again.output

    store = Store(tmp_path / "store")
    responses = stored_responses(store, "acme")
    assert [r.score for r in responses] == [9, 2, 7]
    assert responses[0].reason == "love it, write to [email removed]"
    assert responses[1].better == "my token is ***"
    assert responses[1].created_at.isoformat() == "2026-08-10T10:30:00+00:00"
    assert responses[2].other_use_case == "code review"
    text = (tmp_path / "store" / "acme" / FEEDBACK_FILE).read_text()
    assert EMAIL not in text and TOKEN not in text
    assert [load["source"] for load in json.loads(text)["loads"]] == ["csv", "csv"]


def test_a_bad_row_is_refused_with_its_line_and_nothing_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "survey.csv"
    path.write_text(HEADER + "2026-07-03T09:00:00Z,9,ok,,\n2026-07-04T09:00:00Z,11,too high,,\n")
    result = run(tmp_path, str(path), "--customer", "acme")
    assert result.exit_code == 2
    assert "survey.csv, line 3: score: Input should be less than or equal to 10" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "store" / "acme" / FEEDBACK_FILE).exists()


def test_free_text_loses_emails_tokens_and_user_ids_but_keeps_words() -> None:
    text = (
        f"ping {EMAIL} or mailto:x@y.io; {TOKEN}; ghp_abcdefghijABCDEFGHIJ0123456789abcd; "
        "user VXNlcjo0Mg==; glpat-abcdefghij0123456789; "
        "deadbeefdeadbeefdeadbeefdeadbeef12345678; search on zoekt-webserver is slow 2x"
    )
    assert redact_free_text(text) == (
        "ping [email removed] or [email removed]; ***; ***; user ***; ***; ***; "
        "search on zoekt-webserver is slow 2x"
    )


def test_new_answers_change_the_analysis_key(tmp_path: Path) -> None:
    """The survey file is one of the analysis' inputs: a new answer recomputes the quarter."""
    from healthcheck.analysis.key import data_hash
    from healthcheck.feedback.responses import SurveyLoad, SurveyResponse, store_responses
    from healthcheck.quarters import Quarter

    store = Store(tmp_path)
    answer = SurveyResponse.model_validate({"created_at": "2026-08-01T00:00:00Z", "score": 9})
    load = SurveyLoad("csv", 1, 1, 0, 0)
    with store.lock("acme"):
        store_responses(store, "acme", [answer], load)
        before = data_hash(store, "acme", Quarter(2026, 3))
        store_responses(store, "acme", [answer.model_copy(update={"score": 2})], load)
    assert data_hash(store, "acme", Quarter(2026, 3)) != before
