"""The libami extension module: the sans-IO AMI core (Rust) for Python.

Text is decoded as UTF-8 with ``surrogateescape`` (``value.encode("utf-8", "surrogateescape")``
gives back the exact bytes) and text given to libami is encoded the same way.
"""

from collections.abc import Iterable, Iterator, Mapping
from os import PathLike
from typing import Any, ClassVar, Final, Optional, Tuple, TypeVar, Union, final

_T = TypeVar("_T")

#: Bytes-like input.
_Buffer = Union[bytes, bytearray, memoryview]
#: A header name or value: text (surrogateescape), bytes, or a number (its decimal text).
_Value = Union[str, bytes, bytearray, memoryview, int, float]
#: Header fields: a mapping, or ``(name, value)`` pairs.
_Fields = Union[Mapping[Any, Any], Iterable[Tuple[_Value, _Value]], None]
#: Peer address: ``"ip:port"`` or ``(host, port, ...)``.
_Peer = Union[str, Tuple[Any, ...]]

__version__: Final[str]

class ProtocolError(Exception):
    """Base class of the protocol errors of libami."""

class LocalProtocolError(ProtocolError):
    """The caller asked for something the protocol or the session refuses (nothing was queued)."""

class RemoteProtocolError(ProtocolError):
    """The peer sent something that breaks the protocol."""

class ConfigError(ValueError):
    """manager.conf, an ACL rule, an event filter or a permission list cannot be loaded."""

class ConfigEditError(ConfigError):
    """The editor refused an edit (nothing changed); ``line`` and ``file`` say where, when known."""

    line: Optional[int]
    file: Optional[str]

@final
class _NeedData:
    """The type of ``NEED_DATA``."""

    def __bool__(self) -> bool: ...

NEED_DATA: Final[_NeedData]

CAPTURE_MODULES: Final[tuple[str, ...]]
"""The modules of the Asterisk 22 that recorded the conformance captures, for
``Server(config, modules=list(CAPTURE_MODULES))``: the actions that server knows."""
"""Returned by ``next_event()`` when nothing more happens until more data, a command or a timeout."""

@final
class Message:
    """One AMI message as a read-only mapping: case-insensitive lookup, first value by default."""

    @staticmethod
    def parse(data: _Buffer, role: str = "client") -> Message:
        """Parses exactly one complete message; raises ``RemoteProtocolError`` otherwise."""
    @property
    def kind(self) -> str:
        """``"action"``, ``"response"``, ``"event"`` or ``"unknown"``."""
    @property
    def name(self) -> Optional[str]:
        """The value of the first line: action, response status or event name."""
    @property
    def action_id(self) -> Optional[str]:
        """The first ``ActionID`` value."""
    @property
    def raw(self) -> bytes:
        """The message's bytes as framed."""
    @property
    def error(self) -> Optional[str]:
        """Why the decoder rejected the message (it broke a limit), or ``None``."""
    def __getitem__(self, name: _Value) -> str: ...
    def get(self, name: _Value, default: Optional[_T] = None, /) -> Union[str, _T, None]:
        """The first value of header ``name`` (case-insensitive), or ``default``."""
    def get_bytes(self, name: _Value) -> Optional[bytes]:
        """The first value of header ``name`` as bytes."""
    def get_all(self, name: _Value) -> list[str]:
        """Every value of header ``name``, in order."""
    def lines(self) -> list[tuple[str | None, str]]:
        """Every line in order as ``(name, value)``; a bare line (no colon) is ``(None, line)``."""
    def items(self) -> list[tuple[str, str]]:
        """Every header line as ``(name, value)``, duplicates included (no bare lines)."""
    def keys(self) -> list[str]:
        """The distinct header names."""
    def values(self) -> list[str]:
        """The first value of each distinct header name."""
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...
    def __contains__(self, name: object) -> bool: ...
    def __eq__(self, other: object) -> bool: ...

@final
class Banner:
    """The server's greeting line, ``Asterisk Call Manager/<version>``."""

    __match_args__: ClassVar[Tuple[str]]
    @property
    def kind(self) -> str:
        """Always ``"banner"``."""
    @property
    def line(self) -> str:
        """The whole line, without its line end."""
    @property
    def version(self) -> str:
        """The text after the first ``/``."""
    def __eq__(self, other: object) -> bool: ...

@final
class Decoder:
    """The AMI stream decoder: bytes in any chunks, ``Banner`` and ``Message`` objects out."""

    def __init__(
        self,
        role: str = "client",
        *,
        max_line: Optional[int] = None,
        max_headers: Optional[int] = None,
        max_message: Optional[int] = None,
    ) -> None: ...
    def feed(self, data: _Buffer) -> None:
        """Adds received bytes (``b""`` is not end-of-file here)."""
    @property
    def buffered(self) -> int:
        """Bytes buffered and not yet returned."""
    @property
    def is_mid_message(self) -> bool:
        """Whether the buffered bytes hold part of a message."""
    def next_item(self) -> Union[Banner, Message, None]:
        """The next complete item, or ``None`` when more data is needed."""
    def __iter__(self) -> Decoder: ...
    def __next__(self) -> Union[Banner, Message]: ...

def encode_action(name: _Value, fields: _Fields = None, action_id: Optional[_Value] = None) -> bytes:
    """Encodes an action; raises ``LocalProtocolError`` on anything that could inject a line."""

def encode_response(status: _Value, fields: _Fields = None) -> bytes:
    """Encodes a response; refuses injection like ``encode_action``."""

def encode_event(name: _Value, fields: _Fields = None) -> bytes:
    """Encodes an event; refuses injection like ``encode_action``."""

@final
class LoggedIn:
    """The login was accepted."""

    __match_args__: ClassVar[Tuple[str, str]]
    def __init__(self, action_id: Any, message: Any) -> None: ...
    @property
    def action_id(self) -> str: ...
    @property
    def message(self) -> Message: ...
    def __eq__(self, other: object) -> bool: ...

@final
class LoginFailed:
    """The login was refused."""

    __match_args__: ClassVar[Tuple[str, str]]
    def __init__(self, action_id: Any, message: Any) -> None: ...
    @property
    def action_id(self) -> str: ...
    @property
    def message(self) -> Message: ...
    def __eq__(self, other: object) -> bool: ...

@final
class Response:
    """The response to an action; ``complete`` is false only for an accepted async Originate."""

    __match_args__: ClassVar[Tuple[str, str, str]]
    def __init__(self, action_id: Any, message: Any, complete: Any) -> None: ...
    @property
    def action_id(self) -> str: ...
    @property
    def message(self) -> Message: ...
    @property
    def complete(self) -> bool: ...
    def __eq__(self, other: object) -> bool: ...

@final
class ListStart:
    """The response that starts an event list."""

    __match_args__: ClassVar[Tuple[str, str]]
    def __init__(self, action_id: Any, message: Any) -> None: ...
    @property
    def action_id(self) -> str: ...
    @property
    def message(self) -> Message: ...
    def __eq__(self, other: object) -> bool: ...

@final
class ListItem:
    """One item of an event list."""

    __match_args__: ClassVar[Tuple[str, str]]
    def __init__(self, action_id: Any, message: Any) -> None: ...
    @property
    def action_id(self) -> str: ...
    @property
    def message(self) -> Message: ...
    def __eq__(self, other: object) -> bool: ...

@final
class ListComplete:
    """The event that ends a list."""

    __match_args__: ClassVar[Tuple[str, str]]
    def __init__(self, action_id: Any, message: Any) -> None: ...
    @property
    def action_id(self) -> str: ...
    @property
    def message(self) -> Message: ...
    def __eq__(self, other: object) -> bool: ...

@final
class CommandOutput:
    """The output of a ``Command`` action."""

    __match_args__: ClassVar[Tuple[str, str, str, str]]
    def __init__(self, action_id: Any, message: Any, lines: Any, success: Any) -> None: ...
    @property
    def action_id(self) -> str: ...
    @property
    def message(self) -> Message: ...
    @property
    def lines(self) -> list[str]: ...
    @property
    def success(self) -> bool: ...
    def __eq__(self, other: object) -> bool: ...

@final
class OriginateResponse:
    """The ``OriginateResponse`` event of an async Originate."""

    __match_args__: ClassVar[Tuple[str, str]]
    def __init__(self, action_id: Any, message: Any) -> None: ...
    @property
    def action_id(self) -> str: ...
    @property
    def message(self) -> Message: ...
    def __eq__(self, other: object) -> bool: ...

@final
class Event:
    """An asynchronous event; ``event["Channel"]`` reads its message."""

    __match_args__: ClassVar[Tuple[str]]
    def __init__(self, message: Any) -> None: ...
    @property
    def message(self) -> Message: ...
    @property
    def name(self) -> Optional[str]:
        """The event's name (its ``Event`` header)."""
    def __getitem__(self, key: _Value) -> str: ...
    def get(self, name: _Value, default: Optional[_T] = None, /) -> Union[str, _T, None]:
        """The first value of header ``name``, or ``default``."""
    def __eq__(self, other: object) -> bool: ...

@final
class Unsolicited:
    """A response that answers no pending action."""

    __match_args__: ClassVar[Tuple[str]]
    def __init__(self, message: Any) -> None: ...
    @property
    def message(self) -> Message: ...
    def __eq__(self, other: object) -> bool: ...

@final
class ActionTimedOut:
    """The action got no final answer within its time limit."""

    __match_args__: ClassVar[Tuple[str]]
    def __init__(self, action_id: Any) -> None: ...
    @property
    def action_id(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...

@final
class ActionAborted:
    """The connection ended before the action's final answer."""

    __match_args__: ClassVar[Tuple[str, str]]
    def __init__(self, action_id: Any, reason: Any) -> None: ...
    @property
    def action_id(self) -> str: ...
    @property
    def reason(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...

@final
class Malformed:
    """A message the session could not use as is."""

    __match_args__: ClassVar[Tuple[str, str, str]]
    def __init__(self, action_id: Any, error: Any, message: Any) -> None: ...
    @property
    def action_id(self) -> Optional[str]: ...
    @property
    def error(self) -> str: ...
    @property
    def message(self) -> Message: ...
    def __eq__(self, other: object) -> bool: ...

@final
class Closed:
    """The session is over; always the last event."""

    __match_args__: ClassVar[Tuple[str, str]]
    def __init__(self, reason: Any, truncated: Any) -> None: ...
    @property
    def reason(self) -> str: ...
    @property
    def truncated(self) -> bool: ...
    def __eq__(self, other: object) -> bool: ...

_ClientEvent = Union[
    Banner,
    LoggedIn,
    LoginFailed,
    Response,
    ListStart,
    ListItem,
    ListComplete,
    CommandOutput,
    OriginateResponse,
    Event,
    Unsolicited,
    ActionTimedOut,
    ActionAborted,
    Malformed,
    Closed,
]

@final
class ClientConnection:
    """A sans-IO AMI client session (h11 style). Times are seconds of ``time.monotonic()``."""

    def __init__(
        self,
        username: Optional[_Value] = None,
        secret: Optional[_Value] = None,
        *,
        auth: str = "md5",
        events: Optional[_Value] = None,
        action_id_prefix: str = "ami-",
        action_timeout: float = 30.0,
        keepalive_interval: Optional[float] = None,
        keepalive_timeout: float = 10.0,
        max_in_flight: int = 1024,
        require_login: bool = True,
        max_consecutive_timeouts: Optional[int] = None,
        now: Optional[float] = None,
    ) -> None: ...
    def receive_data(self, data: _Buffer) -> None:
        """Bytes from the server; ``b""`` means end of file."""
    def next_event(self) -> Union[_ClientEvent, _NeedData]:
        """The next event, or ``NEED_DATA``."""
    def login(self, username: _Value, secret: _Value, auth: str = "md5") -> str:
        """Starts a login; returns its ActionID."""
    def send_action(
        self,
        name: _Value,
        fields: _Fields = None,
        *,
        action_id: Optional[_Value] = None,
        timeout: Optional[float] = None,
        now: Optional[float] = None,
    ) -> str:
        """Queues an action and returns its ActionID."""
    def logoff(self) -> str:
        """Sends ``Logoff``; returns its ActionID."""
    def data_to_send(self, max_bytes: Optional[int] = None) -> bytes:
        """The bytes to send to the server, which count as sent."""
    def next_timeout(self) -> Optional[float]:
        """When ``handle_timeout`` should be called next."""
    def handle_timeout(self, now: Optional[float] = None) -> None:
        """The timer fired."""
    @property
    def state(self) -> str:
        """``awaiting-banner``, ``connected``, ``authenticating``, ``ready``, ``logging-off`` or ``closed``."""
    @property
    def banner(self) -> Optional[str]:
        """The server's banner line, once received."""
    @property
    def pending_actions(self) -> int:
        """Actions still waiting for their final event."""
    def is_pending(self, action_id: _Value) -> bool:
        """Whether the action is still waiting for its final event."""

@final
class ActionReceived:
    """Server side: an action for the application to answer."""

    __match_args__: ClassVar[Tuple[str, str]]
    def __init__(self, session: Any, action: Any) -> None: ...
    @property
    def session(self) -> int: ...
    @property
    def action(self) -> ServerAction: ...
    def __eq__(self, other: object) -> bool: ...

@final
class UserLoggedIn:
    """Server side: a Login succeeded."""

    __match_args__: ClassVar[Tuple[str, str]]
    def __init__(self, session: Any, username: Any) -> None: ...
    @property
    def session(self) -> int: ...
    @property
    def username(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...

@final
class UserLoginFailed:
    """Server side: a Login failed."""

    __match_args__: ClassVar[Tuple[str, str, str]]
    def __init__(self, session: Any, username: Any, reason: Any) -> None: ...
    @property
    def session(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def reason(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...

@final
class SecurityNotice:
    """Server side: a security event."""

    __match_args__: ClassVar[Tuple[str, str, str]]
    def __init__(self, session: Any, kind: Any, account_id: Any) -> None: ...
    @property
    def session(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...

@final
class SlowConsumer:
    """Server side: a session's outbound queue is full."""

    __match_args__: ClassVar[Tuple[str, str]]
    def __init__(self, session: Any, queued: Any) -> None: ...
    @property
    def session(self) -> int: ...
    @property
    def queued(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...

@final
class Disconnect:
    """Server side: the session is over."""

    __match_args__: ClassVar[Tuple[str, str]]
    def __init__(self, session: Any, reason: Any) -> None: ...
    @property
    def session(self) -> int: ...
    @property
    def reason(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...

_ServerEvent = Union[ActionReceived, UserLoggedIn, UserLoginFailed, SecurityNotice, SlowConsumer, Disconnect]

@final
class ServerAction:
    """An action handed to the application."""

    @property
    def name(self) -> str:
        """The canonical action name."""
    @property
    def session(self) -> int:
        """The session that sent it."""
    @property
    def action_id(self) -> Optional[str]:
        """The ActionID the answer echoes."""
    @property
    def authority(self) -> Privilege:
        """The classes needed in ``write=`` to run it."""
    @property
    def message(self) -> Message:
        """The request."""
    def get(self, name: _Value, default: Optional[_T] = None, /) -> Union[str, _T, None]:
        """The first value of header ``name``, or ``default``."""
    def __getitem__(self, name: _Value) -> str: ...

@final
class Server:
    """A sans-IO AMI server over every connection of one listener (Asterisk 22 behaviour)."""

    def __init__(
        self,
        config: ManagerConfig,
        *,
        ami_version: str = "11.0.0",
        login_failure_delay: float = 1.0,
        fully_booted: bool = True,
        system_name: Optional[str] = None,
        max_outbound: int = 1048576,
        max_inbound: int = 1048576,
        modules: Optional[list[str]] = None,
        now: Optional[float] = None,
    ) -> None: ...
    def accept(self, peer: _Peer, now: Optional[float] = None) -> int:
        """A new connection; returns its session id."""
    def receive_data(self, session: int, data: _Buffer, now: Optional[float] = None) -> None:
        """Bytes from a session's client; ``b""`` means the client closed its side."""
    def next_event(self) -> Union[_ServerEvent, _NeedData]:
        """The next server event, or ``NEED_DATA``."""
    def data_to_send(self, session: int, max_bytes: Optional[int] = None) -> bytes:
        """The bytes queued for a session's client, which count as sent."""
    def wants_input(self, session: int) -> bool:
        """Whether the caller should keep reading the session's socket."""
    def remove(self, session: int) -> bool:
        """Forgets a session."""
    def next_timeout(self) -> Optional[float]:
        """When ``handle_timeout`` must be called next."""
    def handle_timeout(self, now: Optional[float] = None) -> None:
        """Fires the timers due at ``now``."""
    def publish(self, name: _Value, fields: _Fields = None, category: Union[Privilege, str, int, None] = None) -> int:
        """Publishes an event; returns how many sessions got it."""
    def respond(self, action: ServerAction, fields: _Fields = None, status: str = "Success") -> None:
        """Answers ``Response: <status>`` with ``fields``."""
    def ack(self, action: ServerAction, message: str = "Success") -> None:
        """Answers ``Response: Success`` with ``Message``."""
    def error(self, action: ServerAction, message: str) -> None:
        """Answers ``Response: Error`` with ``Message``."""
    def list_start(self, action: ServerAction, message: str = "Events will follow") -> None:
        """Starts a list answer."""
    def list_item(self, action: ServerAction, name: _Value, fields: _Fields = None) -> None:
        """Writes one list item."""
    def list_complete(self, action: ServerAction, event_name: str, items: int, fields: _Fields = None) -> None:
        """Ends a list answer."""
    def command_output(self, action: ServerAction, text: _Value, success: bool = True) -> None:
        """Answers a Command action with its output."""
    def respond_raw(self, action: ServerAction, data: _Value) -> None:
        """Answers with bytes written exactly as given."""
    def set_shutting_down(self, shutting_down: bool) -> None:
        """Enters or leaves the "shutting down" state."""
    @property
    def session_count(self) -> int:
        """Sessions not yet removed."""
    @property
    def sessions(self) -> list[int]:
        """The session ids not yet removed."""
    def session_info(self, session: int) -> Optional[dict[str, Any]]:
        """A snapshot of a session."""

@final
class Privilege:
    """A set of AMI permission classes; combine with ``|`` and ``&``, test with ``in``."""

    NONE: ClassVar[Privilege]
    SYSTEM: ClassVar[Privilege]
    CALL: ClassVar[Privilege]
    LOG: ClassVar[Privilege]
    VERBOSE: ClassVar[Privilege]
    COMMAND: ClassVar[Privilege]
    AGENT: ClassVar[Privilege]
    USER: ClassVar[Privilege]
    CONFIG: ClassVar[Privilege]
    DTMF: ClassVar[Privilege]
    REPORTING: ClassVar[Privilege]
    CDR: ClassVar[Privilege]
    DIALPLAN: ClassVar[Privilege]
    ORIGINATE: ClassVar[Privilege]
    AGI: ClassVar[Privilege]
    CC: ClassVar[Privilege]
    AOC: ClassVar[Privilege]
    TEST: ClassVar[Privilege]
    SECURITY: ClassVar[Privilege]
    MESSAGE: ClassVar[Privilege]
    ALL: ClassVar[Privilege]
    def __init__(self, bits: int = 0) -> None: ...
    @classmethod
    def parse(cls, text: str, strict: bool = False) -> Privilege:
        """Parses a ``read=``/``write=`` value exactly as Asterisk does."""
    @staticmethod
    def diagnose(text: str) -> list[str]:
        """The quirks Asterisk applies to ``text``."""
    @staticmethod
    def from_label(label: str) -> Optional[Privilege]:
        """The class with this label, or ``None``."""
    def render(self) -> str:
        """The ``Privilege:`` header text."""
    def to_config_list(self) -> Optional[str]:
        """A manager.conf list that parses back to exactly this set."""
    def labels(self) -> list[str]:
        """The labels of the classes in the set."""
    def can_run(self, action: _Value) -> bool:
        """Whether these ``write=`` classes may run ``action``."""
    def can_read(self, event: _Value) -> bool:
        """Whether these event classes receive event ``event``."""
    @property
    def bits(self) -> int:
        """The bits."""
    def __contains__(self, other: object) -> bool: ...
    def __or__(self, other: Union[Privilege, str, int]) -> Privilege: ...
    def __and__(self, other: Union[Privilege, str, int]) -> Privilege: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __bool__(self) -> bool: ...
    def __int__(self) -> int: ...

def action_authority(action: _Value) -> Optional[Privilege]:
    """The classes needed in ``write=`` to run ``action``, or ``None`` if unknown."""

def event_category(event: _Value) -> Optional[Privilege]:
    """The category of event ``event``, or ``None`` if unknown."""

@final
class Acl:
    """One ``permit``/``deny`` list: the last matching rule decides; no match allows."""

    def __init__(self, rules: Optional[Iterable[Tuple[str, str]]] = None) -> None: ...
    def add_rule(self, sense: str, rule: str) -> None:
        """Appends a rule; raises ``ConfigError`` for one Asterisk would refuse."""
    def permits(self, ip: str) -> bool:
        """Whether the address is allowed."""
    def diagnostics(self) -> list[str]:
        """Findings about the list as a whole."""
    def __len__(self) -> int: ...

@final
class EventFilter:
    """One event filter (an ``eventfilter`` line or a ``Filter`` action)."""

    def __init__(self, value: str, key: str = "eventfilter") -> None: ...
    def matches(self, event: Union[Message, Event]) -> bool:
        """Whether the filter matches ``event``."""
    @property
    def is_exclude(self) -> bool:
        """True for an exclude filter."""

@final
class FilterSet:
    """The filters of one session or user, applied as Asterisk does."""

    def __init__(self, filters: Optional[Iterable[Union[EventFilter, str, Tuple[str, str]]]] = None) -> None: ...
    def add(self, f: Union[EventFilter, str, Tuple[str, str]]) -> None:
        """Adds a filter."""
    def should_send(self, event: Union[Message, Event]) -> bool:
        """Whether ``event`` is sent to the session."""
    def __len__(self) -> int: ...

@final
class User:
    """One ``[user]`` section of manager.conf."""

    @property
    def name(self) -> str: ...
    @property
    def secret(self) -> Optional[str]: ...
    @property
    def read(self) -> Privilege: ...
    @property
    def write(self) -> Privilege: ...
    @property
    def allow_multiple_login(self) -> bool: ...
    @property
    def filters(self) -> FilterSet: ...
    def permits(self, ip: str) -> bool:
        """Whether the user's ACL allows a login from ``ip``."""
    def can_run(self, action: _Value) -> bool:
        """Whether the user may run ``action``."""

@final
class ManagerConfig:
    """A loaded manager.conf, loaded exactly as Asterisk loads it."""

    @classmethod
    def from_text(cls, text: str, strict: bool = False) -> ManagerConfig:
        """Loads manager.conf from its text."""
    @classmethod
    def from_path(cls, path: Union[str, PathLike[str]], strict: bool = False) -> ManagerConfig:
        """Loads manager.conf from a file (includes relative to its directory)."""
    @property
    def users(self) -> list[User]: ...
    def user(self, name: str) -> Optional[User]:
        """The user named ``name`` (case-insensitive)."""
    @property
    def general(self) -> dict[str, Any]:
        """The ``[general]`` settings."""
    @property
    def diagnostics(self) -> list[str]:
        """Every diagnostic as ``file:line: text``."""
    def edit(self, *, strict: bool = False) -> ConfigEditor:
        """An editor of this configuration's text (and included files)."""

# Class names ("call,cdr" or ["call", "cdr"]), a Privilege or an int.
_Classes = Union[str, Iterable[str], Privilege, int]

@final
class Finding:
    """One finding of ``ami check`` about an edited configuration."""

    @property
    def code(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def hint(self) -> str: ...
    @property
    def user(self) -> Optional[str]: ...
    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int: ...

@final
class EditReport:
    """What an accepted edit reports."""

    @property
    def findings(self) -> list[Finding]: ...
    @property
    def notes(self) -> list[str]: ...
    @property
    def files(self) -> list[str]: ...

@final
class ConfigEditor:
    """A lossless manager.conf editor: each method applies one edit or raises ``ConfigEditError``.

    An omitted keyword keeps the key; ``None`` removes it.
    """

    def add_user(
        self,
        name: str,
        /,
        *,
        secret: Optional[str] = ...,
        read: _Classes = ...,
        write: _Classes = ...,
        permit: Iterable[str] = ...,
        acl: Iterable[Tuple[str, str]] = ...,
        eventfilters: Iterable[Union[str, Tuple[str, str]]] = ...,
        displayconnects: Optional[bool] = ...,
        allowmultiplelogin: Optional[bool] = ...,
        writetimeout: Optional[int] = ...,
        setvars: Union[Mapping[str, str], Iterable[Tuple[str, str]]] = ...,
    ) -> EditReport:
        """Adds a user."""
    def update_user(
        self,
        name: str,
        /,
        *,
        secret: Optional[str] = ...,
        read: _Classes = ...,
        write: _Classes = ...,
        permit: Iterable[str] = ...,
        acl: Iterable[Tuple[str, str]] = ...,
        eventfilters: Iterable[Union[str, Tuple[str, str]]] = ...,
        displayconnects: Optional[bool] = ...,
        allowmultiplelogin: Optional[bool] = ...,
        writetimeout: Optional[int] = ...,
        setvars: Union[Mapping[str, str], Iterable[Tuple[str, str]]] = ...,
    ) -> EditReport:
        """Changes the keys given of a user (any case)."""
    def rename_user(self, old: str, new: str, /) -> EditReport:
        """Renames a user."""
    def remove_user(self, name: str, /) -> EditReport:
        """Removes a user with its section."""
    def set_enabled(self, enabled: bool, /) -> EditReport:
        """``enabled = yes|no`` in ``[general]``."""
    @property
    def text(self) -> str:
        """The text of manager.conf now."""
    @property
    def files(self) -> dict[str, str]:
        """Every file's text now, by name (``"manager.conf"`` first)."""
    @property
    def changed_files(self) -> dict[str, str]:
        """The files whose text differs from the original."""
    @property
    def config(self) -> ManagerConfig:
        """The configuration as Asterisk loads the current texts."""
    def write(self, path: Union[str, PathLike[str], None] = None) -> list[str]:
        """Writes every changed file atomically; returns the paths written."""

def generate_secret(length: int = 32) -> str:
    """A secret of ASCII letters and digits from the OS's CSPRNG."""
