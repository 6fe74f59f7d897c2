"""Rasa's socket.io channel for the public web chat: a session belongs to the browser that opened it.

Rasa's own channel trusts the `session_id` the client sends in `session_request` and `user_uttered` and
uses it as the conversation id, so anyone who knew or guessed an id (a social id such as
`whatsapp:15550001111`, or another web chat session) could write into that conversation and receive
its replies, the agent's included. Here:

- on `session_request` the server issues a session token `<conversation id>.<signature>` (HMAC-SHA256
  over the id with a server secret, see `session_secret`), and a claimed session id that is not a token
  we issued starts a new conversation with a new token. rasa-webchat keeps whatever `session_confirm`
  carries (a string or `{session_id}`) and sends it back on reload, which resumes the conversation;
- the conversation id Rasa sees is the plain id (32 hex characters), never the signature: it is shown to
  agents, logged and put in URLs, and must not be a credential;
- `user_uttered` is taken for the conversation confirmed on that socket only (kept server-side per
  socket id); the `session_id` in the message is ignored. A socket that has no session is not heard;
- every message passes the public door's limits (bot/channels/limits.py: control characters and lone
  surrogates stripped, over MAX_TEXT_CHARS refused with a reply, metadata kept flat and small) and its
  screen (only offered button payloads are read as intents), and an engine.io packet over
  MAX_PAYLOAD_BYTES closes the socket (websocket) or is a 413 (long-polling) before it is parsed;
- a browser page may connect only from the origins in CORS_ORIGINS (set by bot/server.py from the
  server's `--cors`) or from the server's own origin, as the HTTP routes answer CORS; a client that sends
  no Origin is not a browser.

Rasa 3.6 also calls `sio.enter_room(...)` without awaiting it, which on current python-socketio never
joins the room, so replies went nowhere: the room is joined here, awaited.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import inspect
import logging
import re
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, FrozenSet, Iterable, Mapping, Optional, Text, Tuple

from rasa.core.channels.channel import InputChannel, UserMessage, decode_bearer_token
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request

from bot.channels.limits import TOO_LONG_REPLY, clean_text, public_metadata, too_long
from bot.channels.untrusted import DEFAULT_ALLOWED_PAYLOADS, screened
from settings import VAR_DIR, current, load

logger = logging.getLogger(__name__)

# The largest engine.io packet read from a browser. Big enough for any text a customer pastes to get
# the "too long" reply (2,000 characters escaped as JSON are at most ~24 kB), small enough to decode in
# well under a millisecond. Larger packets close the connection (engine.io's own check).
MAX_PAYLOAD_BYTES = 256 * 1024
_CONVERSATION_ID = re.compile(r"[0-9a-f]{32}")
_TOKEN_CONTEXT = b"coverline webchat session\x00"


def session_secret(env: Optional[Mapping[Text, Text]] = None, var_dir: Path = VAR_DIR) -> bytes:
    """WEBCHAT_SESSION_SECRET (every replica must share it), or in dev one generated once into var/ (mode
    0600, by the settings package); outside dev a missing one is a SettingsError."""
    settings = current() if env is None and var_dir == VAR_DIR else load(env, var_dir=var_dir)
    return settings.webchat.session_secret.value().encode("utf-8")


class SessionTokens:
    """Web chat session tokens: `<conversation id>.<base64url HMAC-SHA256 of the id>`."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def issue(self) -> Tuple[Text, Text]:
        """A new conversation: (token for the browser, conversation id for Rasa)."""
        conversation_id = uuid.uuid4().hex
        return f"{conversation_id}.{self._signature(conversation_id)}", conversation_id

    def conversation_of(self, claimed: Any) -> Optional[Text]:
        """The conversation a token was issued for, or None for anything else (checked in constant time)."""
        if not isinstance(claimed, str) or len(claimed) > 128:
            return None
        conversation_id, dot, signature = claimed.partition(".")
        if not dot or not _CONVERSATION_ID.fullmatch(conversation_id):
            return None
        if hmac.compare_digest(self._signature(conversation_id).encode(), signature.encode("utf-8", "replace")):
            return conversation_id
        return None

    def _signature(self, conversation_id: Text) -> Text:
        digest = hmac.new(self._secret, _TOKEN_CONTEXT + conversation_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def guarded_engineio(eio: Any) -> Callable[..., Awaitable[Any]]:
    """engine.io's HTTP handler (python-engineio on Sanic) with the checks it lacks at our door:

    - a long-polling POST over MAX_PAYLOAD_BYTES is a 413 at once, and its session is closed without
      waiting (as engine.io closes a websocket that sends one). engine.io itself closed the session inside
      the request and waited for a poll to carry the close packet, so a client with no poll pending
      (anyone with curl) held the request open for the whole ping timeout;
    - a POST that is not UTF-8 is a 400 (engine.io logged a traceback and answered 200);
    - a request for a session being closed is a 400 (engine.io raised KeyError: a 500).
    """
    handle_request = eio.handle_request

    @functools.wraps(handle_request)
    async def guarded(request: Request, *args: Any, **kwargs: Any) -> Any:
        if request.method == "POST":
            body = request.body or b""
            if len(body) > MAX_PAYLOAD_BYTES:
                socket = eio.sockets.get(request.args.get("sid"))
                if socket is not None:  # a pending poll carries the close packet; nobody waits for it
                    await socket.close(wait=False)
                return response.json({"error": f"packets larger than {MAX_PAYLOAD_BYTES} bytes are refused"}, 413)
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                return response.json({"error": "engine.io payloads are UTF-8 text"}, 400)
        try:
            return await handle_request(request, *args, **kwargs)
        except KeyError:
            return response.json({"error": "unknown or closed session"}, 400)

    return guarded


def allowed_origins(env: Optional[Mapping[Text, Text]] = None) -> Optional[FrozenSet[Text]]:
    """The browser origins that may open the socket (CORS_ORIGINS, comma or space separated); None when
    it is not set (then only Rasa's HTTP CORS applies, as with Rasa's own channel)."""
    origins = (current() if env is None else load(env)).webchat.cors_origins
    return None if origins is None else frozenset(origins)


def same_origin(origin: Text, environ: Mapping[Text, Any]) -> bool:
    """A page served from this server's own host and port: no CORS question (websocket clients outside a
    browser, such as websocket-client, also send the server's own address as their Origin)."""
    host = str(environ.get("HTTP_HOST") or "").lower()
    return bool(host) and origin.partition("://")[2] == host


class PersistentSocketIOInput(SocketIOInput):
    """credentials.yml key: `bot.channels.socketio.PersistentSocketIOInput` (same settings as `socketio`,
    plus `allowed_payloads`). Sessions always persist: the conversation outlives the socket."""

    allowed_payloads: FrozenSet[Text] = DEFAULT_ALLOWED_PAYLOADS

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """Rasa's settings, plus `allowed_payloads`: what the page itself may send (its initPayload)."""
        channel = super().from_credentials(credentials)
        assert isinstance(channel, PersistentSocketIOInput)
        channel.allow_payloads((credentials or {}).get("allowed_payloads") or DEFAULT_ALLOWED_PAYLOADS)
        return channel

    def allow_payloads(self, payloads: Iterable[Text]) -> None:
        self.allowed_payloads = frozenset(str(payload) for payload in payloads)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None
        sio.eio.max_http_buffer_size = MAX_PAYLOAD_BYTES
        sio.eio.handle_request = guarded_engineio(sio.eio)  # read when the blueprint is mounted
        tokens = SessionTokens(session_secret())
        origins = allowed_origins()
        conversations: Dict[Text, Text] = {}  # socket id -> the conversation confirmed on that socket
        server: Dict[Text, Any] = {}
        namespace = self.namespace

        @webhook.listener("after_server_start")
        async def remember_app(app: Any, *_: Any) -> None:
            server["app"] = app  # its ctx.agent holds the tracker store the offered buttons are read from

        # Handlers registered again for an event replace Rasa's (python-socketio keeps one per event).
        @sio.on("connect", namespace=namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            origin = (environ.get("HTTP_ORIGIN") or "").rstrip("/").lower()
            if origins is not None and origin and origin not in origins and not same_origin(origin, environ):
                logger.info("web chat socket refused: origin %r is not in CORS_ORIGINS", origin[:200])
                return False
            if self.jwt_key:  # Rasa's optional JWT check, kept as it was
                token = auth.get("token") if isinstance(auth, dict) else None
                return bool(token and decode_bearer_token(token, self.jwt_key, self.jwt_algorithm))
            return True

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: Text, *_: Any) -> None:
            conversations.pop(sid, None)

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: Text, data: Any) -> None:
            claimed = data.get("session_id") if isinstance(data, dict) else None
            conversation_id = tokens.conversation_of(claimed)
            if conversation_id is not None:
                token = claimed
            else:
                token, conversation_id = tokens.issue()
            previous = conversations.get(sid)
            if previous is not None and previous != conversation_id:
                left = sio.leave_room(sid, previous, namespace=namespace)
                if inspect.isawaitable(left):
                    await left
            conversations[sid] = conversation_id
            joined = sio.enter_room(sid, conversation_id, namespace=namespace)
            if inspect.isawaitable(joined):
                await joined
            await sio.emit("session_confirm", token, room=sid, namespace=namespace)

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: Text, data: Any) -> None:
            conversation_id = conversations.get(sid)
            if conversation_id is None or not isinstance(data, dict):
                logger.debug("web chat message ignored: socket %s has no session or sent no object", sid)
                return
            output = SocketIOOutput(sio, self.bot_message_evt)
            text = clean_text(data.get("message"))
            if too_long(text):
                await output.send_text_message(conversation_id, TOO_LONG_REPLY)
                return
            message = UserMessage(
                text,
                output,
                conversation_id,
                input_channel=self.name(),
                metadata=public_metadata(data.get(self.metadata_key)),
            )
            message = await screened(server.get("app"), message, self.allowed_payloads)
            if message.text:  # nothing left to read ("", a NUL, a lone "/") has no intent: not a turn
                await on_new_message(message)

        return webhook
