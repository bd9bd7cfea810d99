#!/usr/bin/env bash
# Checks a built Agora image without a container runtime: its configuration (numeric non-root
# user, entry, health check), that it holds no TypeScript source, and that the compiled CLI works
# inside it as that user — `agora migrate` against a throwaway database on this machine's
# PostgreSQL (chroot isolation, the host's network), which loads every service's code and reads
# every migration folder.
#
# usage: deploy/container/check-image.sh [IMAGE]     (default localhost/agora:<package.json version>)
#        POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres (the server to make the database on)
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSION="$(node -p 'require("./package.json").version')"
IMAGE="${1:-localhost/agora:${VERSION}}"
POSTGRES_URL="${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
EXPECTED_USER="10001:10001"
EXPECTED_ENTRYPOINT='[node apps/agora/dist/src/main.js]'
# Every service with storage keeps its tables in a schema of its own.
SCHEMAS="'identity','catalog','inventory','cart','payment','orders'"
SCHEMA_COUNT=6

fail() { echo "check-image: $*" >&2; exit 1; }

user="$(podman image inspect --format '{{.Config.User}}' "$IMAGE")"
[ "$user" = "$EXPECTED_USER" ] || fail "user is '$user', expected $EXPECTED_USER"
entrypoint="$(podman image inspect --format '{{.Config.Entrypoint}}' "$IMAGE")"
[ "$entrypoint" = "$EXPECTED_ENTRYPOINT" ] || fail "entrypoint is $entrypoint"
healthcheck="$(podman image inspect --format '{{.Config.Healthcheck}}' "$IMAGE")"
case "$healthcheck" in *healthcheck.mjs*) ;; *) fail "no HEALTHCHECK (built without --format docker?): $healthcheck" ;; esac

container="$(buildah from --pull-never "$IMAGE")"
database="agora_image_check_$$"
cleanup() {
  buildah umount "$container" >/dev/null 2>&1 || true
  buildah rm "$container" >/dev/null 2>&1 || true
  psql "$POSTGRES_URL" -qc "drop database if exists $database" >/dev/null 2>&1 || true
}
trap cleanup EXIT

root="$(buildah mount "$container")"
sources="$(find "$root/app" -name node_modules -prune -o -name '*.ts' ! -name '*.d.ts' -print | head -n 5)"
[ -z "$sources" ] || fail "TypeScript source in the image: $sources"

psql "$POSTGRES_URL" -qc "create database $database" >/dev/null
database_url="${POSTGRES_URL%/*}/$database"
secret="$(head -c 48 /dev/urandom | base64 | tr -d '\n')"
buildah run --isolation chroot --network host --user "$EXPECTED_USER" \
  --env "DATABASE_URL=$database_url" --env "AGORA_JWT_SECRET=$secret" --env AGORA_LOG_LEVEL=warn \
  "$container" -- node apps/agora/dist/src/main.js migrate
schemas="$(psql "$database_url" -Atc "select count(distinct table_schema) from information_schema.tables where table_schema in ($SCHEMAS)")"
[ "$schemas" = "$SCHEMA_COUNT" ] || fail "agora migrate in the image made tables in $schemas of the $SCHEMA_COUNT service schemas"
echo "check-image: ${IMAGE} ok (user ${user}, health check, no TypeScript source, agora migrate made every service's schema)"
