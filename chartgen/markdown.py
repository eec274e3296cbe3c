"""Text from users, workflows and chart repositories inside GitHub Markdown: pull request
bodies and comments, job summaries, tables.

Such text is data, never markup: `escape` makes one line of plain text (no HTML, comment,
link, image, emphasis, math, table cell break, heading, quote or list start, and no @mention,
#reference or bare URL: GitHub notifies the user, links the issue or makes a link for those,
so they go in code spans, where GitHub does none of it); `cell` the same for a table cell; `code` makes a code
span whatever backticks the text holds; `link` an autolink for a plain http(s) URL. Control characters are shown escaped
(`chartgen.errors.printable`), so the text stays on its line. `is_url` and `is_ref_name`
are the checks for user-given references (`chartgen pr --source-ref`).
"""

from __future__ import annotations

import re

from chartgen.errors import printable

# Characters GitHub Markdown may read as markup anywhere in a line: backslash escapes for
# the punctuation, entities for what would start HTML (a tag, comment, autolink) or an
# entity. A `<` or `&` that starts neither (`>=1.35 <1.37`, `a & b`) stays as it is, and so
# does an `_` inside a word.
_PUNCTUATION = re.compile(r"[\\`*\[\]|~$]|<(?=[A-Za-z/!?])|&(?=[A-Za-z#])"
                          r"|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")   # `a_b` is no emphasis
# What GitHub turns into a notification, a cross-reference or a link: @user, @org/team (not
# a mail address), #123, GH-123, owner/repo#123 (the `#123` part), and bare URLs.
_MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9][\w.\-/]*|#[A-Za-z0-9][\w.\-]*|\bGH-\d+"
                      r"|(?i:https?|ftp)://\S*|\b(?i:www)\.\S+")
# What starts a block when it begins a line: a heading, list item, quote, setext underline.
_BLOCK_START = re.compile(r"^(?:#{1,6}(?=\s|$)|[-+](?=\s|$)|>|[-=]+\s*$|(?P<number>\d{1,9})[.)](?=\s|$))")
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


def _plain(text: str) -> str:
    return _PUNCTUATION.sub(lambda m: {"<": "&lt;", "&": "&amp;"}.get(m.group(0), "\\" + m.group(0)), text)


def escape(text: object) -> str:
    """One line of plain text, safe anywhere in Markdown: a paragraph, a list item, a heading."""
    out = cell(text)
    block = _BLOCK_START.match(out)
    if block:
        at = block.end("number") if block.group("number") else 0
        out = out[:at] + "\\" + out[at:]
    return out


def cell(text: object) -> str:
    """`escape` for a table cell (or after other text on the line), where nothing starts a
    block: `>=1.35 <1.37` stays as it is."""
    text = printable(str(text))
    pieces, last = [], 0
    for match in _MENTION.finditer(text):
        pieces.append(_plain(text[last:match.start()]))
        pieces.append(code(match.group(0), in_table=True))
        last = match.end()
    pieces.append(_plain(text[last:]))
    return "".join(pieces)


def code(text: object, *, in_table: bool = False) -> str:
    """A code span holding `text` literally (one line): fenced with more backticks than any
    run inside. `in_table`: `|` escaped, as a GitHub table cell needs even inside code."""
    text = printable(str(text))
    if not text:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    if in_table:
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


def is_url(text: str) -> bool:
    """A plain http(s) URL: a host, URL characters only (no spaces, quotes, backticks, angle
    brackets), no credentials."""
    if not _URL.fullmatch(text or "") or len(text) > 2048:
        return False
    host = text.split("://", 1)[1].split("/", 1)[0]
    return bool(host) and "@" not in host


def link(url: str) -> str:
    """An autolink `<url>` for a plain URL (`is_url`); anything else as code."""
    return f"<{url}>" if is_url(url) else code(url)


_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\`'\"<>|$]|\.\.|@\{|//")


def is_ref_name(text: str) -> bool:
    """A git reference or commit name as `git check-ref-format --allow-onelevel` accepts it
    (`main`, `refs/heads/x`, `v1.2.3`, a commit id), restricted to characters that are
    harmless in Markdown and a shell: no quotes, backticks, `$`, `<`, `>` or `|`."""
    if not text or len(text) > 255 or text == "@" or _REF_FORBIDDEN.search(text):
        return False
    if text.startswith(("/", "-")) or text.endswith(("/", ".")):
        return False
    return all(part and not part.startswith(".") and not part.endswith(".lock") for part in text.split("/"))
