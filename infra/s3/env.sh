# Shared settings of the S3 server scripts; sourced, not run.
LMSI_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# SeaweedFS tags its releases without the "v" that Go's semantic versions need ("3.97"), so the module
# proxy serves it only under pseudo-versions: this one is the commit of 2026-11-09.
SEAWEEDFS_MODULE=github.com/seaweedfs/seaweedfs
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6
LMSI_TOOLS_DIR=${LMSI_TOOLS_DIR:-$LMSI_ROOT/.tools}
WEED_BIN=$LMSI_TOOLS_DIR/bin/weed
WEED_STAMP=$LMSI_TOOLS_DIR/bin/weed.version
LMSI_STATE_DIR=${LMSI_STATE_DIR:-$LMSI_ROOT/.state}
# LMSI_S3_STATE_DIR lets a test run its own server beside the user's (its own data, ports and keys).
S3_STATE_DIR=${LMSI_S3_STATE_DIR:-$LMSI_STATE_DIR/s3}
S3_IP=${LMSI_S3_IP:-127.0.0.1}
S3_PID=$S3_STATE_DIR/server.pid
S3_LOG=$S3_STATE_DIR/server.log
# What ./start writes for clients: the endpoint and the test identity's keys, as shell assignments.
S3_ENV_FILE=$S3_STATE_DIR/s3.env
S3_CONFIG=$S3_STATE_DIR/s3-identities.json

source "$LMSI_ROOT/infra/lib/process.sh"
