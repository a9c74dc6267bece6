"""Disaster-recovery posture, from the questionnaire in the customer's entry."""

from __future__ import annotations

from healthcheck.checks.base import CheckContext, Evidence, Finding, Severity, register_check

SOURCE = (
    "Sourcegraph managed-services terms (disaster-recovery guidance); healthcheck questionnaire "
    "(docs/checks.md)"
)
QUESTIONS = {
    "backups": "How are the databases (pgsql, codeintel-db, codeinsights-db) and gitserver "
    "backed up?",
    "last_restore_test": "When was a restore from backup last tested?",
    "rpo_hours": "How much data (hours) may be lost (RPO)?",
    "rto_hours": "How long (hours) may a restore take (RTO)?",
}


@register_check(
    "disaster_recovery",
    area="disaster_recovery",
    description="backups, last restore test, RPO and RTO from the questionnaire",
)
def disaster_recovery(ctx: CheckContext) -> list[Finding]:
    answers = ctx.config.disaster_recovery if ctx.config is not None else None
    if answers is None:
        return [
            Finding(
                id="disaster_recovery.questionnaire",
                area="disaster_recovery",
                title="Nobody has answered the disaster-recovery questionnaire",
                severity="warning",
                evidence=Evidence(numbers={"questions": list(QUESTIONS.values())}),
                action="Ask the champion the four questions and record the answers under "
                "`disaster_recovery:` in the customer's entry.",
                source=SOURCE,
            )
        ]
    findings = []
    for field, question in QUESTIONS.items():
        if getattr(answers, field) is None:
            findings.append(
                Finding(
                    id=f"disaster_recovery.unanswered:{field}",
                    area="disaster_recovery",
                    title=f"Unanswered: {question}",
                    severity="warning",
                    action=f"Record `disaster_recovery.{field}` in the customer's entry.",
                    source=SOURCE,
                )
            )
    if answers.backups is not None and answers.backups.strip().lower() in ("", "none", "no"):
        findings.append(
            Finding(
                id="disaster_recovery.backups",
                area="disaster_recovery",
                title="The instance has no backups",
                severity="critical",
                evidence=Evidence(numbers={"backups": answers.backups}),
                action="Set up database dumps or volume snapshots of the databases and gitserver.",
                source=SOURCE,
            )
        )
    if answers.last_restore_test is not None:
        age = (ctx.today - answers.last_restore_test).days
        stale = age > ctx.threshold("restore_test_max_age_days")
        severity: Severity = "warning" if stale else "ok"
        findings.append(
            Finding(
                id="disaster_recovery.restore_test",
                area="disaster_recovery",
                title=f"The last restore test was {age} days ago",
                severity=severity,
                evidence=Evidence(
                    numbers={
                        "last_restore_test": answers.last_restore_test.isoformat(),
                        "age_days": age,
                        "max_age_days": ctx.threshold("restore_test_max_age_days"),
                    }
                ),
                action="Restore a backup into a scratch instance and time it (it measures the RTO)."
                if stale
                else "",
                source=SOURCE,
            )
        )
    if not findings:
        findings.append(
            Finding(
                id="disaster_recovery.questionnaire",
                area="disaster_recovery",
                title="The disaster-recovery questionnaire is complete",
                severity="ok",
                source=SOURCE,
            )
        )
    return findings
