#!/usr/bin/env bash
# installed-test.sh [SUDO]: use the installed libami0, libami-dev and ami-tools as a user would
# (run by `make deb-test` after dpkg -i).
set -euo pipefail
sudo=${1:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "deb-test: $*" >&2; exit 1; }

# The library, found by pkg-config and the dynamic linker without any path given.
libs=$(pkg-config --libs libami) || fail "pkg-config does not know libami"
libs=$(echo $libs)
echo "pkg-config --libs libami: $libs"
[ "$libs" = "-lami" ] || fail "pkg-config --libs libami gave '$libs' (expected -lami: the system path)"
cat > "$tmp/app.c" <<'C'
#include <ami.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    static const char msg[] = "Asterisk Call Manager/11.0.0\r\nEvent: Hangup\r\nChannel: PJSIP/1\r\n\r\n";
    ami_decoder *dec = NULL;
    ami_frame_kind kind;
    ami_bytes channel;
    if (ami_decoder_new(AMI_ROLE_CLIENT, NULL, &dec) != AMI_RESULT_OK) return 1;
    if (ami_decoder_feed(dec, (const uint8_t *)msg, strlen(msg)) != AMI_RESULT_OK) return 2;
    if (ami_decoder_next(dec, &kind) != AMI_RESULT_OK || kind != AMI_FRAME_BANNER) return 3;
    if (ami_decoder_next(dec, &kind) != AMI_RESULT_OK || kind != AMI_FRAME_MESSAGE) return 4;
    if (ami_decoder_get(dec, "Channel", 7, &channel) != AMI_RESULT_OK) return 5;
    printf("libami %s decoded Channel: %.*s\n", ami_version(), (int)channel.len, (const char *)channel.data);
    ami_decoder_free(dec);
    return 0;
}
C
cc -std=c11 -Wall -Wextra -Wpedantic -Werror "$tmp/app.c" $(pkg-config --cflags --libs libami) -o "$tmp/app" ||
    fail "a C program does not build against the installed libami-dev"
readelf -d "$tmp/app" | grep -q 'NEEDED.*\[libami\.so\.0\]' || fail "the program does not need libami.so.0"
"$tmp/app" | tee "$tmp/app.out"
grep -q 'Channel: PJSIP/1' "$tmp/app.out" || fail "the program linked to the installed library misbehaves"
ldd "$tmp/app" | grep -Eq "libami\.so\.0 => (/usr)?/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libami\.so\.0 " ||
    fail "libami.so.0 is not loaded from the system library directory"

# The tool, its man page and completions.
ami --version
man -w ami >/dev/null 2>&1 || [ -f /usr/share/man/man1/ami.1.gz ] || fail "no man page for ami"
for f in /usr/share/bash-completion/completions/ami /usr/share/zsh/vendor-completions/_ami \
    /usr/share/fish/vendor_completions.d/ami.fish; do
    [ -s "$f" ] || fail "$f is missing"
done

# The services and their example configurations: every unit under packaging/systemd is
# installed and accepted by systemd-analyze; the users they run as exist; the configurations
# are conffiles with the modes postinst gave them.
for unit in "$root"/packaging/systemd/*; do
    [ -f "$unit" ] || continue
    installed=/lib/systemd/system/$(basename "$unit")
    [ -f "$installed" ] || fail "$installed is missing"
    echo "systemd-analyze verify $installed"
    systemd-analyze verify "$installed" || fail "systemd-analyze rejects $installed"
    for u in $(sed -n 's/^User=//p' "$unit"); do
        getent passwd "$u" >/dev/null || fail "$(basename "$unit") runs as $u, who does not exist"
    done
done
for conf in "$root"/packaging/etc/ami/*; do
    [ -f "$conf" ] || continue
    f=/etc/ami/$(basename "$conf")
    grep -qx "$f" /var/lib/dpkg/info/ami-tools.conffiles || fail "$f is not a conffile"
    echo "$f: $(stat -c '%U:%G %a' "$f")"
    case $f in
        *.env) [ "$(stat -c %a "$f")" = 600 ] || fail "$f (secrets) is not mode 0600" ;;
    esac
done
if [ -f /etc/ami/proxy.conf ]; then
    PBX1_SECRET=example ami proxy --config /etc/ami/proxy.conf --check-config
fi
if [ -f /etc/ami/bridge.conf ]; then
    ami check /etc/ami/bridge.conf >/dev/null || fail "ami check finds errors in /etc/ami/bridge.conf"
fi

# The licenses: MIT verbatim in each copyright file, Apache-2.0 by Debian's copy, which must be
# LICENSE-APACHE byte for byte.
cmp -s /usr/share/common-licenses/Apache-2.0 "$root/LICENSE-APACHE" ||
    fail "/usr/share/common-licenses/Apache-2.0 differs from LICENSE-APACHE"
for pkg in libami0 libami-dev ami-tools; do
    c=/usr/share/doc/$pkg/copyright
    sed -n '/^License: MIT$/,/^$/p' "$c" | sed -e '1d' -e '$d' -e 's/^ //' -e 's/^\.$//' | cmp -s - "$root/LICENSE-MIT" ||
        fail "$c does not carry LICENSE-MIT verbatim"
    grep -q '/usr/share/common-licenses/Apache-2.0' "$c" || fail "$c does not point to the Apache License"
done
echo "deb-test: the installed packages work"
