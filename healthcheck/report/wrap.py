"""Break opportunities in long names, so a table column of them wraps instead of overflowing.

Alert, volume and setting names (``warning_searcher_provisioning_container_memory_usage``,
``gitserver.storageSize``) are single words to a browser: a table cell holding one is at least
that wide, and a table of a few such cells runs off a printed page, losing its last column.
`break_long_words` puts a ``<wbr>`` (an invisible break opportunity, nothing copied) after each
``_``, ``.`` and ``/`` of a long word in the page's text: never inside a tag, a script, a style,
the title or preformatted text.
"""

from __future__ import annotations

import re

LONG_WORD_CHARS = 20
# Tags, and whole elements whose text is not laid out as words: split out and left alone.
_MARKUP = re.compile(
    r"(<(script|style|title|textarea|pre)\b.*?</\2\s*>|<!--.*?-->|<[^>]*>)", re.S | re.I
)
_LONG_WORD = re.compile(rf"[\w.\-/]{{{LONG_WORD_CHARS},}}")
_AFTER = re.compile(r"([_./])(?=\w)")


def break_long_words(page: str) -> str:
    """`page` with a ``<wbr>`` after each ``_``, ``.`` or ``/`` of every long word of its text."""
    parts = _MARKUP.split(page)
    # split() with two groups yields: text, markup, inner tag name, text, markup, name, ...
    out: list[str] = []
    for index, part in enumerate(parts):
        kind = index % 3
        if kind == 0:
            out.append(_LONG_WORD.sub(_breakable, part))
        elif kind == 1:
            out.append(part)
    return "".join(out)


def _breakable(word: re.Match[str]) -> str:
    return _AFTER.sub(r"\1<wbr>", word.group(0))
