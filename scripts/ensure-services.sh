#!/usr/bin/env bash
# Make sure the Redis, PostgreSQL and RabbitMQ server binaries the test run starts, and the
# Chromium and chromedriver the browser tests drive, are installed. Installs the Debian
# packages when missing; never starts any service (the test run starts its own servers on
# free loopback ports) and never downloads a browser or driver from anywhere else.
set -euo pipefail

PACKAGES=(redis-server postgresql rabbitmq-server chromium chromium-driver)

have_redis() {
    command -v redis-server >/dev/null 2>&1
}

have_postgres() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        if [[ -x "$dir/initdb" && -x "$dir/postgres" ]]; then
            return 0
        fi
    done
    return 1
}

have_rabbitmq() {
    # The test run starts the server script itself (not /usr/sbin's wrapper) and its own epmd.
    [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] && command -v epmd >/dev/null 2>&1
}

have_chromium() {
    # The browser tests use these two paths, never a browser found elsewhere.
    [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]
}

have_all() {
    have_redis && have_postgres && have_rabbitmq && have_chromium
}

describe() {
    local redis pg rabbit
    redis="$(command -v redis-server)"
    pg="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    rabbit="$(ls -d /usr/lib/rabbitmq/bin)"
    echo "$1: redis-server at $redis, postgres in $pg, rabbitmq in $rabbit," \
        "chromium and chromedriver in /usr/bin"
}

if have_all; then
    describe "services ok"
    exit 0
fi

missing=()
have_redis || missing+=("redis-server")
have_postgres || missing+=("postgresql")
have_rabbitmq || missing+=("rabbitmq-server")
have_chromium || missing+=("chromium" "chromium-driver")

if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
    SUDO=(sudo -n)
else
    echo "ensure-services: missing ${missing[*]}; install as root: apt-get install -y ${PACKAGES[*]}" >&2
    exit 1
fi

echo "ensure-services: installing ${missing[*]} (apt-get install ${PACKAGES[*]})"
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null

if ! have_all; then
    echo "ensure-services: install finished but server or browser binaries are still missing" >&2
    exit 1
fi
describe "services installed"
