#!/usr/bin/env bash
# A local Redis for several web workers (WEB_WORKERS > 1, REDIS_URL) and for the load run (bench/load_bench.py).
#
#   scripts/redis.sh start [PORT]   install Debian's redis-server if missing, start one on 127.0.0.1:PORT
#   scripts/redis.sh stop [PORT]    stop the one this script started on PORT
#   scripts/redis.sh url [PORT]     print its REDIS_URL
#
# PORT defaults to 6379. Nothing is written to disk (no RDB snapshots, no append-only file): it holds rate-limit
# counters and the worker's queue, which the application can lose on a restart (the outbox is in the database).
# For production keep Debian's own service (systemctl enable --now redis-server) and point REDIS_URL at it.
set -euo pipefail

command=${1:-}
port=${2:-6379}
run_dir=${REDIS_RUN_DIR:-/tmp/mustafeed-redis-$port}
pidfile=$run_dir/redis.pid

ping() { redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; }

case "$command" in
  start)
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
      echo "Installing Debian's redis-server …" >&2
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    fi
    if ping; then
      echo "A Redis already answers on 127.0.0.1:$port." >&2
      echo "redis://127.0.0.1:$port/0"
      exit 0
    fi
    mkdir -p "$run_dir"
    redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize yes \
      --pidfile "$pidfile" --logfile "$run_dir/redis.log" --dir "$run_dir" >/dev/null
    for _ in $(seq 100); do
      ping && { echo "redis://127.0.0.1:$port/0"; exit 0; }
      sleep 0.1
    done
    echo "redis-server did not answer on 127.0.0.1:$port; see $run_dir/redis.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile")
      redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$pidfile"
      echo "Stopped the Redis on 127.0.0.1:$port." >&2
    else
      echo "No Redis started by this script on port $port ($pidfile missing)." >&2
    fi
    ;;
  url)
    echo "redis://127.0.0.1:$port/0"
    ;;
  *)
    echo "usage: $0 start|stop|url [PORT]" >&2
    exit 2
    ;;
esac
