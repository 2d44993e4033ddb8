#!/usr/bin/env bash
# build.sh STAGE OUTDIR: the Debian packages libami0, libami-dev and ami-tools, with dpkg-deb.
#
# STAGE is a `make install DESTDIR=STAGE PREFIX=/usr LIBDIR=/usr/lib/<multiarch>` tree; this
# script splits it into the three packages, adds what Debian expects (copyright, changelog,
# md5sums, shlibs/symbols and the ldconfig trigger, conffiles, maintainer scripts) and the
# service files under packaging/: every unit in packaging/systemd/ and every example
# configuration in packaging/etc/ami/, whatever their names.
#
# Environment: VERSION (upstream version), DEB_REVISION (default 1), DEB_MAINTAINER
# ("Name <address>", required by Debian; see docs/RELEASING.md), SOURCE_DATE_EPOCH (the
# changelog's date; default: the last commit's).
set -euo pipefail
stage=$(realpath "$1") out=$(realpath -m "$2")
here=$(cd "$(dirname "$0")" && pwd) root=$(cd "$here/../.." && pwd)
: "${VERSION:?VERSION is not set}" "${DEB_MAINTAINER:?DEB_MAINTAINER is not set}"
revision=${DEB_REVISION:-1}
debversion=$VERSION-$revision
soversion=${VERSION%%.*}
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=usr/lib/$multiarch
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}
# The copyright years: from the first commit's year to the changelog's.
first=$(git -C "$root" log --reverse --format=%cd --date=format:%Y 2>/dev/null | sed -n 1p)
last=$(date -u -d "@$epoch" +%Y)
years=${first:-$last}; [ "$years" = "$last" ] || years="$years-$last"
work=$out/tree
rm -rf "$work" && mkdir -p "$work" "$out"
rm -f "$out"/*.deb

die() { echo "deb: $*" >&2; exit 1; }
[ -f "$stage/$libdir/libami.so.$VERSION" ] || die "$stage/$libdir/libami.so.$VERSION is missing (make install DESTDIR=...)"

# put PKG SRC DEST [MODE]: copy a file of the stage (or of the repository) into a package.
put() {
    local pkg=$1 src=$2 dest=$3 mode=${4:-0644}
    install -D -m "$mode" "$src" "$work/$pkg/$dest"
}

# doc PKG: /usr/share/doc/PKG/{copyright,changelog.Debian.gz}. The copyright file carries the
# MIT license text verbatim (LICENSE-MIT) and points to Debian's copy of the Apache License 2.0,
# which LICENSE-APACHE is byte for byte (deb-test checks it).
doc() {
    local pkg=$1 d=$work/$1/usr/share/doc/$1
    mkdir -p "$d"
    {
        echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
        echo "Upstream-Name: libami"
        echo
        echo "Files: *"
        echo "Copyright: $years The libami developers"
        echo "License: MIT or Apache-2.0"
        echo
        echo "License: MIT"
        sed -e 's/^$/./' -e 's/^/ /' "$root/LICENSE-MIT"
        echo
        echo "License: Apache-2.0"
        echo " On Debian systems, the complete text of the Apache License, Version 2.0 can be"
        echo " found in /usr/share/common-licenses/Apache-2.0 (the LICENSE-APACHE of libami)."
    } > "$d/copyright"
    {
        echo "libami ($debversion) unstable; urgency=medium"
        echo
        echo "  * Upstream release $VERSION (the upstream CHANGELOG.md lists what it holds)."
        echo
        echo " -- $DEB_MAINTAINER  $(LC_ALL=C date -u -R -d "@$epoch")"
    } | gzip -9n > "$d/changelog.Debian.gz"
    chmod 0644 "$d"/*
}

# overrides PKG FILE: lintian overrides, each explained in FILE's comments.
overrides() {
    [ -f "$here/$2" ] && put "$1" "$here/$2" "usr/share/lintian/overrides/$1"
    return 0
}

# control PKG FIELDS...: DEBIAN/control (+ md5sums, Installed-Size) for package PKG.
control() {
    local pkg=$1; shift
    local d=$work/$pkg
    mkdir -p "$d/DEBIAN"
    (cd "$d" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
        xargs -0r md5sum) > "$d/DEBIAN/md5sums"
    {
        echo "Package: $pkg"
        echo "Source: libami"
        echo "Version: $debversion"
        echo "Architecture: $arch"
        echo "Maintainer: $DEB_MAINTAINER"
        echo "Installed-Size: $(du -k -s --exclude=DEBIAN "$d" | cut -f1)"
        printf '%s\n' "$@"
    } > "$d/DEBIAN/control"
}

# shlibdeps FILE...: the Depends line dpkg-shlibdeps computes for these ELF files.
shlibdeps() {
    local tmp; tmp=$(mktemp -d)
    mkdir -p "$tmp/debian"
    printf 'Source: libami\n\nPackage: x\nArchitecture: any\n' > "$tmp/debian/control"
    (cd "$tmp" && dpkg-shlibdeps -O "$@" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
    rm -rf "$tmp"
}

strip_elf() { strip --strip-unneeded --remove-section=.comment --remove-section=.note "$@"; }

# ---- libami0: the shared library ------------------------------------------------------------
put libami0 "$stage/$libdir/libami.so.$VERSION" "$libdir/libami.so.$VERSION"
strip_elf "$work/libami0/$libdir/libami.so.$VERSION"
ln -s "libami.so.$VERSION" "$work/libami0/$libdir/libami.so.$soversion"
readelf -d "$work/libami0/$libdir/libami.so.$VERSION" | grep -q "SONAME.*\[libami.so.$soversion\]" ||
    die "libami.so.$VERSION has no SONAME libami.so.$soversion"
doc libami0
overrides libami0 libami0.lintian-overrides
control libami0 \
    "Section: libs" "Priority: optional" "Multi-Arch: same" \
    "Depends: $(shlibdeps "$work/libami0/$libdir/libami.so.$VERSION")" \
    "Description: Asterisk Manager Interface library (sans-IO core, C ABI)" \
    " libami frames, parses and encodes the Asterisk Manager Interface (AMI)" \
    " exactly as Asterisk's own server does, and implements Asterisk's access" \
    " rules (permissions, ACLs, event filters, manager.conf). It performs no" \
    " I/O itself: the caller feeds bytes and sends what it is given." \
    " ." \
    " This package contains the shared library."
echo "libami $soversion libami0 (>= $VERSION)" > "$work/libami0/DEBIAN/shlibs"
# The symbols file: every exported symbol of the ABI record with the version it came in.
{
    echo "libami.so.$soversion libami0 #MINVER#"
    echo "* Build-Depends-Package: libami-dev"
    sed -n 's/^\(ami_[A-Za-z0-9_]*\) \([0-9.]*\)$/ \1@Base \2/p' "$root/abi/libami.symbols"
} > "$work/libami0/DEBIAN/symbols"
echo "activate-noawait ldconfig" > "$work/libami0/DEBIAN/triggers"
chmod 0644 "$work/libami0/DEBIAN"/*

# ---- libami-dev: header, static library, pkg-config file, the link for -lami ----------------
put libami-dev "$stage/usr/include/ami.h" usr/include/ami.h
put libami-dev "$stage/$libdir/libami.a" "$libdir/libami.a"
strip --strip-debug --remove-section=.comment "$work/libami-dev/$libdir/libami.a"
put libami-dev "$stage/$libdir/pkgconfig/libami.pc" "$libdir/pkgconfig/libami.pc"
ln -s "libami.so.$soversion" "$work/libami-dev/$libdir/libami.so"
doc libami-dev
overrides libami-dev libami-dev.lintian-overrides
control libami-dev \
    "Section: libdevel" "Priority: optional" "Multi-Arch: same" \
    "Depends: libami0 (= $debversion)" \
    "Description: Asterisk Manager Interface library (development files)" \
    " libami frames, parses and encodes the Asterisk Manager Interface (AMI)" \
    " exactly as Asterisk's own server does, and implements Asterisk's access" \
    " rules." \
    " ." \
    " This package contains the C header ami.h, the static library and the" \
    " pkg-config file: cc app.c \$(pkg-config --cflags --libs libami)."

# ---- ami-tools: the ami binary, its man page and completions, services, example configs ------
put ami-tools "$stage/usr/bin/ami" usr/bin/ami 0755
strip_elf "$work/ami-tools/usr/bin/ami"
mkdir -p "$work/ami-tools/usr/share/man/man1"
gzip -9n < "$stage/usr/share/man/man1/ami.1" > "$work/ami-tools/usr/share/man/man1/ami.1.gz"
chmod 0644 "$work/ami-tools/usr/share/man/man1/ami.1.gz"
put ami-tools "$stage/usr/share/bash-completion/completions/ami" usr/share/bash-completion/completions/ami
put ami-tools "$stage/usr/share/zsh/vendor-completions/_ami" usr/share/zsh/vendor-completions/_ami
put ami-tools "$stage/usr/share/fish/vendor_completions.d/ami.fish" usr/share/fish/vendor_completions.d/ami.fish
users="" conffiles="" overrides_conf=""
for unit in "$root"/packaging/systemd/*; do
    [ -f "$unit" ] || continue
    # Debian 12 (bookworm) keeps units in /lib/systemd/system (its lintian asks for it).
    put ami-tools "$unit" "lib/systemd/system/$(basename "$unit")"
    u=$(sed -n 's/^User=//p' "$unit" | tail -n 1)
    g=$(sed -n 's/^Group=//p' "$unit" | tail -n 1)
    [ -n "$u" ] && users="$users $u:${g:-$u}"
done
for conf in "$root"/packaging/etc/ami/*; do
    [ -f "$conf" ] || continue
    name=$(basename "$conf")
    conffiles="$conffiles /etc/ami/$name"
    case $name in
        # Secrets of upstream accounts, read by systemd (EnvironmentFile=) as root.
        *.env) put ami-tools "$conf" "etc/ami/$name" 0600 ;;
        *)
            put ami-tools "$conf" "etc/ami/$name" 0644
            # A configuration a service reads holds its users' secrets: readable by that
            # service's group only (set in postinst with dpkg-statoverride: the group does
            # not exist before).
            unit=$(grep -l "/etc/ami/$name\b" "$root"/packaging/systemd/* 2>/dev/null | sed -n 1p || true)
            if [ -n "$unit" ]; then
                g=$(sed -n 's/^Group=//p' "$unit" | tail -n 1)
                g=${g:-$(sed -n 's/^User=//p' "$unit" | tail -n 1)}
                [ -n "$g" ] && overrides_conf="$overrides_conf /etc/ami/$name:$g"
            fi
            ;;
    esac
done
users=$(tr ' ' '\n' <<<"$users" | sort -u | tr '\n' ' ')
doc ami-tools
overrides ami-tools ami-tools.lintian-overrides
mkdir -p "$work/ami-tools/DEBIAN"
printf '%s\n' $conffiles > "$work/ami-tools/DEBIAN/conffiles"
sed -e "s|@USERS@|$users|" -e "s|@STATOVERRIDES@|$overrides_conf|" "$here/ami-tools.postinst" \
    > "$work/ami-tools/DEBIAN/postinst"
sed -e "s|@STATOVERRIDES@|$overrides_conf|" "$here/ami-tools.postrm" > "$work/ami-tools/DEBIAN/postrm"
chmod 0755 "$work/ami-tools/DEBIAN/postinst" "$work/ami-tools/DEBIAN/postrm"
chmod 0644 "$work/ami-tools/DEBIAN/conffiles"
control ami-tools \
    "Section: net" "Priority: optional" \
    "Depends: $(shlibdeps "$work/ami-tools/usr/bin/ami"), adduser" \
    "Description: Asterisk Manager Interface tools: proxy, bridge, mock, user admin" \
    " The ami command puts libami to work over real sockets: a permission-" \
    " enforcing AMI proxy and a bridge of many Asterisk servers to NATS" \
    " JetStream (each with a hardened systemd unit), event tailing, actions" \
    " from the shell, a mock Asterisk for tests, manager.conf checking and" \
    " user administration." \
    " ." \
    " The services are installed but not enabled: edit /etc/ami/ first, then" \
    " systemctl enable --now the unit."

for pkg in libami0 libami-dev ami-tools; do
    dpkg-deb --root-owner-group -Zxz --build "$work/$pkg" "$out/${pkg}_${debversion}_$arch.deb" >/dev/null
    echo "built $(basename "$out/${pkg}_${debversion}_$arch.deb") ($(stat -c %s "$out/${pkg}_${debversion}_$arch.deb") bytes)"
done
