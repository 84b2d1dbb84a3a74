#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, sourced by scripts/test.sh:
#   start_postgres   initdb in a temporary folder, a free port on 127.0.0.1, a socket in
#                    that folder, trust authentication (but for the role gs_password,
#                    which needs its password); exports GRIDSWEEP_TEST_POSTGRES
#                    (an admin URL; each test creates its own database there)
#   stop_postgres    stops it and removes the folder
# PostgreSQL refuses to run as root: as root the server runs as `nobody`. Where no server
# binaries can be had, GRIDSWEEP_TEST_POSTGRES stays unset and the PostgreSQL tests skip,
# saying so.

PG_TMP=""
PG_BIN=""

find_postgres() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && PG_BIN="$d"
  done
  if [ -z "$PG_BIN" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "note: installing Debian's postgresql package for the PostgreSQL tests" >&2
    (apt-get install -y -qq postgresql >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq postgresql >/dev/null 2>&1; }) || true
    for d in /usr/lib/postgresql/*/bin; do
      [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && PG_BIN="$d"
    done
  fi
  [ -n "$PG_BIN" ]
}

start_postgres() {
  if ! find_postgres; then
    echo "note: no PostgreSQL server binaries (/usr/lib/postgresql/*/bin): the PostgreSQL tests skip" >&2
    return 0
  fi
  PG_TMP=$(mktemp -d /tmp/gridsweep-pg.XXXXXX)
  local as=()
  if [ "$(id -u)" = 0 ]; then
    as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    chown nobody:nogroup "$PG_TMP"
  fi
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if ! "${as[@]}" "$PG_BIN/initdb" -D "$PG_TMP/data" -A trust -U gridsweep >"$PG_TMP/initdb.log" 2>&1; then
    echo "note: initdb failed (see below): the PostgreSQL tests skip" >&2
    tail -5 "$PG_TMP/initdb.log" >&2
    return 0
  fi
  # One role authenticates with a password (the others are trusted): the test that
  # checks PGPASSWORD and ~/.pgpass logs in as it.
  "${as[@]}" sh -c "cd '$PG_TMP/data' && { printf 'host all gs_password 127.0.0.1/32 scram-sha-256\n'; cat pg_hba.conf; } > pg_hba.new && mv pg_hba.new pg_hba.conf"
  local opts="-p $port -k $PG_TMP -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off"
  if ! "${as[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 -o "$opts" start >/dev/null; then
    echo "note: PostgreSQL did not start (see below): the PostgreSQL tests skip" >&2
    tail -5 "$PG_TMP/server.log" >&2
    return 0
  fi
  export GRIDSWEEP_TEST_POSTGRES="postgres://gridsweep@127.0.0.1:$port/postgres"
  export GRIDSWEEP_TEST_POSTGRES_DATA="$PG_TMP/data"
  # For the tests that stop and start the server mid-sweep.
  export GRIDSWEEP_TEST_PG_CTL="$PG_BIN/pg_ctl"
  export GRIDSWEEP_TEST_PG_OPTS="$opts"
  export GRIDSWEEP_TEST_PG_LOG="$PG_TMP/server.log"
  echo "PostgreSQL $("$PG_BIN/pg_ctl" --version | awk '{print $3}') for the tests on 127.0.0.1:$port" >&2
}

stop_postgres() {
  [ -n "$PG_TMP" ] || return 0
  local as=()
  [ "$(id -u)" = 0 ] && as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_TMP"
  PG_TMP=""
}
