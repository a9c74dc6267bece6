"""One number, one truth: every figure a report shows in more than one place, read back from
the rendered page (and the override file beside it) and compared.

Each check reads the figure where it appears, by the words around it, and returns what it found
per subject; `disagreements` names every subject whose places disagree. The figures:

- the overall score (first screen, "how the score is made", since last quarter);
- the usage figures (the adoption table and the since-last-quarter table);
- the monthly saving (first screen) against the capacity section's costs today and as
  recommended;
- a service's OOM kills (its action, its finding);
- a service's memory-peak episodes and the memory alert's (they are counted alike);
- a memory limit an action asks for and the one the Helm values file sets.

A check whose figure appears in one place only finds nothing to compare; the test asserts the
figures it expects were found, so a reworded sentence fails it rather than passing silently.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from typing import Any

from ruamel.yaml import YAML

from healthcheck.catalog import load_catalog

Found = dict[str, list[str]]  # subject -> the values found for it, one per place
GIB = 2**30


def page_text(page: str) -> str:
    """What a reader sees: no script, no style, no markup; whitespace collapsed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL)
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    return " ".join(text.split())


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def overall_score(text: str, files: Mapping[str, str]) -> Found:
    values = [
        *re.findall(r"Score (\d+) / 100", text),
        *re.findall(r"The overall score, (\d+) out of 100", text),
        *re.findall(r"the overall score went from \d+ to (\d+)", text),
    ]
    return {"overall score": values} if values else {}


USAGE_ROWS = (
    "Active users on a weekday (average)",
    "Most active users in a day",
    "User accounts",
    "Repositories",
    "Searches per day (average)",
)


def usage(text: str, files: Mapping[str, str]) -> Found:
    """This quarter's usage: the adoption table's value, and the since-last-quarter table's
    "this quarter" column (the second number of a row that ends with a change)."""
    found: Found = {}
    for row in USAGE_ROWS:
        pattern = re.escape(row) + r" ([\d,]+)(?: ([\d,]+|—) (?:[+-]?[\d.]+%|—))?"
        for first, second in re.findall(pattern, text):
            found.setdefault(row, []).append(second if second else first)
    return found


def monthly_saving(text: str, files: Mapping[str, str]) -> Found:
    saving = re.findall(r"saves about ([\d,]+) USD a month at list cloud prices", text)
    costs = re.findall(r"cost about ([\d,]+) USD a month today and would cost ([\d,]+) USD", text)
    values = [f"{_number(s):,.0f}" for s in saving]
    # each cost is rounded to a dollar: their difference may be a dollar off the exact saving
    values += [f"~{_number(now) - _number(then):,.0f}" for now, then in costs]
    return {"monthly saving (USD)": values} if values else {}


def oom_kills(text: str, files: Mapping[str, str]) -> Found:
    found: Found = {}
    for service, count in re.findall(r"(\S+) ran out of memory ([\d,]+) times", text):
        found.setdefault(f"OOM kills of {service}", []).append(count)
    for service, count in re.findall(r"(\S+) was killed ([\d,]+) times", text):
        found.setdefault(f"OOM kills of {service}", []).append(count)
    return found


def memory_episodes(text: str, files: Mapping[str, str]) -> Found:
    found: Found = {}
    pattern = r"(\S+) was at \d+% or more of its memory limit ([\d,]+) times?"
    for service, count in re.findall(pattern, text):
        found.setdefault(f"memory episodes of {service}", []).append(count)
    alert = r"provisioning_container_memory_usage_short_term (\S+) warning ([\d,]+) "
    for service, count in re.findall(alert, text):
        found.setdefault(f"memory episodes of {service}", []).append(count)
    return found


def memory_targets(text: str, files: Mapping[str, str]) -> Found:
    """A memory limit an action asks for, against the Helm values file beside the report."""
    found: Found = {}
    pattern = r"Raise (\S+)'s memory limit (?:from [\d.,]+ GiB )?to ([\d.,]+) GiB"
    asked = re.findall(pattern, text)
    values_file = files.get("recommendations/values.yaml")
    if not asked or values_file is None:
        return found
    values: Any = YAML(typ="safe").load(values_file) or {}
    keys = {s.name: s.helm_key for s in load_catalog().services}
    first: dict[str, str] = {}
    for service, gib in asked:  # this quarter's: last quarter's follow-up comes later
        first.setdefault(service, gib)
    for service, gib in first.items():
        found.setdefault(f"memory limit of {service} (GiB)", []).append(f"{_number(gib):g}")
        node: Any = values
        helm_key = keys.get(service) or service
        for part in [*helm_key.split("."), "resources", "limits", "memory"]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, str):
            found[f"memory limit of {service} (GiB)"].append(f"{_quantity_gib(node):g}")
    return found


def _quantity_gib(quantity: str) -> float:
    units = {"Gi": 1.0, "Mi": 1 / 1024}
    for suffix, scale in units.items():
        if quantity.endswith(suffix):
            return round(float(quantity[: -len(suffix)]) * scale, 2)
    return round(float(quantity) / GIB, 2)


CHECKS: tuple[Callable[[str, Mapping[str, str]], Found], ...] = (
    overall_score,
    usage,
    monthly_saving,
    oom_kills,
    memory_episodes,
    memory_targets,
)


def figures(page: str, files: Mapping[str, str] | None = None) -> Found:
    """Every figure the checks found, per subject, one value per place it appears."""
    text = page_text(page)
    found: Found = {}
    for check in CHECKS:
        for subject, values in check(text, files or {}).items():
            found.setdefault(subject, []).extend(values)
    return found


def _agree(values: list[str]) -> bool:
    exact = {v for v in values if not v.startswith("~")}
    near = [_number(v[1:]) for v in values if v.startswith("~")]
    if len(exact) > 1:
        return False
    if exact and near:
        target = _number(next(iter(exact)))
        return all(abs(n - target) <= 1 for n in near)
    return len(set(near)) <= 1 or max(near) - min(near) <= 1


def disagreements(page: str, files: Mapping[str, str] | None = None) -> list[str]:
    """One line per subject whose places disagree: "overall score: 59, 60"."""
    return [
        f"{subject}: {', '.join(values)}"
        for subject, values in figures(page, files).items()
        if len(values) > 1 and not _agree(values)
    ]
