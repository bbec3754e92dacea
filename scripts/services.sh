#!/usr/bin/env bash
# Starts, on 127.0.0.1 only, each service the tests use that the machine does not already run.
# The machine runs PostgreSQL (5432), MariaDB (3306) and Redis (6379) itself. This script adds:
#   - memcached on 127.0.0.1:11211 (Debian's package, installed when missing);
#   - a Redis Cluster of 3 masters on 127.0.0.1:7001-7003 (Debian's redis-server).
# Idempotent: a service that already answers is left alone. State lives under .tmp/services.
set -euo pipefail
cd "$(dirname "$0")/.."
state="$PWD/.tmp/services"
mkdir -p "$state"

wait_for() { # command, description
  for _ in $(seq 1 100); do
    if eval "$1" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "services: $2 did not come up" >&2
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# memcached
if ! port_open 11211; then
  if ! command -v memcached >/dev/null 2>&1; then
    echo "services: installing memcached"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq memcached >/dev/null
  fi
  memcached -d -u root -l 127.0.0.1 -p 11211 -U 0 -m 64 -P "$state/memcached.pid"
  wait_for "port_open 11211" "memcached"
fi

# Redis Cluster: 3 masters, no replicas.
cluster_ports=(7001 7002 7003)
if ! redis-cli -p 7001 cluster info 2>/dev/null | grep -q 'cluster_state:ok'; then
  for port in "${cluster_ports[@]}"; do
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    dir="$state/redis-cluster-$port"
    rm -rf "$dir" && mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$dir" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 15000 \
      --save '' --appendonly no --logfile "$dir/redis.log"
  done
  for port in "${cluster_ports[@]}"; do wait_for "redis-cli -p $port ping" "redis on $port"; done
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "${cluster_ports[@]}") \
    --cluster-replicas 0 --cluster-yes >/dev/null
  wait_for "redis-cli -p 7001 cluster info | grep -q cluster_state:ok" "the Redis Cluster"
fi
echo "services: memcached 11211, redis cluster 7001-7003 ready"
