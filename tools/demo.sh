#!/bin/sh
# Bring the demo up or down: a throwaway Debian systemd container converged by the
# real playbook (playbooks/site.yml, inventory/local), nginx published on 127.0.0.1.
# Usage: tools/demo.sh up|down     (DEMO_PORT, default 8080)
set -eu
cd "$(dirname "$0")/.."
name=stackgen-demo
port=${DEMO_PORT:-8080}

case "${1:-}" in
up)
    docker rm -f "$name" >/dev/null 2>&1 || true
    echo "==> starting the throwaway host $name (nginx published on 127.0.0.1:$port)"
    docker run -d --name "$name" --hostname "$name" \
        --cap-add SYS_ADMIN --cgroupns=host --tmpfs /run --tmpfs /run/lock \
        -v /sys/fs/cgroup:/sys/fs/cgroup:rw --stop-signal SIGRTMIN+3 \
        -p "127.0.0.1:$port:80" stackgen/systemd:bookworm /lib/systemd/systemd >/dev/null
    i=0
    until [ "$(docker exec "$name" systemctl is-system-running 2>/dev/null)" = running ] || \
          [ "$(docker exec "$name" systemctl is-system-running 2>/dev/null)" = degraded ]; do
        i=$((i + 1)); [ "$i" -lt 60 ] || { echo "demo: systemd did not boot in $name" >&2; exit 1; }
        sleep 1
    done
    echo "==> converging $name with playbooks/site.yml"
    ansible-playbook -i inventory/local/hosts.yml playbooks/site.yml
    cat <<EOM

The model service answers through nginx on 127.0.0.1:$port. Try:

  curl -s -H 'Content-Type: application/json' \\
    -d '{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP64","data":[[5.1,3.5,1.4,0.2]]}]}' \\
    http://localhost:$port/v2/models/iris/infer

Remove it all with: make demo-down
EOM
    ;;
down)
    docker rm -f "$name" >/dev/null 2>&1 && echo "removed $name" || echo "$name was not running"
    ;;
*)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
