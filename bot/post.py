"""The Post: one channel message as every stage after the source sees it."""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from urllib.parse import parse_qsl

__all__ = ["Entity", "Post", "plain_breaks", "marked_id", "bare_id", "post_link", "link_channel", "not_a_channel", "cut_link", "t_me_lower", "hidden_links", "content_hash", "content_hashes", "TG_LINK", "TG_LINK_HINT", "TG_LINK_RE"]

_MARK = 1_000_000_000_000


def marked_id(bare: int) -> int:
    """Telegram's marked channel id (-100…) for a bare channel id."""
    return -(_MARK + bare)


def bare_id(value: int) -> int:
    """The bare channel id for a bare or marked (-100…) id."""
    return -value - _MARK if value < -_MARK else abs(value)


def post_link(channel_id: int, message_id: int, username: str | None = None) -> str:
    """t.me/<username>/<id> for public channels, else t.me/c/<bare id>/<id>."""
    if username:
        return f"https://t.me/{username.lstrip('@')}/{message_id}"
    return f"https://t.me/c/{bare_id(channel_id)}/{message_id}"


# A Telegram link's start: its scheme (optional) and host, one of the hosts Telegram's own apps open
# alike (t.me, telegram.me, telegram.dog; www. before any). Every pattern that reads a Telegram link starts with it.
_TG_HOSTS = ("t.me", "telegram.me", "telegram.dog")
TG_LINK = r"(?:https?://)?(?:www\.)?(?:" + "|".join(map(re.escape, _TG_HOSTS)) + ")/"
# What every TG_LINK holds after a «.»: its host's last label and «/» («me/», «dog/»), for the cheap
# searches that spare most texts a whole link pattern (`text.find_urls`, the story step's links).
TG_LINK_HINT = "(?:" + "|".join(sorted({h.rsplit(".", 1)[1] for h in _TG_HOSTS})) + ")/"
# A Telegram link's start, in any case (a host ignores case: T.ME/Mash is t.me/Mash).
TG_LINK_RE = re.compile(TG_LINK, re.IGNORECASE)
# a link as Telegram copies it may end in ?single (an album's item), ?comment=7 or ?thread=…; its
# scheme and host in any case (a host ignores case: T.ME/mash/5 is t.me/mash/5)
_POST_LINK_RE = re.compile(rf"\s*{TG_LINK}(?:c/([0-9]{{1,19}})|(?:s/)?@?([A-Za-z][A-Za-z0-9_]{{3,31}}))/[0-9]{{1,19}}/?"
                           r"(?:[?#]\S*)?\s*", re.IGNORECASE)
# Telegram's own paths after a link's host, which no channel can be named: they would read as
# usernames or post links.
_NOT_A_CHANNEL: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\+\d+/?$"), "a phone number's link (a person), not a channel"),
    (re.compile(r"(?:joinchat(?:[/?#]|$)|\+)", re.IGNORECASE),
     "an invite link, not a channel: join it with the watching account, then name the channel by @username or id"),
    (re.compile(r"(?:proxy|socks)(?:[/?#]|$)", re.IGNORECASE), "a proxy link, not a channel"),
    (re.compile(r"(?:addstickers|addemoji|addlist|addtheme|setlanguage|share|login|confirmphone|iv)(?:[/?#]|$)",
                re.IGNORECASE), "a link to a Telegram feature, not a channel"),
)
# The same links as the apps' own tg:// scheme writes them (tg://join?invite=HASH, tg://proxy?…,
# tg://login?code=…, tg://resolve?phone=…); a tg:// link no other shape names is no channel either
# but tg://resolve?domain=NAME, a username.
_TG_SCHEME_RE = re.compile(r"tg://", re.IGNORECASE)
_LATER_LINK_RE = re.compile(rf"(?<=\s)(?:{TG_LINK}|tg://)\S+", re.IGNORECASE)  # a Telegram link after a space
_TG_RESOLVE_RE = re.compile(r"tg://resolve\?([^#\s]*)(?:#\S*)?$", re.IGNORECASE)  # the query of a tg://resolve link
_TG_NOT_A_CHANNEL: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"resolve\?(?:[^#]*&)?phone=", re.IGNORECASE), _NOT_A_CHANNEL[0][1]),
    (re.compile(r"join(?:[/?#]|$)", re.IGNORECASE), _NOT_A_CHANNEL[1][1]),
    *_NOT_A_CHANNEL[2:],
    (re.compile(r"(?!resolve\?(?:[^#]*&)?domain=)", re.IGNORECASE), "a link to a Telegram feature, not a channel"),
)


def t_me_lower(value: str) -> str:
    """`value` stripped, with a Telegram link's scheme and host in lower case (`T.ME/Mash` -> `t.me/Mash`),
    and the apps' `tg://resolve?domain=NAME` (`&post=N`) written as its t.me link (`t.me/NAME`, `t.me/NAME/N`):
    every reader of a channel (config, rules, --channel, the chat) takes it as the username it names."""
    s = value.strip()
    if m := _TG_RESOLVE_RE.match(s):
        query = dict(parse_qsl(m.group(1)))
        if domain := query.get("domain"):
            post = query.get("post", "")
            return f"t.me/{domain}/{post}" if post.isdigit() else f"t.me/{domain}"
    if m := TG_LINK_RE.match(s):
        return m.group(0).lower() + s[m.end():]
    return s


def not_a_channel(value: str) -> str | None:
    """Why a Telegram link (`TG_LINK` or tg://) names no channel («an invite link, not a channel: …»,
    a proxy, a sticker set, a phone number), or None: any other value (a username, an id, a post's link)."""
    s = value.strip()
    m, shapes = TG_LINK_RE.match(s), _NOT_A_CHANNEL
    if m is None:
        m, shapes = _TG_SCHEME_RE.match(s), _TG_NOT_A_CHANNEL
    if m is None:
        return None
    path = s[m.end():]
    return next((why for shape, why in shapes if shape.match(path)), None)


def cut_link(value: str) -> str:
    """`value` as an error shows it: a Telegram link that names no channel (`not_a_channel`; bare
    `+HASH` and `joinchat/HASH` too) cut after its kind, `t.me/+…`, `telegram.me/joinchat/…`,
    `tg://join?…`, `t.me/proxy?…`: an invite's hash lets whoever reads it join a private channel, a
    phone link is a person's number, a proxy's secret its key, a login link's code a login. The
    error's file:line points at the whole link; such a link later in the value (`join t.me/+HASH`)
    is cut alike; any other value as is."""
    s = value.strip()
    m = TG_LINK_RE.match(s) or _TG_SCHEME_RE.match(s)
    start = m.end() if m else 0
    if not_a_channel(s if m else "t.me/" + s) is None:
        return _LATER_LINK_RE.sub(lambda later: cut_link(later.group(0)), value)
    kind = re.match(r"\+|[A-Za-z]+[/?#]?", s[start:])
    end = start + (kind.end() if kind else 0)
    return s[:end] + "…" if end < len(s) else s


def link_channel(text: str) -> str | None:
    """The channel a post's link names, `post_link` read back: the username of t.me/name/123 (or
    t.me/s/name/123, t.me/name/123?single), the bare id of t.me/c/1117628569/123; None when `text`
    is no post link."""
    m = _POST_LINK_RE.fullmatch(text)
    return None if m is None else m.group(1) or m.group(2)


@dataclass(frozen=True, slots=True)
class Entity:
    """A formatting entity; offset and length in UTF-16 code units, as Telegram counts."""

    type: str
    offset: int
    length: int
    url: str | None = None

    @property
    def hides_url(self) -> bool:
        """Is there a link behind its words that the text does not show (a text link, not a visible one)?"""
        return bool(self.url) and self.type != "link"


def plain_breaks(text: str, entities: tuple[Entity, ...] = ()) -> tuple[str, tuple[Entity, ...]]:
    """`text` with Windows (\\r\\n) and old Mac (\\r) line breaks as \\n, its entities' UTF-16 offsets
    moved to match: the same post read from two sources is one text (else every replay is an "edit")."""
    if "\r" not in text:
        return text, entities
    if entities:
        dropped: list[int] = []  # the UTF-16 offsets of the \r of each \r\n
        unit = 0
        for k, ch in enumerate(text):
            if ch == "\r" and text.startswith("\n", k + 1):
                dropped.append(unit)
            unit += 2 if ord(ch) > 0xFFFF else 1

        def moved(at: int) -> int:
            return at - bisect_left(dropped, at)

        entities = tuple(replace(e, offset=moved(e.offset), length=moved(e.offset + e.length) - moved(e.offset))
                         for e in entities)
    return text.replace("\r\n", "\n").replace("\r", "\n"), entities


def hidden_links(text: str, entities: tuple[Entity, ...]) -> tuple[tuple[int, int, str], ...]:
    """The links behind words («подробнее» linking to a site): (start, end) of the words in `text`'s
    characters, and the URL the text does not show. A visible link is in the text already."""
    links = [e for e in entities if e.hides_url]
    if not links:
        return ()
    units = text.encode("utf-16-le", "surrogatepass")
    astral = len(units) != 2 * len(text)  # an emoji (beyond U+FFFF) counts two units, one character
    out = []
    for e in links:
        s, end = e.offset, e.offset + e.length
        if astral:
            s, end = (len(units[: 2 * u].decode("utf-16-le", "surrogatepass")) for u in (s, end))
        s, end = min(s, len(text)), min(end, len(text))
        if s < end:
            out.append((s, end, str(e.url)))
    return tuple(out)


def content_hash(text: str, links: tuple[tuple[int, int, str], ...] = ()) -> str:
    """A short digest of what matching reads: the text and the links behind its words (an edit that
    only re-points «подробнее» is an edit: `url:` rules read the link). Without links, of the text alone."""
    raw = text + "".join(f"\0{s} {e} {url}" for s, e, url in links) if links else text
    return hashlib.blake2b(raw.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def content_hashes(text: str, links: tuple[tuple[int, int, str], ...] = ()) -> tuple[str, str | None]:
    """(`content_hash(text, links)`, `content_hash(text)` when there are links, else None): the text
    encoded and hashed once for both (the links' part is hashed on from a copy of the text's state)."""
    h = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8)
    if not links:
        return h.hexdigest(), None
    plain = h.hexdigest()
    h.update("".join(f"\0{s} {e} {url}" for s, e, url in links).encode("utf-8", "surrogatepass"))
    return h.hexdigest(), plain


@dataclass(slots=True)
class Post:
    """One channel post (an album counts as one post)."""

    channel_id: int  # bare id
    message_id: int
    date: datetime  # UTC, timezone-aware
    text: str
    channel_title: str = ""
    channel_username: str | None = None
    edit_date: datetime | None = None
    entities: tuple[Entity, ...] = ()
    forward_channel_id: int | None = None
    forward_post_id: int | None = None
    forward_name: str | None = None
    grouped_id: int | None = None
    media: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
    last_id: int = 0  # an album's last item id (the message id otherwise): how far the channel was read
    # (text, entities, links, hash) as last computed: the pipeline asks for both several times per post
    _derived: tuple[str, tuple[Entity, ...], tuple[tuple[int, int, str], ...], str | None] | None = field(
        default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if "\r" in self.text:
            self.text, self.entities = plain_breaks(self.text, self.entities)
        self.channel_id = bare_id(int(self.channel_id))
        if self.forward_channel_id is not None:
            self.forward_channel_id = bare_id(int(self.forward_channel_id))
        self.last_id = max(self.last_id, self.message_id)
        if self.date.tzinfo is None:
            self.date = self.date.replace(tzinfo=timezone.utc)
        if self.edit_date is not None and self.edit_date.tzinfo is None:
            self.edit_date = self.edit_date.replace(tzinfo=timezone.utc)

    @property
    def key(self) -> tuple[int, int]:
        return (self.channel_id, self.message_id)

    @property
    def links(self) -> tuple[tuple[int, int, str], ...]:
        """`hidden_links`: where the post links a site behind its words, for `url:` rules."""
        return self._derive()[2]

    @property
    def marked_channel_id(self) -> int:
        return marked_id(self.channel_id)

    @property
    def link(self) -> str:
        return post_link(self.channel_id, self.message_id, self.channel_username)

    @property
    def text_hash(self) -> str:
        """`content_hash` of the text and its hidden links: edits that change neither (reactions,
        formatting) keep it. Computed once per text (the pipeline asks up to four times per post)."""
        d = self._derive()
        h = d[3]
        if h is None:
            h = content_hash(d[0], d[2])
            self._derived = (d[0], d[1], d[2], h)
        return h

    def seed_links(self, text: str, entities: tuple[Entity, ...], links: tuple[tuple[int, int, str], ...]) -> None:
        """Take `links` as `hidden_links(text, entities)`, found by a source as it read them: kept
        while the post's text and entities are these objects (not once `plain_breaks` rewrote them)."""
        self._derived = (text, entities, links, None)

    def seed_text_hash(self, text_hash: str) -> None:
        """Take `text_hash` as computed elsewhere (a worker) from this post's text and `links`."""
        d = self._derive()
        self._derived = (d[0], d[1], d[2], text_hash)

    def _derive(self) -> tuple[str, tuple[Entity, ...], tuple[tuple[int, int, str], ...], str | None]:
        """`_derived`, computed again when the text or the entities were replaced (an edit)."""
        d = self._derived
        if d is None or d[0] is not self.text or d[1] is not self.entities:
            d = self._derived = (self.text, self.entities, hidden_links(self.text, self.entities), None)
        return d
