#!/usr/bin/env bash
# A throwaway PostgreSQL server for the scripts and benchmarks that run smimegate on a PostgreSQL
# keystore (sourced by scripts/slurm-test.sh and bench/shards.sh; the Swift tests have their own,
# Tests/TestSupport/PostgresServer.swift). Debian's postgresql (scripts/setup.sh installs it when a
# caller puts it in extra_packages); the server programs from /usr/lib/postgresql/VERSION/bin, the
# newest VERSION.
#
#   postgres_start DIR [SERVER-OPTION...]   initdb in DIR/server/data and start the server (pg_ctl -w):
#                                           127.0.0.1 only, a free port, its socket in DIR/server,
#                                           password authentication (scram-sha-256, also on the socket)
#                                           for the user smimegate with a generated password, and a
#                                           0600 password file DIR/pgpass for clients (PGPASSFILE).
#                                           SERVER-OPTIONs go to postgres (-c fsync=off, ...).
#   postgres_createdb NAME                  a database
#   postgres_url NAME                       its keystore URL, postgresql://smimegate@127.0.0.1:PORT/NAME
#                                           ?sslmode=disable (no password: that is in DIR/pgpass)
#   postgres_psql NAME SQL                  SQL in NAME through psql, unaligned, tuples only
#   postgres_stop                           stop it (fast, else immediate); does nothing when not
#                                           started or already stopped: for an EXIT trap
#
# After postgres_start: postgres_port, postgres_user, postgres_passfile, postgres_log (the server's
# log) and postgres_bin (the programs' directory). As root, initdb and the server run as the
# `postgres` user (PostgreSQL refuses to run as root): DIR/server is handed to it; DIR must be
# searchable by it. Errors: a message and return 2.

postgres_bin=""
postgres_dir=""
postgres_port=""
postgres_user=smimegate
postgres_passfile=""
postgres_log=""
postgres_running=false

# The newest /usr/lib/postgresql/VERSION/bin that has initdb; empty when there is none.
postgres_find_bin() {
  local v best=""
  for v in /usr/lib/postgresql/*/bin/initdb; do
    [[ -x $v ]] || continue
    v=${v#/usr/lib/postgresql/}
    v=${v%%/*}
    [[ $v =~ ^[0-9]+$ ]] || continue
    if [[ -z $best ]] || ((v > best)); then best=$v; fi
  done
  [[ -z $best ]] || echo "/usr/lib/postgresql/$best/bin"
}

# PROGRAM ARG...: as the postgres user when root, from the server's directory (the caller's working
# directory may be closed to that user).
postgres_as_server() {
  if [[ $(id -u) -eq 0 ]]; then
    (cd "$postgres_dir/server" && runuser -u postgres -- "$@")
  else
    (cd "$postgres_dir/server" && "$@")
  fi
}

postgres_start() {
  local dir=$1 out python
  shift
  postgres_bin=$(postgres_find_bin)
  [[ -n $postgres_bin ]] || { echo "postgres.sh: no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)" >&2; return 2; }
  python=$(command -v /usr/bin/python3 || command -v python3 || true)
  [[ -n $python ]] || { echo "postgres.sh: python3 is not installed" >&2; return 2; }
  mkdir -p "$dir"
  postgres_dir=$(realpath "$dir")
  mkdir -m 0700 "$postgres_dir/server" || return 2
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- test -x "$postgres_dir" ||
      { echo "postgres.sh: the postgres user cannot reach $postgres_dir" >&2; return 2; }
    chown postgres: "$postgres_dir/server"
  fi
  local password
  password=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
  (umask 077 && printf '%s\n' "$password" >"$postgres_dir/server/pwfile")
  [[ $(id -u) -ne 0 ]] || chown postgres: "$postgres_dir/server/pwfile"
  if ! out=$(postgres_as_server "$postgres_bin/initdb" -D "$postgres_dir/server/data" -U "$postgres_user" \
    --pwfile="$postgres_dir/server/pwfile" --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 2>&1); then
    echo "$out" >&2
    echo "postgres.sh: initdb failed" >&2
    return 2
  fi
  rm -f "$postgres_dir/server/pwfile"
  postgres_log=$postgres_dir/server/server.log
  # A free port: bound to port 0, released; tried again with another when taken in between.
  for _ in 1 2 3; do
    postgres_port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if postgres_as_server "$postgres_bin/pg_ctl" -D "$postgres_dir/server/data" -l "$postgres_log" -w -t 60 start \
      -o "-p $postgres_port -c listen_addresses=127.0.0.1 -k $postgres_dir/server $*" >/dev/null 2>&1; then
      postgres_running=true
      break
    fi
    grep -q 'could not bind\|already in use' "$postgres_log" 2>/dev/null || break
  done
  if ! $postgres_running; then
    tail -n 20 "$postgres_log" >&2 2>/dev/null || true
    echo "postgres.sh: the server did not start (log: $postgres_log)" >&2
    return 2
  fi
  postgres_passfile=$postgres_dir/pgpass
  (umask 077 && printf '127.0.0.1:%s:*:%s:%s\n' "$postgres_port" "$postgres_user" "$password" >"$postgres_passfile")
}

postgres_psql() {
  env -u PGPASSWORD PGPASSFILE="$postgres_passfile" "$postgres_bin/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$postgres_port" -U "$postgres_user" -d "$1" -c "$2"
}

postgres_createdb() {
  [[ $1 =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "postgres.sh: not a plain database name: $1" >&2; return 2; }
  postgres_psql postgres "CREATE DATABASE $1"
}

postgres_url() {
  echo "postgresql://$postgres_user@127.0.0.1:$postgres_port/$1?sslmode=disable"
}

postgres_stop() {
  $postgres_running || return 0
  postgres_running=false
  postgres_as_server "$postgres_bin/pg_ctl" -D "$postgres_dir/server/data" -m fast -w -t 20 stop >/dev/null 2>&1 ||
    postgres_as_server "$postgres_bin/pg_ctl" -D "$postgres_dir/server/data" -m immediate -w -t 20 stop >/dev/null 2>&1 ||
    true
}
