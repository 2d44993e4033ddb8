"""libami: the Asterisk Manager Interface, with a sans-IO core in Rust.

The sans-IO layer follows h11's conventions::

    import libami
    c = libami.ClientConnection(username="admin", secret="s3cret", auth="md5")
    c.receive_data(data)              # b"" means EOF
    ev = c.next_event()               # an event object, or libami.NEED_DATA
    aid = c.send_action("Originate", {"Channel": "Local/100@default"})
    sock.sendall(c.data_to_send())

On top of it, pure Python: :mod:`libami.aio` (an asyncio client and server) and
:mod:`libami.blocking` (a small blocking client for scripts). :mod:`libami.events` and
:mod:`libami.actions`, generated from Asterisk's documentation, give every documented event a
typed class and every documented action a class taking keyword arguments.
"""

from collections.abc import Mapping as _Mapping

from libami._native import (
    CAPTURE_MODULES,
    NEED_DATA,
    Acl,
    ActionAborted,
    ActionReceived,
    ActionTimedOut,
    Banner,
    ClientConnection,
    Closed,
    CommandOutput,
    ConfigEditError,
    ConfigEditor,
    ConfigError,
    Decoder,
    EditReport,
    Disconnect,
    Event,
    EventFilter,
    FilterSet,
    Finding,
    ListComplete,
    ListItem,
    ListStart,
    LocalProtocolError,
    LoggedIn,
    LoginFailed,
    Malformed,
    ManagerConfig,
    Message,
    OriginateResponse,
    Privilege,
    ProtocolError,
    RemoteProtocolError,
    Response,
    SecurityNotice,
    Server,
    ServerAction,
    SlowConsumer,
    Unsolicited,
    User,
    UserLoggedIn,
    UserLoginFailed,
    __version__,
    action_authority,
    encode_action,
    encode_event,
    encode_response,
    event_category,
    generate_secret,
)

from libami import actions, events

# Messages are read-only mappings: make isinstance(msg, collections.abc.Mapping) true.
_Mapping.register(Message)

__all__ = [
    "CAPTURE_MODULES",
    "NEED_DATA",
    "Acl",
    "ActionAborted",
    "ActionReceived",
    "ActionTimedOut",
    "Banner",
    "ClientConnection",
    "Closed",
    "CommandOutput",
    "ConfigEditError",
    "ConfigEditor",
    "ConfigError",
    "Decoder",
    "EditReport",
    "Disconnect",
    "Event",
    "EventFilter",
    "FilterSet",
    "Finding",
    "ListComplete",
    "ListItem",
    "ListStart",
    "LocalProtocolError",
    "LoggedIn",
    "LoginFailed",
    "Malformed",
    "ManagerConfig",
    "Message",
    "OriginateResponse",
    "Privilege",
    "ProtocolError",
    "RemoteProtocolError",
    "Response",
    "SecurityNotice",
    "Server",
    "ServerAction",
    "SlowConsumer",
    "Unsolicited",
    "User",
    "UserLoggedIn",
    "UserLoginFailed",
    "__version__",
    "action_authority",
    "actions",
    "encode_action",
    "encode_event",
    "encode_response",
    "event_category",
    "events",
    "generate_secret",
]
