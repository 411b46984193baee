# Shared settings of the Temporal-on-PostgreSQL scripts; sourced, not run.
LMSI_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
# The server version the pinned CLI (infra/temporal/env.sh, v1.5.1) embeds: its module is then already
# in Go's module cache on a machine that built the CLI, and the dev server and this one speak alike.
TEMPORAL_SERVER_MODULE=go.temporal.io/server
TEMPORAL_SERVER_VERSION=v1.29.1
LMSI_TOOLS_DIR=${LMSI_TOOLS_DIR:-$LMSI_ROOT/.tools}
TEMPORAL_CLI_BIN=$LMSI_TOOLS_DIR/bin/temporal
TEMPORAL_SERVER_BIN=$LMSI_TOOLS_DIR/bin/temporal-server
TEMPORAL_SQL_TOOL_BIN=$LMSI_TOOLS_DIR/bin/temporal-sql-tool
TEMPORAL_SERVER_STAMP=$LMSI_TOOLS_DIR/bin/temporal-server.version
# The server's PostgreSQL schemas (versioned folders of SQL files), copied out of the module.
TEMPORAL_SCHEMA_DIR=$LMSI_TOOLS_DIR/share/temporal-server/schema/postgresql/v12
LMSI_STATE_DIR=${LMSI_STATE_DIR:-$LMSI_ROOT/.state}
# LMSI_CLUSTER_STATE_DIR lets a test run its own cluster beside the user's (own data and ports).
CLUSTER_STATE_DIR=${LMSI_CLUSTER_STATE_DIR:-$LMSI_STATE_DIR/temporal-cluster}
CLUSTER_IP=${LMSI_CLUSTER_TEMPORAL_IP:-127.0.0.1}
CLUSTER_PORT=${LMSI_CLUSTER_TEMPORAL_PORT:-7243}
CLUSTER_NAMESPACE=${LMSI_CLUSTER_NAMESPACE:-default}
CLUSTER_RETENTION=${LMSI_CLUSTER_RETENTION:-7d}
# Where clients on this machine reach the frontend (0.0.0.0 is where it listens, not an address).
if [ "$CLUSTER_IP" = 0.0.0.0 ]; then CLUSTER_ADDRESS=127.0.0.1:$CLUSTER_PORT; else CLUSTER_ADDRESS=$CLUSTER_IP:$CLUSTER_PORT; fi
PG_DATA=$CLUSTER_STATE_DIR/postgres
PG_LOG=$PG_DATA/postgresql.log
CLUSTER_PORTS=$CLUSTER_STATE_DIR/ports.env
CLUSTER_DB_PASSWORD=$CLUSTER_STATE_DIR/db.password
CLUSTER_CONFIG_DIR=$CLUSTER_STATE_DIR/config
CLUSTER_PID=$CLUSTER_STATE_DIR/server.pid
CLUSTER_LOG=$CLUSTER_STATE_DIR/server.log
CLUSTER_DB_USER=temporal

# PostgreSQL's programs: Debian keeps them out of PATH, under /usr/lib/postgresql/<major>/bin (the
# newest installed major wins); elsewhere pg_ctl on PATH. LMSI_CLUSTER_PG_BIN overrides both.
pg_bin_dir() {
  if [ -n "${LMSI_CLUSTER_PG_BIN:-}" ]; then
    echo "$LMSI_CLUSTER_PG_BIN"
    return
  fi
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$dir" ] && [ -x "$dir/pg_ctl" ]; then
    echo "$dir"
  elif command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"
  fi
}

# PostgreSQL refuses to run as root: as root, its programs run as the `postgres` OS user (made by
# Debian's package); as anyone else, as that user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

source "$LMSI_ROOT/infra/lib/process.sh"
