#!/bin/sh
# Build the local base images when they are missing (no registry is reachable):
#   debian:bookworm-slim          minbase tree, what Dockerfiles start FROM
#   stackgen/systemd:<suite>      systemd host for Molecule and the demo
# Usage: build-images.sh [suite...]   (default: bookworm)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mirror=$("$here/apt-mirror.sh")
work=${STACKGEN_BASE_WORKDIR:-/var/tmp/stackgen-base}
mkdir -p "$work"

have() { docker image inspect "$1" >/dev/null 2>&1; }

bootstrap() { # tag suite include keep-lists
    tag=$1 suite=$2 include=$3 keep_lists=$4
    if have "$tag"; then echo "base image $tag: present"; return 0; fi
    echo "base image $tag: debootstrap $suite from $mirror (about a minute)"
    root="$work/$suite-$(echo "$tag" | tr ':/' '__')"
    rm -rf "$root"
    debootstrap --variant=minbase ${include:+--include="$include"} "$suite" "$root" "$mirror" \
        >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; exit 1; }
    # Containers sit behind the host's TLS-inspecting proxy: trust the host's CA bundle.
    if [ -r /etc/ssl/certs/ca-certificates.crt ] && [ -d "$root/usr/local/share/ca-certificates" ]; then
        cp /etc/ssl/certs/ca-certificates.crt "$root/usr/local/share/ca-certificates/host-bundle.crt"
        chroot "$root" update-ca-certificates >/dev/null 2>&1 || true
    fi
    rm -rf "$root/var/cache/apt/archives/"*.deb
    # The slim image drops the package lists like Debian's own; systemd hosts keep them
    # fresh, as a real server's are, so that apt's cache_valid_time holds.
    [ "$keep_lists" = yes ] || rm -rf "$root/var/lib/apt/lists/"*
    tar -C "$root" -c . | docker import -c 'CMD ["/bin/bash"]' - "$tag" >/dev/null
    rm -rf "$root" "$root.log"
    echo "base image $tag: built"
}

bootstrap debian:bookworm-slim bookworm "" no
[ $# -gt 0 ] || set -- bookworm
for suite in "$@"; do
    bootstrap "stackgen/systemd:$suite" "$suite" \
        "systemd,systemd-sysv,dbus,python3,python3-apt,python3-packaging,iproute2,ca-certificates,curl,procps,sudo" yes
done
