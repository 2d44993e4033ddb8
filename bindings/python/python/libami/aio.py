"""asyncio AMI client and server on the libami sans-IO core.

Client::

    async with libami.aio.connect("127.0.0.1", 5038, "admin", "s3cret") as ami:
        pong = await ami.action("Ping")
        channels = await ami.action_list("CoreShowChannels")
        async for event in ami.events("Hangup"):
            print(event["Channel"])
        async for event in ami.events(typed=True):      # libami.events classes
            match event:
                case libami.events.Hangup(channel=channel, cause_txt=why):
                    print(channel, why)
        await ami.action(libami.actions.Originate(channel="PJSIP/100", exten="200",
                                                  context="default", priority=1))

The connection logs in (MD5 challenge-response by default), correlates every response with
its action (actions may be pipelined from many tasks), collects event lists, times actions
out, and when the connection drops it reconnects with exponential backoff and logs in again.
Events go to bounded per-subscriber queues: a slow subscriber loses its oldest events (counted
in ``EventStream.dropped``), never a response.

Server (for test doubles and small gateways)::

    async def handler(request):
        if request.name == "Getvar":
            request.respond({"Variable": request["Variable"], "Value": "42"})

    async with libami.aio.serve(config, handler, port=0) as server:
        print(server.port)

Login, permissions, event fan-out and everything Asterisk answers itself are done by the Rust
``Server``; the handler sees only the actions the session's user may run.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import random
import ssl as _ssl
import time
from collections.abc import Mapping
from typing import (
    Any,
    Awaitable,
    Callable,
    Deque,
    Dict,
    Generic,
    Iterable,
    List,
    Literal,
    Optional,
    Tuple,
    TypeVar,
    Union,
    overload,
)

from libami._native import (
    NEED_DATA,
    ActionAborted,
    ActionReceived,
    ActionTimedOut,
    ClientConnection,
    Closed,
    CommandOutput,
    Disconnect,
    Event,
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
    RemoteProtocolError,
    Response,
    Server,
    ServerAction,
)
from libami._guards import (
    MAX_LIST_BYTES,
    MAX_LIST_ITEMS,
    GreetingCheck,
    ListBudget,
    NotAnAmiServer,
    ResponseTooLarge,
)
from libami._catalog import Action, TypedEvent
from libami.events import typed as _typed

__all__ = [
    "ActionError",
    "AmiServer",
    "Client",
    "ConnectionLost",
    "EventStream",
    "LoginError",
    "NotAnAmiServer",
    "Request",
    "ResponseTooLarge",
    "connect",
    "serve",
]

Fields = Union[Mapping, Iterable[Tuple[Any, Any]], None]
#: What an event stream yields: ``Event`` objects, or typed events (``typed=True``).
_E = TypeVar("_E", Event, TypedEvent)


class ActionError(Exception):
    """The server answered an action with ``Response: Error``; ``response`` is the message."""

    def __init__(self, response: Message) -> None:
        self.response = response
        super().__init__(f"{response.get('Response')}: {response.get('Message', '')}")


class LoginError(ConnectionError):
    """The server refused the login; ``response`` is its answer."""

    def __init__(self, response: Optional[Message]) -> None:
        self.response = response
        text = response.get("Message", "") if response is not None else "login failed"
        super().__init__(f"login refused: {text}")


class ConnectionLost(ConnectionError):
    """The connection ended before the action's answer (or the client was closed)."""


class _Pending:
    __slots__ = ("future", "collect", "items", "budget")

    def __init__(self, future: asyncio.Future, collect: bool, budget: ListBudget) -> None:
        self.future = future
        self.collect = collect
        self.items: List[Message] = []
        self.budget = budget


class EventStream(Generic[_E]):
    """The events of one subscriber (from :meth:`Client.events`), as an async iterator:
    ``Event`` objects, or with ``typed=True`` instances of the :mod:`libami.events` classes
    (:class:`~libami.events.UnknownEvent` for an event the catalog does not document).

    Bounded: when ``maxsize`` events are waiting, the oldest is dropped and counted in
    ``dropped``. The stream ends when the client is closed or :meth:`close` is called.
    """

    def __init__(
        self,
        client: "Client",
        names: Iterable[str],
        predicate: Optional[Callable[[Event], bool]],
        maxsize: int,
        convert: Callable[[Event], _E],
    ) -> None:
        self._client = client
        self._names = frozenset(n.lower() for n in names)
        self._predicate = predicate
        self._maxsize = max(1, maxsize)
        self._convert: Callable[[Event], _E] = convert
        self._queue: Deque[_E] = collections.deque()
        self._waiter: Optional[asyncio.Future] = None
        self._closed = False
        self.dropped = 0
        """Events dropped because the subscriber did not keep up."""

    def _offer(self, event: Event) -> None:
        if self._closed:
            return
        if self._names:
            name = event.name
            if name is None or name.lower() not in self._names:
                return
        if self._predicate is not None and not self._predicate(event):
            return
        if len(self._queue) >= self._maxsize:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(self._convert(event))
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def close(self) -> None:
        """Stops the stream (iteration ends once the queued events are consumed)."""
        self._closed = True
        self._client._streams.discard(self)
        self._wake()

    def __aiter__(self) -> "EventStream[_E]":
        return self

    async def __anext__(self) -> _E:
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._queue.popleft()

    async def get(self, timeout: Optional[float] = None) -> _E:
        """The next event; raises ``TimeoutError`` after ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError("no event within the time limit") from None

    async def __aenter__(self) -> "EventStream[_E]":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()


def _identity(event: Event) -> Event:
    return event


def _unpack(name: Union[str, Action], fields: Fields) -> Tuple[str, Fields]:
    """An action's name and fields, whether given as a name and fields or as an ``Action``."""
    if isinstance(name, Action):
        extra = list(fields.items()) if isinstance(fields, Mapping) else list(fields or ())
        return name.name, list(name.fields) + extra
    return name, fields


class Client:
    """An AMI connection (use :func:`connect`). Safe to use from many tasks of one loop."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        auth: str = "md5",
        ssl: Union[_ssl.SSLContext, bool, None] = None,
        connect_timeout: float = 10.0,
        action_timeout: float = 30.0,
        reconnect: bool = True,
        backoff: float = 0.1,
        max_backoff: float = 30.0,
        events: Optional[str] = None,
        keepalive: Optional[float] = 20.0,
        keepalive_timeout: float = 10.0,
        max_consecutive_timeouts: Optional[int] = 3,
        event_queue_size: int = 10000,
        max_in_flight: int = 1024,
        max_list_items: int = MAX_LIST_ITEMS,
        max_list_bytes: int = MAX_LIST_BYTES,
        stable_after: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self._username = username
        self._secret = secret
        self._auth = auth
        self._ssl = ssl
        self._connect_timeout = connect_timeout
        self._action_timeout = action_timeout
        self._reconnect = reconnect
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._events_mask = events
        self._keepalive = keepalive
        self._keepalive_timeout = keepalive_timeout
        self._max_consecutive_timeouts = max_consecutive_timeouts
        self._max_list_items = max_list_items
        self._max_list_bytes = max_list_bytes
        self._stable_after = stable_after
        # The next reconnection wait; reset only by a connection that lasted stable_after.
        self._next_backoff = backoff
        self._connected_at = 0.0
        self._event_queue_size = event_queue_size
        self._max_in_flight = max(1, max_in_flight)
        # Callers beyond max_in_flight wait on _in_flight instead of being refused by the session.
        # It and _ready are made on first use, inside the running loop: on Python 3.9 an asyncio
        # primitive binds the loop current when it is made, and connect() may be called before
        # asyncio.run() starts the loop that will await it.
        self._in_flight_semaphore: Optional[asyncio.Semaphore] = None
        self._ready_event: Optional[asyncio.Event] = None
        self._conn: Optional[ClientConnection] = None
        self._writer: Optional[asyncio.StreamWriter] = None
        self._reader_task: Optional[asyncio.Task] = None
        self._reconnect_task: Optional[asyncio.Task] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._pending: Dict[str, _Pending] = {}
        self._login: Optional[asyncio.Future] = None
        self._closing = False
        self._streams: "set[EventStream[Any]]" = set()
        self.connections = 0
        """How many times a connection was established and logged in (1 + reconnects)."""
        self.banner: Optional[str] = None
        """The server's banner line of the current connection."""

    # ---- connection management ----

    @property
    def _in_flight(self) -> asyncio.Semaphore:
        if self._in_flight_semaphore is None:
            self._in_flight_semaphore = asyncio.Semaphore(self._max_in_flight)
        return self._in_flight_semaphore

    @property
    def _ready(self) -> asyncio.Event:
        if self._ready_event is None:
            self._ready_event = asyncio.Event()
        return self._ready_event

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        target = f"{self.host}:{self.port}"
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, ssl=self._ssl or None),
                self._connect_timeout,
            )
        except asyncio.TimeoutError:
            raise TimeoutError(f"no connection to {target} within {self._connect_timeout} s") from None
        conn = ClientConnection(
            self._username,
            self._secret,
            auth=self._auth,
            events=self._events_mask,
            action_timeout=self._action_timeout,
            keepalive_interval=self._keepalive,
            keepalive_timeout=self._keepalive_timeout,
            max_consecutive_timeouts=self._max_consecutive_timeouts,
            max_in_flight=self._max_in_flight,
        )
        self._conn = conn
        self._writer = writer
        self._login = loop.create_future()
        reader_task = loop.create_task(self._read_loop(reader, writer, conn))
        self._reader_task = reader_task
        self._flush(conn)
        try:
            await asyncio.wait_for(asyncio.shield(self._login), self._connect_timeout)
        except asyncio.TimeoutError:
            writer.close()
            what = "the login answer" if self.banner else "the AMI banner (is it an AMI port? TLS needs ssl=)"
            raise TimeoutError(f"no {what} from {target} within {self._connect_timeout} s") from None
        except BaseException:
            writer.close()
            raise
        self.connections += 1
        self._connected_at = time.monotonic()
        if reader_task.done():
            # The server dropped the connection right after accepting the login; the read
            # loop has already scheduled the reconnection.
            return
        self._ready.set()

    async def _read_loop(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: ClientConnection
    ) -> None:
        greeting = GreetingCheck(f"{self.host}:{self.port}")
        try:
            while True:
                try:
                    data = await reader.read(65536)
                except (OSError, asyncio.IncompleteReadError):
                    data = b""
                try:
                    greeting.feed(data)
                except NotAnAmiServer as e:
                    if self._login is not None and not self._login.done():
                        self._login.set_exception(e)
                    break
                conn.receive_data(data)
                self._process(conn)
                if not data:
                    break
        finally:
            writer.close()
            if self._conn is conn:
                self._ready.clear()
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                login = self._login
                logged_in = (
                    login is not None and login.done() and not login.cancelled() and login.exception() is None
                )
                if self._login is not None and not self._login.done():
                    self._login.set_exception(ConnectionLost("connection closed during login"))
                if self._connected_at and time.monotonic() - self._connected_at >= self._stable_after:
                    self._next_backoff = self._backoff
                # (A server may drop the connection right after accepting the login, before
                # _open has counted it: that is a lost connection too.)
                if not self._closing and self._reconnect and (self.connections > 0 or logged_in):
                    loop = asyncio.get_running_loop()
                    self._reconnect_task = loop.create_task(self._reconnect_loop())

    def _backoff_delay(self) -> float:
        """The next wait: uniform in the upper half of the current step, which then doubles
        (up to max_backoff). Only a connection that lasted stable_after resets the step, so a
        server that accepts the login and drops at once is not hammered."""
        step = self._next_backoff
        self._next_backoff = min(step * 2, self._max_backoff)
        return random.uniform(step / 2, step)

    async def _reconnect_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(self._backoff_delay())
            if self._closing:
                return
            try:
                await self._open()
                return
            except (OSError, LoginError, RemoteProtocolError, asyncio.TimeoutError, TimeoutError):
                pass

    def _flush(self, conn: ClientConnection) -> None:
        data = conn.data_to_send()
        if data and self._writer is not None and self._conn is conn:
            self._writer.write(data)

    def _arm_timer(self, conn: ClientConnection) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = conn.next_timeout()
        if deadline is None or self._conn is not conn:
            return
        delay = max(0.0, deadline - time.monotonic())
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer, conn)

    def _on_timer(self, conn: ClientConnection) -> None:
        self._timer = None
        conn.handle_timeout()
        self._process(conn)

    def _process(self, conn: ClientConnection) -> None:
        """The drain rule: every event, then the bytes to send, then the timer."""
        while True:
            ev = conn.next_event()
            if ev is NEED_DATA:
                break
            self._dispatch(ev)
        self._flush(conn)
        self._arm_timer(conn)

    def _resolve(self, action_id: str, result: Any = None, error: Optional[BaseException] = None) -> None:
        entry = self._pending.pop(action_id, None)
        if entry is None or entry.future.done():
            return
        if error is not None:
            entry.future.set_exception(error)
        else:
            entry.future.set_result(result)

    def _dispatch(self, ev: Any) -> None:
        if isinstance(ev, Event):
            for stream in list(self._streams):
                stream._offer(ev)
        elif isinstance(ev, Response):
            if ev.complete:
                entry = self._pending.get(ev.action_id)
                self._resolve(ev.action_id, (ev.message, entry.items if entry else []))
        elif isinstance(ev, ListItem):
            entry = self._pending.get(ev.action_id)
            if entry is not None:
                too_large = entry.budget.charge(ev.action_id, ev.message)
                if too_large is not None:
                    # Fail it now; the rest of the list is dropped as it comes.
                    entry.items.clear()
                    self._resolve(ev.action_id, error=too_large)
                else:
                    entry.items.append(ev.message)
        elif isinstance(ev, ListComplete):
            entry = self._pending.get(ev.action_id)
            self._resolve(ev.action_id, (ev.message, entry.items if entry else []))
        elif isinstance(ev, (CommandOutput, OriginateResponse)):
            self._resolve(ev.action_id, (ev.message, []))
        elif isinstance(ev, ListStart):
            pass
        elif isinstance(ev, ActionTimedOut):
            self._resolve(
                ev.action_id,
                error=TimeoutError(f"no answer from {self.host}:{self.port} to action {ev.action_id} in time"),
            )
        elif isinstance(ev, ActionAborted):
            self._resolve(
                ev.action_id,
                error=ConnectionLost(f"connection ended before the answer ({ev.reason})"),
            )
        elif isinstance(ev, Malformed):
            if ev.action_id is not None:
                self._resolve(ev.action_id, error=RemoteProtocolError(f"malformed answer: {ev.error}"))
        elif isinstance(ev, LoggedIn):
            if self._login is not None and not self._login.done():
                self._login.set_result(ev.message)
        elif isinstance(ev, LoginFailed):
            if self._login is not None and not self._login.done():
                self._login.set_exception(LoginError(ev.message))
        elif isinstance(ev, Closed):
            # The session is over (the server closed, or it was declared dead: keepalive or
            # consecutive timeouts): drop the socket, so the read loop ends and reconnects.
            self._ready.clear()
            if self._writer is not None:
                self._writer.close()
        else:  # Banner, Unsolicited
            line = getattr(ev, "line", None)
            if line is not None:
                self.banner = line

    async def _wait_ready(self) -> ClientConnection:
        if self._closing:
            raise ConnectionLost("the client is closed")
        if not self._ready.is_set():
            try:
                await asyncio.wait_for(self._ready.wait(), self._connect_timeout)
            except asyncio.TimeoutError:
                raise ConnectionLost("not connected (reconnecting)") from None
        if self._closing or self._conn is None:
            raise ConnectionLost("the client is closed")
        return self._conn

    async def _send(
        self,
        name: str,
        fields: Fields,
        timeout: Optional[float],
        action_id: Optional[str],
        collect: bool,
    ) -> Tuple[Message, List[Message]]:
        async with self._in_flight:
            conn = await self._wait_ready()
            writer = self._writer
            aid = conn.send_action(name, fields, action_id=action_id, timeout=timeout)
            budget = ListBudget(self._max_list_items, self._max_list_bytes)
            entry = _Pending(asyncio.get_running_loop().create_future(), collect, budget)
            self._pending[aid] = entry
            self._flush(conn)
            self._arm_timer(conn)
            if writer is not None:
                try:
                    await writer.drain()  # backpressure: wait while the socket is full
                except OSError:
                    pass  # the read loop reports the loss; the action is aborted there
            return await entry.future

    async def action(
        self,
        name: Union[str, Action],
        fields: Fields = None,
        *,
        timeout: Optional[float] = None,
        action_id: Optional[str] = None,
        check: bool = True,
    ) -> Message:
        """Sends an action and returns its final answer (the response; for an async
        Originate the ``OriginateResponse``; for a list the completion event).

        ``name`` is an action name with its ``fields``, or an action of :mod:`libami.actions`
        (then ``fields`` are added after its own).

        Raises :class:`ActionError` for ``Response: Error`` (unless ``check=False``),
        ``TimeoutError`` after ``timeout`` seconds (default: the client's ``action_timeout``),
        :class:`ConnectionLost` if the connection ends first.
        """
        name, fields = _unpack(name, fields)
        message, _ = await self._send(name, fields, timeout, action_id, False)
        if check and message.kind == "response" and (message.name or "").lower() == "error":
            raise ActionError(message)
        return message

    async def action_list(
        self,
        name: Union[str, Action],
        fields: Fields = None,
        *,
        timeout: Optional[float] = None,
        check: bool = True,
    ) -> List[Message]:
        """Sends a list action (``CoreShowChannels``, ``Status``, ...; a name or an action of
        :mod:`libami.actions`) and returns its items, collected until the list completes."""
        name, fields = _unpack(name, fields)
        message, items = await self._send(name, fields, timeout, None, True)
        if check and message.kind == "response" and (message.name or "").lower() == "error":
            raise ActionError(message)
        return list(items)

    async def command(self, command: str, *, timeout: Optional[float] = None) -> List[str]:
        """Runs a CLI command (``Action: Command``) and returns its output lines."""
        message = await self.action("Command", {"Command": command}, timeout=timeout)
        return message.get_all("Output")

    @overload
    def events(
        self,
        *names: str,
        filter: Optional[Callable[[Event], bool]] = ...,
        maxsize: Optional[int] = ...,
        typed: Literal[False] = ...,
    ) -> EventStream[Event]: ...

    @overload
    def events(
        self,
        *names: str,
        filter: Optional[Callable[[Event], bool]] = ...,
        maxsize: Optional[int] = ...,
        typed: Literal[True],
    ) -> EventStream[TypedEvent]: ...

    def events(
        self,
        *names: str,
        filter: Optional[Callable[[Event], bool]] = None,
        maxsize: Optional[int] = None,
        typed: bool = False,
    ) -> Union[EventStream[Event], EventStream[TypedEvent]]:
        """Subscribes to events (all, or those named ``names``, case-insensitive, and
        accepted by ``filter``). The subscription starts now, before the first ``await``.

        With ``typed=True`` the stream yields instances of the :mod:`libami.events` classes,
        ready for ``match``."""
        size = maxsize or self._event_queue_size
        stream: Union[EventStream[Event], EventStream[TypedEvent]]
        if typed:
            stream = EventStream(self, names, filter, size, _typed)
        else:
            stream = EventStream(self, names, filter, size, _identity)
        self._streams.add(stream)
        return stream

    @property
    def connected(self) -> bool:
        """Whether the client is connected and logged in."""
        return self._ready_event is not None and self._ready_event.is_set()

    async def wait_connected(self, timeout: Optional[float] = None) -> None:
        """Waits until the client is connected and logged in (after a reconnect)."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def close(self) -> None:
        """Logs off (briefly waiting for the server's goodbye) and closes the connection."""
        if self._closing:
            return
        self._closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        conn, task = self._conn, self._reader_task
        if conn is not None and self._ready.is_set():
            try:
                conn.logoff()
                self._process(conn)
            except LocalProtocolError:
                pass
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), 2.0)
            except (asyncio.TimeoutError, Exception):
                task.cancel()
        if self._writer is not None:
            self._writer.close()
        if self._timer is not None:
            self._timer.cancel()
        self._ready.clear()
        for entry in list(self._pending.values()):
            if not entry.future.done():
                entry.future.set_exception(ConnectionLost("the client is closed"))
        self._pending.clear()
        for stream in list(self._streams):
            stream.close()

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class _Connect:
    """What :func:`connect` returns: await it, or use it with ``async with``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def _start(self) -> Client:
        await self._client._open()
        return self._client

    def __await__(self):  # type: ignore[no-untyped-def]
        return self._start().__await__()

    async def __aenter__(self) -> Client:
        return await self._start()

    async def __aexit__(self, *exc: Any) -> None:
        await self._client.close()


def connect(
    host: str,
    port: int,
    username: str,
    secret: str,
    *,
    auth: str = "md5",
    ssl: Union[_ssl.SSLContext, bool, None] = None,
    connect_timeout: float = 10.0,
    action_timeout: float = 30.0,
    reconnect: bool = True,
    backoff: float = 0.1,
    max_backoff: float = 30.0,
    events: Optional[str] = None,
    keepalive: Optional[float] = 20.0,
    keepalive_timeout: float = 10.0,
    max_consecutive_timeouts: Optional[int] = 3,
    event_queue_size: int = 10000,
    max_in_flight: int = 1024,
    max_list_items: int = MAX_LIST_ITEMS,
    max_list_bytes: int = MAX_LIST_BYTES,
    stable_after: float = 30.0,
) -> _Connect:
    """Connects and logs in: ``async with connect(...) as ami:`` or ``ami = await connect(...)``.

    ``auth`` is ``"md5"`` (challenge-response, the default) or ``"plain"``; ``ssl`` an
    ``ssl.SSLContext`` (or ``True``) for AMI over TLS; ``events`` the ``Events:`` mask sent
    with the login (``"off"``, ``"call,system"``; default: the user's ``read=``).

    A dead server is noticed even while actions wait for it: after ``keepalive`` seconds
    without a byte received a ``Ping`` is sent, and if it is not answered within
    ``keepalive_timeout`` (longer behind a synchronous Originate), or
    ``max_consecutive_timeouts`` actions in a row time out, the connection is dropped.
    ``max_in_flight`` actions may await their answer at once (more wait). A list answer is
    collected up to ``max_list_items`` items and ``max_list_bytes`` bytes; past them the action
    fails with :class:`ResponseTooLarge`. A greeting that is not an AMI banner fails at once
    with :class:`NotAnAmiServer`.

    When the connection drops, the client reconnects after a random wait in the upper half of
    ``backoff`` seconds, doubling up to ``max_backoff`` (only a connection that lasted
    ``stable_after`` seconds resets it), and logs in again; actions in flight fail with
    :class:`ConnectionLost`.
    """
    return _Connect(
        Client(
            host,
            port,
            username,
            secret,
            auth=auth,
            ssl=ssl,
            connect_timeout=connect_timeout,
            action_timeout=action_timeout,
            reconnect=reconnect,
            backoff=backoff,
            max_backoff=max_backoff,
            events=events,
            keepalive=keepalive,
            keepalive_timeout=keepalive_timeout,
            max_consecutive_timeouts=max_consecutive_timeouts,
            event_queue_size=event_queue_size,
            max_in_flight=max_in_flight,
            max_list_items=max_list_items,
            max_list_bytes=max_list_bytes,
            stable_after=stable_after,
        )
    )


# ---------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------


class Request:
    """An action for the handler of :func:`serve`, with the ways to answer it. Reads like a
    message: ``request["Variable"]``, ``request.get("X")``."""

    def __init__(self, server: "AmiServer", action: ServerAction) -> None:
        self.server = server
        self.action = action
        self.answered = False

    @property
    def name(self) -> str:
        """The canonical action name."""
        return self.action.name

    @property
    def session(self) -> int:
        """The session id."""
        return self.action.session

    @property
    def message(self) -> Message:
        """The request."""
        return self.action.message

    def get(self, name: str, default: Any = None) -> Any:
        """The first value of header ``name``, or ``default``."""
        return self.action.get(name, default)

    def __getitem__(self, name: str) -> str:
        return self.action[name]

    def _done(self, final: bool = True) -> None:
        if final:
            self.answered = True
        self.server._pump()

    def respond(self, fields: Fields = None, status: str = "Success") -> None:
        """Answers ``Response: <status>`` with ``fields``."""
        self.server.core.respond(self.action, fields, status)
        self._done()

    def ack(self, message: str = "Success") -> None:
        """Answers ``Response: Success`` with ``Message: <message>``."""
        self.server.core.ack(self.action, message)
        self._done()

    def error(self, message: str) -> None:
        """Answers ``Response: Error`` with ``Message: <message>``."""
        self.server.core.error(self.action, message)
        self._done()

    def send_list(
        self,
        items: Iterable[Tuple[str, Fields]],
        complete_event: str,
        *,
        message: str = "Events will follow",
        fields: Fields = None,
    ) -> None:
        """Answers with an event list: the start response, one ``Event: <name>`` per
        ``(name, fields)`` item, and ``Event: <complete_event>`` with ``EventList: Complete``."""
        core = self.server.core
        core.list_start(self.action, message)
        n = 0
        for name, item_fields in items:
            core.list_item(self.action, name, item_fields)
            n += 1
        core.list_complete(self.action, complete_event, n, fields)
        self._done()

    def command_output(self, text: str, success: bool = True) -> None:
        """Answers a Command action with its output text."""
        self.server.core.command_output(self.action, text, success)
        self._done()


Handler = Callable[[Request], Union[Awaitable[Any], Any]]


class AmiServer:
    """An asyncio AMI server on the Rust :class:`libami.Server` (use :func:`serve`)."""

    def __init__(self, config: Union[ManagerConfig, str], handler: Optional[Handler], **options: Any) -> None:
        if isinstance(config, str):
            config = ManagerConfig.from_text(config)
        self.config = config
        self.core = Server(config, **options)
        self._handler = handler
        self._writers: Dict[int, asyncio.StreamWriter] = {}
        self._can_read: Dict[int, asyncio.Event] = {}
        self._server: Optional[asyncio.base_events.Server] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._tasks: "set[asyncio.Task]" = set()
        self.notices: Deque[Any] = collections.deque(maxlen=1000)
        """The latest server events other than actions (logins, security events, ...)."""

    async def start(self, host: str = "127.0.0.1", port: int = 0, ssl: Optional[_ssl.SSLContext] = None) -> None:
        """Starts listening."""
        self._server = await asyncio.start_server(self._on_client, host, port, ssl=ssl)

    @property
    def port(self) -> int:
        """The port listened on."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the server is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    def publish(self, name: str, fields: Fields = None, category: Any = "user") -> int:
        """Publishes an event to every session allowed to read ``category``; returns how many
        sessions got it."""
        n = self.core.publish(name, fields, category)
        self._pump()
        return n

    def drop_connections(self) -> None:
        """Closes every connection abruptly (to test clients' reconnection)."""
        for sid in list(self._writers):
            writer = self._writers.pop(sid)
            writer.transport.abort()
            self.core.remove(sid)
            ev = self._can_read.pop(sid, None)
            if ev is not None:
                ev.set()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("0.0.0.0", 0)
        try:
            sid = self.core.accept((peer[0], peer[1]))
        except LocalProtocolError:
            writer.close()
            return
        can_read = asyncio.Event()
        self._writers[sid] = writer
        self._can_read[sid] = can_read
        self._pump()
        try:
            while sid in self._writers:
                if not self.core.wants_input(sid):
                    can_read.clear()
                    await can_read.wait()
                    continue
                try:
                    data = await reader.read(65536)
                except OSError:
                    data = b""
                if sid not in self._writers:
                    break
                self.core.receive_data(sid, data)
                self._pump()
                if not data:
                    break
        except BaseException:
            self._close_session(sid)
            raise

    def _close_session(self, sid: int) -> None:
        writer = self._writers.pop(sid, None)
        if writer is not None:
            writer.close()
        self.core.remove(sid)
        ev = self._can_read.pop(sid, None)
        if ev is not None:
            ev.set()

    def _pump(self) -> None:
        """The server's drain rule: events, then every session's bytes, then the timer."""
        disconnects = []
        while True:
            ev = self.core.next_event()
            if ev is NEED_DATA:
                break
            if isinstance(ev, ActionReceived):
                task = asyncio.get_running_loop().create_task(self._handle(ev.action))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif isinstance(ev, Disconnect):
                disconnects.append(ev.session)
            else:
                self.notices.append(ev)
        for sid, writer in list(self._writers.items()):
            data = self.core.data_to_send(sid)
            if data:
                writer.write(data)
        for sid in disconnects:
            self._close_session(sid)
        for sid, can_read in self._can_read.items():
            if self.core.wants_input(sid):
                can_read.set()
        self._arm_timer()

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.core.next_timeout()
        if deadline is not None:
            delay = max(0.0, deadline - time.monotonic())
            self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.core.handle_timeout()
        self._pump()

    async def _handle(self, action: ServerAction) -> None:
        request = Request(self, action)
        try:
            if self._handler is None:
                request.error(f"{action.name} is not implemented by this server")
                return
            result = self._handler(request)
            if inspect.isawaitable(result):
                result = await result
            if not request.answered:
                if result is None:
                    request.ack()
                else:
                    request.respond(result)
        except LocalProtocolError:
            pass  # the session went away while the handler ran
        except Exception as e:  # noqa: BLE001 - the client must get an answer
            if not request.answered:
                try:
                    request.error(f"{type(e).__name__}: {e}")
                except LocalProtocolError:
                    pass

    async def close(self) -> None:
        """Stops listening and closes every connection."""
        if self._server is not None:
            self._server.close()
        for sid in list(self._writers):
            self._close_session(sid)
        for task in list(self._tasks):
            task.cancel()
        if self._timer is not None:
            self._timer.cancel()
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> "AmiServer":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class _Serve:
    """What :func:`serve` returns: await it, or use it with ``async with``."""

    def __init__(self, server: AmiServer, host: str, port: int, ssl: Optional[_ssl.SSLContext]) -> None:
        self._server = server
        self._args = (host, port, ssl)

    async def _start(self) -> AmiServer:
        await self._server.start(*self._args)
        return self._server

    def __await__(self):  # type: ignore[no-untyped-def]
        return self._start().__await__()

    async def __aenter__(self) -> AmiServer:
        return await self._start()

    async def __aexit__(self, *exc: Any) -> None:
        await self._server.close()


def serve(
    config: Union[ManagerConfig, str],
    handler: Optional[Handler] = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ssl: Optional[_ssl.SSLContext] = None,
    **options: Any,
) -> _Serve:
    """An asyncio AMI server: ``async with serve(config, handler) as server:``.

    ``config`` is a :class:`libami.ManagerConfig` (or manager.conf text); ``handler`` is
    called with a :class:`Request` for every action the core does not answer itself (may be a
    coroutine function). It answers with ``request.respond(...)``, ``ack``, ``error``,
    ``send_list`` or ``command_output``; returning a mapping answers ``Success`` with those
    fields, returning ``None`` unanswered acks, and an exception answers ``Error``. ``options``
    go to :class:`libami.Server` (``login_failure_delay``, ``ami_version``, ...).
    """
    return _Serve(AmiServer(config, handler, **options), host, port, ssl)

