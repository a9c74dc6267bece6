"""Themes of a quarter's free-text survey answers: TF-IDF, then non-negative matrix factorisation.

Each answer's text (reason, what to do better, other use case) becomes a TF-IDF vector of words
and word pairs; NMF factors the answers x terms matrix into k themes, each a weighted set of
terms; factors whose term profiles are alike (cosine >= `merge_similarity`) are merged, so a
complaint phrased two ways is one theme. An answer belongs to its strongest theme; a theme is
named by its top words and shown with the answers that weigh most on it. Last quarter's answers
are put through the *same* fitted vectoriser and factors, so a theme's share then and now
compare like with like.

Deterministic: NMF starts from NNDSVD (an SVD, no random draw). The parameters are
`THEME_SETTINGS`, kept in the artefact (`QuarterFeedback.method`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from healthcheck.feedback.responses import SurveyResponse

THEME_SETTINGS: dict[str, Any] = {
    "max_themes": 8,  # k = round(sqrt(answers with text)), between 2 and this
    "merge_similarity": 0.25,  # themes whose term profiles are this alike (cosine) are one
    "ngram_range": (1, 2),
    "min_df": 2,  # a term in fewer answers is noise
    "max_df": 0.5,  # a term in more than half of them names no theme
    "sublinear_tf": True,
    "name_terms": 3,  # terms in a theme's name
    "link_terms": 10,  # terms the finding link reads (docs/feedback.md)
    "min_term_weight": 0.1,  # of the theme's heaviest term: lighter terms neither name nor link
    "min_theme_responses": 3,  # a smaller theme is not shown
    "quotes": 3,
    "quote_chars": 140,
    "nmf_init": "nndsvd",
    "nmf_max_iter": 500,
}
# Survey filler: words that say nothing about what users ask for.
SURVEY_STOP_WORDS = frozenset(
    {"sourcegraph", "sg", "really", "just", "would", "like", "use", "using", "used", "also",
     "get", "got", "lot", "thing", "things", "make", "makes", "much", "way", "still", "bit",
     "pretty", "quite", "please", "thanks", "able", "need", "needs", "want", "wish", "think",
     "sometimes", "often", "day", "days", "time", "tool", "team"}
)  # fmt: skip
_TOKEN = r"(?u)\b[a-zA-Z][a-zA-Z0-9-]+\b"  # words and service names (zoekt-webserver), no numbers


@dataclass(frozen=True)
class FoundTheme:
    """One theme the model found: terms, members and the share then and now."""

    terms: list[str]  # its heaviest single words, by weight
    link_terms: list[str]  # the top `link_terms` terms, unfolded
    members: list[int]  # indexes into the quarter's answers with text
    quotes: list[str]
    share: float
    previous_share: float | None


def theme_count(answers: int) -> int:
    """How many themes to look for in `answers` answers with text."""
    k = round(math.sqrt(answers))
    return int(min(THEME_SETTINGS["max_themes"], max(2, k)))


def find_themes(
    answers: Sequence[SurveyResponse], previous: Sequence[SurveyResponse] = ()
) -> list[FoundTheme]:
    """The themes of `answers` (those with text), largest first; [] when there is too little text
    to find any. `previous` (last quarter's answers) only gives each theme's share then."""
    texts = [a.text for a in answers if a.text]
    before = [a.text for a in previous if a.text]
    vectorizer = TfidfVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | SURVEY_STOP_WORDS),
        token_pattern=_TOKEN,
        ngram_range=THEME_SETTINGS["ngram_range"],
        min_df=THEME_SETTINGS["min_df"],
        max_df=THEME_SETTINGS["max_df"],
        sublinear_tf=THEME_SETTINGS["sublinear_tf"],
    )
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # no term left after the stop words and min_df
        return []
    k = min(theme_count(len(texts)), matrix.shape[1], len(texts))
    if k < 2:
        return []
    model = NMF(
        n_components=k,
        init=THEME_SETTINGS["nmf_init"],
        max_iter=THEME_SETTINGS["nmf_max_iter"],
        random_state=0,
    )
    fitted = model.fit_transform(matrix)
    groups = _merge_groups(model.components_)
    weights = fitted @ groups
    profiles = groups.T @ model.components_
    terms = np.asarray(vectorizer.get_feature_names_out())
    owner = _owners(weights)
    before_owner = None
    if before:
        before_owner = _owners(model.transform(vectorizer.transform(before)) @ groups)
    themes = []
    for component in range(groups.shape[1]):
        members = [i for i in np.flatnonzero(owner == component)]
        if len(members) < THEME_SETTINGS["min_theme_responses"]:
            continue
        ranked = _ranked_terms(terms, profiles[component])
        members.sort(key=lambda i: -weights[i, component])
        themes.append(
            FoundTheme(
                terms=[t for t in ranked if " " not in t][: THEME_SETTINGS["name_terms"]],
                link_terms=ranked[: THEME_SETTINGS["link_terms"]],
                members=[int(i) for i in members],
                quotes=_quotes([texts[i] for i in members]),
                share=len(members) / len(texts),
                previous_share=(
                    None if before_owner is None else float(np.mean(before_owner == component))
                ),
            )
        )
    return sorted(themes, key=lambda t: (-len(t.members), t.terms))


def _merge_groups(components: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A components x themes 0/1 matrix: components whose term profiles have a cosine
    similarity of `merge_similarity` or more (directly or through another) make one theme, so
    one complaint phrased two ways is not shown twice."""
    norms = np.linalg.norm(components, axis=1, keepdims=True)
    unit = components / np.where(norms > 0, norms, 1.0)
    similar = unit @ unit.T >= THEME_SETTINGS["merge_similarity"]
    parent = list(range(len(components)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(similar, 1)), strict=True):
        parent[root(int(j))] = root(int(i))
    roots = sorted({root(i) for i in range(len(components))})
    groups = np.zeros((len(components), len(roots)))
    for i in range(len(components)):
        groups[i, roots.index(root(i))] = 1.0
    return groups


def _ranked_terms(terms: np.ndarray[Any, Any], weights: np.ndarray[Any, Any]) -> list[str]:
    """The theme's terms by weight, down to `min_term_weight` of the heaviest (a term that
    barely weighs on the theme does not name it, nor link it to a finding)."""
    order = np.argsort(-weights, kind="stable")
    floor = THEME_SETTINGS["min_term_weight"] * float(weights[order[0]])
    return [str(terms[i]) for i in order if weights[i] > 0 and weights[i] >= floor]


def _owners(weights: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Each answer's strongest theme; -1 for an answer none of the themes' terms is in."""
    owner: np.ndarray[Any, Any] = np.argmax(weights, axis=1)
    owner[weights.max(axis=1) <= 0] = -1
    return owner


def _quotes(texts: Sequence[str]) -> list[str]:
    """Up to `quotes` distinct short quotes, from the answers that weigh most on the theme."""
    quotes: list[str] = []
    for text in texts:
        quote = _shorten(text, THEME_SETTINGS["quote_chars"])
        if quote.lower() not in {q.lower() for q in quotes}:
            quotes.append(quote)
        if len(quotes) == THEME_SETTINGS["quotes"]:
            break
    return quotes


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return re.sub(r"[\s,;:.-]+$", "", cut) + "…"
