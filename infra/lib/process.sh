# Shared by the infra scripts' env.sh files; sourced, not run.

# True when the process lives and is not a zombie: a server killed with SIGKILL whose parent has not
# reaped it yet still answers `kill -0`, and must not stop a restart.
process_alive() {
  local pid=$1 state
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/stat" ]; then
    state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)
  else
    state=$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1 || true)
  fi
  [ "$state" != "Z" ]
}
