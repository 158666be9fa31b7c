# shellcheck shell=bash
# Helpers shared by scripts/test, scripts/run and CI. Source it; don't run it.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Every function is safe under `set -euo pipefail`, prints its progress to
# stderr, and bounds every wait.
#
# Postgres is reached as the superuser `postgres` over TCP on 127.0.0.1:5432
# with no password (trust auth for local TCP connections), which is what a
# fresh machine gets from ensure_postgres and what the default DATABASE_URLs
# assume.

BETLEDGER_PG_HOST=127.0.0.1
BETLEDGER_PG_PORT=5432
BETLEDGER_PG_WAIT_SECONDS=${BETLEDGER_PG_WAIT_SECONDS:-60}

log() {
    printf '[betledger] %s\n' "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

# Root runs commands as is; anyone else goes through sudo when there is one.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

pg_ready() {
    pg_isready -q -h "$BETLEDGER_PG_HOST" -p "$BETLEDGER_PG_PORT" -t 2 >/dev/null 2>&1
}

# psql as the superuser over TCP; never prompts for a password.
pg_admin_psql() {
    PGCONNECT_TIMEOUT=5 psql -X -w -q -v ON_ERROR_STOP=1 \
        -h "$BETLEDGER_PG_HOST" -p "$BETLEDGER_PG_PORT" -U postgres "$@"
}

# Polls pg_isready once a second, at most BETLEDGER_PG_WAIT_SECONDS times.
wait_for_postgres() {
    local i
    for ((i = 0; i < BETLEDGER_PG_WAIT_SECONDS; i++)); do
        if pg_ready; then
            log "postgres is ready on $BETLEDGER_PG_HOST:$BETLEDGER_PG_PORT"
            return 0
        fi
        sleep 1
    done
    log "postgres did not become ready on $BETLEDGER_PG_HOST:$BETLEDGER_PG_PORT within ${BETLEDGER_PG_WAIT_SECONDS}s"
    local logfile
    for logfile in /var/log/postgresql/postgresql-*-main.log; do
        [[ -r $logfile ]] || continue
        log "last lines of $logfile:"
        tail -n 20 "$logfile" >&2 || true
    done
    return 1
}

# Prints the version of the Debian cluster named `main` to use: the one set to
# port 5432 if any, else the newest. Prints nothing when there is none.
pg_main_cluster_version() {
    local dir ver port score best="" best_score=-1
    for dir in /etc/postgresql/*/main; do
        [[ -f $dir/postgresql.conf ]] || continue
        ver=${dir#/etc/postgresql/}
        ver=${ver%/main}
        [[ $ver =~ ^[0-9]+$ ]] || continue
        port=$(sed -nE 's/^[[:space:]]*port[[:space:]]*=[[:space:]]*([0-9]+).*/\1/p' "$dir/postgresql.conf" | tail -n 1)
        score=$ver
        if [[ ${port:-5432} == 5432 ]]; then
            score=$((ver + 100000))
        fi
        if ((score > best_score)); then
            best=$ver
            best_score=$score
        fi
    done
    printf '%s' "$best"
}

# Trust TCP connections from 127.0.0.1 and ::1, listen on 127.0.0.1 (and ::1)
# port 5432. Used only for a cluster that this file installed or created:
# an existing cluster's auth is left as its owner configured it.
pg_configure_local_trust() {
    local ver=$1
    local confdir=/etc/postgresql/$ver/main
    local hba=$confdir/pg_hba.conf
    local marker='# betledger: trust local TCP connections (scripts/lib.sh)'

    if ! as_root grep -qF "$marker" "$hba"; then
        log "pg_hba.conf: trusting TCP connections from 127.0.0.1 and ::1"
        # pg_hba.conf is read top-down and the first matching line wins, so
        # these go first, ahead of Debian's scram-sha-256 lines.
        local tmp
        tmp=$(mktemp)
        {
            printf '%s\n' "$marker"
            printf 'host    all             all             127.0.0.1/32            trust\n'
            printf 'host    all             all             ::1/128                 trust\n'
            printf '\n'
            as_root cat "$hba"
        } >"$tmp"
        as_root cp "$tmp" "$hba"
        rm -f "$tmp"
    fi
    as_root pg_conftool "$ver" main set listen_addresses '127.0.0.1,::1' >/dev/null
    as_root pg_conftool "$ver" main set port 5432 >/dev/null
}

# Install Debian's postgresql package (which creates and normally configures
# cluster <ver>/main) and make it reachable the way the project expects.
pg_install() {
    command -v apt-get >/dev/null 2>&1 ||
        die "postgres is not running on $BETLEDGER_PG_HOST:$BETLEDGER_PG_PORT and there is no apt-get to install it; start PostgreSQL 13 or later there with trust auth for 'postgres' over TCP"
    log "installing PostgreSQL from the distribution's packages"
    local apt_opts=(-o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update -q </dev/null >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -q postgresql </dev/null >&2
}

# Make sure a PostgreSQL server answers on 127.0.0.1:5432. Does nothing when
# one already does; starts an existing Debian cluster `main` when there is
# one; installs PostgreSQL otherwise.
ensure_postgres() {
    if pg_ready; then
        log "postgres is already running on $BETLEDGER_PG_HOST:$BETLEDGER_PG_PORT"
        return 0
    fi

    # `ours` is 1 when this function installed PostgreSQL or created the
    # cluster, so that it may set the cluster's auth and listen address.
    local ver ours=0
    ver=$(pg_main_cluster_version)
    if [[ -z $ver ]]; then
        ours=1
        if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
            pg_install
        fi
        ver=$(pg_main_cluster_version)
        if [[ -z $ver ]]; then
            # Server binaries without a cluster (createcluster.conf says
            # create_main_cluster = false, or the cluster was dropped).
            local bin
            bin=$(compgen -G '/usr/lib/postgresql/*/bin/postgres' | sort -V | tail -n 1 || true)
            [[ -n $bin ]] || die "PostgreSQL is installed, but there is no server binary under /usr/lib/postgresql"
            ver=${bin#/usr/lib/postgresql/}
            ver=${ver%%/*}
            log "creating cluster $ver/main"
            as_root pg_createcluster -p 5432 "$ver" main >&2
        fi
        pg_configure_local_trust "$ver"
    fi

    if pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main" && $4 ~ /^online/ { found = 1 } END { exit !found }'; then
        if [[ $ours -eq 1 ]]; then
            # The package's postinst may have started it before pg_hba.conf
            # and listen_addresses were changed; a restart applies them.
            log "restarting cluster $ver/main"
            as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main restart >&2
        else
            log "cluster $ver/main is running but not answering on $BETLEDGER_PG_HOST:$BETLEDGER_PG_PORT yet; waiting"
        fi
    else
        log "starting cluster $ver/main"
        as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2
    fi

    wait_for_postgres
}

# ensure_database NAME: create database NAME unless it exists.
ensure_database() {
    local name=${1:?usage: ensure_database NAME}
    [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "refusing odd database name: $name"

    local exists
    if ! exists=$(pg_admin_psql -d postgres -Atc "select 1 from pg_database where datname = '$name'"); then
        die "cannot connect to postgres at $BETLEDGER_PG_HOST:$BETLEDGER_PG_PORT as user postgres without a password (psql's error is above): is it running, and does pg_hba.conf trust local TCP connections ('host all all 127.0.0.1/32 trust')?"
    fi
    if [[ $exists == 1 ]]; then
        log "database $name exists"
        return 0
    fi
    log "creating database $name"
    if ! pg_admin_psql -d postgres -c "create database \"$name\"" >&2; then
        # Someone else may have created it at the same moment.
        exists=$(pg_admin_psql -d postgres -Atc "select 1 from pg_database where datname = '$name'")
        [[ $exists == 1 ]] || die "could not create database $name"
    fi
}

ensure_nextest() {
    if cargo nextest --version >/dev/null 2>&1; then
        return 0
    fi
    log "installing cargo-nextest"
    cargo install cargo-nextest --locked
}

# Succeeds when a postgres:// URL points at the server this file manages
# (127.0.0.1, localhost or [::1], port 5432 or none).
database_url_is_local() {
    local url=$1
    local re='^postgres(ql)?://([^@/]*@)?(\[[^]]*\]|[^:/?]*)(:([0-9]*))?(/|$)'
    [[ $url =~ $re ]] || return 1
    local host=${BASH_REMATCH[3]} port=${BASH_REMATCH[5]}
    case $host in
        127.0.0.1 | localhost | '[::1]') ;;
        *) return 1 ;;
    esac
    [[ -z $port || $port == 5432 ]]
}

# Prints the database name of a postgres:// URL.
database_url_dbname() {
    local url=${1%%\?*}
    local re='^postgres(ql)?://[^/]*/([^/]+)$'
    [[ $url =~ $re ]] || return 1
    printf '%s' "${BASH_REMATCH[2]}"
}

# Prepares the server and database that DATABASE_URL names, if it names the
# local server; a DATABASE_URL elsewhere is the caller's to provide.
ensure_local_database_for_url() {
    local url=$1 name
    if ! database_url_is_local "$url"; then
        log "DATABASE_URL does not point at 127.0.0.1:5432; using that server as is"
        return 0
    fi
    name=$(database_url_dbname "$url") || die "DATABASE_URL has no database name: $url"
    ensure_postgres
    ensure_database "$name"
}

# ClickHouse is reached over HTTP on 127.0.0.1:8123 as user `default` with no
# password, which is what Debian's clickhouse-server package serves.
BETLEDGER_CH_URL=http://127.0.0.1:8123
BETLEDGER_CH_WAIT_SECONDS=${BETLEDGER_CH_WAIT_SECONDS:-60}
BETLEDGER_CH_LOG=${BETLEDGER_CH_LOG:-/var/log/clickhouse-server/betledger-start.log}

clickhouse_ready() {
    [[ $(curl -fsS --max-time 2 "$BETLEDGER_CH_URL/?query=SELECT%201" 2>/dev/null) == 1 ]]
}

# Polls `SELECT 1` once a second, at most BETLEDGER_CH_WAIT_SECONDS times.
wait_for_clickhouse() {
    local i
    for ((i = 0; i < BETLEDGER_CH_WAIT_SECONDS; i++)); do
        if clickhouse_ready; then
            log "clickhouse is ready on $BETLEDGER_CH_URL"
            return 0
        fi
        sleep 1
    done
    log "clickhouse did not answer on $BETLEDGER_CH_URL within ${BETLEDGER_CH_WAIT_SECONDS}s"
    local logfile
    for logfile in "$BETLEDGER_CH_LOG" /var/log/clickhouse-server/clickhouse-server.err.log; do
        [[ -r $logfile ]] || continue
        log "last lines of $logfile:"
        tail -n 20 "$logfile" >&2 || true
    done
    return 1
}

# Make sure a ClickHouse server answers on 127.0.0.1:8123: installs Debian's
# clickhouse-server (and client) when missing, and starts it in the
# background as the `clickhouse` user when it does not answer. Debian's
# package does not start it (no init system in containers and CI).
ensure_clickhouse() {
    if clickhouse_ready; then
        log "clickhouse is already running on $BETLEDGER_CH_URL"
        return 0
    fi
    command -v curl >/dev/null 2>&1 || die "curl is needed to talk to clickhouse"
    if ! command -v clickhouse-server >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 ||
            die "clickhouse is not running on $BETLEDGER_CH_URL and there is no apt-get to install it; start ClickHouse 18.16 or later there"
        log "installing ClickHouse from the distribution's packages"
        local apt_opts=(-o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
        as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update -q </dev/null >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -q clickhouse-server clickhouse-client </dev/null >&2
    fi
    log "starting clickhouse-server as the clickhouse user (log: $BETLEDGER_CH_LOG)"
    as_root mkdir -p "$(dirname "$BETLEDGER_CH_LOG")"
    as_root chown clickhouse:clickhouse "$(dirname "$BETLEDGER_CH_LOG")" /var/lib/clickhouse 2>/dev/null || true
    # setsid: the server outlives this script and the terminal it ran from.
    as_root setsid setpriv --reuid=clickhouse --regid=clickhouse --init-groups \
        clickhouse-server --config-file=/etc/clickhouse-server/config.xml \
        </dev/null >>"$BETLEDGER_CH_LOG" 2>&1 &
    wait_for_clickhouse
}

# The ClickHouse SQL is also checked against current ClickHouse
# (scripts/clickhouse_current.py) in process, through chdb-core, the Python
# package that embeds ClickHouse: its major.minor is ClickHouse's (26.9.0
# embeds 26.9.2.1). Only chdb-core is installed, without the pandas and
# pyarrow it declares: its `chdb.session` does not use them, and they would
# double the install (900 MB instead of 560). The `chdb` package on top
# pins no engine version (chdb-core>=...), so it is not used.
BETLEDGER_CHDB_PIN=chdb-core==26.9.0
BETLEDGER_CHDB_DIR=${BETLEDGER_CHDB_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/chdb-venv}
BETLEDGER_PIP_SECONDS=${BETLEDGER_PIP_SECONDS:-600}

# chdb_pip_install PYTHON [PIP_OPTION...]: pip install the pin with every
# wait bounded: 60 s per connection, the whole install BETLEDGER_PIP_SECONDS.
chdb_pip_install() {
    local python=$1
    shift
    PIP_ROOT_USER_ACTION=ignore timeout "$BETLEDGER_PIP_SECONDS" "$python" -m pip install --quiet --disable-pip-version-check \
        --no-input --timeout 60 --retries 2 --no-deps "$@" "$BETLEDGER_CHDB_PIN" >&2
}

# Make BETLEDGER_CHDB_DIR/bin/python a Python that imports chdb, the pinned
# version (a stamp file says which; another pin reinstalls). A venv where
# python3 can make one (Debian needs python3-venv for that, installed here
# with apt-get when missing); else `pip install --target` with python3's
# own pip, run through a wrapper that sets PYTHONPATH.
ensure_chdb() {
    local dir=$BETLEDGER_CHDB_DIR stamp=$BETLEDGER_CHDB_DIR/betledger-pin
    if [[ -x $dir/bin/python && $(cat "$stamp" 2>/dev/null) == "$BETLEDGER_CHDB_PIN" ]]; then
        return 0
    fi
    rm -rf "$dir"
    if ! command -v python3 >/dev/null 2>&1 ||
        { ! python3 -c 'import ensurepip' 2>/dev/null && ! python3 -m pip --version >/dev/null 2>&1; }; then
        command -v apt-get >/dev/null 2>&1 ||
            die "need python3 (3.9 or later) with venv or pip to install $BETLEDGER_CHDB_PIN"
        log "installing python3 and python3-venv from the distribution's packages"
        local apt_opts=(-o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
        as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update -q </dev/null >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -q python3 python3-venv </dev/null >&2
    fi
    log "installing $BETLEDGER_CHDB_PIN (embedded ClickHouse) into $dir"
    if python3 -c 'import ensurepip' 2>/dev/null; then
        python3 -m venv "$dir" >&2 || die "python3 -m venv $dir failed"
        chdb_pip_install "$dir/bin/python" || die "pip could not install $BETLEDGER_CHDB_PIN into $dir"
    else
        chdb_pip_install python3 --target "$dir/site" ||
            die "pip could not install $BETLEDGER_CHDB_PIN into $dir/site"
        mkdir -p "$dir/bin"
        printf '#!/usr/bin/env bash\nPYTHONPATH=%q${PYTHONPATH:+:$PYTHONPATH} exec %q "$@"\n' \
            "$dir/site" "$(python3 -c 'import sys; print(sys.executable)')" >"$dir/bin/python"
        chmod +x "$dir/bin/python"
    fi
    printf '%s\n' "$BETLEDGER_CHDB_PIN" >"$stamp"
}
