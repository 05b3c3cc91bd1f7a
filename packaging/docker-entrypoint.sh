#!/bin/sh
# The container's harmonie-backend: options from the environment (README, "Hosting the
# backend"); extra arguments given to `docker run` are passed on as they are.
set -eu
set -- --host "${HARMONIE_HOST:-0.0.0.0}" --port "${HARMONIE_PORT:-8000}" \
  --data-dir "${HARMONIE_DATA_DIR:-/var/lib/harmonie-backend}" "$@"
[ -z "${HARMONIE_DATABASE_URL:-}" ] || set -- --database-url "$HARMONIE_DATABASE_URL" "$@"
[ -z "${HARMONIE_REDIS_URL:-}" ] || set -- --redis-url "$HARMONIE_REDIS_URL" "$@"
for domain in ${HARMONIE_SIWE_DOMAINS:-}; do set -- --siwe-domain "$domain" "$@"; done
for proxy in ${HARMONIE_TRUSTED_PROXIES:-}; do set -- --trusted-proxy "$proxy" "$@"; done
exec harmonie-backend "$@"
