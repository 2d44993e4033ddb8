"""libami: the Asterisk Manager Interface, sans-IO core in Rust."""

from libami._native import __version__

__all__ = ["__version__"]
