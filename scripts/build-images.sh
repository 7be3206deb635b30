#!/usr/bin/env bash
# Builds Shoal's container images into the podman image store that the podman executor uses:
#
#   localhost/shoal/debian-minbase:bookworm   Debian bookworm, debootstrap --variant=minbase
#   localhost/shoal/step:<digest>, :latest    the default step image (images/step)
#   localhost/shoal/shoal:<digest>, :latest   api, worker and runner (images/shoal)
#
# No registry is used: the base comes from Debian's packages through debootstrap (its root
# filesystem is kept under .cache/images, so it is made once per machine), and Shoal's
# Python dependencies are the wheels uv.lock pins, checked against its hashes. <digest> is
# the first 16 hex digits of the SHA-256 of everything an image is built from (the build
# file, the base image's id and, for Shoal, the wheels); an image whose tag exists already is
# not built again, so running this twice costs a few seconds.
#
# Usage: bash scripts/build-images.sh [--storage-dir DIR] [step|shoal ...]
#   DIR: the image store (SHOAL_PODMAN_STORAGE_DIR; default <data_dir>/podman, as the worker).
# Prints one `name=reference` line per image built or found.
set -euo pipefail
cd "$(dirname "$0")/.."

storage_dir="${SHOAL_PODMAN_STORAGE_DIR:-}"
images=()
while [ $# -gt 0 ]; do
    case "$1" in
        --storage-dir) storage_dir="$2"; shift 2 ;;
        step|shoal) images+=("$1"); shift ;;
        *) echo "build-images: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ "${#images[@]}" -gt 0 ] || images=(step shoal)
if [ -z "$storage_dir" ]; then
    storage_dir="$(uv run --locked python -c 'from shoal.config import Settings; print(Settings().podman_store)')"
fi

podman() { uv run --locked python -m shoal.executors.podman --storage-dir "$storage_dir" -- "$@"; }
digest() { sha256sum | cut -c1-16; }
have() { podman image exists "$1"; }

cache=.cache/images
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9  # one build at a time per machine (tests may build from several processes)

# --- the base: Debian bookworm minbase, from debootstrap ---------------------------------
base=localhost/shoal/debian-minbase:bookworm
rootfs_tar="$cache/debian-bookworm-minbase.tar"
if [ ! -s "$rootfs_tar" ]; then
    echo "build-images: debootstrap --variant=minbase bookworm (once per machine)" >&2
    tmp="$(mktemp -d "$cache/rootfs.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    debootstrap --variant=minbase bookworm "$tmp/root" http://deb.debian.org/debian >"$tmp/log" 2>&1 \
        || { tail -20 "$tmp/log" >&2; exit 1; }
    rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"* \
        "$tmp/root/var/log/"* "$tmp/root/debootstrap"
    tar -C "$tmp/root" --numeric-owner --sort=name --xattrs -cf "$tmp/rootfs.tar" .
    mv "$tmp/rootfs.tar" "$rootfs_tar"
    rm -rf "$tmp"
    trap - EXIT
fi
base_digest="$(digest <"$rootfs_tar")"
if ! have "$base-$base_digest"; then
    echo "build-images: importing the base image" >&2
    podman import --quiet --change 'CMD ["/bin/sh"]' "$rootfs_tar" "$base-$base_digest" >/dev/null
fi
podman tag "$base-$base_digest" "$base"
base_id="$(podman image inspect --format '{{.Id}}' "$base")"

build() {  # name, context dir, digest
    local name="$1" context="$2" sum="$3" ref="localhost/shoal/$1:$3"
    if ! have "$ref"; then
        echo "build-images: building $ref" >&2
        # The host's network, for apt inside the build (the steps themselves get none).
        podman build --quiet --network host --pull=never --build-arg "BASE=$base" \
            --file "images/$name/Containerfile" --tag "$ref" "$context" >/dev/null
    fi
    podman tag "$ref" "localhost/shoal/$name:latest"
    podman image prune --force >/dev/null  # the builder stage's leftovers
    echo "$name=$ref"
}

for image in "${images[@]}"; do
    case "$image" in
        step)
            sum="$( (echo "$base_id"; cat images/step/Containerfile) | digest)"
            build step images/step "$sum"
            ;;
        shoal)
            context="$cache/shoal-context"
            rm -rf "$context" && mkdir -p "$context/wheels"
            uv export --locked --quiet --no-dev --no-emit-project --no-emit-workspace \
                -o "$context/exported.txt" >/dev/null
            uv run --locked python scripts/image-requirements.py "$context/exported.txt" \
                "$context/requirements.txt"
            rm "$context/exported.txt"
            uv tool run --quiet --from pip pip download --quiet --disable-pip-version-check --no-deps \
                --only-binary=:all: --require-hashes -r "$context/requirements.txt" \
                -d "$cache/wheels" 2>&1 | { grep -v "is ignored" || true; } >&2
            # Only the locked wheels go into the build (the cache may hold older ones too).
            python3 - "$context/requirements.txt" "$cache/wheels" "$context/wheels" <<'PY'
import hashlib, pathlib, re, shutil, sys
wanted = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", pathlib.Path(sys.argv[1]).read_text()))
for wheel in pathlib.Path(sys.argv[2]).glob("*.whl"):
    if hashlib.sha256(wheel.read_bytes()).hexdigest() in wanted:
        shutil.copy2(wheel, pathlib.Path(sys.argv[3]) / wheel.name)
PY
            uv build --wheel --quiet --out-dir "$context/wheels" >/dev/null 2>&1
            cp images/shoal/Containerfile "$context/Containerfile"
            sum="$( (echo "$base_id"; cd "$context" && find . -type f -print0 | sort -z \
                | xargs -0 sha256sum) | digest)"
            build shoal "$context" "$sum"
            ;;
    esac
done
