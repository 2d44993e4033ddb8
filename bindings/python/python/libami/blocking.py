"""A small blocking AMI client for scripts, on the libami sans-IO core.

::

    with libami.blocking.connect("127.0.0.1", 5038, "admin", "s3cret") as ami:
        print(ami.action("Ping")["Ping"])
        for item in ami.action_list("CoreShowChannels"):
            print(item["Channel"])
        for event in ami.events(timeout=5):
            print(event.name)

One thread, one socket; events that arrive while waiting for an answer are kept (up to
``event_queue_size``, oldest dropped first) for :meth:`Client.events`.
"""

from __future__ import annotations

import collections
import socket
import ssl as _ssl
import time
from collections.abc import Mapping
from typing import Any, Deque, Dict, Iterable, Iterator, List, Optional, Set, Tuple, Union

from libami._native import (
    NEED_DATA,
    ActionAborted,
    ActionTimedOut,
    ClientConnection,
    Closed,
    CommandOutput,
    Event,
    ListComplete,
    ListItem,
    ListStart,
    LoggedIn,
    LoginFailed,
    Malformed,
    Message,
    OriginateResponse,
    RemoteProtocolError,
    Response,
)
from libami._guards import (
    MAX_LIST_BYTES,
    MAX_LIST_ITEMS,
    GreetingCheck,
    ListBudget,
    NotAnAmiServer,
    ResponseTooLarge,
)
from libami._catalog import Action
from libami.aio import ActionError, ConnectionLost, LoginError, _unpack

__all__ = [
    "Client",
    "connect",
    "ActionError",
    "ConnectionLost",
    "LoginError",
    "NotAnAmiServer",
    "ResponseTooLarge",
]

Fields = Union[Mapping, Iterable[Tuple[Any, Any]], None]


class Client:
    """A blocking AMI connection (use :func:`connect`). Not thread-safe."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        auth: str = "md5",
        ssl: Optional[_ssl.SSLContext] = None,
        connect_timeout: float = 10.0,
        action_timeout: float = 30.0,
        events: Optional[str] = None,
        event_queue_size: int = 10000,
        max_list_items: int = MAX_LIST_ITEMS,
        max_list_bytes: int = MAX_LIST_BYTES,
    ) -> None:
        self._target = f"{host}:{port}"
        try:
            sock = socket.create_connection((host, port), timeout=connect_timeout)
        except socket.timeout:
            raise TimeoutError(f"no connection to {self._target} within {connect_timeout} s") from None
        if ssl is not None:
            sock = ssl.wrap_socket(sock, server_hostname=host)
        self._sock = sock
        self._conn = ClientConnection(
            username, secret, auth=auth, events=events, action_timeout=action_timeout
        )
        self._events: Deque[Event] = collections.deque(maxlen=max(1, event_queue_size))
        self._done: Dict[str, Any] = {}
        self._items: Dict[str, List[Message]] = {}
        self._budgets: Dict[str, ListBudget] = {}
        # Actions failed as too large whose answer is still arriving (and dropped).
        self._dropping: Set[str] = set()
        self._max_list = (max_list_items, max_list_bytes)
        self._greeting = GreetingCheck(self._target)
        self._login: Optional[Any] = None
        self._closed = False
        deadline = time.monotonic() + connect_timeout
        while self._login is None:
            try:
                progressed = self._step(deadline)
            except NotAnAmiServer:
                sock.close()
                raise
            if not progressed:
                sock.close()
                what = "login answer" if self._greeting.done else "AMI banner (is it an AMI port? TLS needs ssl=)"
                raise TimeoutError(f"no {what} from {self._target} within {connect_timeout} s")
        if isinstance(self._login, BaseException):
            sock.close()
            raise self._login

    def _dispatch(self, ev: Any) -> None:
        action_id = getattr(ev, "action_id", None)
        if action_id is not None and action_id in self._dropping:
            if not isinstance(ev, (ListItem, ListStart)):
                self._dropping.discard(action_id)  # its final event: forget it
            return
        if isinstance(ev, Event):
            self._events.append(ev)
        elif isinstance(ev, ListItem):
            budget = self._budgets.setdefault(ev.action_id, ListBudget(*self._max_list))
            too_large = budget.charge(ev.action_id, ev.message)
            if too_large is not None:
                # Fail it now; the rest of the list is dropped as it comes.
                self._items.pop(ev.action_id, None)
                self._budgets.pop(ev.action_id, None)
                self._done[ev.action_id] = too_large
                self._dropping.add(ev.action_id)
            else:
                self._items.setdefault(ev.action_id, []).append(ev.message)
        elif isinstance(ev, Response):
            if ev.complete:
                self._done[ev.action_id] = ev.message
        elif isinstance(ev, (ListComplete, CommandOutput, OriginateResponse)):
            self._done[ev.action_id] = ev.message
            self._budgets.pop(ev.action_id, None)
        elif isinstance(ev, ActionTimedOut):
            self._done[ev.action_id] = TimeoutError(
                f"no answer from {self._target} to action {ev.action_id} in time"
            )
            self._budgets.pop(ev.action_id, None)
        elif isinstance(ev, ActionAborted):
            self._done[ev.action_id] = ConnectionLost(f"connection ended ({ev.reason})")
        elif isinstance(ev, Malformed) and ev.action_id is not None:
            self._done[ev.action_id] = RemoteProtocolError(f"malformed answer: {ev.error}")
        elif isinstance(ev, LoggedIn):
            self._login = ev.message
        elif isinstance(ev, LoginFailed):
            self._login = LoginError(ev.message)
        elif isinstance(ev, Closed):
            self._closed = True
            if self._login is None:
                self._login = ConnectionLost("connection closed during login")

    def _step(self, deadline: Optional[float]) -> bool:
        """Sends what is queued, waits for data or the next timer (at most until
        ``deadline``), and handles what came. Returns False once ``deadline`` has passed."""
        conn = self._conn
        data = conn.data_to_send()
        if data:
            self._sock.sendall(data)
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return False
        wake = conn.next_timeout()
        limits = [t for t in (deadline, wake) if t is not None]
        wait = max(0.0, min(limits) - now) if limits else None
        if self._closed:
            return False
        self._sock.settimeout(wait)
        try:
            chunk = self._sock.recv(65536)
        except (socket.timeout, BlockingIOError):
            conn.handle_timeout()
        except OSError:
            conn.receive_data(b"")
        else:
            self._greeting.feed(chunk)
            conn.receive_data(chunk)
        while True:
            ev = conn.next_event()
            if ev is NEED_DATA:
                break
            self._dispatch(ev)
        data = conn.data_to_send()
        if data and not self._closed:
            self._sock.sendall(data)
        return True

    def _wait(self, action_id: str) -> Any:
        while action_id not in self._done:
            if self._closed and action_id not in self._done:
                raise ConnectionLost("the connection is closed")
            self._step(None)
        result = self._done.pop(action_id)
        if isinstance(result, BaseException):
            raise result
        return result

    def action(
        self,
        name: Union[str, Action],
        fields: Fields = None,
        *,
        timeout: Optional[float] = None,
        check: bool = True,
    ) -> Message:
        """Sends an action and returns its final answer; raises :class:`ActionError` for
        ``Response: Error`` (unless ``check=False``) and ``TimeoutError`` after ``timeout``
        seconds (default: the connection's ``action_timeout``). ``name`` may be an action of
        :mod:`libami.actions`."""
        name, fields = _unpack(name, fields)
        aid = self._conn.send_action(name, fields, timeout=timeout)
        message = self._wait(aid)
        self._items.pop(aid, None)
        if check and message.kind == "response" and (message.name or "").lower() == "error":
            raise ActionError(message)
        return message

    def action_list(
        self, name: Union[str, Action], fields: Fields = None, *, timeout: Optional[float] = None
    ) -> List[Message]:
        """Sends a list action (a name or an action of :mod:`libami.actions`) and returns its
        items once the list is complete."""
        name, fields = _unpack(name, fields)
        aid = self._conn.send_action(name, fields, timeout=timeout)
        message = self._wait(aid)
        items = self._items.pop(aid, [])
        if message.kind == "response" and (message.name or "").lower() == "error":
            raise ActionError(message)
        return items

    def events(self, timeout: Optional[float] = None) -> Iterator[Event]:
        """Yields events as they come; stops after ``timeout`` seconds without one (never,
        if ``None``) or when the connection closes."""
        while True:
            while self._events:
                yield self._events.popleft()
            if self._closed:
                return
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self._events and not self._closed:
                if not self._step(deadline):
                    return

    def close(self) -> None:
        """Logs off and closes the socket."""
        if not self._closed:
            try:
                aid = self._conn.logoff()
                deadline = time.monotonic() + 2.0
                while aid not in self._done and not self._closed:
                    if not self._step(deadline):
                        break
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        self._closed = True
        self._sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def connect(
    host: str,
    port: int,
    username: str,
    secret: str,
    *,
    auth: str = "md5",
    ssl: Optional[_ssl.SSLContext] = None,
    connect_timeout: float = 10.0,
    action_timeout: float = 30.0,
    events: Optional[str] = None,
    event_queue_size: int = 10000,
    max_list_items: int = MAX_LIST_ITEMS,
    max_list_bytes: int = MAX_LIST_BYTES,
) -> Client:
    """Connects and logs in (MD5 challenge-response by default); returns a :class:`Client`.

    A list answer is collected up to ``max_list_items`` items and ``max_list_bytes`` bytes;
    past them the action fails with :class:`ResponseTooLarge`. A greeting that is not an AMI
    banner fails at once with :class:`NotAnAmiServer`."""
    return Client(
        host,
        port,
        username,
        secret,
        auth=auth,
        ssl=ssl,
        connect_timeout=connect_timeout,
        action_timeout=action_timeout,
        events=events,
        event_queue_size=event_queue_size,
        max_list_items=max_list_items,
        max_list_bytes=max_list_bytes,
    )
