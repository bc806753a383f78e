"""An offline fake of the Telegram *server* for tests of the live path (Telethon 1.45.0, layer 229).

The real ``telethon.TelegramClient`` is kept; only its MTProto sender (``client._sender``) is replaced by
:class:`FakeSender`, whose ``send(request)`` answers from the Python handlers of :class:`FakeTelegram`. Server
pushes go into ``client._updates_queue`` exactly where the real sender's receive loop puts them, so Telethon's
own MessageBox (pts/gap handling, getChannelDifference), entity cache, event builders (NewMessage, Album,
MessageEdited, CallbackQuery), ``iter_messages``, HTML parsing and flood-wait logic all run unmodified.

Everything crosses the "wire": requests are serialised with ``bytes(request)`` and parsed back before a handler
sees them; answers are serialised and parsed with ``request.read_result`` (what MTProtoSender does with an
``rpc_result``); pushed updates go through ``BinaryReader(bytes(obj)).tgread_object()``. A bad fixture therefore
fails like a bad server payload. RPC errors are built with ``telethon.errors.rpc_message_to_error`` exactly as
MTProtoSender builds them, so FloodWait, ChannelPrivate, RandomIdDuplicate... take Telethon's real paths.

API
---
``FakeTelegram(state_path: Path | None = None)``
    The server for one user account (``USER_ID``) and optionally one bot (``BOT_ID``). With ``state_path`` the
    server state (channels, messages, pts, account state, sent messages and their random_ids, authorised auth
    keys) is saved atomically (JSON, tmp file + ``os.replace``; not fsynced: safe against SIGKILL, not power loss)
    after every mutating call and reloaded by a new ``FakeTelegram(state_path)``, e.g. in a process started after
    a SIGKILL. Test controls (flood/fail/too_long) and pending uploads are not persisted.
``await fake.client(*, bot=False, session=None, authorized=True, **kw) -> TelegramClient``
    A real ``TelegramClient(session or StringSession(), api_id=1, api_hash="0"*32, **kw)`` whose sender is
    replaced, connected (``connect()`` runs its real code: InvokeWithLayer(InitConnection(GetConfig)), get_me,
    GetState, GetDifference). ``authorized=False``: the auth key is unknown to the server, so every method that
    needs a login answers 401 AUTH_KEY_UNREGISTERED and ``is_user_authorized()`` is False.
``fake.add_channel(channel_id, username, title, *, joined=True, admin=False, megagroup=False, forum=False)``
    ``joined``: the user account gets live updates; otherwise only GetHistory/GetChannelDifference reach it.
    ``admin``: the user account may post in it (SendMessage to a broadcast channel otherwise answers
    CHAT_WRITE_FORBIDDEN). ``forum``: a megagroup with topics; a message sent with ``reply_to`` topic T
    is stored (and served by GetHistory) with ``reply_to=MessageReplyHeader(forum_topic=True,
    reply_to_msg_id=T)``, one without is in General (no header).
``fake.add_chat(chat_id, title)``       a basic group with the user account and the bot as members.
``fake.add_user(user_id, first_name, username=None)``  another user (an analyst) who can talk to the bot.
``fake.migrate_chat(chat_id, channel_id)``  the basic group is upgraded to a supergroup (a megagroup both accounts
    are in): GetChats shows it deactivated with ``migrated_to``; sending to the old group answers PEER_ID_INVALID.
``fake.publish(channel_id, text, *, entities=None, grouped_id=None, fwd_from=None, media=False, date=None,
push=True, message_id=None) -> int``  a channel post (new id, pts+1); pushes UpdateNewChannelMessage to connected
    user clients when the channel is joined and ``push``; ``push=False`` leaves a silent gap. ``message_id``: the
    post's id (above every id the channel has; the ids between are never used, as posts deleted long ago), so a
    real export's posts keep their ids.
``fake.publish_album(channel_id, captions, *, push=True, **kw) -> list[int]``  one Updates with N posts sharing
    a grouped_id (how Telegram sends albums).
``fake.edit(channel_id, message_id, text, *, entities=None, push=True)``  UpdateEditChannelMessage (edit_date set).
``fake.delete(channel_id, message_ids, *, push=True, keep=False)``  the channel deletes posts: they leave its
    history (GetHistory skips them, getMessages answers MessageEmpty) and UpdateDeleteChannelMessages (pts + the
    number deleted) is pushed to joined user clients; getChannelDifference carries it too. ``keep``: the
    update is sent but the posts stay (a wrong deletion signal).
``fake.hide(channel_id, message_ids, *, hidden=True)``  the posts stay but GetHistory leaves them out (Telegram
    does so for posts "not displayable due to local laws"); getMessages still serves them. ``hidden=False``
    shows them again.
``fake.service_message(channel_id, *, push=True) -> int``  a service message (a pinned post) with its own id.
``fake.react(channel_id, message_id, emoji="👍", *, push=True)``  an edit update with the same text and new
    ``reactions`` (what makes MessageEdited fire on reactions).
``client.get_messages(channel, ids=[...])`` is served (channels.getMessages; MessageEmpty for unknown ids).
``fake.hold(request_name) -> asyncio.Event``  requests of that name (e.g. "GetStateRequest", what
    ``is_user_authorized`` asks after a restart) are answered only once the event is set.
``await fake.idle(turns=50)``  returns once no request reached the server for ``turns`` loop turns in a row and no
    work the loop handed to a thread (``asyncio.to_thread``: matching, store reads) is under way (waited for).
``getDifference`` (a client's catch-up, e.g. at start with a saved session) carries an updateChannelTooLong
    for each joined channel that moved since the account's clients last heard of it (posts made while the
    client was stopped, or never pushed), as Telegram does: Telethon then asks those channels' differences
    from the pts the session saved.
``fake.too_long(channel_id)``  the next GetChannelDifference for it answers ChannelDifferenceTooLong. (It also
    happens by itself when ``request.pts + request.limit < channel pts``, as on Telegram.)
``fake.flood(request_name, seconds, times=1)``  the next ``times`` calls of e.g. "SendMessageRequest" answer
    420 FLOOD_WAIT_<seconds>.
``fake.fail(request_name, error, code=400, times=1)``  same with any RPC error, e.g. "CHANNEL_PRIVATE".
``fake.make_private(channel_id)``  GetHistory/GetChannelDifference/ResolveUsername/GetChannels for it answer
    CHANNEL_PRIVATE; no more pushes.
``fake.message_to_bot(from_user_id, text, *, chat_id=None, forwarded=False, entities=None) -> int``
    UpdateNewMessage to the bot (private chat, or the basic group ``chat_id``); returns the message id.
``fake.press_button(from_user_id, message_id, data: bytes, *, chat_id=None) -> int``  UpdateBotCallbackQuery
    for a bot message; returns the query id (answers land in ``fake.callback_answers``).
``await fake.disconnect(client)`` / ``await fake.reconnect(client)``  the transport drops: pushes are lost,
    requests wait; on reconnect held requests are answered and Telethon's auto-reconnect callback (get_me, no
    catch-up) runs, as after a real network drop.
Sends and edits are checked as Telegram checks them: text length (4096, a file's caption 1024) and entity bounds,
an inline keyboard's callback data (1 to 64 bytes) and size (8 buttons a row, 100 in all).
``fake.chat: list[SentMessage]``  every message any client sent (peer, text, entities, random_id, silent,
    no_webpage, id, date, sender_id, edits, reply_markup, reply_to, file/file_name/mime_type for SendMedia).
Login: SendCode and SignIn are served (the code is ``LOGIN_CODE``; with ``fake.password`` set, the account has
2FA: SignIn answers SESSION_PASSWORD_NEEDED and GetPassword/CheckPassword check Telethon's SRP proof), so an
unauthorised client can log in through Telethon's own ``start()``/``sign_in()``. QR login too: ``auth.exportLoginToken`` gives
a token living ``fake.qr_token_seconds`` (30); ``fake.scan_qr()`` is a logged-in phone scanning the token
shown last (only while it lives): UpdateLoginToken is pushed and the next export answers loginTokenSuccess.
``fake.qr_tokens`` lists every token handed out.
``fake.requests: list[TLRequest]``  every request seen (unwrapped, as parsed off the wire), in order;
    ``fake.request_log: list[Seen]`` has the same with ``time.perf_counter()`` and the account;
    ``fake.count(name)`` counts requests by class name.
``fake.callback_answers: list[tl.functions.messages.SetBotCallbackAnswerRequest]``
``await eventually(predicate, timeout=30.0)``  poll until ``predicate()`` is truthy (for asserting on events).

Simplified (not Telegram): one DC, no MTProto transport/encryption, no seq numbers (pushed Updates use seq=0),
getDifference announces a joined channel with news (updateChannelTooLong) by the pts the account was last
brought to (a push, getDifference), not by the date it is asked with, no min-constructors, no read
states/views/replies, ChannelDifferenceTooLong carries the last 10 messages, the bot sees no channel posts,
private-chat history (GetHistory on users) is not served, a bot may only message users who messaged it first
(PEER_ID_INVALID otherwise). Unknown requests fail the awaiting call with NotImplementedError so a test sees
what Telethon asked for.

Not thread-safe: call the ``publish``/``edit``/... helpers from the event loop that runs the clients.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import hashlib
import json
import os
import random
import struct
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from telethon import TelegramClient, errors, utils
from telethon.crypto import AuthKey
from telethon.extensions import BinaryReader
from telethon.network.mtprotosender import MTProtoSender
from telethon.sessions import StringSession
from telethon.tl import TLRequest, functions as fn, types as tl
from telethon.tl.types import contacts as tlc, messages as tlm, updates as tlu

from bot.live.difference import hold_catch_up

USER_ID = 7_000_001
USER_NAME = "tgwatch_user"
BOT_ID = 8_000_002
BOT_NAME = "tgwatch_bot"
DC_ID = 2
MAX_HISTORY_LIMIT = 100  # messages.getHistory answers at most 100 messages
MESSAGE_LENGTH_MAX = 4096
CAPTION_LENGTH_MAX = 1024  # a file's caption, UTF-16 units of its text (an account without Premium, a bot)
BUTTON_DATA_MAX = 64  # bytes of an inline button's callback data
BUTTONS_MAX = 100  # inline buttons in one message's keyboard (Telegram's limit, as bot libraries state it)
BUTTONS_PER_ROW_MAX = 8
TOO_LONG_MESSAGES = 10  # latest messages carried by channelDifferenceTooLong

_WRAPPERS = (
    fn.InvokeWithLayerRequest,
    fn.InitConnectionRequest,
    fn.InvokeWithoutUpdatesRequest,
    fn.InvokeAfterMsgRequest,
    fn.InvokeWithTakeoutRequest,
)
_NO_AUTH = {"GetConfigRequest", "PingRequest", "GetNearestDcRequest", "SendCodeRequest", "ResendCodeRequest",
            "SignInRequest", "ExportLoginTokenRequest", "ImportBotAuthorizationRequest", "GetPasswordRequest",
            "CheckPasswordRequest"}
QR_TOKEN_SECONDS = 30  # how long a QR login token lives on Telegram
LOGIN_CODE = "12345"  # the code the fake "sends" to the user's Telegram app


# --- wire format --------------------------------------------------------------------------------------------

def to_wire(obj: Any) -> bytes:
    """Serialise a TL object, a bool or a vector (list) of them the way Telegram does."""
    if obj is True:
        return struct.pack("<I", 0x997275B5)
    if obj is False:
        return struct.pack("<I", 0xBC799737)
    if isinstance(obj, list):
        return struct.pack("<Ii", 0x1CB5C415, len(obj)) + b"".join(to_wire(x) for x in obj)
    return bytes(obj)


def roundtrip(obj: Any) -> Any:
    """``obj`` as a client would read it off the wire (raises like a bad server payload would)."""
    with BinaryReader(to_wire(obj)) as reader:
        return reader.tgread_object()


def _b64(obj) -> str:
    return base64.b64encode(to_wire(obj)).decode()


def _unb64(s: str):
    with BinaryReader(base64.b64decode(s)) as reader:
        return reader.tgread_object()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _ts(d: dt.datetime | None) -> int:
    return int(d.timestamp()) if d else 0


def _dt(t: int) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc) if t else None


def access_hash(viewer_id: int, entity_id: int) -> int:
    """Access hashes are per account, as on Telegram: the bot cannot reuse the user's."""
    h = hashlib.sha256(f"{viewer_id}:{entity_id}".encode()).digest()
    return int.from_bytes(h[:8], "little", signed=True) or 1


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


async def eventually(predicate: Callable[[], Any], timeout: float = 30.0, step: float = 0.01):
    """Wait until ``predicate()`` is truthy; AssertionError after ``timeout`` seconds (long: it returns
    as soon as the predicate holds, and a loaded 2-core CI machine can take seconds to get there)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met within %.1fs" % timeout)
        await asyncio.sleep(step)


class ThreadWork(ThreadPoolExecutor):
    """The default executor of a loop that runs fake clients (``asyncio.to_thread``, ``run_in_executor(None,
    ...)``), as asyncio's own, but knowing the work under way: what `FakeTelegram.idle` waits for."""

    def __init__(self) -> None:
        super().__init__(thread_name_prefix="asyncio")
        self.running: set[Future[Any]] = set()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        self.running.add(future)
        future.add_done_callback(self.running.discard)  # (in the worker thread)
        return future

    async def finished(self, timeout: float) -> None:
        """Wait for the work under way now; AssertionError after ``timeout`` seconds (a thread that hangs)."""
        _, left = await asyncio.wait([asyncio.wrap_future(f) for f in list(self.running)], timeout=timeout)
        if left:
            raise AssertionError(f"{len(left)} piece(s) of work handed to a thread still running after {timeout:.0f}s")


def thread_work(loop: asyncio.AbstractEventLoop) -> ThreadWork:
    """The loop's default executor as a `ThreadWork`, made so at its first fake client's connect."""
    current = getattr(loop, "_default_executor", None)  # (asyncio makes its own at the first to_thread)
    if isinstance(current, ThreadWork):
        return current
    work = ThreadWork()
    loop.set_default_executor(work)
    if current is not None:
        current.shutdown(wait=False)  # its work under way finishes; asyncio.run no longer joins it
    return work


class RpcFail(Exception):
    """Raised by handlers: becomes the RPC error ``code message`` for the client."""

    def __init__(self, code: int, message: str):
        super().__init__(f"{code} {message}")
        self.code, self.message = code, message


def _unwrap(request):
    """The method inside InvokeWithLayer, InitConnection... wrappers."""
    while isinstance(request, _WRAPPERS):
        request = request.query
    return request


# --- server state -------------------------------------------------------------------------------------------

@dataclasses.dataclass
class SentMessage:
    """A message a client sent (what landed in a chat)."""

    peer: int  # marked peer id: user id (Saved Messages = own id), -chat_id, or -100<channel id>
    text: str
    entities: list | None
    random_id: int
    silent: bool
    no_webpage: bool
    id: int
    date: dt.datetime
    sender_id: int
    edits: list[tuple[dt.datetime, str]] = dataclasses.field(default_factory=list)
    reply_markup: Any = None
    file: bytes | None = None
    file_name: str | None = None
    mime_type: str | None = None
    reply_to: int | None = None  # the message it replies to (in a forum, that message's topic is where it lands)

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["entities"] = [_b64(e) for e in self.entities] if self.entities else None
        d["reply_markup"] = _b64(self.reply_markup) if self.reply_markup else None
        d["date"] = _ts(self.date)
        d["edits"] = [(_ts(t), s) for t, s in self.edits]
        d["file"] = base64.b64encode(self.file).decode() if self.file is not None else None
        return d

    @classmethod
    def from_json(cls, d: dict) -> "SentMessage":
        d = dict(d)
        d["entities"] = [_unb64(e) for e in d["entities"]] if d["entities"] else None
        d["reply_markup"] = _unb64(d["reply_markup"]) if d["reply_markup"] else None
        d["date"] = _dt(d["date"])
        d["edits"] = [(_dt(t), s) for t, s in d["edits"]]
        d["file"] = base64.b64decode(d["file"]) if d["file"] is not None else None
        return cls(**d)


@dataclasses.dataclass
class Seen:
    time: float  # time.perf_counter() when the request reached the server
    account: int | None  # None: unauthorised connection
    request: TLRequest


@dataclasses.dataclass
class _Channel:
    id: int
    username: str | None
    title: str
    joined: bool = True
    admin: bool = False
    megagroup: bool = False
    forum: bool = False  # a megagroup with topics: a message replying to topic T lands in it
    private: bool = False
    date: int = 0
    pts: int = 1
    next_id: int = 1
    messages: dict = dataclasses.field(default_factory=dict)  # id -> tl.Message
    log: list = dataclasses.field(default_factory=list)  # [pts, "new"|"edit"|"service", message id] or [pts, "delete", [ids]]
    hidden: list = dataclasses.field(default_factory=list)  # ids GetHistory leaves out (`FakeTelegram.hide`)

    def to_json(self):
        d = dataclasses.asdict(self)
        d["messages"] = {str(k): _b64(m) for k, m in self.messages.items()}
        return d

    @classmethod
    def from_json(cls, d):
        d = dict(d)
        d["messages"] = {int(k): _unb64(v) for k, v in d["messages"].items()}
        return cls(**d)


@dataclasses.dataclass
class _Account:
    id: int
    bot: bool
    first_name: str
    username: str | None
    pts: int = 1
    qts: int = 0
    seq: int = 0
    next_id: int = 1
    log: list = dataclasses.field(default_factory=list)  # [pts, update]: UpdateNewMessage / UpdateEditMessage
    started_by: list = dataclasses.field(default_factory=list)  # users who messaged this bot
    # channel id -> the pts this account's clients were last brought to (a push, getDifference; getState
    # for a channel not known yet): getDifference announces the channels that moved past it (updateChannelTooLong)
    seen: dict = dataclasses.field(default_factory=dict)

    def to_json(self):
        d = dataclasses.asdict(self)
        d["log"] = [(p, _b64(u)) for p, u in self.log]
        return d

    @classmethod
    def from_json(cls, d):
        d = dict(d)
        d["log"] = [(p, _unb64(u)) for p, u in d["log"]]
        d["seen"] = {int(k): v for k, v in d.get("seen", {}).items()}
        return cls(**d)


# --- the sender -------------------------------------------------------------------------------------------

class FakeSender:
    """Stands in for ``telethon.network.mtprotosender.MTProtoSender`` (the part TelegramClient uses)."""

    def __init__(self, server: "FakeTelegram", client: TelegramClient, auth_key: AuthKey):
        self._server = server
        self._client = client
        self.auth_key = auth_key
        self._updates_queue = client._updates_queue  # what MTProtoSender._store_own_updates writes to
        self._connection = None
        self._user_connected = False
        self._transport_up = False
        self._no_updates = False
        self._held: list[tuple[TLRequest, asyncio.Future]] = []
        self._gated: set[asyncio.Task] = set()  # requests waiting for `FakeTelegram.hold`'s event
        self._ping = None
        self.__disconnected: asyncio.Future | None = None

    # what TelegramClient calls
    async def connect(self, connection) -> bool:
        if self._user_connected:
            return False
        if self.auth_key is None or self.auth_key.key is None:  # a new session: what the DH exchange gives
            self.auth_key = AuthKey(os.urandom(256))
            await self._client._auth_key_callback(self.auth_key)
        self._connection = connection  # a ConnectionTcpFull that never opens a socket
        thread_work(asyncio.get_running_loop())  # (before the clients' loop hands any work to a thread)
        self._user_connected = self._transport_up = True
        if self.__disconnected is None or self.__disconnected.done():
            self.__disconnected = asyncio.get_running_loop().create_future()
        self._server._senders.append(self)
        return True

    def is_connected(self) -> bool:
        return self._user_connected

    def _transport_connected(self) -> bool:
        return self._user_connected and self._transport_up

    async def disconnect(self) -> None:
        if not self._user_connected:
            return
        self._user_connected = False
        for _, fut in self._held:
            fut.cancel()
        self._held.clear()
        if self in self._server._senders:
            self._server._senders.remove(self)
        if self.__disconnected is not None and not self.__disconnected.done():
            self.__disconnected.set_result(None)

    @property
    def disconnected(self) -> asyncio.Future:
        if self.__disconnected is None:
            self.__disconnected = asyncio.get_running_loop().create_future()
            self.__disconnected.set_result(None)
        return asyncio.shield(self.__disconnected)

    def send(self, request, ordered: bool = False):
        if not self._user_connected:
            raise ConnectionError("Cannot send requests while disconnected")
        if utils.is_list_like(request):
            return [self._enqueue(r) for r in request]
        return self._enqueue(request)

    def _keepalive_ping(self, rnd_id: int) -> None:
        self.send(fn.PingRequest(rnd_id))

    def _store_own_updates(self, obj) -> None:
        MTProtoSender._store_own_updates(self, obj)  # the real code: own Updates go to the MessageBox

    # internals
    def _enqueue(self, request) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        data = bytes(request)  # the real sender serialises here too (struct.error on bad arguments)
        gate = self._server._holds.get(type(_unwrap(request)).__name__)
        if gate is not None and not gate.is_set():
            async def later() -> None:
                await gate.wait()
                if self._transport_up:
                    self._serve(request, data, fut)
                else:
                    self._held.append((request, fut))
            task = asyncio.get_running_loop().create_task(later())
            self._gated.add(task)  # (kept from the garbage collector until answered)
            task.add_done_callback(self._gated.discard)
        elif self._transport_up:
            asyncio.get_running_loop().call_soon(self._serve, request, data, fut)
        else:
            self._held.append((request, fut))
        return fut

    def _serve(self, request, data: bytes, fut: asyncio.Future) -> None:
        if fut.done():
            return
        with BinaryReader(data) as reader:
            wire_request = reader.tgread_object()  # the server sees what went over the wire
        try:
            result = self._server._handle(self, wire_request)
        except RpcFail as e:
            fut.set_exception(errors.rpc_message_to_error(tl.RpcError(e.code, e.message), request))
            return
        except Exception as e:  # a bug in the fake or an unimplemented method: fail the call loudly
            fut.set_exception(e)
            return
        if isinstance(result, tl.Pong):
            self._ping = None
        try:
            with BinaryReader(to_wire(result)) as reader:
                result = request.read_result(reader)
        except Exception as e:
            fut.set_exception(e)
            return
        self._store_own_updates(result)
        fut.set_result(result)

    def _push(self, updates) -> bool:
        if not (self._user_connected and self._transport_up) or self._no_updates:
            return False
        self._updates_queue.put_nowait(roundtrip(updates))
        return True

    @property
    def account_id(self) -> int | None:
        return None if self.auth_key is None else self._server._auth.get(str(self.auth_key.key_id))


# --- the server --------------------------------------------------------------------------------------------

class FakeTelegram:
    """The server side of Telegram for real TelegramClients (a user account and optionally a bot)."""

    def __init__(self, state_path: Path | None = None):
        self.state_path = Path(state_path) if state_path else None
        self.requests: list[TLRequest] = []
        self.request_log: list[Seen] = []
        self.callback_answers: list = []
        self._senders: list[FakeSender] = []
        self._faults: dict[str, list[tuple[int, str]]] = {}
        self._too_long: set[int] = set()
        self._uploads: dict[tuple[int, int], dict[int, bytes]] = {}
        self._queries: dict[int, int] = {}  # callback query id -> bot id
        self._holds: dict[str, asyncio.Event] = {}  # request name -> answered once set (`hold`)
        # persistent state
        self.chat: list[SentMessage] = []
        self._channels: dict[int, _Channel] = {}
        self._chats: dict[int, dict] = {}
        self._users: dict[int, dict] = {}
        self._accounts: dict[int, _Account] = {
            USER_ID: _Account(USER_ID, False, "Watcher", USER_NAME),
            BOT_ID: _Account(BOT_ID, True, "tgwatch", BOT_NAME),
        }
        self._random_ids: dict[int, list[int]] = {}
        self._auth: dict[str, int] = {}  # str(auth key id) -> account id
        self.qr_token_seconds = QR_TOKEN_SECONDS
        self.qr_tokens: list[tuple[bytes, dt.datetime]] = []  # (token, expires) handed out
        self._qr_scanned: dict[bytes, FakeSender] = {}
        self.password: str | None = None  # the user account's 2FA password: a sign-in then asks for it (SRP)
        self._srp: dict[int, int] = {}  # srp_id -> the server's secret b of the account.Password handed out
        if self.state_path and self.state_path.exists():
            self._load()

    # --- persistence ---
    def _save(self) -> None:
        if not self.state_path:
            return
        state = {
            "chat": [m.to_json() for m in self.chat],
            "channels": [c.to_json() for c in self._channels.values()],
            "chats": self._chats,
            "users": self._users,
            "accounts": [a.to_json() for a in self._accounts.values()],
            "random_ids": self._random_ids,
            "auth": self._auth,
        }
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=self.state_path.name, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(state, f)
        os.replace(tmp, self.state_path)

    def _load(self) -> None:
        state = json.loads(self.state_path.read_text())
        self.chat = [SentMessage.from_json(d) for d in state["chat"]]
        self._channels = {d["id"]: _Channel.from_json(d) for d in state["channels"]}
        self._chats = {int(k): v for k, v in state["chats"].items()}
        self._users = {int(k): v for k, v in state["users"].items()}
        self._accounts = {d["id"]: _Account.from_json(d) for d in state["accounts"]}
        self._random_ids = {int(k): v for k, v in state["random_ids"].items()}
        self._auth = dict(state["auth"])

    # --- clients ---
    async def client(self, *, bot: bool = False, session: str | Path | None = None, authorized: bool = True,
                     **kw) -> TelegramClient:
        if session is None:
            session = StringSession()
        elif isinstance(session, Path):
            session = str(session)
        client = TelegramClient(session, api_id=1, api_hash="0" * 32, **kw)
        if kw.get("catch_up"):
            hold_catch_up(client)  # as `make_client` holds the watching client's until its handlers are in
        key = client.session.auth_key
        if key is None or key.key is None or not authorized:
            key = AuthKey(os.urandom(256))  # what the DH exchange would have produced
        if authorized:
            self._auth[str(key.key_id)] = BOT_ID if bot else USER_ID
            self._save()
        client._sender = FakeSender(self, client, key)
        await client.connect()
        return client

    async def disconnect(self, client: TelegramClient) -> None:
        """The network drops (not a user disconnect): pushes are lost, requests wait for the reconnect."""
        client._sender._transport_up = False

    async def reconnect(self, client: TelegramClient) -> None:
        sender: FakeSender = client._sender
        sender._transport_up = True
        held, sender._held = sender._held, []
        loop = asyncio.get_running_loop()
        for request, fut in held:
            loop.call_soon(sender._serve, request, bytes(request), fut)
        if client._handle_auto_reconnect:  # what MTProtoSender._reconnect schedules
            loop.create_task(client._handle_auto_reconnect())
        await asyncio.sleep(0)

    # --- fixtures ---
    def add_channel(self, channel_id: int, username: str | None, title: str, *, joined: bool = True,
                    admin: bool = False, megagroup: bool = False, forum: bool = False) -> None:
        self._channels[channel_id] = _Channel(channel_id, username, title, joined=joined, admin=admin,
                                              megagroup=megagroup or forum, forum=forum, date=_ts(_now()))
        self._save()

    def add_chat(self, chat_id: int, title: str) -> None:
        self._chats[chat_id] = {"id": chat_id, "title": title, "date": _ts(_now())}
        self._save()

    def migrate_chat(self, chat_id: int, channel_id: int) -> None:
        """The basic group ``chat_id`` is upgraded to the supergroup ``channel_id`` (both accounts members):
        the group is deactivated, GetChats shows ``migrated_to``, and sending to it answers PEER_ID_INVALID."""
        self.add_channel(channel_id, None, self._chats[chat_id]["title"], megagroup=True)
        self._chats[chat_id]["migrated_to"] = channel_id
        self._save()

    def add_bot(self, bot_id: int, username: str) -> None:
        """Another bot (a token of its own: `id:…`), for a bot token that is changed; it only logs in."""
        self._accounts[bot_id] = _Account(bot_id, True, username, username)
        self._save()

    def add_user(self, user_id: int, first_name: str, username: str | None = None) -> None:
        self._users[user_id] = {"id": user_id, "first_name": first_name, "username": username}
        self._save()

    def flood(self, request_name: str, seconds: int, times: int = 1) -> None:
        self._faults.setdefault(request_name, []).extend([(420, "FLOOD_WAIT_%d" % seconds)] * times)

    def fail(self, request_name: str, error: str, code: int = 400, times: int = 1) -> None:
        self._faults.setdefault(request_name, []).extend([(code, error)] * times)

    def hold(self, request_name: str) -> asyncio.Event:
        """Requests named ``request_name`` (e.g. "GetStateRequest") are answered only once the returned
        event is set (a slow answer: what the clients do meanwhile shows what waits for it)."""
        gate = self._holds[request_name] = asyncio.Event()
        return gate

    async def idle(self, turns: int = 50, timeout: float = 60.0) -> None:
        """Return once the clients have nothing more to ask: no request reached the server for ``turns``
        event-loop turns in a row while no work the loop handed to a thread (`ThreadWork`: matching, store
        reads off the loop) was under way; what the last answers brought has been dispatched. A thread's
        work ends whenever the machine gets to it, a loop turn does not wait for it: it is waited for."""
        threads = thread_work(asyncio.get_running_loop())
        while True:
            seen = len(self.requests)
            for _ in range(turns):
                if threads.running:
                    await threads.finished(timeout)
                    break
                await asyncio.sleep(0)
                if len(self.requests) != seen:
                    break
            else:
                return

    def too_long(self, channel_id: int) -> None:
        self._too_long.add(channel_id)

    def make_private(self, channel_id: int) -> None:
        self._channels[channel_id].private = True
        self._save()

    def count(self, name: str) -> int:
        return sum(type(r).__name__ == name for r in self.requests)

    def messages(self, channel_id: int) -> list:
        """The channel history as stored (ascending ids)."""
        ch = self._channels[channel_id]
        return [ch.messages[i] for i in sorted(ch.messages)]

    # --- server-side events ---
    def publish(self, channel_id: int, text: str, *, entities=None, grouped_id: int | None = None,
                fwd_from: tuple[int, int] | None = None, media: bool = False, date: dt.datetime | None = None,
                push: bool = True, message_id: int | None = None) -> int:
        if message_id is not None:
            ch = self._channels[channel_id]
            if message_id < ch.next_id:
                raise ValueError(f"message id {message_id} is not above the channel's last id {ch.next_id - 1}")
            ch.next_id = message_id
        msg, pts = self._new_post(channel_id, text, entities, grouped_id, fwd_from, media, date)
        if push:
            self._push_channel(channel_id, [tl.UpdateNewChannelMessage(msg, pts, 1)])
        self._save()
        return msg.id

    def publish_album(self, channel_id: int, captions: list[str], *, push: bool = True, **kw) -> list[int]:
        grouped_id = kw.pop("grouped_id", None) or random.randrange(1, 2**62)
        kw.setdefault("media", True)
        updates = []
        for caption in captions:
            msg, pts = self._new_post(channel_id, caption, kw.get("entities"), grouped_id, kw.get("fwd_from"),
                                      kw.get("media"), kw.get("date"))
            updates.append(tl.UpdateNewChannelMessage(msg, pts, 1))
        if push:
            self._push_channel(channel_id, updates)
        self._save()
        return [u.message.id for u in updates]

    def edit(self, channel_id: int, message_id: int, text: str, *, entities=None, push: bool = True) -> None:
        ch = self._channels[channel_id]
        msg = ch.messages[message_id]
        msg.message, msg.entities, msg.edit_date = text, entities, _now()
        self._channel_event(ch, "edit", message_id, push)

    def delete(self, channel_id: int, message_ids: list[int], *, push: bool = True, keep: bool = False) -> None:
        ch = self._channels[channel_id]
        ids = [i for i in message_ids if i in ch.messages]
        for i in ids if not keep else ():  # keep: a wrong deletion signal, the posts stay
            del ch.messages[i]
        if not ids:
            return
        ch.pts += len(ids)  # pts_count is the number of messages deleted
        ch.log.append([ch.pts, "delete", ids])
        if push:
            self._push_channel(channel_id, [tl.UpdateDeleteChannelMessages(channel_id, ids, ch.pts, len(ids))])
        self._save()

    def hide(self, channel_id: int, message_ids: list[int], *, hidden: bool = True) -> None:
        ch = self._channels[channel_id]
        ch.hidden = sorted(set(ch.hidden) | set(message_ids)) if hidden else [i for i in ch.hidden if i not in message_ids]
        self._save()

    def service_message(self, channel_id: int, *, push: bool = True) -> int:
        ch = self._channels[channel_id]
        mid, ch.next_id = ch.next_id, ch.next_id + 1
        msg = roundtrip(tl.MessageService(id=mid, peer_id=tl.PeerChannel(channel_id), date=_now(),
                                          action=tl.MessageActionPinMessage(), post=True,
                                          reply_to=tl.MessageReplyHeader(reply_to_msg_id=max(mid - 1, 1))))
        ch.messages[mid] = msg
        ch.pts += 1
        ch.log.append([ch.pts, "new", mid])
        if push:
            self._push_channel(channel_id, [tl.UpdateNewChannelMessage(msg, ch.pts, 1)])
        self._save()
        return mid

    def react(self, channel_id: int, message_id: int, emoji: str = "👍", *, push: bool = True) -> None:
        ch = self._channels[channel_id]
        msg = ch.messages[message_id]
        counts = {r.reaction.emoticon: r.count for r in (msg.reactions.results if msg.reactions else [])}
        counts[emoji] = counts.get(emoji, 0) + 1
        msg.reactions = tl.MessageReactions(
            results=[tl.ReactionCount(tl.ReactionEmoji(e), n) for e, n in counts.items()], can_see_list=False)
        self._channel_event(ch, "edit", message_id, push)

    def message_to_bot(self, from_user_id: int, text: str, *, chat_id: int | None = None, forwarded: bool = False,
                       entities=None) -> int:
        self._known_user(from_user_id)
        bot = self._accounts[BOT_ID]
        if chat_id is None and from_user_id not in bot.started_by:
            bot.started_by.append(from_user_id)
        fwd = None
        if forwarded:
            fwd = tl.MessageFwdHeader(date=_now() - dt.timedelta(hours=1), from_id=tl.PeerUser(from_user_id))
        msg = tl.Message(
            id=0, peer_id=tl.PeerChat(chat_id) if chat_id else tl.PeerUser(from_user_id), date=_now(), message=text,
            from_id=tl.PeerUser(from_user_id) if chat_id else None, fwd_from=fwd, entities=entities)
        msg = self._deliver(bot, msg)
        self._save()
        return msg.id

    def press_button(self, from_user_id: int, message_id: int, data: bytes, *, chat_id: int | None = None) -> int:
        self._known_user(from_user_id)
        peer = tl.PeerChat(chat_id) if chat_id else tl.PeerUser(from_user_id)
        query_id = random.randrange(1, 2**63)
        self._queries[query_id] = BOT_ID
        upd = tl.UpdateBotCallbackQuery(
            query_id=query_id, user_id=from_user_id, peer=peer, msg_id=message_id,
            chat_instance=access_hash(from_user_id, BOT_ID), data=data)
        for s in self._senders_of(BOT_ID):
            s._push(tl.Updates([upd], users=[self._user_obj(BOT_ID, from_user_id)],
                               chats=[self._chat_obj(chat_id, BOT_ID)] if chat_id else [], date=_now(), seq=0))
        return query_id

    # --- internals: building objects ---
    def _known_user(self, user_id: int) -> None:
        if user_id not in self._users and user_id not in self._accounts:
            self.add_user(user_id, f"User {user_id}")

    def _user_obj(self, viewer: int, user_id: int) -> tl.User:
        if user_id in self._accounts:
            a = self._accounts[user_id]
            return tl.User(id=a.id, is_self=viewer == a.id, bot=a.bot, access_hash=access_hash(viewer, a.id),
                           first_name=a.first_name, username=a.username,
                           phone=None if a.bot else "70000000000", bot_info_version=1 if a.bot else None)
        u = self._users.get(user_id)
        if u is None:
            raise RpcFail(400, "USER_ID_INVALID")
        return tl.User(id=user_id, access_hash=access_hash(viewer, user_id), first_name=u["first_name"],
                       username=u["username"])

    def _channel_obj(self, viewer: int, ch: _Channel) -> tl.Channel:
        if ch.private:
            return tl.ChannelForbidden(id=ch.id, access_hash=access_hash(viewer, ch.id), title=ch.title,
                                       broadcast=not ch.megagroup, megagroup=ch.megagroup)
        return tl.Channel(id=ch.id, title=ch.title, photo=tl.ChatPhotoEmpty(), date=_dt(ch.date),
                          broadcast=not ch.megagroup, megagroup=ch.megagroup, left=not ch.joined,
                          access_hash=access_hash(viewer, ch.id), username=ch.username,
                          admin_rights=tl.ChatAdminRights(post_messages=True) if ch.admin else None)

    def _chat_obj(self, chat_id: int, viewer: int = USER_ID) -> tl.Chat:
        c = self._chats[chat_id]
        to = c.get("migrated_to")
        return tl.Chat(id=chat_id, title=c["title"], photo=tl.ChatPhotoEmpty(), participants_count=2,
                       date=_dt(c["date"]), version=1, deactivated=to is not None,
                       migrated_to=tl.InputChannel(to, access_hash(viewer, to)) if to is not None else None)

    def _new_post(self, channel_id, text, entities, grouped_id, fwd_from, media, date):
        ch = self._channels[channel_id]
        mid, ch.next_id = ch.next_id, ch.next_id + 1
        date = (date or _now()).astimezone(dt.timezone.utc).replace(microsecond=0)
        fwd = None
        if fwd_from:
            src, post = fwd_from
            fwd = tl.MessageFwdHeader(date=date - dt.timedelta(minutes=5), from_id=tl.PeerChannel(src),
                                      channel_post=post)
        photo = None
        if media:
            photo = tl.MessageMediaPhoto(photo=tl.Photo(
                id=channel_id * 1_000_000 + mid, access_hash=access_hash(channel_id, mid), file_reference=b"\x01",
                date=date, sizes=[tl.PhotoSize(type="x", w=800, h=600, size=51_200)], dc_id=DC_ID))
        msg = tl.Message(id=mid, peer_id=tl.PeerChannel(channel_id), date=date, message=text, post=True,
                         entities=entities or None, grouped_id=grouped_id, fwd_from=fwd, media=photo, views=1, forwards=0)
        msg = roundtrip(msg)
        ch.messages[mid] = msg
        ch.pts += 1
        ch.log.append([ch.pts, "new", mid])
        return msg, ch.pts

    def _channel_event(self, ch: _Channel, kind: str, message_id: int, push: bool) -> None:
        ch.messages[message_id] = roundtrip(ch.messages[message_id])
        ch.pts += 1
        ch.log.append([ch.pts, kind, message_id])
        if push:
            self._push_channel(ch.id, [tl.UpdateEditChannelMessage(ch.messages[message_id], ch.pts, 1)])
        self._save()

    def _senders_of(self, account_id: int) -> list[FakeSender]:
        return [s for s in self._senders if s.account_id == account_id]

    def _push_channel(self, channel_id: int, updates: list) -> None:
        ch = self._channels[channel_id]
        if not ch.joined or ch.private:
            return
        reached = [s._push(tl.Updates(updates=updates, users=[], chats=[self._channel_obj(USER_ID, ch)], date=_now(),
                                      seq=0)) for s in self._senders_of(USER_ID)]
        if any(reached):
            self._accounts[USER_ID].seen[channel_id] = ch.pts

    def _deliver(self, account: _Account, msg: tl.Message) -> tl.Message:
        """A private/basic-group message lands in ``account``'s message box (own id and pts) and is pushed."""
        msg.id, account.next_id = account.next_id, account.next_id + 1
        account.pts += 1
        upd = roundtrip(tl.UpdateNewMessage(msg, account.pts, 1))
        account.log.append((account.pts, upd))
        users, chats = self._entities_for(account.id, upd.message)
        for s in self._senders_of(account.id):
            s._push(tl.Updates([upd], users=users, chats=chats, date=_now(), seq=0))
        return upd.message

    def _entities_for(self, viewer: int, msg) -> tuple[list, list]:
        users, chats = {}, {}
        for peer in (msg.peer_id, msg.from_id, getattr(msg.fwd_from, "from_id", None)):
            if isinstance(peer, tl.PeerUser):
                users[peer.user_id] = self._user_obj(viewer, peer.user_id)
            elif isinstance(peer, tl.PeerChat) and peer.chat_id in self._chats:
                chats[peer.chat_id] = self._chat_obj(peer.chat_id, viewer)
            elif isinstance(peer, tl.PeerChannel) and peer.channel_id in self._channels:
                chats[peer.channel_id] = self._channel_obj(viewer, self._channels[peer.channel_id])
        users.setdefault(viewer, self._user_obj(viewer, viewer))
        return list(users.values()), list(chats.values())

    # --- request dispatch ---
    def _handle(self, sender: FakeSender, request):
        while isinstance(request, _WRAPPERS):
            if isinstance(request, fn.InvokeWithoutUpdatesRequest):
                sender._no_updates = True
            request = request.query
        name = type(request).__name__
        account = sender.account_id
        self._sender_now = sender  # for handlers that act on the connection itself (sign-in)
        self.requests.append(request)
        self.request_log.append(Seen(time.perf_counter(), account, request))
        faults = self._faults.get(name)
        if faults:
            code, message = faults.pop(0)
            raise RpcFail(code, message)
        if name not in _NO_AUTH and account is None:
            raise RpcFail(401, "AUTH_KEY_UNREGISTERED")
        handler = getattr(self, "_on_" + name, None)
        if handler is None:
            raise NotImplementedError(f"FakeTelegram does not serve {name}: {request}")
        return handler(account, request)

    def _channel_for(self, viewer: int, peer, *, read: bool = True) -> _Channel:
        if isinstance(peer, (tl.InputPeerChannel, tl.InputChannel)):
            ch = self._channels.get(peer.channel_id)
            if ch is None or peer.access_hash != access_hash(viewer, ch.id):
                raise RpcFail(400, "CHANNEL_INVALID")
            if read and ch.private:
                raise RpcFail(400, "CHANNEL_PRIVATE")
            return ch
        raise RpcFail(400, "CHANNEL_INVALID")

    def _peer_of(self, viewer: int, peer) -> tuple[str, int]:
        """('user', id) | ('chat', id) | ('channel', id) for an InputPeer, validating the access hash."""
        if isinstance(peer, tl.InputPeerSelf):
            return "user", viewer
        if isinstance(peer, tl.InputPeerUser):
            known = peer.user_id in self._users or peer.user_id in self._accounts
            if not known or peer.access_hash != access_hash(viewer, peer.user_id):
                raise RpcFail(400, "PEER_ID_INVALID")
            return "user", peer.user_id
        if isinstance(peer, tl.InputPeerChat):
            if peer.chat_id not in self._chats or self._chats[peer.chat_id].get("migrated_to") is not None:
                raise RpcFail(400, "PEER_ID_INVALID")  # a group upgraded to a supergroup is read-only
            return "chat", peer.chat_id
        if isinstance(peer, tl.InputPeerChannel):
            return "channel", self._channel_for(viewer, peer).id
        raise RpcFail(400, "PEER_ID_INVALID")

    # --- handlers: login (phone and code; 2FA when fake.password is set) ---
    def _on_SendCodeRequest(self, account, r):
        return tl.auth.SentCode(type=tl.auth.SentCodeTypeApp(length=len(LOGIN_CODE)), phone_code_hash="fakehash")

    def _on_ResendCodeRequest(self, account, r):
        return self._on_SendCodeRequest(account, r)

    def _on_SignInRequest(self, account, r):
        if r.phone_code_hash != "fakehash":
            raise RpcFail(400, "PHONE_CODE_EXPIRED")
        if r.phone_code != LOGIN_CODE:
            raise RpcFail(400, "PHONE_CODE_INVALID")
        if self.password is not None:
            raise RpcFail(401, "SESSION_PASSWORD_NEEDED")
        self._auth[str(self._sender_now.auth_key.key_id)] = USER_ID  # this auth key is now the user's
        self._save()
        return tl.auth.Authorization(user=self._user_obj(USER_ID, USER_ID))

    # 2FA as Telegram checks it (SRP, tdesktop's core_cloud_password): the fake holds the password and
    # checks the client's proof against it, never seeing the password itself
    _SRP_SALT1, _SRP_SALT2, _SRP_G = b"\x11" * 8, b"\x22" * 16, 3
    _SRP_P = bytes.fromhex(  # Telegram's 2048-bit safe prime, the one account.getPassword gives
        "c71caeb9c6b1c9048e6c522f70f13f73980d40238e3e21c14934d037563d930f48198a0aa7c14058229493d22530f4db"
        "fa336f6e0ac925139543aed44cce7c3720fd51f69458705ac68cd4fe6b6b13abdc9746512969328454f18faf8c595f64"
        "2477fe96bb2a941d5bcd1d4ac8cc49880708fa9b378e3c4f3a9060bee67cf9a4a4a695811051907e162753b56b0f6b41"
        "0dba74d8a84b2a14b3144e0ef1284754fd17ed950d5965b4b9dd46582db1178d169c6bc465b0d6ff9ca3928fef5b9ae4"
        "e418fc15e83ebea0f87fa9ff5eed70050ded2849f47bf959d956850ce929851f0d8115f635b105ee2e4e15d04b2454bf"
        "6f4fadf034b10403119cd8e3b92fcc5b")

    def _srp_algo(self) -> Any:
        return tl.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
            self._SRP_SALT1, self._SRP_SALT2, self._SRP_G, self._SRP_P)

    def _srp_v(self, algo: Any, p: int) -> int:
        from telethon.password import compute_hash

        return pow(algo.g, int.from_bytes(compute_hash(algo, self.password or ""), "big"), p)

    def _on_GetPasswordRequest(self, account, r):
        from telethon.password import big_num_for_hash, num_bytes_for_hash, sha256

        algo = self._srp_algo()
        none = tl.PasswordKdfAlgoUnknown()
        if self.password is None:
            return tl.account.Password(new_algo=none, new_secure_algo=tl.SecurePasswordKdfAlgoUnknown(),
                                       secure_random=os.urandom(32), has_password=False)
        p = int.from_bytes(algo.p, "big")
        k = int.from_bytes(sha256(num_bytes_for_hash(algo.p), big_num_for_hash(algo.g)), "big")
        b = int.from_bytes(os.urandom(256), "big") % p
        srp_id = random.randrange(1, 2**62)
        self._srp[srp_id] = b
        big_b = (k * self._srp_v(algo, p) + pow(algo.g, b, p)) % p
        return tl.account.Password(new_algo=none, new_secure_algo=tl.SecurePasswordKdfAlgoUnknown(),
                                   secure_random=os.urandom(32), has_password=True, current_algo=algo,
                                   srp_B=big_num_for_hash(big_b), srp_id=srp_id)

    def _on_CheckPasswordRequest(self, account, r):
        from telethon.password import big_num_for_hash, num_bytes_for_hash, sha256, xor

        b = self._srp.pop(getattr(r.password, "srp_id", None), None)
        if self.password is None or b is None:
            raise RpcFail(400, "SRP_ID_INVALID")
        algo = self._srp_algo()
        p = int.from_bytes(algo.p, "big")
        v = self._srp_v(algo, p)
        k = int.from_bytes(sha256(num_bytes_for_hash(algo.p), big_num_for_hash(algo.g)), "big")
        a_for_hash = num_bytes_for_hash(r.password.A)
        b_for_hash = big_num_for_hash((k * v + pow(algo.g, b, p)) % p)
        u = int.from_bytes(sha256(a_for_hash, b_for_hash), "big")
        s = pow(int.from_bytes(r.password.A, "big") * pow(v, u, p), b, p)
        m1 = sha256(xor(sha256(num_bytes_for_hash(algo.p)), sha256(big_num_for_hash(algo.g))), sha256(algo.salt1),
                    sha256(algo.salt2), a_for_hash, b_for_hash, sha256(big_num_for_hash(s)))
        if m1 != r.password.M1:
            raise RpcFail(400, "PASSWORD_HASH_INVALID")
        self._auth[str(self._sender_now.auth_key.key_id)] = USER_ID
        self._save()
        return tl.auth.Authorization(user=self._user_obj(USER_ID, USER_ID))

    def _on_ImportBotAuthorizationRequest(self, account, r):
        """A bot token logs its bot in (any secret after the bot's id: the fake checks only the id)."""
        bot = self._accounts.get(int(r.bot_auth_token.partition(":")[0] or 0))
        if bot is None or not bot.bot:
            raise RpcFail(400, "ACCESS_TOKEN_INVALID")
        self._auth[str(self._sender_now.auth_key.key_id)] = bot.id
        self._save()
        return tl.auth.Authorization(user=self._user_obj(bot.id, bot.id))

    def _on_LogOutRequest(self, account, r):
        del self._auth[str(self._sender_now.auth_key.key_id)]
        self._save()
        return tl.auth.LoggedOut()

    def _on_ExportLoginTokenRequest(self, account, r):
        sender = self._sender_now
        if any(s is sender for s in self._qr_scanned.values()):
            self._qr_scanned = {t: s for t, s in self._qr_scanned.items() if s is not sender}
            self._auth[str(sender.auth_key.key_id)] = USER_ID
            self._save()
            return tl.auth.LoginTokenSuccess(tl.auth.Authorization(user=self._user_obj(USER_ID, USER_ID)))
        token = os.urandom(16)
        expires = _now() + dt.timedelta(seconds=self.qr_token_seconds)
        self.qr_tokens.append((token, expires))
        self._qr_senders = getattr(self, "_qr_senders", {})
        self._qr_senders[token] = sender
        return tl.auth.LoginToken(expires=expires, token=token)

    def scan_qr(self) -> bool:
        """A logged-in phone scans the last QR token shown; False (nothing happens) when it expired."""
        token, expires = self.qr_tokens[-1]
        if _now() >= expires:
            return False
        sender = self._qr_senders[token]
        self._qr_scanned[token] = sender
        sender._push(tl.UpdateShort(update=tl.UpdateLoginToken(), date=_now()))
        return True

    # --- handlers: connection and account ---
    def _on_PingRequest(self, account, r):
        return tl.Pong(msg_id=0, ping_id=r.ping_id)

    def _on_GetConfigRequest(self, account, r):
        now = _now()
        return tl.Config(
            date=now, expires=now + dt.timedelta(hours=1), test_mode=False, this_dc=DC_ID,
            dc_options=[tl.DcOption(id=DC_ID, ip_address="149.154.167.51", port=443)], dc_txt_domain_name="",
            chat_size_max=200, megagroup_size_max=200_000, forwarded_count_max=100,
            online_update_period_ms=210_000, offline_blur_timeout_ms=5_000, offline_idle_timeout_ms=30_000,
            online_cloud_timeout_ms=300_000, notify_cloud_delay_ms=30_000, notify_default_delay_ms=1_500,
            push_chat_period_ms=60_000, push_chat_limit=2, edit_time_limit=172_800, revoke_time_limit=2**31 - 1,
            revoke_pm_time_limit=2**31 - 1, rating_e_decay=2_419_200, stickers_recent_limit=200,
            channels_read_media_period=604_800, call_receive_timeout_ms=20_000, call_ring_timeout_ms=90_000,
            call_connect_timeout_ms=30_000, call_packet_timeout_ms=10_000, me_url_prefix="https://t.me/",
            caption_length_max=CAPTION_LENGTH_MAX, message_length_max=MESSAGE_LENGTH_MAX, webfile_dc_id=4)

    def _on_GetUsersRequest(self, account, r):
        out = []
        for u in r.id:
            if isinstance(u, tl.InputUserSelf):
                out.append(self._user_obj(account, account))
            elif isinstance(u, tl.InputUser) and u.access_hash == access_hash(account, u.user_id):
                out.append(self._user_obj(account, u.user_id))
        return out

    def _watching(self, a: _Account) -> list[_Channel]:
        """The channels whose news reach ``a`` (joined, readable; the bot sees none)."""
        return [] if a.bot else [ch for ch in self._channels.values() if ch.joined and not ch.private]

    def _on_GetStateRequest(self, account, r):
        a = self._accounts[account]
        for ch in self._watching(a):  # a client starts from here; one with a saved state asks the difference since it
            a.seen.setdefault(ch.id, ch.pts)
        self._save()
        return tlu.State(pts=a.pts, qts=a.qts, date=_now(), seq=a.seq, unread_count=0)

    def _on_GetDifferenceRequest(self, account, r):
        """The account's own updates since ``r.pts``, and, as Telegram does, an updateChannelTooLong for
        each joined channel whose pts moved since ``r.date`` (a client fetches those channels'
        differences from the pts it saved: how a restarted client learns what channels posted meanwhile)."""
        a = self._accounts[account]
        news = [ch for ch in self._watching(a) if ch.pts > a.seen.get(ch.id, ch.pts)]
        a.seen.update((ch.id, ch.pts) for ch in self._watching(a))
        self._save()
        if r.pts >= a.pts and not news:
            return tlu.DifferenceEmpty(date=_now(), seq=a.seq)
        new_messages, users, chats = [], {}, {}
        other = [tl.UpdateChannelTooLong(channel_id=ch.id) for ch in news]
        chats.update((ch.id, self._channel_obj(account, ch)) for ch in news)
        for pts, upd in a.log:
            if pts <= r.pts:
                continue
            if isinstance(upd, tl.UpdateNewMessage):
                new_messages.append(upd.message)
            else:
                other.append(upd)
            us, cs = self._entities_for(account, upd.message)
            users.update((u.id, u) for u in us)
            chats.update((c.id, c) for c in cs)
        state = tlu.State(pts=a.pts, qts=a.qts, date=_now(), seq=a.seq, unread_count=0)
        return tlu.Difference(new_messages=new_messages, new_encrypted_messages=[], other_updates=other,
                              chats=list(chats.values()), users=list(users.values()), state=state)

    # --- handlers: channels ---
    def _on_ResolveUsernameRequest(self, account, r):
        name = r.username.lower()
        for ch in self._channels.values():
            if ch.username and ch.username.lower() == name:
                if ch.private:
                    raise RpcFail(400, "CHANNEL_PRIVATE")
                return tlc.ResolvedPeer(peer=tl.PeerChannel(ch.id), chats=[self._channel_obj(account, ch)],
                                        users=[])
        for uid, u in list(self._users.items()) + [(a.id, {"username": a.username}) for a in
                                                   self._accounts.values()]:
            if u["username"] and u["username"].lower() == name:
                return tlc.ResolvedPeer(peer=tl.PeerUser(uid), chats=[], users=[self._user_obj(account, uid)])
        raise RpcFail(400, "USERNAME_NOT_OCCUPIED")

    def _on_GetDialogsRequest(self, account, r):
        """The account's dialogs: the joined channels (all in one answer), each with its latest post."""
        joined = [ch for ch in self._channels.values() if ch.joined and not ch.private]
        dialogs, messages = [], []
        for ch in joined:
            top = max(ch.messages, default=0)
            dialogs.append(tl.Dialog(peer=tl.PeerChannel(ch.id), top_message=top, read_inbox_max_id=top,
                                     read_outbox_max_id=0, unread_count=0, unread_mentions_count=0,
                                     unread_reactions_count=0, unread_poll_votes_count=0,
                                     notify_settings=tl.PeerNotifySettings(), pts=ch.pts))
            if top:
                messages.append(ch.messages[top])
        return tlm.Dialogs(dialogs=dialogs, messages=messages,
                           chats=[self._channel_obj(account, ch) for ch in joined], users=[])

    def _on_GetChatsRequest(self, account, r):
        return tlm.Chats(chats=[self._chat_obj(i, account) for i in r.id if i in self._chats])

    def _on_GetChannelsRequest(self, account, r):
        return tlm.Chats(chats=[self._channel_obj(account, self._channel_for(account, c, read=False)) for c in r.id])

    def _on_GetFullChannelRequest(self, account, r):
        ch = self._channel_for(account, r.channel)
        top = max(ch.messages, default=0)
        full = tl.ChannelFull(id=ch.id, about="", read_inbox_max_id=top, read_outbox_max_id=0, unread_count=0,
                              chat_photo=tl.PhotoEmpty(id=0), notify_settings=tl.PeerNotifySettings(), bot_info=[],
                              pts=ch.pts, participants_count=1000)
        return tlm.ChatFull(full_chat=full, chats=[self._channel_obj(account, ch)], users=[])

    def _on_GetHistoryRequest(self, account, r):
        if self._accounts[account].bot:
            raise RpcFail(400, "BOT_METHOD_INVALID")
        kind, peer_id = self._peer_of(account, r.peer)
        if kind != "channel":
            raise NotImplementedError("FakeTelegram serves GetHistory for channels only")
        ch = self._channels[peer_id]
        ids = sorted((i for i in ch.messages if i not in ch.hidden), reverse=True)  # newest first, as Telegram answers
        pos = 0
        if r.offset_id:
            while pos < len(ids) and ids[pos] >= r.offset_id:
                pos += 1
        elif _ts(r.offset_date) > 0:  # off the wire an absent date is the epoch, not None
            while pos < len(ids) and ch.messages[ids[pos]].date >= r.offset_date:
                pos += 1
        start = pos + r.add_offset
        end = start + min(max(r.limit, 0), MAX_HISTORY_LIMIT)
        window = ids[max(start, 0):max(end, 0)]
        window = [i for i in window if (not r.min_id or i > r.min_id) and (not r.max_id or i < r.max_id)]
        return tlm.ChannelMessages(pts=ch.pts, count=len(ids), messages=[ch.messages[i] for i in window],
                                   topics=[], chats=[self._channel_obj(account, ch)], users=[])

    def _on_GetMessagesRequest(self, account, r):
        """channels.getMessages by id (what ``client.get_messages(channel, ids=...)`` asks); an id the
        channel does not have comes back as MessageEmpty, as on Telegram."""
        if not hasattr(r, "channel"):
            raise NotImplementedError("FakeTelegram serves GetMessages for channels only")
        ch = self._channel_for(account, r.channel)
        ids = [getattr(i, "id", None) for i in r.id]
        messages = [ch.messages[i] if i in ch.messages else tl.MessageEmpty(id=i or 0, peer_id=tl.PeerChannel(ch.id)) for i in ids]
        return tlm.ChannelMessages(pts=ch.pts, count=len(messages), messages=messages, topics=[],
                                   chats=[self._channel_obj(account, ch)], users=[])

    def _on_GetChannelDifferenceRequest(self, account, r):
        ch = self._channel_for(account, r.channel)
        if r.pts <= 0:
            raise RpcFail(400, "PERSISTENT_TIMESTAMP_EMPTY")
        if r.pts > ch.pts:
            raise RpcFail(400, "PERSISTENT_TIMESTAMP_INVALID")
        chats = [self._channel_obj(account, ch)]
        if ch.id in self._too_long or r.pts + r.limit < ch.pts:
            self._too_long.discard(ch.id)
            top = max(ch.messages, default=0)
            dialog = tl.Dialog(peer=tl.PeerChannel(ch.id), top_message=top, read_inbox_max_id=top,
                               read_outbox_max_id=0, unread_count=0, unread_mentions_count=0,
                               unread_reactions_count=0, unread_poll_votes_count=0,
                               notify_settings=tl.PeerNotifySettings(), pts=ch.pts)
            latest = [ch.messages[i] for i in sorted(ch.messages, reverse=True)[:TOO_LONG_MESSAGES]]
            return tlu.ChannelDifferenceTooLong(dialog=dialog, messages=latest, chats=chats, users=[], final=True)
        if r.pts == ch.pts:
            return tlu.ChannelDifferenceEmpty(pts=ch.pts, final=True)
        events = [e for e in ch.log if e[0] > r.pts][:r.limit]
        new_ids = [mid for _, kind, mid in events if kind == "new" and mid in ch.messages]  # not deleted since
        other = [tl.UpdateEditChannelMessage(ch.messages[mid], pts, 1) for pts, kind, mid in events
                 if kind == "edit" and mid not in new_ids and mid in ch.messages]
        other += [tl.UpdateDeleteChannelMessages(ch.id, ids, pts, len(ids)) for pts, kind, ids in events if kind == "delete"]
        last = events[-1][0]
        return tlu.ChannelDifference(pts=last, new_messages=[ch.messages[i] for i in new_ids], other_updates=other,
                                     chats=chats, users=[], final=last == ch.pts)

    # --- handlers: sending ---
    def _check_text(self, text: str, entities) -> None:
        if not text.strip():
            raise RpcFail(400, "MESSAGE_EMPTY")
        if _utf16_len(text) > MESSAGE_LENGTH_MAX:
            raise RpcFail(400, "MESSAGE_TOO_LONG")
        n = _utf16_len(text)
        for e in entities or []:
            if e.offset < 0 or e.length <= 0 or e.offset + e.length > n:
                raise RpcFail(400, "ENTITY_BOUNDS_INVALID")

    @staticmethod
    def _check_markup(markup) -> None:
        """An inline keyboard as Telegram checks it: callback data of 1 to 64 bytes, at most 8
        buttons a row and 100 in all."""
        rows = getattr(markup, "rows", None) or []
        buttons = [b for row in rows for b in row.buttons]
        if len(buttons) > BUTTONS_MAX or any(len(row.buttons) > BUTTONS_PER_ROW_MAX for row in rows):
            raise RpcFail(400, "REPLY_MARKUP_TOO_LONG")
        for b in buttons:
            data = getattr(b, "data", None)
            data = getattr(getattr(b, "type", None), "data", None) if data is None else data  # layer 229: on its type
            if data is not None and not 0 < len(data) <= BUTTON_DATA_MAX:
                raise RpcFail(400, "BUTTON_DATA_INVALID")

    def _check_random_id(self, account: int, random_id: int) -> None:
        used = self._random_ids.setdefault(account, [])
        if random_id in used:
            raise RpcFail(500, "RANDOM_ID_DUPLICATE")  # Telegram's code for it is 500
        used.append(random_id)

    def _send(self, account: int, r, text: str, entities, media=None, *, file=None) -> Any:
        kind, peer_id = self._peer_of(account, r.peer)
        me = self._accounts[account]
        if kind == "user" and me.bot and peer_id not in me.started_by:
            raise RpcFail(400, "PEER_ID_INVALID")  # a user must /start the bot first
        if kind == "channel":
            ch = self._channels[peer_id]
            if not ch.megagroup and not ch.admin:
                raise RpcFail(403, "CHAT_WRITE_FORBIDDEN")
        self._check_random_id(account, r.random_id)
        date = _now()
        if kind == "channel":
            msg, pts = self._new_post(peer_id, text, entities, None, None, False, date)
            msg.out, msg.silent, msg.reply_markup, msg.media = True, r.silent, r.reply_markup, media
            msg.reply_to = self._reply_header(ch, r.reply_to)
            msg = ch.messages[msg.id] = roundtrip(msg)
            marked = utils.get_peer_id(tl.PeerChannel(peer_id))
            result = tl.Updates(updates=[tl.UpdateMessageID(msg.id, r.random_id),
                                         tl.UpdateNewChannelMessage(msg, pts, 1)],
                                users=[], chats=[self._channel_obj(account, ch)], date=date, seq=0)
            mid = msg.id
        else:
            peer = tl.PeerUser(peer_id) if kind == "user" else tl.PeerChat(peer_id)
            mid, me.next_id = me.next_id, me.next_id + 1
            me.pts += 1
            msg = roundtrip(tl.Message(
                id=mid, peer_id=peer, date=date, message=text, out=True, silent=r.silent, entities=entities,
                reply_markup=r.reply_markup, media=media, from_id=tl.PeerUser(account) if kind == "chat" else None))
            me.log.append((me.pts, tl.UpdateNewMessage(msg, me.pts, 1)))
            marked = utils.get_peer_id(peer)
            if media is None:
                result = tl.UpdateShortSentMessage(id=mid, pts=me.pts, pts_count=1, date=date, out=True,
                                                   entities=entities)
            else:
                users, chats = self._entities_for(account, msg)
                result = tl.Updates(updates=[tl.UpdateMessageID(mid, r.random_id),
                                             tl.UpdateNewMessage(msg, me.pts, 1)],
                                    users=users, chats=chats, date=date, seq=0)
            # the other hosted account in the conversation receives it too
            for other in self._accounts.values():
                if other.id == account:
                    continue
                if (kind == "user" and peer_id == other.id) or kind == "chat":
                    if other.bot and kind == "user" and account not in other.started_by:
                        other.started_by.append(account)
                    incoming = tl.Message(id=0, peer_id=tl.PeerUser(account) if kind == "user" else peer,
                                          date=date, message=text, entities=entities, media=media,
                                          reply_markup=r.reply_markup,
                                          from_id=tl.PeerUser(account) if kind == "chat" else None)
                    self._deliver(other, incoming)
        self.chat.append(SentMessage(
            peer=marked, text=text, entities=entities, random_id=r.random_id, silent=bool(r.silent),
            no_webpage=bool(getattr(r, "no_webpage", False)), id=mid, date=date, sender_id=account,
            reply_markup=r.reply_markup, reply_to=getattr(r.reply_to, "reply_to_msg_id", None), **(file or {})))
        self._save()
        return result

    @staticmethod
    def _reply_header(ch: _Channel, reply_to) -> tl.MessageReplyHeader | None:
        """The reply header of a message sent to a channel with ``reply_to``: in a forum, a reply to the
        topic's first message puts it in that topic (forum_topic, reply_to_msg_id = the topic), a reply to
        a message in a topic keeps it there (reply_to_top_id); no header: General."""
        mid = getattr(reply_to, "reply_to_msg_id", None)
        if mid is None:
            return None
        if not ch.forum:
            return tl.MessageReplyHeader(reply_to_msg_id=mid)
        parent = getattr(ch.messages.get(mid), "reply_to", None)
        top = (parent.reply_to_top_id or parent.reply_to_msg_id) if parent is not None and parent.forum_topic else None
        return tl.MessageReplyHeader(reply_to_msg_id=mid, forum_topic=True, reply_to_top_id=top)

    def _on_SendMessageRequest(self, account, r):
        self._check_text(r.message, r.entities)
        self._check_markup(r.reply_markup)
        return self._send(account, r, r.message, r.entities)

    def _on_EditMessageRequest(self, account, r):
        kind, peer_id = self._peer_of(account, r.peer)
        marked = utils.get_peer_id(
            {"user": tl.PeerUser, "chat": tl.PeerChat, "channel": tl.PeerChannel}[kind](peer_id))
        sent = next((m for m in self.chat if m.sender_id == account and m.peer == marked and m.id == r.id), None)
        if sent is None:
            raise RpcFail(400, "MESSAGE_ID_INVALID")
        text = sent.text if r.message is None else r.message
        markup = r.reply_markup if r.reply_markup is not None else sent.reply_markup
        if text == sent.text and r.entities == sent.entities and markup == sent.reply_markup:
            raise RpcFail(400, "MESSAGE_NOT_MODIFIED")
        self._check_text(text, r.entities)
        self._check_markup(markup)
        now = _now()
        sent.edits.append((now, text))
        sent.text, sent.entities, sent.reply_markup = text, r.entities, markup
        if kind == "channel":
            ch = self._channels[peer_id]
            msg = ch.messages[r.id]
            msg.message, msg.entities, msg.edit_date, msg.reply_markup = text, r.entities, now, markup
            ch.messages[r.id] = roundtrip(msg)
            ch.pts += 1
            ch.log.append([ch.pts, "edit", r.id])
            upd = tl.UpdateEditChannelMessage(ch.messages[r.id], ch.pts, 1)
            users, chats = [], [self._channel_obj(account, ch)]
        else:
            me = self._accounts[account]
            me.pts += 1
            msg = tl.Message(id=r.id, peer_id=tl.PeerUser(peer_id) if kind == "user" else tl.PeerChat(peer_id),
                             date=sent.date, message=text, out=True, entities=r.entities, edit_date=now,
                             reply_markup=markup, from_id=tl.PeerUser(account) if kind == "chat" else None)
            upd = tl.UpdateEditMessage(msg, me.pts, 1)
            me.log.append((me.pts, upd))
            users, chats = self._entities_for(account, msg)
        self._save()
        return tl.Updates(updates=[upd], users=users, chats=chats, date=now, seq=0)

    def _on_SaveFilePartRequest(self, account, r):
        self._uploads.setdefault((account, r.file_id), {})[r.file_part] = r.bytes
        return True

    def _on_SaveBigFilePartRequest(self, account, r):
        self._uploads.setdefault((account, r.file_id), {})[r.file_part] = r.bytes
        return True

    def _on_SendMediaRequest(self, account, r):
        media = r.media
        if not isinstance(media, (tl.InputMediaUploadedDocument, tl.InputMediaUploadedPhoto)):
            raise NotImplementedError(f"FakeTelegram serves SendMedia with uploaded files only, not {media}")
        # kept, as Telegram keeps uploaded parts a while: a send re-sent after a lost answer finds them
        parts = self._uploads.get((account, media.file.id))
        if parts is None or len(parts) != media.file.parts:
            raise RpcFail(400, "FILE_PARTS_INVALID")
        data = b"".join(parts[i] for i in sorted(parts))
        if r.message:
            self._check_text(r.message, r.entities)
            if _utf16_len(r.message) > CAPTION_LENGTH_MAX:
                raise RpcFail(400, "MEDIA_CAPTION_TOO_LONG")
        date = _now()
        if isinstance(media, tl.InputMediaUploadedDocument):
            attrs = list(media.attributes or [])
            if not any(isinstance(a, tl.DocumentAttributeFilename) for a in attrs):
                attrs.append(tl.DocumentAttributeFilename(media.file.name))
            out_media = tl.MessageMediaDocument(document=tl.Document(
                id=random.randrange(1, 2**62), access_hash=random.randrange(1, 2**62), file_reference=b"\x01",
                date=date, mime_type=media.mime_type, size=len(data), dc_id=DC_ID, attributes=attrs))
            mime = media.mime_type
        else:
            out_media = tl.MessageMediaPhoto(photo=tl.Photo(
                id=random.randrange(1, 2**62), access_hash=random.randrange(1, 2**62), file_reference=b"\x01",
                date=date, sizes=[tl.PhotoSize(type="x", w=800, h=600, size=len(data))], dc_id=DC_ID))
            mime = "image/jpeg"
        names = [a.file_name for a in getattr(media, "attributes", None) or []
                 if isinstance(a, tl.DocumentAttributeFilename)]
        file = {"file": data, "file_name": names[0] if names else media.file.name, "mime_type": mime}
        return self._send(account, r, r.message or "", r.entities, out_media, file=file)

    def _on_SetBotCallbackAnswerRequest(self, account, r):
        if self._queries.get(r.query_id) != account:
            raise RpcFail(400, "QUERY_ID_INVALID")
        self.callback_answers.append(r)
        return True
