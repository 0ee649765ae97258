"""An embed as readers first see it: a card made only of the stored snapshot (the provider, the
author, the words or title, a thumbnail from Dateline's own media, a link to the original). The
page asks nothing of the provider until the reader presses "Load": then the page's script puts
the provider's privacy-enhanced frame (`data-frame`) in the card's place, sandboxed.

The card is part of the post's HTML, so it is the same on the page, the permalink, the embed, the
live stream, the feed and the JSON; without JavaScript it is a link card."""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from dateline.embeds.providers import frame_origin
from dateline.model import Embed, EmbedState

_VERBS = {"video": "video", "photo": "photo", "rich": "post", "link": "page"}


def _attr(value: str) -> str:
    return escape(value, quote=True)


def card(embed: Embed) -> str:
    host = (urlsplit(embed.url).hostname or "").removeprefix("www.")
    provider = escape(embed.provider or host)
    link = _attr(embed.url)
    attrs = [f'class="embed embed--{embed.kind}"', f'data-provider="{_attr(embed.provider)}"']
    if embed.state is not EmbedState.READY:
        attrs.append(f'data-state="{embed.state.value}"')
    if embed.frame:
        attrs.append(f'data-frame="{_attr(embed.frame)}"')
        attrs.append(f'data-frame-origin="{_attr(frame_origin(embed.frame))}"')
        if embed.frame_width and embed.frame_height:
            attrs.append(f'data-ratio="{embed.frame_height / embed.frame_width:.4f}"')
    out = [f"<figure {' '.join(attrs)}>"]
    if embed.thumbnail:
        size = ""
        if embed.thumbnail_width and embed.thumbnail_height:
            size = f' width="{embed.thumbnail_width}" height="{embed.thumbnail_height}"'
        out.append(
            f'<img class="embed__thumb" src="{_attr(embed.thumbnail)}" alt=""{size} '
            'loading="lazy" decoding="async">'
        )
    out.append('<div class="embed__card">')
    who = f'<span class="embed__provider">{provider}</span>'
    if embed.author:
        author = escape(embed.author)
        if embed.author_url:
            href = _attr(embed.author_url)
            author = f'<a href="{href}" rel="noopener noreferrer nofollow">{author}</a>'
        who += f' <span class="embed__author">{author}</span>'
    out.append(f'<p class="embed__who">{who}</p>')
    if embed.title and embed.title != embed.text:
        out.append(f'<p class="embed__title">{escape(embed.title)}</p>')
    if embed.text:
        out.append(f'<blockquote class="embed__text"><p>{escape(embed.text)}</p></blockquote>')
    meta = f'<a class="embed__link" href="{link}" rel="noopener noreferrer nofollow">'
    meta += (
        f"View on {provider}</a>" if embed.state is EmbedState.READY else f"{escape(embed.url)}</a>"
    )
    if embed.published:
        meta += (
            f' · <time datetime="{_attr(embed.published)}">{escape(embed.published[:10])}</time>'
        )
    out.append(f'<p class="embed__meta">{meta}</p>')
    if embed.frame:
        verb = _VERBS.get(embed.kind, "post")
        out.append(
            f'<p class="embed__consent" hidden><button type="button" class="embed__load">'
            f"Load {provider} {verb}</button> "
            f'<label><input type="checkbox" class="embed__always"> Always load {provider}</label>'
            f'<small class="embed__note">Loading it lets {provider} see that you read this page.'
            "</small></p>"
        )
    out.append("</div></figure>")
    return "".join(out)
