#!/bin/sh
# Make sure a Docker engine answers: install Debian's docker.io (and docker-compose)
# when missing, start dockerd in the background when nothing answers.
set -eu
log=${DOCKERD_LOG:-/var/log/dockerd.log}

if docker info >/dev/null 2>&1; then
    echo "docker engine: running"
    exit 0
fi
missing=""
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
command -v docker-compose >/dev/null 2>&1 || missing="$missing docker-compose"
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    "$(dirname "$0")/apt-need.sh" $missing
fi
echo "docker engine: starting dockerd (log: $log)"
nohup dockerd >"$log" 2>&1 &
i=0
until docker info >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 60 ]; then
        echo "docker engine: dockerd did not answer within 60 s; last log lines:" >&2
        tail -20 "$log" >&2
        exit 1
    fi
    sleep 1
done
echo "docker engine: running"
