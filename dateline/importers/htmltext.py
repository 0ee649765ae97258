"""HTML → Markdown, conservatively: what another platform's post says survives, its markup does not.

Kept:
    <p>, <div> and other containers       paragraphs (blank line between)
    <h1>…<h6>                             "## …" (h1 and h2), "### …" (h3), "#### …" (h4 to h6)
    <strong>, <b> / <em>, <i>             **bold** / *emphasis* (a star, not an underscore:
                                          a star also works inside a word)
    <a href="http(s)://…">text</a>        [text](url); any other link (relative, javascript:,
                                          mailto:) keeps only its text
    <ul>, <ol start>, <li>                "- item" / "1. item", nested lists indented
    <blockquote>                          "> …"
    <br>                                  a hard line break (a backslash at the end of the line)
    <pre>, <code>                         fenced code block / `code`
    <hr>                                  "---"
    <table>                               one line per row, cells joined by " · "
    <img src="http(s)://…" alt>           not in the text: a `Media` (alt, caption from the
                                          enclosing <figure>'s <figcaption>, no credit)
Dropped with everything inside them: <script>, <style>, <iframe>, <object>, <embed>, <video>,
<audio>, <svg>, <form> and the like (the embeds among them are reported in `dropped`, so an
importer can warn). Every attribute but href, src, alt and a few the WordPress plugin uses is
ignored, so event handlers (on*) and inline styles never pass. Control characters and lone
surrogates are removed. Elements nested deeper than 48 levels are flattened (their words kept,
their markup not), so hostile input cannot exhaust the stack.
Text that Markdown would read as syntax ("*", "[", "<", "1. " at the start of a line…) is
escaped with a backslash, so the words show exactly as they did.

With `newlines=True` the text is read as WordPress stores a post or a comment before its
`wpautop` filter: a blank line separates paragraphs and a single newline is a line break.

The WordPress Liveblog plugin's own markup is understood: its command spans
(`<span class="liveblog-command type-key">key</span>`, written for "/key") are removed and named
in `commands`; its hashtags (`<span class="liveblog-hash term-x">x</span>`) read "#x" and are
collected in `tags`; its emoji images read ":name:".

With `take_headline=True`, a heading that opens the text, or a bold first line (a paragraph that
is all bold, or bold text followed by a line break), becomes `headline` and leaves the body.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

from dateline.model import Media

# Deeper nesting is flattened into the element at this depth, so hostile input cannot make the
# (recursive) renderer overflow the stack.
MAX_DEPTH = 48
_MAX_HEADLINE = 300  # a longer bold first line is a paragraph, not a headline
_MAX_URL = 2000

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip
_DROPPED = frozenset(
    {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math",
     "canvas", "video", "audio", "form", "button", "select", "textarea", "input", "head",
     "title", "frameset", "frame", "applet", "map", "dialog", "meta", "link", "base"}
)  # fmt: skip
_REPORTED = frozenset({"iframe", "object", "embed", "video", "audio"})
_HEADINGS = {"h1": "##", "h2": "##", "h3": "###", "h4": "####", "h5": "####", "h6": "####"}
_BLOCKS = frozenset(
    {"p", "div", "section", "article", "header", "footer", "main", "aside", "nav", "address",
     "center", "ul", "ol", "li", "dl", "dt", "dd", "blockquote", "pre", "hr", "figure",
     "figcaption", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "details",
     "summary", "hgroup", "body", "html", "fieldset", "legend", "menu", *_HEADINGS}
)  # fmt: skip
_KEPT_ATTRIBUTES = frozenset({"href", "src", "alt", "class", "start", "data-emoji"})

# Markers inside rendered inline text. The input never holds them: control characters are
# removed from it first.
_PARAGRAPH = "\x00"
_LINE = "\x01"
# Control characters, and lone surrogates (a JSON "\\ud800" decodes to one; UTF-8 cannot hold it).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\r\n\f]+")
_BLANK_LINE = re.compile(r"\r?\n[ \t\r\f]*\n\s*")
_ESCAPED = re.compile(r"([\\`*\[\]<~])|(?<!\w)_|_(?!\w)|&(?=#?\w+;)")
# Line openings Markdown reads as a heading, quote, list, rule or setext underline.
_LINE_START = re.compile(
    r"^(?:\d{1,9}(?=[.)](?:\s|$))|(?=#{1,6}(?:\s|$)|[>+-](?:\s|$)|-{3,}|=+\s*$))"
)


@dataclass
class Converted:
    markdown: str = ""
    headline: str = ""
    media: list[Media] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    commands: set[str] = field(default_factory=set)
    dropped: list[str] = field(default_factory=list)  # embeds removed: "iframe", "video", …


def html_to_markdown(
    source: str, *, newlines: bool = False, take_headline: bool = False
) -> Converted:
    builder = _TreeBuilder()
    builder.feed(_CONTROL.sub("", source))
    builder.close()
    result = Converted()
    if take_headline:
        result.headline = _take_headline(builder.root, newlines)
    renderer = _Renderer(result, newlines)
    result.markdown = "\n\n".join(renderer.blocks(builder.root)).strip()
    return result


def http_url(value: object) -> str | None:
    """`value` if it is an absolute http(s) URL a reader's browser can follow, else None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > _MAX_URL or _SPACES.search(url) or _CONTROL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # such as an unbalanced "[" in the host
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme + url[len(scheme) :]  # "HTTPS://…" → "https://…", as the API expects


def clean(text: str) -> str:
    """`text` without control characters (but tabs and newlines) and lone surrogates."""
    return _CONTROL.sub("", text)


def escape(text: str) -> str:
    """Plain text → Markdown that shows the same characters."""
    return _ESCAPED.sub(lambda m: "\\" + m[0], text)


class _Node:
    __slots__ = ("attrs", "children", "tag")

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[_Node | str] = []

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()


class LenientHTMLParser(HTMLParser):
    """The standard library's parser, minus its one way to fail on bad markup: an unknown
    "<![…" section (such as "<![if !IE]>" or "<![ x") makes Python 3.11's parser raise
    AssertionError. Browsers read one as a bogus comment; so does this."""

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            end = self.rawdata.find(">", i + 3)
            return -1 if end < 0 else end + 1


class _TreeBuilder(LenientHTMLParser):
    """A forgiving tree: unclosed elements close at their parent's end, stray end tags are
    ignored, and a new paragraph, list item or cell closes the one before (as browsers do)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root", {})
        self._stack = [self.root]
        self._flattened: Counter[str] = Counter()  # start tags beyond MAX_DEPTH, by name

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = _Node(tag, {k: v or "" for k, v in attrs if k in _KEPT_ATTRIBUTES})
        if tag in _VOID:
            self._stack[-1].children.append(node)
            return
        self._close_implied(tag)
        if len(self._stack) > MAX_DEPTH:
            self._flattened[tag] += 1
            return
        self._stack[-1].children.append(node)
        self._stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # "<br/>", or a self-closed "<p/>": an element without content either way.
        node = _Node(tag, {k: v or "" for k, v in attrs if k in _KEPT_ATTRIBUTES})
        self._stack[-1].children.append(node)

    def handle_endtag(self, tag: str) -> None:
        if self._flattened[tag]:
            self._flattened[tag] -= 1
            return
        for depth in range(len(self._stack) - 1, 0, -1):
            if self._stack[depth].tag == tag:
                del self._stack[depth:]
                return
        if tag in ("br", "p"):  # browsers read a stray </br> or </p> as an empty element
            self._stack[-1].children.append(_Node(tag, {}))

    def handle_data(self, data: str) -> None:
        self._stack[-1].children.append(data)

    def _close_implied(self, tag: str) -> None:
        if tag == "li":
            self._close_to("li", stop={"ul", "ol", "menu"})
        elif tag in ("td", "th"):
            self._close_to("td", "th", stop={"tr", "table"})
        elif tag == "tr":
            self._close_to("tr", stop={"table"})
        elif tag in ("dt", "dd"):
            self._close_to("dt", "dd", stop={"dl"})
        if tag in _BLOCKS:
            self._close_to("p", stop=_BLOCKS - {"p"})

    def _close_to(self, *tags: str, stop: set[str] | frozenset[str]) -> None:
        for depth in range(len(self._stack) - 1, 0, -1):
            current = self._stack[depth].tag
            if current in tags:
                del self._stack[depth:]
                return
            if current in stop:
                return


def _dropped(node: _Node) -> bool:
    return node.tag in _DROPPED or "liveblog-command" in node.classes


def _plain(node: _Node | str) -> str:
    parts: list[str] = []

    def walk(item: _Node | str) -> None:
        if isinstance(item, str):
            parts.append(item)
        elif item.tag == "br":
            parts.append(" ")
        elif not _dropped(item):
            for child in item.children:
                walk(child)

    walk(node)
    return _SPACES.sub(" ", "".join(parts)).replace("\u00a0", " ").strip()


def _is_blank(item: _Node | str) -> bool:
    if isinstance(item, str):
        return not item.strip()
    return _dropped(item)


def _take_headline(root: _Node, newlines: bool) -> str:
    """Remove the opening heading or bold first line from the tree and return its text."""
    container = root
    for _ in range(MAX_DEPTH):
        children = container.children
        index = next((i for i, c in enumerate(children) if not _is_blank(c)), None)
        if index is None:
            return ""
        first = children[index]
        if isinstance(first, str):
            return ""
        if first.tag in _HEADINGS:
            text = _plain(first)
            if not text or len(text) > _MAX_HEADLINE:
                return ""
            del children[index]
            return text
        if first.tag in ("p", "div", "section", "article", "header"):
            container = first
            continue
        if first.tag not in ("strong", "b"):
            return ""
        text = _plain(first)
        if not text or len(text) > _MAX_HEADLINE:
            return ""
        after = children[index + 1 :]
        following = after[0] if after else None
        if isinstance(following, _Node) and following.tag == "br":
            del children[index : index + 2]
        elif all(_is_blank(c) for c in after):
            del children[index]
        elif newlines and isinstance(following, str) and following.lstrip(" \t").startswith("\n"):
            del children[index]
            children[index] = following.lstrip(" \t\r\n")
        else:
            return ""
        return text
    return ""


def _escape_start(line: str) -> str:
    """A backslash before the punctuation that would make `line` a heading, quote, list item,
    rule or underline ("1. " → "1\\. ", "- " → "\\- ")."""
    match = _LINE_START.match(line)
    return line if match is None else f"{line[: match.end()]}\\{line[match.end() :]}"


def _wrap(inner: str, marker: str) -> str:
    """**inner**, with the spaces and line breaks at its edges kept outside the markers (where
    CommonMark needs them)."""
    core = inner.strip(" \t\r\n\f" + _LINE)
    if not core or _PARAGRAPH in core:
        return inner
    start = inner.index(core[0])
    end = start + len(core)
    return f"{inner[:start]}{marker}{core}{marker}{inner[end:]}"


def _link_target(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")


def _code_span(text: str) -> str:
    text = _SPACES.sub(" ", text)
    if not text.strip():
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    ticks = "`" * (longest + 1)
    return f"{ticks}\n{text.strip(chr(10))}\n{ticks}"


def _indent(text: str, first: str, rest: str) -> str:
    lines = text.split("\n")
    return "\n".join([first + lines[0]] + [(rest + line) if line else "" for line in lines[1:]])


class _Renderer:
    def __init__(self, result: Converted, newlines: bool) -> None:
        self.result = result
        self.newlines = newlines
        self.caption = ""  # the <figcaption> of the <figure> being rendered
        self.images_in_figure = 0

    # Blocks: each is a Markdown block without blank lines at its edges.

    def blocks(self, node: _Node) -> list[str]:
        out: list[str] = []
        inline: list[str] = []
        for child in node.children:
            if isinstance(child, _Node) and child.tag in _BLOCKS:
                out.extend(self._paragraphs("".join(inline)))
                inline.clear()
                out.extend(self.block(child))
            else:
                inline.append(self.inline(child, top=True, bold=False, em=False, link=False))
        out.extend(self._paragraphs("".join(inline)))
        return out

    def block(self, node: _Node) -> list[str]:
        tag = node.tag
        if tag in _HEADINGS:
            text = self._one_line(self.inline_children(node))
            return [f"{_HEADINGS[tag]} {text}"] if text else []
        if tag in ("ul", "ol", "menu"):
            listed = self._list(node)
            return [listed] if listed else []
        if tag == "blockquote":
            inner = "\n\n".join(self.blocks(node))
            if not inner:
                return []
            return ["\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))]
        if tag == "pre":
            text = _plain_raw(node)
            return [_fence(text)] if text.strip() else []
        if tag == "hr":
            return ["---"]
        if tag == "figure":
            return self._figure(node)
        if tag == "table":
            return self._table(node)
        return self.blocks(node)

    def _list(self, node: _Node) -> str:
        ordered = node.tag == "ol"
        number = 1
        if ordered:
            start = node.attrs.get("start", "").strip()
            number = int(start) if start.isdigit() and len(start) <= 9 else 1
        # Text or elements loose in a list (not in an <li>) make an item of their own.
        groups: list[_Node] = []
        for child in node.children:
            if isinstance(child, _Node) and child.tag == "li":
                groups.append(child)
            elif groups and groups[-1].tag == "#loose":
                groups[-1].children.append(child)
            else:
                groups.append(_Node("#loose", {}))
                groups[-1].children.append(child)
        items: list[str] = []
        for group in groups:
            sub = self.blocks(group)
            if not sub:
                continue
            marker = f"{number}. " if ordered else "- "
            number += 1
            body = sub[0]
            for block in sub[1:]:
                # A nested list follows its item's words directly; paragraphs need a blank line.
                body += ("\n" if re.match(r"(- |\d+\. )", block) else "\n\n") + block
            items.append(_indent(body, marker, " " * len(marker)))
        return "\n".join(items)

    def _figure(self, node: _Node) -> list[str]:
        captions = [c for c in node.children if isinstance(c, _Node) and c.tag == "figcaption"]
        caption = " ".join(_plain(c) for c in captions).strip()
        saved = (self.caption, self.images_in_figure)
        self.caption, self.images_in_figure = caption, 0
        body = _Node("div", {})
        body.children = [c for c in node.children if not (isinstance(c, _Node) and c in captions)]
        out = self.blocks(body)
        if caption and not self.images_in_figure:  # a captioned embed or quote: keep the words
            out.extend(self._paragraphs(escape(caption)))
        self.caption, self.images_in_figure = saved
        return out

    def _table(self, node: _Node) -> list[str]:
        rows: list[str] = []

        def walk(item: _Node, depth: int) -> None:
            for child in item.children:
                if not isinstance(child, _Node) or depth > 3:
                    continue
                if child.tag == "tr":
                    cells = [
                        self._one_line(self.inline_children(cell))
                        for cell in child.children
                        if isinstance(cell, _Node) and cell.tag in ("td", "th")
                    ]
                    line = " · ".join(c for c in cells if c)
                    if line:
                        rows.append(line)
                elif child.tag in ("thead", "tbody", "tfoot", "caption"):
                    if child.tag == "caption":
                        text = self._one_line(self.inline_children(child))
                        if text:
                            rows.append(text)
                    else:
                        walk(child, depth + 1)

        walk(node, 0)
        return ["\\\n".join(rows)] if rows else []

    def _paragraphs(self, text: str) -> list[str]:
        out = []
        for part in text.split(_PARAGRAPH):
            lines = [_SPACES.sub(" ", line).strip() for line in part.split(_LINE)]
            # Line breaks at a paragraph's edges, or several in a row, show nothing.
            while lines and not lines[0]:
                lines.pop(0)
            while lines and not lines[-1]:
                lines.pop()
            lines = [line for line in lines if line]
            if lines:
                out.append("\\\n".join(_escape_start(line) for line in lines))
        return out

    def _one_line(self, text: str) -> str:
        one = _SPACES.sub(" ", text.replace(_PARAGRAPH, " ").replace(_LINE, " ")).strip()
        return _escape_start(one)

    # Inline text: Markdown with _LINE and _PARAGRAPH markers, whitespace not yet collapsed.

    def inline_children(self, node: _Node, *, bold: bool = False, em: bool = False) -> str:
        return "".join(
            self.inline(c, top=False, bold=bold, em=em, link=False) for c in node.children
        )

    def inline(self, item: _Node | str, *, top: bool, bold: bool, em: bool, link: bool) -> str:
        if isinstance(item, str):
            return self._text(item, top)
        tag = item.tag
        if _dropped(item):
            if "liveblog-command" in item.classes:
                named = [c[5:] for c in item.classes if c.startswith("type-") and c[5:]]
                words = "".join(c for c in item.children if isinstance(c, str)).strip()
                self.result.commands.update(n.lower() for n in named or [words.lstrip("/")])
            elif tag in _REPORTED:
                self.result.dropped.append(tag)
            return ""
        if tag == "br":
            return _LINE
        if tag == "img":
            return self._image(item)
        if "liveblog-hash" in item.classes:
            words = _plain(item).lstrip("#")
            if words and words not in self.result.tags:
                self.result.tags.append(words)
            return f"#{escape(words)}" if words else ""

        def inner(**state: bool) -> str:
            merged = {"bold": bold, "em": em, "link": link} | state
            return "".join(self.inline(c, top=False, **merged) for c in item.children)

        if tag in ("strong", "b"):
            return inner() if bold else _wrap(inner(bold=True), "**")
        if tag in ("em", "i"):
            return inner() if em else _wrap(inner(em=True), "*")
        if tag in ("code", "kbd", "samp", "tt"):
            return _code_span(_plain_raw(item))
        if tag == "a":
            text = inner(link=True)
            url = None if link else http_url(item.attrs.get("href"))
            words = text.strip(" \t\r\n\f" + _LINE + _PARAGRAPH)
            if url is None or not words:
                return text
            return f"[{words}]({_link_target(url)})"
        if tag in _BLOCKS:  # a block inside a link or emphasis: its words, set apart
            return f" {inner()} "
        return inner()

    def _text(self, text: str, top: bool) -> str:
        if self.newlines:
            text = _BLANK_LINE.sub(_PARAGRAPH if top else _LINE, text)
            text = text.replace("\r\n", "\n").replace("\n", _LINE)
        return escape(text.replace("\u00a0", " "))

    def _image(self, node: _Node) -> str:
        if "liveblog-emoji" in node.classes:
            name = re.sub(r"[^\w+-]", "", node.attrs.get("data-emoji", ""))
            return f":{name}:" if name else ""
        url = http_url(node.attrs.get("src"))
        alt = _SPACES.sub(" ", node.attrs.get("alt", "")).strip()
        if url is None and not self.caption:
            return ""
        self.images_in_figure += 1
        self.result.media.append(Media(alt=alt, caption=self.caption, credit="", url=url))
        return ""


def _plain_raw(node: _Node) -> str:
    """The text inside an element as written (for code): no collapsing, no escaping."""
    parts: list[str] = []

    def walk(item: _Node | str) -> None:
        if isinstance(item, str):
            parts.append(item)
        elif item.tag == "br":
            parts.append("\n")
        elif not _dropped(item):
            for child in item.children:
                walk(child)

    walk(node)
    return "".join(parts)


__all__ = [
    "Converted", "LenientHTMLParser", "clean", "escape", "html_to_markdown", "http_url",
]  # fmt: skip
