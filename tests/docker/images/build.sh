#!/usr/bin/env bash
# Build local stand-in images for the official images that cannot be pulled here
# (no container registry is reachable; only Debian's apt archive is):
#
#   devstack-test/postgres:15      Debian postgresql-15 + official-style entrypoint
#   devstack-test/redis:7          Debian redis-server/redis-tools + official-style entrypoint
#   devstack-test/mailpit:latest   python3 standard-library stand-in (mailpit/standin.py)
#   devstack-test/mariadb:11.4     Debian mariadb-server + official-style entrypoint/healthcheck.sh
#   devstack-test/rabbitmq:4.1-management  Debian rabbitmq-server, management plugin on
#   devstack-test/memcached:1.6    Debian memcached
#   devstack-test/nats:2.10        Debian nats-server + wget
#
# The last four add their package in their own Dockerfile (apt inside the build), so the
# shared rootfs recipe (and its cache) stays the same.
#
# One debootstrap rootfs (minbase + every package the three images need) is cached
# OUTSIDE the clone as ${DEVSTACK_CACHE:-/var/cache/devstack-ci}/rootfs-<sha256>.tar,
# imported once as devstack-test/base:<hash12>, and each image is a thin Dockerfile
# FROM it (legacy builder, DOCKER_BUILDKIT=0). An image whose tag exists with a matching
# devstack.recipe label is not rebuilt, so a second run takes seconds.
#
# Needs root (debootstrap) and a running docker engine (.ci/install-docker.sh).
# Prints only progress, and only to stderr.
#   DEVSTACK_CACHE            cache dir (default /var/cache/devstack-ci)
#   DEVSTACK_DEBIAN_MIRROR    Debian mirror (default: the one apt uses here)
#   DEVSTACK_IMAGES_REBUILD=1 rebuild the images even if their labels match
set -euo pipefail
exec 1>&2

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf '[images] %s\n' "$*"; }

CACHE=${DEVSTACK_CACHE:-/var/cache/devstack-ci}
SUITE=bookworm
VARIANT=minbase
# Bump ROOTFS_REV when the post-debootstrap clean-up below changes.
ROOTFS_REV=2
PACKAGES=(
    ca-certificates
    postgresql-15
    python3
    python3-aiosmtpd
    redis-server
    redis-tools
)
# Sorted, comma-joined package list.
pkgs=$(printf '%s\n' "${PACKAGES[@]}" | LC_ALL=C sort -u | paste -sd, -)

if [ -n "${DEVSTACK_DEBIAN_MIRROR:-}" ]; then
    mirror=$DEVSTACK_DEBIAN_MIRROR
else
    mirror=$(bash "$(dirname "${BASH_SOURCE[0]}")/../../../.ci/debian-mirror.sh")
fi

recipe="suite=$SUITE variant=$VARIANT packages=$pkgs rev=$ROOTFS_REV"
rootfs_hash=$(printf '%s' "$recipe" | sha256sum | cut -d' ' -f1)
tarball="$CACHE/rootfs-$rootfs_hash.tar"
base_tag="devstack-test/base:${rootfs_hash:0:12}"

docker info >/dev/null 2>&1 || { log "docker engine not answering (run .ci/install-docker.sh)"; exit 1; }

# --- 1. rootfs tarball (cached outside the clone) ------------------------------
build_dir=
cleanup() {
    if [ -n "$build_dir" ] && [ -d "$build_dir" ]; then
        # debootstrap mounts proc/sys inside the target; never rm -rf through a mount.
        awk -v p="$build_dir/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r \
            | while read -r m; do umount -l "$m" 2>/dev/null || true; done
        rm -rf --one-file-system "$build_dir"
    fi
}
trap cleanup EXIT

if [ -s "$tarball" ]; then
    log "rootfs cached: $tarball"
elif docker image inspect "$base_tag" >/dev/null 2>&1; then
    log "rootfs tarball missing but $base_tag already imported; not rebuilding the rootfs"
else
    [ "$(id -u)" -eq 0 ] || { log "debootstrap needs root"; exit 1; }
    if ! command -v debootstrap >/dev/null; then
        log "installing debootstrap"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y --no-install-recommends debootstrap \
            || { apt-get update && apt-get install -y --no-install-recommends debootstrap; }
    fi
    mkdir -p "$CACHE"
    build_dir=$(mktemp -d "$CACHE/build.XXXXXX")
    root="$build_dir/root"
    log "debootstrap $SUITE ($VARIANT) from $mirror with: $pkgs"
    start=$SECONDS
    debootstrap --variant="$VARIANT" --include="$pkgs" "$SUITE" "$root" "$mirror"
    log "debootstrap done in $((SECONDS - start))s"

    # Nothing the package scripts may have started may keep running inside the target.
    for p in /proc/[0-9]*; do
        if [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ]; then
            log "killing leftover process ${p#/proc/} ($(tr '\0' ' ' < "$p/cmdline" 2>/dev/null))"
            kill "${p#/proc/}" 2>/dev/null || true
        fi
    done

    # Clean-up: the images create their own data dirs, so drop the packaged cluster.
    rm -rf "$root/var/lib/postgresql/15/main" "$root/etc/postgresql/15/main"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
           "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/*
    # Docs, man pages and translations: ~80 MB nobody reads in a test container.
    rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
           "$root"/usr/share/locale/*
    printf 'deb %s %s main\n' "$mirror" "$SUITE" > "$root/etc/apt/sources.list"

    log "packing $tarball"
    tar --numeric-owner --xattrs -C "$root" -cf "$build_dir/rootfs.tar" .
    mv "$build_dir/rootfs.tar" "$tarball"
    log "rootfs tarball: $(du -h "$tarball" | cut -f1)"
    # Older recipes' tarballs are dead weight.
    find "$CACHE" -maxdepth 1 -name 'rootfs-*.tar' ! -name "rootfs-$rootfs_hash.tar" -print -delete
fi

# --- 2. base image -----------------------------------------------------------------
if docker image inspect "$base_tag" >/dev/null 2>&1; then
    log "base image present: $base_tag"
else
    log "docker import -> $base_tag"
    docker import \
        -c "LABEL devstack.rootfs=$rootfs_hash" \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'CMD ["/bin/bash"]' \
        "$tarball" "$base_tag" >/dev/null
fi

# --- 3. thin images ----------------------------------------------------------------
image_hash() {  # rootfs hash + every file of the build context
    local ctx=$1
    {
        printf 'rootfs=%s\n' "$rootfs_hash"
        (cd "$ctx" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -d' ' -f1
}

build_image() {
    local tag=$1 ctx=$here/$2 want have
    want=$(image_hash "$ctx")
    have=$(docker image inspect -f '{{ index .Config.Labels "devstack.recipe" }}' "$tag" 2>/dev/null || true)
    if [ "$have" = "$want" ] && [ "${DEVSTACK_IMAGES_REBUILD:-0}" != 1 ]; then
        log "$tag up to date (${want:0:12})"
        return 0
    fi
    log "building $tag (${want:0:12})"
    DOCKER_BUILDKIT=0 docker build --build-arg "BASE=$base_tag" \
        --label "devstack.recipe=$want" -t "$tag" "$ctx"
}

build_image devstack-test/postgres:15 postgres
build_image devstack-test/redis:7 redis
build_image devstack-test/mailpit:latest mailpit
build_image devstack-test/mariadb:11.4 mariadb
build_image devstack-test/rabbitmq:4.1-management rabbitmq
build_image devstack-test/memcached:1.6 memcached
build_image devstack-test/nats:2.10 nats

# Base images of older recipes, and dangling layers of replaced builds (best effort).
docker image ls --format '{{.Repository}}:{{.Tag}}' devstack-test/base | grep -vxF "$base_tag" \
    | while read -r old; do docker rmi "$old" >/dev/null 2>&1 && log "removed old $old" || true; done || true
docker image prune -f --filter "label=devstack.recipe" >/dev/null 2>&1 || true
log "images ready: devstack-test/postgres:15 devstack-test/redis:7 devstack-test/mailpit:latest" \
    "devstack-test/mariadb:11.4 devstack-test/rabbitmq:4.1-management devstack-test/memcached:1.6 devstack-test/nats:2.10"
