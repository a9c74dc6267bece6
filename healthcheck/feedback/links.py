"""The rule that links a theme of user feedback to a finding of the health checks.

A theme is linked to an open finding (critical or warning, not suppressed) when its top terms
(`THEME_SETTINGS["link_terms"]`) name both

- the finding's **subject**: its service, in the words users write for it (`SERVICE_WORDS`:
  "search" for searcher, "clone" for gitserver, ...), or, for a finding without a service, its
  area (`AREA_SUBJECTS`: "upgrade", "version" for the version checks) or the subject its id
  names (`ID_SUBJECTS`: "navigation", "precise" for the code-intel upload queue), and
- a **symptom** of the finding's area (`AREA_SYMPTOMS`: "slow", "timeout", "crash" for
  out-of-memory kills; "full", "space" for disks; ...),

with two different terms. Words too common to name one service ("repos", "code") are in no
list: "slow search on big repos" is about search, not about the Git servers. The lists are the
whole rule: nobody links a theme by hand, and a
link names the terms that made it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from healthcheck.checks.base import Finding
from healthcheck.feedback.model import FindingLink

_SEARCH = frozenset({"search", "searches", "searching", "results", "query", "queries"})
SERVICE_WORDS: dict[str, frozenset[str]] = {
    "searcher": _SEARCH | {"searcher", "regex", "unindexed"},
    "zoekt-webserver": _SEARCH | {"zoekt", "index", "indexed"},
    "zoekt-indexserver": frozenset({"index", "indexing", "indexed", "zoekt", "branches"}),
    "gitserver": frozenset(
        {"clone", "clones", "cloning", "git", "fetch", "fetches", "monorepo", "monorepos",
         "mirroring", "sync", "gitserver"}
    ),
    "frontend": frozenset({"page", "pages", "ui", "web", "login", "loading", "browser", "app"}),
    "precise-code-intel-worker": frozenset(
        {"navigation", "definition", "definitions", "references", "precise", "intel",
         "intelligence", "hover", "uploads", "scip"}
    ),
    "worker": frozenset({"insights", "insight", "batch", "changes"}),
}  # fmt: skip
AREA_SUBJECTS: dict[str, frozenset[str]] = {
    "versions": frozenset({"upgrade", "upgrades", "version", "versions", "release", "releases"}),
}
# Findings without a service whose id names what they are about (the queues' checks).
ID_SUBJECTS: dict[str, frozenset[str]] = {
    "search.codeintel_": SERVICE_WORDS["precise-code-intel-worker"],
    "search.index_queue": SERVICE_WORDS["zoekt-indexserver"],
    "search.insights_": SERVICE_WORDS["worker"],
    "search.executor_": frozenset({"executor", "executors", "batch", "changes"}),
}
_SLOW = frozenset(
    {"slow", "slowly", "slower", "slowness", "timeout", "timeouts", "lag", "laggy", "sluggish",
     "wait", "waiting", "forever", "minutes", "seconds", "timing", "timed", "crawl"}
)  # fmt: skip
_BROKEN = frozenset(
    {"crash", "crashes", "restart", "restarts", "error", "errors", "fail", "fails", "failing",
     "failed", "down", "outage", "unavailable", "flaky", "broken", "hang", "hangs"}
)  # fmt: skip
AREA_SYMPTOMS: dict[str, frozenset[str]] = {
    "oom": _SLOW | _BROKEN,
    "saturation": _SLOW | _BROKEN,
    "search": _SLOW | _BROKEN | {"stale", "outdated", "missing", "delayed", "behind"},
    "alerts": _SLOW | _BROKEN,
    "disk": _BROKEN | {"full", "space", "stuck"},
    "versions": frozenset({"old", "outdated", "features", "feature", "latest", "new", "missing"}),
}
LINKED_SEVERITIES = ("critical", "warning")


def link_findings(terms: Sequence[str], findings: Iterable[Finding]) -> list[FindingLink]:
    """The open findings the theme with top `terms` names (see the module's docstring)."""
    words = {word for term in terms for word in term.lower().split()}
    links = []
    for finding in findings:
        if finding.severity not in LINKED_SEVERITIES or finding.suppressed:
            continue
        subject = words & _subject_words(finding)
        symptom = words & AREA_SYMPTOMS.get(finding.area, frozenset())
        if not subject or not symptom or subject | symptom == subject & symptom:
            continue
        links.append(
            FindingLink(
                finding_id=finding.id,
                title=finding.title,
                severity=finding.severity,
                service=finding.service,
                because=sorted(subject | symptom),
            )
        )
    return links


def _subject_words(finding: Finding) -> frozenset[str]:
    if finding.service:
        return SERVICE_WORDS.get(finding.service, frozenset({finding.service.lower()}))
    for prefix, words in ID_SUBJECTS.items():
        if finding.id.startswith(prefix):
            return words
    return AREA_SUBJECTS.get(finding.area, frozenset())
