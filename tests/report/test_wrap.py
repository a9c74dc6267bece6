"""Break opportunities in long names: added in the page's text, never in its markup or scripts."""

from __future__ import annotations

import pytest

from healthcheck.errors import ParameterError
from healthcheck.report.pdf import PAPERS, paper
from healthcheck.report.wrap import break_long_words

ALERT = "warning_searcher_provisioning_container_memory_usage_short_term"


def test_a_long_name_in_a_cell_can_wrap_after_its_separators() -> None:
    page = f"<td>Alert {ALERT} fired; raise <code>gitserver.storageSize</code> now</td>"
    wrapped = break_long_words(page)
    assert "warning_<wbr>searcher_<wbr>provisioning_<wbr>container_<wbr>" in wrapped
    assert "<code>gitserver.<wbr>storageSize</code>" in wrapped
    assert wrapped.replace("<wbr>", "") == page  # nothing else changed


def test_markup_scripts_titles_and_short_words_are_left_alone() -> None:
    page = (
        f"<html><head><title>{ALERT}</title><style>.{ALERT} {{}}</style></head>"
        f'<body><div class="{ALERT}" id="fig-1">short_name a.b.c</div>'
        f"<script>var {ALERT} = 1;</script><pre>{ALERT}</pre><!-- {ALERT} --></body></html>"
    )
    assert break_long_words(page) == page


def test_paper_names() -> None:
    assert paper("A4") is PAPERS["a4"] and paper("letter") is PAPERS["letter"]
    assert PAPERS["letter"].printable_width_px > PAPERS["a4"].printable_width_px
    with pytest.raises(ParameterError, match="a4, letter"):
        paper("legal")
