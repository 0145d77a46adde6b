#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the test suite (Debian's postgresql package).
#
#   eval "$(bash scripts/postgres-test-server.sh start)"   # exports CLASSIFIER_TEST_POSTGRES_URL
#   bash scripts/postgres-test-server.sh stop
#
# `start` detaches the server (pg_ctl), which suits a developer's shell. CI keeps the server a child of
# its own process instead, so that whatever ends or restores the CI job's process tree takes the server
# with it rather than leaving the tests without one (a detached postmaster once vanished mid-CI):
#
#   bash scripts/postgres-test-server.sh init
#   bash scripts/postgres-test-server.sh run &                  # the postmaster, in the foreground
#   eval "$(bash scripts/postgres-test-server.sh configure)"   # waits for it, exports the URL
#
# The data folder lives under /tmp and is deleted on stop; `log` prints the end of the server's log.
# The test role may create databases: the review tests copy a filled template database for each test
# (CREATE DATABASE ... TEMPLATE).
set -euo pipefail
PORT=${CLASSIFIER_TEST_POSTGRES_PORT:-55432}
STATE=/tmp/classifier-test-postgres.$PORT
DATA=$STATE/data
SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)

pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
as_postgres() { (cd / && $SUDO su postgres -s /bin/sh -c "$1"); }  # from /: postgres cannot enter our folder
server_options() {
  echo "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories='$STATE' -c fsync=off"
}

install() {
  if [ -z "$(pgbin)" ]; then
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  fi
}

init() {
  install
  rm -rf "$STATE"
  mkdir -p "$DATA"
  chown -R postgres:postgres "$STATE"
  chmod 700 "$DATA"
  # UTF-8: case-insensitive search over Cyrillic text relies on lower() knowing Cyrillic
  as_postgres "$(pgbin)/initdb -D '$DATA' -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8" >"$STATE/initdb.log"
}

run() {
  # su waits for the postmaster, so both stay children of the caller
  as_postgres "exec $(pgbin)/postgres -D '$DATA' $(server_options)" >>"$STATE/server.log" 2>&1
}

configure() {
  local password
  for _ in $(seq 1 300); do
    as_postgres "$(pgbin)/pg_isready -q -h '$STATE' -p $PORT" && break
    sleep 0.1
  done
  if [ ! -f "$STATE/password" ]; then
    password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    as_postgres "psql -h '$STATE' -p $PORT -U postgres -v ON_ERROR_STOP=1 -q" <<SQL
CREATE USER classifier WITH PASSWORD '$password' CREATEDB;
CREATE DATABASE classifier_test OWNER classifier;
SQL
    echo "$password" >"$STATE/password"
  fi
  echo "export CLASSIFIER_TEST_POSTGRES_URL=postgresql+psycopg://classifier:$(cat "$STATE/password")@127.0.0.1:$PORT/classifier_test"
}

start() {
  if [ -f "$DATA/postmaster.pid" ]; then
    echo "PostgreSQL already running for $STATE" >&2
  else
    init
    as_postgres "$(pgbin)/pg_ctl -D '$DATA' -l '$STATE/server.log' -w -o \"$(server_options)\" start" >/dev/null
  fi
  configure
}

stop() {
  local bin
  bin=$(pgbin)
  if [ -n "$bin" ] && [ -f "$DATA/postmaster.pid" ]; then
    as_postgres "$bin/pg_ctl -D '$DATA' -m fast -w stop" >/dev/null || true
  fi
  rm -rf "$STATE"
}

log() { tail -n "${1:-40}" "$STATE/server.log" 2>/dev/null || echo "(no server log in $STATE)"; }

case "${1:-}" in
  start | stop | init | run | configure) "$1" ;;
  log) log "${2:-40}" ;;
  *) echo "usage: $0 start|stop|init|run|configure|log [lines]" >&2; exit 2 ;;
esac
