#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and trials of the catalog on PostgreSQL.
#
#   scripts/postgres.sh install      install Debian's server if it is missing (needs root)
#   scripts/postgres.sh start        install if needed, start a cluster in a new temporary
#                                    directory and print FACESIFT_PG_DIR=... and
#                                    FACESIFT_CATALOG_URL=... (eval-able)
#   scripts/postgres.sh start --pgvector
#                                    the same with the PostgreSQL 16 and pgvector extension that
#                                    the PyPI package pgserver bundles (extra `pgvector`; Debian
#                                    bookworm packages no pgvector), for the pgvector index's tests
#   scripts/postgres.sh stop DIR     stop the cluster started in DIR and delete DIR
#
# --pgvector finds pgserver with $FACESIFT_PG_PYTHON, else the repository's .venv/bin/python,
# else python3. The catalog's tests keep Debian's server (the default).
#
# The cluster listens only on a unix socket inside its directory (no TCP port to collide with
# other servers), trusts local connections, and runs with fsync off: fast, and never for data
# anyone wants to keep. FACESIFT_PG_DURABLE=1 keeps PostgreSQL's durable defaults (benchmarks).
# FACESIFT_PG_LISTEN=ADDRESS also listens on TCP at ADDRESS:5432 and trusts the hosts of its
# subnet (the multi-host tests run the server on a host of its own, a network namespace).
set -euo pipefail

die() {
  echo "postgres.sh: $*" >&2
  exit 1
}

server_bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres ]] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null && command -v pg_ctl >/dev/null && command -v postgres >/dev/null \
    && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

install_server() {
  server_bindir >/dev/null && return 0
  if [[ $(id -u) -ne 0 ]]; then
    die "the PostgreSQL server is not installed and installing it needs root" \
      "(Debian/Ubuntu: sudo apt-get install postgresql)"
  fi
  command -v apt-get >/dev/null || die "the PostgreSQL server is not installed and there is no apt-get"
  echo "postgres.sh: installing the PostgreSQL server (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  # No default cluster: tests start their own, so Debian's "main" cluster would only cost time.
  apt-get install -y -qq --no-install-recommends postgresql-common >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends postgresql-common >/dev/null \
      || die "apt-get install postgresql-common failed"
  }
  pg_conftool /etc/postgresql-common/createcluster.conf set create_main_cluster off
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
    || die "apt-get install postgresql failed"
  server_bindir >/dev/null || die "postgresql was installed but initdb/pg_ctl were not found"
}

pgserver_bindir() {
  local python=${FACESIFT_PG_PYTHON:-}
  if [[ -z $python ]]; then
    python=$(dirname "$0")/../.venv/bin/python
    [[ -x $python ]] || python=python3
  fi
  local dir
  dir=$("$python" -c 'import pathlib, pgserver; print(pathlib.Path(pgserver.__file__).parent / "pginstall" / "bin")' 2>/dev/null) \
    || die "pgserver is not installed for $python: pip install -e '.[pgvector]' (make test does)"
  [[ -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres ]] || die "pgserver at $dir has no initdb/pg_ctl/postgres"
  echo "$dir"
}

start_cluster() {
  local bindir dir as_owner=()
  if [[ ${1:-} == --pgvector ]]; then
    bindir=$(pgserver_bindir)
  elif [[ -n ${1:-} ]]; then
    die "unknown option to start: $1 (only --pgvector)"
  else
    install_server
    bindir=$(server_bindir)
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/facesift-pg.XXXXXX")
  if [[ $(id -u) -eq 0 ]]; then
    # initdb refuses to run as root: the cluster belongs to the postgres system user.
    id postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' user to own the cluster"
    chown postgres "$dir"
    as_owner=(runuser -u postgres --)
  fi
  echo "$bindir" >"$dir/bindir"  # stop uses the same server's pg_ctl
  "${as_owner[@]}" "$bindir/initdb" --pgdata="$dir/data" --username=facesift --auth=trust \
    --encoding=UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; rm -rf "$dir"; die "initdb failed"; }
  local speed="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [[ ${FACESIFT_PG_DURABLE:-} == 1 ]] && speed=""
  local listen=${FACESIFT_PG_LISTEN:-}
  [[ -n $listen ]] && echo "host all facesift samenet trust" >>"$dir/data/pg_hba.conf"
  "${as_owner[@]}" "$bindir/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait \
    --timeout=60 --options="-c listen_addresses='$listen' -k $dir $speed -c max_connections=100" \
    start >/dev/null \
    || { cat "$dir/server.log" >&2; rm -rf "$dir"; die "the server did not start"; }
  "$bindir/createdb" --host="$dir" --username=facesift facesift \
    || die "createdb failed (server log: $dir/server.log)"
  echo "FACESIFT_PG_DIR=$dir"
  if [[ -n $listen ]]; then
    echo "FACESIFT_CATALOG_URL=postgresql+psycopg://facesift@$listen:5432/facesift"
  else
    echo "FACESIFT_CATALOG_URL=postgresql+psycopg://facesift@/facesift?host=$dir"
  fi
}

stop_cluster() {
  local dir=${1:?usage: postgres.sh stop DIR}
  [[ -d $dir/data ]] || die "$dir holds no cluster started by this script"
  local bindir as_owner=()
  if [[ -f $dir/bindir ]]; then
    bindir=$(<"$dir/bindir")
  else
    bindir=$(server_bindir) || die "no PostgreSQL server installed"
  fi
  [[ $(id -u) -eq 0 ]] && as_owner=(runuser -u postgres --)
  "${as_owner[@]}" "$bindir/pg_ctl" --pgdata="$dir/data" --mode=immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  install) install_server ;;
  start) start_cluster "${2:-}" ;;
  stop) stop_cluster "${2:-}" ;;
  *) die "usage: $0 install | start [--pgvector] | stop DIR" ;;
esac
