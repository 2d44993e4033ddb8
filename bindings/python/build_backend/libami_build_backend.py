"""The PEP 517 build backend of libami: maturin's, refusing to download Rust unasked.

maturin's backend installs a Rust toolchain (about 1 GB, through puccinialin) into a temporary
directory when `cargo` is not on PATH, unless `MATURIN_NO_INSTALL_RUST` is set. A user who ran
`pip install libami` on a platform without a wheel should be told that the sdist needs Rust,
not be handed a silent gigabyte download. This module sets `MATURIN_NO_INSTALL_RUST` (unless
`LIBAMI_ALLOW_RUST_DOWNLOAD=1` asks for maturin's download) and stops every hook with a clear
message when `cargo` is missing; otherwise it is maturin's backend unchanged.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, Mapping, Optional

import maturin
from maturin import *  # noqa: F401,F403  (every PEP 517 hook maturin provides)

_ALLOW = os.environ.get("LIBAMI_ALLOW_RUST_DOWNLOAD") == "1"
if not _ALLOW:
    os.environ["MATURIN_NO_INSTALL_RUST"] = "1"

_MISSING_RUST = """
libami: building from source needs Rust 1.89 or later, and `cargo` is not on PATH.
  - Install Rust (https://rustup.rs or your distribution's `cargo` package) and retry, or
  - install a prebuilt wheel instead: pip install --only-binary libami libami, or
  - set LIBAMI_ALLOW_RUST_DOWNLOAD=1 to let maturin download a temporary toolchain (about 1 GB).
"""


def _need_cargo() -> None:
    if not _ALLOW and shutil.which("cargo") is None:
        raise SystemExit(_MISSING_RUST)


def get_requires_for_build_wheel(config_settings: Optional[Mapping[str, Any]] = None) -> list[str]:
    _need_cargo()
    return maturin.get_requires_for_build_wheel(config_settings)


def get_requires_for_build_sdist(config_settings: Optional[Mapping[str, Any]] = None) -> list[str]:
    _need_cargo()
    return maturin.get_requires_for_build_sdist(config_settings)


def get_requires_for_build_editable(config_settings: Optional[Mapping[str, Any]] = None) -> list[str]:
    _need_cargo()
    return maturin.get_requires_for_build_editable(config_settings)


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: Optional[Mapping[str, Any]] = None
) -> str:
    _need_cargo()
    return maturin.prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def build_wheel(
    wheel_directory: str,
    config_settings: Optional[Mapping[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    _need_cargo()
    return maturin.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory: str, config_settings: Optional[Mapping[str, Any]] = None) -> str:
    _need_cargo()
    return maturin.build_sdist(sdist_directory, config_settings)


def build_editable(
    wheel_directory: str,
    config_settings: Optional[Mapping[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    _need_cargo()
    return maturin.build_editable(wheel_directory, config_settings, metadata_directory)
