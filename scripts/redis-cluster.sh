#!/usr/bin/env bash
# A throw-away local Redis Cluster (3 masters, 1 replica each, on loopback),
# for trying sdm on a cluster by hand and for CI's cluster bench smoke run:
#
#   scripts/redis-cluster.sh start DIR   # prints the redis+cluster:// URL
#   scripts/redis-cluster.sh stop DIR    # stops every node, removes DIR
#
# Needs redis-server and redis-cli (scripts/setup.sh installs them). Ports
# come from SDM_CLUSTER_PORT (default 17000: 17000-17005, buses +10000).
# The tests make their own clusters (session/tests/support/redis_cluster.rs).
set -euo pipefail

cmd="${1:-}"
dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || { sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
base="${SDM_CLUSTER_PORT:-17000}"
ports=()
for i in 0 1 2 3 4 5; do ports+=($((base + i))); done

case "$cmd" in
start)
    mkdir -p "$dir"
    for p in "${ports[@]}"; do
        mkdir -p "$dir/$p"
        redis-server --port "$p" --bind 127.0.0.1 --save "" --appendonly no \
            --cluster-enabled yes --cluster-config-file "$dir/$p/nodes.conf" \
            --cluster-node-timeout 2000 --dir "$dir/$p" \
            --daemonize yes --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log"
    done
    for p in "${ports[@]}"; do
        for _ in $(seq 1 100); do
            redis-cli -p "$p" ping >/dev/null 2>&1 && break
            sleep 0.1
        done
    done
    hosts=()
    for p in "${ports[@]}"; do hosts+=("127.0.0.1:$p"); done
    redis-cli --cluster create "${hosts[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 \
        || { cat "$dir/create.log" >&2; exit 1; }
    for _ in $(seq 1 200); do
        ok=1
        for p in "${ports[@]}"; do
            redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
        done
        [[ $ok -eq 1 ]] && break
        sleep 0.1
    done
    [[ $ok -eq 1 ]] || { echo "redis-cluster.sh: the cluster never became ready" >&2; exit 1; }
    (IFS=,; echo "redis+cluster://${hosts[*]}/")
    ;;
stop)
    for p in "${ports[@]}"; do
        if [[ -f "$dir/$p/redis.pid" ]]; then
            kill "$(cat "$dir/$p/redis.pid")" 2>/dev/null || true
        fi
    done
    sleep 0.3
    rm -rf "$dir"
    ;;
*)
    echo "redis-cluster.sh: unknown command $cmd (start or stop)" >&2
    exit 2
    ;;
esac
