"""What the clients refuse to believe of a server: a greeting that is not an AMI banner, and a
list answer that would not end (the caps on what one action may bring back)."""

from __future__ import annotations

from typing import Optional

from libami._native import Message, RemoteProtocolError

BANNER_PREFIX = b"Asterisk Call Manager/"
# How much of a wrong greeting is shown in the error.
SHOWN = 120

MAX_LIST_ITEMS = 100_000
"""Default cap on the items of one list answer (more than any real PBX has channels)."""
MAX_LIST_BYTES = 64 << 20
"""Default cap on the bytes of one list answer (64 MiB)."""


class NotAnAmiServer(RemoteProtocolError):
    """The peer greeted with something other than ``Asterisk Call Manager/...``."""

    def __init__(self, target: str, received: bytes) -> None:
        hint = ""
        if received[:1] in (b"\x15", b"\x16"):
            hint = " (a TLS record: connect with ssl=)"
        elif received.startswith(b"HTTP/"):
            hint = " (an HTTP server)"
        super().__init__(
            f"{target} is not an AMI server: it sent {received!r} instead of "
            f"'Asterisk Call Manager/...'{hint}"
        )
        self.received = received


class ResponseTooLarge(RemoteProtocolError):
    """A list answer broke the caps (``max_list_items``, ``max_list_bytes``); the rest of it
    is read and dropped."""

    def __init__(self, action_id: str, items: int, size: int, limit: str) -> None:
        super().__init__(
            f"the answer to action {action_id} is too large: {items} items, {size} bytes when "
            f"the {limit} limit was reached (raise max_list_{limit} if the server is trusted)"
        )
        self.items = items
        self.size = size
        self.limit = limit


class GreetingCheck:
    """Looks at the first bytes a server sends; raises :class:`NotAnAmiServer` as soon as they
    cannot be an AMI banner."""

    def __init__(self, target: str) -> None:
        self._target = target
        self._seen = b""
        self.done = False

    def feed(self, data: bytes) -> None:
        if self.done or not data:
            return
        self._seen = (self._seen + data)[:SHOWN]
        n = min(len(self._seen), len(BANNER_PREFIX))
        if self._seen[:n] != BANNER_PREFIX[:n]:
            raise NotAnAmiServer(self._target, self._seen)
        if n == len(BANNER_PREFIX):
            self.done = True


class ListBudget:
    """Counts what one action brought back against the caps."""

    __slots__ = ("items", "size", "max_items", "max_bytes")

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self.items = 0
        self.size = 0
        self.max_items = max_items
        self.max_bytes = max_bytes

    def charge(self, action_id: str, message: Message) -> Optional[ResponseTooLarge]:
        """Accounts for one list item; the error to raise if a cap is broken."""
        self.items += 1
        self.size += len(message.raw)
        if self.items > self.max_items:
            return ResponseTooLarge(action_id, self.items, self.size, "items")
        if self.size > self.max_bytes:
            return ResponseTooLarge(action_id, self.items, self.size, "bytes")
        return None
