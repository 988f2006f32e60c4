"""User strings in Streamlit's markdown elements, shown literally (no streamlit here; unit-tested).

Titles, captions, alerts, metric and widget labels are markdown in Streamlit:
a case id ``[x](javascript:…)`` would become a link, ``![](http://…)`` an image
fetched from elsewhere, ``:red[…]`` or ``$…$`` styled text. HTML is never
rendered (no page passes ``unsafe_allow_html``; tests/test_dashboard_security.py
greps for it), but markdown is, so every name, id, clinical value, path or
message that comes from a cohort, checkpoint or run folder goes through
:func:`md` before it reaches one of those elements. Tables, dataframes,
``st.text``, ``st.code`` and ``st.json`` show text as it is and need nothing.
"""

from __future__ import annotations

import re

__all__ = ["WORD_JOINER", "md", "md_join"]

WORD_JOINER = "\u2060"  # invisible, zero width: breaks the browser-side autolinking of URLs and e-mail addresses

# What markdown (CommonMark + GFM + Streamlit's directives) gives a meaning: emphasis, code, links and images,
# HTML and entities, strike-through, tables, maths ($), colours/icons/emoji (:red[…], :material/…:, :smile:),
# headings, lists and quotes at a line start, and the "." / ":" of autolinked www. / http:// / e-mail text.
# A backslash makes each of them literal (CommonMark: any ASCII punctuation may be escaped). Commas, quotes,
# slashes and the like mean nothing and stay as they are, so messages read as written.
_SPECIAL = frozenset("\\`*_[](){}<>!&~|$:#+-.=^@")


def md(text: object) -> str:
    """``text`` as markdown that renders literally: markdown's special characters backslash-escaped, line breaks
    and other control characters as spaces (a value cannot start a heading, a list or a new block).

    Streamlit also turns bare ``https://…``, ``www.…`` and ``name@host`` text into links after parsing, which no
    backslash prevents: an invisible :data:`WORD_JOINER` goes after ``:`` of ``://``, after ``www`` and before
    ``@`` (the text looks the same; nothing becomes a link)."""
    s = str(text)
    s = s.replace("://", ":" + WORD_JOINER + "//").replace("@", WORD_JOINER + "@")
    s = re.sub(r"(?i)(www)(?=\.)", lambda m: m.group(1) + WORD_JOINER, s)
    out = []
    for ch in s:
        if ch in _SPECIAL:
            out.append("\\" + ch)
        elif ch in "\r\n\t\v\f" or (ord(ch) < 32) or ord(ch) == 127:
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def md_join(parts, sep: str = " · ") -> str:
    """Several user strings escaped and joined with ``sep`` (which is the page's own markdown)."""
    return sep.join(md(p) for p in parts)
