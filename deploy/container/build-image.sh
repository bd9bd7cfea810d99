#!/usr/bin/env bash
# Builds the Agora image (localhost/agora:<version of package.json>) with podman from this checkout.
# Base: BASE_IMAGE when set; else the local base of base-image.sh when it exists; else the
# official node image when a registry answers; else base-image.sh makes the local base first.
# RUN steps use chroot isolation by default (BUILDAH_ISOLATION overrides): it needs no OCI
# runtime, so the image builds on machines where containers cannot run.
#
# usage: deploy/container/build-image.sh [extra podman build arguments]
set -euo pipefail
cd "$(dirname "$0")/../.."

NODE_VERSION="${NODE_VERSION:-20.20.2}"
OFFICIAL_BASE="docker.io/library/node:${NODE_VERSION}-bookworm-slim"
LOCAL_BASE="localhost/agora-node:${NODE_VERSION}"
PULL_TIMEOUT_S=60
VERSION="$(node -p 'require("./package.json").version')"
IMAGE="${IMAGE:-localhost/agora:${VERSION}}"

base="${BASE_IMAGE:-}"
if [ -z "$base" ]; then
  if podman image exists "$LOCAL_BASE"; then
    base="$LOCAL_BASE"
  elif timeout "$PULL_TIMEOUT_S" podman pull -q "$OFFICIAL_BASE" >/dev/null 2>&1; then
    base="$OFFICIAL_BASE"
  else
    echo "build-image: ${OFFICIAL_BASE} cannot be pulled; making ${LOCAL_BASE} from Debian's mirror and the npm registry"
    NODE_VERSION="$NODE_VERSION" deploy/container/base-image.sh
    base="$LOCAL_BASE"
  fi
fi

# npm in the build trusts what this machine trusts (a TLS-inspecting proxy's CA included): the
# bundle goes in as a build secret, mounted for the install step only, in no layer.
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
secret=()
if [ -s "$CA_BUNDLE" ]; then secret=(--secret "id=cacert,src=${CA_BUNDLE}"); fi

echo "build-image: ${IMAGE} on ${base}"
podman build \
  "${secret[@]}" \
  --isolation "${BUILDAH_ISOLATION:-chroot}" \
  --format docker \
  --build-arg "BASE_IMAGE=${base}" \
  --file deploy/container/Containerfile \
  --tag "$IMAGE" \
  "$@" .
