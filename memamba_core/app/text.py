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

# What markdown (CommonMark + GFM + Streamlit's directives) gives a meaning, and when. Always: code (`),
# emphasis (*), links and images ([ ]), autolinks and HTML (< >), entities (&), strike-through (~), tables (|),
# maths ($) and the backslash itself. "_" only at a word's edge (CommonMark never reads an intraword "_" as
# emphasis, so file names like my_run_01 stay as they are); ":" only when text follows it (:red[…],
# :material/…:, :smile:; "name: message" is left alone). At the start of the text only (it may start a line):
# headings (#), lists (- + and "1." / "1)"), quotes (>), setext lines (=). A backslash makes each literal
# (CommonMark: any ASCII punctuation may be escaped); everything else stays as written, so messages, paths
# and ids read as they are.
_ALWAYS = frozenset("\\`*[]<>&~|$")
_START = frozenset("#+-=>")


def md(text: object) -> str:
    """``text`` as markdown that renders literally (see the rules above); line breaks and other control
    characters become spaces, so a value cannot start a new block.

    Streamlit also turns bare ``https://…``, ``www.…`` and ``name@host`` text into links after parsing, which no
    backslash prevents: an invisible :data:`WORD_JOINER` goes after ``:`` of ``://``, after ``www`` and before
    ``@`` (the text looks the same; nothing becomes a link)."""
    s = "".join(" " if (ord(ch) < 32 or ord(ch) == 127) else ch for ch in str(text))
    s = s.replace("://", ":" + WORD_JOINER + "//").replace("@", WORD_JOINER + "@")
    s = re.sub(r"(?i)(www)(?=\.)", lambda m: m.group(1) + WORD_JOINER, s)
    out = []
    lead = len(s) - len(s.lstrip(" "))
    m = re.match(r" *\d+([.)])", s)
    list_mark = m.end() - 1 if m else -1
    for i, ch in enumerate(s):
        prev = s[i - 1] if i else ""
        nxt = s[i + 1] if i + 1 < len(s) else ""
        if (ch in _ALWAYS
                or (ch == "_" and not (prev.isalnum() and nxt.isalnum()))
                or (ch == ":" and nxt not in ("", " ", WORD_JOINER))
                or (i == lead and ch in _START)
                or i == list_mark):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def md_join(parts, sep: str = " · ") -> str:
    """Several user strings escaped and joined with ``sep`` (which is the page's own markdown)."""
    return sep.join(md(p) for p in parts)
