#!/usr/bin/env python3
"""abi.py check|record LIBAMI_SO HEADER VERSION: libami's C ABI against its committed record.

The record (docs/RELEASING.md, "The C ABI") is two files under abi/:

- libami.symbols: every symbol the shared library exports, with the version that added it;
- ami.h.api: every declaration of include/ami.h, one line per function, enumerator, struct
  field, typedef and macro, so that a changed signature or value shows as a changed line.

Both begin with the SONAME they describe. `check` fails when the library or the header
differs from the record:

- a symbol or declaration of the record that is gone or changed is an ABI break: allowed only
  with a new SONAME (a new major version), whose record must be made with `record` and
  announced in CHANGELOG.md (which must name the new SONAME);
- anything new must be added to the record (`make abi-record`), so that every addition is
  seen in review and carries the version that brought it.

`record` rewrites the record from the built library and header, keeping each symbol's
version; it refuses to drop or change anything under the same SONAME.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SYMBOLS = ROOT / "abi/libami.symbols"
API = ROOT / "abi/ami.h.api"
CHANGELOG = ROOT / "CHANGELOG.md"
# Macros that change with every release by design.
VOLATILE_MACROS = {"AMI_H", "AMI_VERSION_MAJOR", "AMI_VERSION_MINOR", "AMI_VERSION_PATCH"}


def soname(lib: str) -> str:
    out = subprocess.run(["readelf", "-d", lib], check=True, capture_output=True, text=True).stdout
    m = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", out)
    if not m:
        sys.exit(f"abi: {lib} has no SONAME")
    return m.group(1)


def exported(lib: str) -> list[str]:
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True, text=True).stdout
    names = [line.split()[-1] for line in out.splitlines() if line.strip()]
    return sorted(set(names))


def declarations(header: str) -> list[str]:
    """One normalized line per declaration of the header."""
    text = pathlib.Path(header).read_text()
    text = re.sub(r'#ifdef __cplusplus\s*\n(?:extern "C" \{|\})[^\n]*\n#endif[^\n]*', "", text)
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    lines = []
    body = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            m = re.match(r"\s*#\s*define\s+(\w+)(.*)", line)
            if m and m.group(1) not in VOLATILE_MACROS:
                lines.append(f"macro {m.group(1)} {' '.join(m.group(2).split())}")
            continue
        body.append(line)
    flat = " ".join(" ".join(body).split())
    # Top-level statements: split at ';' outside braces.
    depth, start, statements = 0, 0, []
    for i, c in enumerate(flat):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == ";" and depth == 0:
            statements.append(flat[start:i].strip())
            start = i + 1
    for st in statements:
        m = re.match(r"(typedef )?(enum|struct|union)\s*(\w*)\s*(:\s*\w+\s*)?\{(.*)\}\s*(\w*)$", st)
        if m:
            typedef, kind, tag, base, members, name = m.groups()
            name = name or tag
            sep = "," if kind == "enum" else ";"
            for member in members.split(sep):
                member = " ".join(member.split())
                if member:
                    lines.append(f"{kind} {name}: {member}")
            words = ["type", "typedef" if typedef else "", kind, tag, " ".join((base or "").split()),
                     name if typedef else ""]
            lines.append(" ".join(w for w in words if w))
        elif "(" in st and not st.startswith("typedef"):
            lines.append(f"fn {st}")
        else:
            lines.append(f"type {st}")
    return sorted(set(lines))


def read_record(path: pathlib.Path) -> tuple[str, list[str]]:
    if not path.exists():
        return "", []
    name, entries = "", []
    for line in path.read_text().splitlines():
        if line.startswith("# soname: "):
            name = line[len("# soname: "):].strip()
        elif line and not line.startswith("#"):
            entries.append(line)
    return name, entries


def write_record(path: pathlib.Path, name: str, what: str, entries: list[str]) -> None:
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        f"# {what} (make abi-record; make abi-check compares; docs/RELEASING.md)\n"
        f"# soname: {name}\n" + "".join(f"{e}\n" for e in entries)
    )


def main() -> int:
    mode, lib, header, version = sys.argv[1:5]
    built_soname = soname(lib)
    symbols = exported(lib)
    decls = declarations(header)
    rec_soname, rec_symbol_lines = read_record(SYMBOLS)
    rec_api_soname, rec_decls = read_record(API)
    rec_versions = dict(line.split(" ", 1) for line in rec_symbol_lines)

    new_soname = rec_soname != built_soname
    removed_symbols = sorted(set(rec_versions) - set(symbols))
    removed_decls = sorted(set(rec_decls) - set(decls))
    added_symbols = sorted(set(symbols) - set(rec_versions))
    added_decls = sorted(set(decls) - set(rec_decls))
    announced = new_soname and built_soname in (CHANGELOG.read_text() if CHANGELOG.exists() else "")

    if mode == "record":
        if (removed_symbols or removed_decls) and not new_soname:
            for s in removed_symbols:
                print(f"abi: {s} would leave the ABI of {built_soname}")
            for d in removed_decls:
                print(f"abi: would be removed or changed under {built_soname}: {d}")
            print("abi: an ABI break needs a new SONAME (the next major version, docs/RELEASING.md)")
            return 1
        if new_soname and rec_soname and not announced:
            print(f"abi: the new SONAME {built_soname} is not announced in CHANGELOG.md")
            return 1
        # A new SONAME starts a new ABI: every symbol is then part of it from this version.
        versions = {s: version if new_soname else rec_versions.get(s, version) for s in symbols}
        write_record(SYMBOLS, built_soname, "Exported symbols of libami and the version that added each",
                     [f"{s} {versions[s]}" for s in symbols])
        write_record(API, built_soname, "Declarations of include/ami.h", decls)
        if rec_soname and not new_soname:
            for s in added_symbols:
                print(f"abi: recorded {s} (new in {version})")
            for d in added_decls:
                print(f"abi: recorded {d}")
        print(f"abi: record written for {built_soname}: {len(symbols)} symbols, {len(decls)} declarations")
        return 0

    failed = False
    if rec_soname != rec_api_soname:
        print(f"abi: {SYMBOLS.name} is for {rec_soname} but {API.name} for {rec_api_soname}")
        failed = True
    if new_soname:
        print(f"abi: the library's SONAME is {built_soname}, the record's {rec_soname or '(none)'}:"
              " a new major version; make the new record with `make abi-record`"
              + ("" if announced else f" and announce {built_soname} in CHANGELOG.md"))
        return 1
    for s in removed_symbols:
        print(f"abi: REMOVED from {built_soname}: {s} (since {rec_versions[s]})")
    for d in removed_decls:
        print(f"abi: REMOVED or CHANGED in ami.h: {d}")
    if removed_symbols or removed_decls:
        print(f"abi: an unannounced ABI break: {built_soname} must keep every recorded symbol and"
              " declaration; a break needs the next major version (a new SONAME) and a CHANGELOG"
              " entry (docs/RELEASING.md)")
        failed = True
    for s in added_symbols:
        print(f"abi: new symbol not in the record: {s}")
    for d in added_decls:
        print(f"abi: new declaration not in the record: {d}")
    if added_symbols or added_decls:
        print("abi: run `make abi-record` to record the additions (reviewed with the change)")
        failed = True
    if failed:
        return 1
    print(f"abi: {built_soname} matches the record: {len(symbols)} symbols, {len(decls)} declarations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
