#!/bin/sh
# Render icecast.xml from the environment and run Icecast in the foreground.
set -eu
: "${ICECAST_SOURCE_PASSWORD:?set ICECAST_SOURCE_PASSWORD (the radio pushes with it)}"
: "${ICECAST_ADMIN_PASSWORD:?set ICECAST_ADMIN_PASSWORD}"
export ICECAST_RELAY_PASSWORD="${ICECAST_RELAY_PASSWORD:-$ICECAST_ADMIN_PASSWORD}"
export ICECAST_HOSTNAME="${ICECAST_HOSTNAME:-localhost}"
export ICECAST_LOCATION="${ICECAST_LOCATION:-Earth}"
export ICECAST_ADMIN_EMAIL="${ICECAST_ADMIN_EMAIL:-icemaster@localhost}"
export ICECAST_MAX_CLIENTS="${ICECAST_MAX_CLIENTS:-1000}"
export ICECAST_MAX_SOURCES="${ICECAST_MAX_SOURCES:-16}"
export ICECAST_PORT="${ICECAST_PORT:-8000}"
export ICECAST_BIND_ADDRESS="${ICECAST_BIND_ADDRESS:-0.0.0.0}"
export ICECAST_LOG_DIR="${ICECAST_LOG_DIR:-/tmp}"
config="${ICECAST_CONFIG:-/tmp/icecast.xml}"
envsubst < "$(dirname "$0")/icecast.xml.template" > "$config"
exec icecast2 -c "$config"
