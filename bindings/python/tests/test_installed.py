"""The tests run against the installed wheel, not the source tree."""

import pathlib

import libami
import libami._native


def test_package_is_the_installed_wheel():
    source_tree = pathlib.Path(__file__).resolve().parents[1] / "python"
    installed = pathlib.Path(libami.__file__).resolve()
    assert source_tree not in installed.parents
    assert "site-packages" in installed.parts


def test_version_matches_the_native_module():
    assert libami.__version__ == libami._native.__version__
    assert libami.__version__.count(".") == 2


def test_typing_marker_and_stubs_are_installed():
    pkg = pathlib.Path(libami.__file__).resolve().parent
    assert (pkg / "py.typed").is_file()
    assert (pkg / "_native.pyi").is_file()
