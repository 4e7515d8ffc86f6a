#!/bin/sh
# Install Debian packages that a make target needs and the machine lacks.
# Usage: tools/apt-need.sh PACKAGE...
set -eu
echo "==> installing from Debian: $*"
if [ "$(id -u)" -ne 0 ]; then
    echo "apt-need: installing $* needs root (run: sudo apt-get install $*)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q "$@" >/dev/null
