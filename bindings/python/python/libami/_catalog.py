"""The hand-written half of libami's catalog: what every generated class in
:mod:`libami.events` and :mod:`libami.actions` is made of.

Events are frozen views of their message: a documented field is a property reading its header
(``None`` when absent), so making one costs a single object and no copy. Actions check their
keyword arguments against the documented parameters and encode through the native encoder,
which refuses anything that could inject a header.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, ClassVar, Dict, Iterable, List, Optional, Tuple, Type, TypeVar, Union

from libami._native import Event, Message, Privilege, encode_action

_T = TypeVar("_T")
#: A header value: text, bytes or a number.
_Value = Union[str, bytes, bytearray, memoryview, int, float]
#: Extra header fields: a mapping, or ``(name, value)`` pairs.
_Fields = Union[Mapping[Any, Any], Iterable[Tuple[_Value, _Value]], None]


class TypedEvent:
    """A documented event, typed: the base of every class of :mod:`libami.events`.

    Frozen; compares equal to an event of the same class over an equal message. ``message``
    is the message itself, ``get(name)`` reads any header (documented or not).
    """

    __slots__ = ("message",)
    NAME: ClassVar[str] = ""
    """The event's name as emitted in ``Event:``."""
    READ_CLASS: ClassVar[Privilege] = Privilege.NONE
    """The classes a session must be allowed to read to receive it (every one)."""
    FIELDS: ClassVar[Tuple[str, ...]] = ()
    """The documented header names (a numbered family with ``{}`` for the number)."""
    __match_args__: ClassVar[Tuple[str, ...]] = ()
    message: Message

    def __init__(self, message: Message) -> None:
        object.__setattr__(self, "message", message)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    @property
    def name(self) -> Optional[str]:
        """The ``Event`` header as received."""
        return self.message.name

    def get(self, name: str, default: Optional[_T] = None, /) -> Union[str, _T, None]:
        """The first value of any header ``name`` (case-insensitive), or ``default``."""
        return self.message.get(name, default)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.message == getattr(other, "message", None)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = []
        for attr in self.__match_args__:
            value = getattr(self, attr)
            if value is not None:
                shown.append(f"{attr}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


class UnknownEvent(TypedEvent):
    """An event the catalog does not document (a newer Asterisk's, a dialplan ``UserEvent``
    name, ...): ``name`` says which; everything is in ``message``."""

    __slots__ = ()
    __match_args__ = ("name",)


def _field(header: str) -> Any:
    """A read-only property reading ``header`` from the event's message."""

    def get(self: TypedEvent) -> Optional[str]:
        return self.message.get(header)

    get.__name__ = header
    return property(get, doc=f"The ``{header}`` header.")


def _indexed_field(template: str) -> Callable[[TypedEvent, int], Optional[str]]:
    """A method reading member ``index`` of the numbered header family ``template``."""

    def get(self: TypedEvent, index: int) -> Optional[str]:
        return self.message.get(template.format(index))

    get.__doc__ = f"The ``{template}`` header, ``{{}}`` being ``index``."
    return get


def _typed(registry: Dict[str, Type[TypedEvent]], message: Union[Message, Event]) -> TypedEvent:
    msg = message.message if isinstance(message, Event) else message
    if not isinstance(msg, Message):
        raise TypeError(f"expected a Message or an Event, not {type(message).__name__}")
    if msg.kind != "event":
        raise ValueError(f"not an event but a {msg.kind} message")
    cls = registry.get((msg.name or "").lower(), UnknownEvent)
    return cls(msg)


class Action:
    """A documented action: the base of every class of :mod:`libami.actions`.

    ``name`` and ``fields`` (the headers after ``Action:``, in order) are what
    ``Client.action`` sends; :meth:`encode` gives the bytes. Frozen.
    """

    __slots__ = ("fields",)
    NAME: ClassVar[str] = ""
    """The action's canonical name."""
    AUTHORITY: ClassVar[Privilege] = Privilege.NONE
    """The write classes Asterisk requires (any one; none = every session)."""
    REQUIRED: ClassVar[Tuple[str, ...]] = ()
    """The required parameters' header names."""
    PARAMETERS: ClassVar[Tuple[Tuple[str, str, str], ...]] = ()
    """``(keyword, header, kind)`` per parameter; kind: ``r`` required, ``o`` optional,
    ``m`` repeatable, ``i`` numbered family."""
    fields: Tuple[Tuple[_Value, _Value], ...]

    def __init__(self, *, headers: _Fields = None, **kwargs: Any) -> None:
        known = {keyword: (header, kind) for keyword, header, kind in self.PARAMETERS}
        unknown = sorted(set(kwargs) - set(known))
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments {unknown}")
        fields: List[Tuple[_Value, _Value]] = []
        for keyword, (header, kind) in known.items():
            value = kwargs.get(keyword)
            if value is None:
                if kind == "r":
                    raise TypeError(f"{type(self).__name__}() requires {keyword}= (header {header})")
                continue
            if kind == "m":
                if isinstance(value, (str, bytes, bytearray, memoryview, int, float)):
                    raise TypeError(f"{keyword}= takes a list of values (header {header} repeats)")
                fields.extend((header, v) for v in value)
            elif kind == "i":
                if not isinstance(value, Mapping):
                    raise TypeError(f"{keyword}= takes a mapping from numbers to values ({header})")
                fields.extend((header.format(int(i)), v) for i, v in sorted(value.items()))
            else:
                fields.append((header, value))
        if headers is not None:
            pairs = headers.items() if isinstance(headers, Mapping) else headers
            fields.extend((k, v) for k, v in pairs)
        object.__setattr__(self, "fields", tuple(fields))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    @property
    def name(self) -> str:
        """The action's name (``Action:``)."""
        return self.NAME

    def encode(self, action_id: Optional[_Value] = None) -> bytes:
        """The action's bytes; raises ``LocalProtocolError`` for anything that could inject a
        header."""
        return encode_action(self.NAME, list(self.fields), action_id)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.fields == getattr(other, "fields", None)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fields={self.fields!r})"
