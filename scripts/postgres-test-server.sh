#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the test suite (Debian's postgresql package).
#
#   eval "$(bash scripts/postgres-test-server.sh start)"   # exports CLASSIFIER_TEST_POSTGRES_URL
#   bash scripts/postgres-test-server.sh stop
#
# The data folder lives under /tmp and is deleted on stop. The test role may create databases: the
# review tests copy a filled template database for each test (CREATE DATABASE ... TEMPLATE).
set -euo pipefail
PORT=${CLASSIFIER_TEST_POSTGRES_PORT:-55432}
STATE=/tmp/classifier-test-postgres.$PORT
SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)

pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
as_postgres() { $SUDO su postgres -s /bin/sh -c "$1"; }

start() {
  if [ -z "$(pgbin)" ]; then
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  fi
  local bin data password
  bin=$(pgbin)
  if [ -f "$STATE/data/postmaster.pid" ]; then
    echo "PostgreSQL already running for $STATE" >&2
  else
    rm -rf "$STATE"
    mkdir -p "$STATE/data"
    chown -R postgres:postgres "$STATE"
    chmod 700 "$STATE/data"
    data="$STATE/data"
    # UTF-8: case-insensitive search over Cyrillic text relies on lower() knowing Cyrillic
    as_postgres "$bin/initdb -D '$data' -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8" >"$STATE/initdb.log"
    as_postgres "$bin/pg_ctl -D '$data' -l '$STATE/server.log' -w \
      -o \"-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories='$STATE' -c fsync=off\" \
      start" >/dev/null
    password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    as_postgres "psql -h '$STATE' -p $PORT -U postgres -v ON_ERROR_STOP=1 -q" <<SQL
CREATE USER classifier WITH PASSWORD '$password' CREATEDB;
CREATE DATABASE classifier_test OWNER classifier;
SQL
    echo "$password" >"$STATE/password"
  fi
  echo "export CLASSIFIER_TEST_POSTGRES_URL=postgresql+psycopg://classifier:$(cat "$STATE/password")@127.0.0.1:$PORT/classifier_test"
}

stop() {
  local bin
  bin=$(pgbin)
  if [ -n "$bin" ] && [ -f "$STATE/data/postmaster.pid" ]; then
    as_postgres "$bin/pg_ctl -D '$STATE/data' -m fast -w stop" >/dev/null || true
  fi
  rm -rf "$STATE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
