"""The engineer's commentary: a markdown file named by the customer's entry (`notes:`).

Rendered with markdown-it-py (CommonMark) with raw HTML off, so ``<script>`` in the file shows
as text. Links, images and autolinks are off too: the report loads nothing from outside and
links nowhere, so ``[text](url)`` shows as written.
"""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt

from healthcheck.errors import ConfigError

MAX_NOTES_BYTES = 200_000


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.disable(["image", "link", "autolink", "html_inline", "html_block"])
    return parser


def render_markdown(text: str) -> str:
    """Markdown as safe HTML: raw HTML escaped, no links, no images."""
    rendered: str = _parser().render(text)
    return rendered


def notes_html(path: Path | None) -> str:
    """The commentary file as HTML, or "" when there is none.

    A file named but missing (or unreadable, or too large) is a `ConfigError`: a report must not
    go out silently without the commentary its engineer wrote.
    """
    if path is None:
        return ""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the notes file {path} named in the customer's entry: {exc.strerror}"
        ) from exc
    if len(data) > MAX_NOTES_BYTES:
        raise ConfigError(f"the notes file {path} is larger than {MAX_NOTES_BYTES} bytes")
    text = data.decode("utf-8", errors="replace")
    if not text.strip():
        return ""
    return f'<div class="hc-notes">{render_markdown(text)}</div>'
