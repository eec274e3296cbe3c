"""Jinja2 for the text files of charts (templates in chartgen/templates/chart/).

The delimiters are `[[ ]]` and `[% %]` so Helm's `{{ }}` passes through untouched.
jinja2 is imported on first use only (start-up time of the CLI).
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    from chartgen.chart.templates import escape_text, go_string

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("chartgen", "templates/chart"),
        variable_start_string="[[", variable_end_string="]]",
        block_start_string="[%", block_end_string="%]",
        comment_start_string="[#", comment_end_string="#]",
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined, autoescape=False,
    )
    # For Helm templates (NOTES.txt): a Go string literal, and plain text that never opens an action.
    environment.filters["gostring"] = go_string
    environment.filters["helmtext"] = lambda text: escape_text(visible(str(text), keep=""))
    return environment


def render_text(template: str, **context) -> str:
    """Render chartgen/templates/chart/<template> with `context`."""
    return _environment().get_template(template).render(**context)


@lru_cache(maxsize=None)
def _without(chars: str) -> dict:
    return str.maketrans("", "", chars)


def visible(text: str, keep: str = "\n") -> str:
    """`text` with every character that does not print (control characters, line and paragraph
    separators, byte order marks, ...) except those in `keep` written as `\\uXXXX`, so READMEs,
    comments and notes show them instead of acting on them."""
    if text.translate(_without(keep)).isprintable():   # the usual case, at C speed
        return text
    return "".join(c if c.isprintable() or c in keep else
                   (f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}") for c in text)
