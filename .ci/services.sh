#!/usr/bin/env bash
# Start the services the integration tests use, when they are installed here but down.
# Tests that need a service skip with a clear reason when it is not installed at all.
set -u
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! up 5432 && command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! up 5672 && command -v rabbitmq-server >/dev/null 2>&1; then
    rabbitmq-server -detached || true
    for _ in $(seq 1 60); do up 5672 && break; sleep 1; done
fi
# The web view's browser tests drive Debian's chromium (never a browser download).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
        >/dev/null 2>&1 || echo "chromium could not be installed: the browser tests will be skipped"
fi
for _ in $(seq 1 30); do up 5432 || ! command -v pg_ctlcluster >/dev/null 2>&1 && break; sleep 1; done
exit 0
