# shellcheck shell=bash
# Image building and publishing for the sandbox (sourced by sandbox.sh).
#
# Local build names live under localhost/aegis-sandbox/…; the registry names (what the pod YAML
# references) are given by `podman tag` (baseline and third-party images) or by `podman push`
# into the sandbox registry (every release). Nothing is pulled from the internet.

LOCAL_NS=localhost/aegis-sandbox
PG_BASE="$LOCAL_NS/pg-base:15"
PG16_BASE="$LOCAL_NS/pg-base:16"
PG155_BASE="$LOCAL_NS/pg-base:15.5"
MINI_BASE="$LOCAL_NS/mini-base:1"
RUNTIME_VERSIONS_FILE="$SANDBOX_SRC/images/runtime/versions.conf"

# shellcheck source=../../scripts/lib/pgserver.sh
. "$REPO_ROOT/scripts/lib/pgserver.sh"

# Third-party images: local build name -> path under the registry host.
THIRD_PARTY_IMAGES=(
  "postgres:15|library/postgres:15-alpine"
  "postgres:16|library/postgres:16-alpine"
  "postgres:15.5|library/postgres:15.5-alpine"
  "postgres:15|library/postgres:15.18-alpine"
  "temporal:1.23.0|temporalio/auto-setup:1.23.0"
  "temporal-ui:2.21.3|temporalio/ui:2.21.3"
  "prometheus:v2.51.0|prom/prometheus:v2.51.0"
  "pgbouncer:latest|edoburu/pgbouncer:latest"
  "postgres-exporter:v0.19.1|prometheuscommunity/postgres-exporter:v0.19.1"
  "openbao:latest|openbao/openbao:latest"
  "seaweedfs:latest|chrislusf/seaweedfs:latest"
  "caddy:latest|100monkeys-ai/caddy-cloudflare:latest"
  "jaeger:1.55|jaegertracing/all-in-one:1.55"
  "grafana:10.4.0|grafana/grafana:10.4.0"
  "loki:3.0.0|grafana/loki:3.0.0"
  "promtail:3.0.0|grafana/promtail:3.0.0"
  "otelcol:0.99.0|otel/opentelemetry-collector-contrib:0.99.0"
)
# Stand-ins of third-party images (components/entrypoint.sh): local build name -> the entrypoint's kind. Each
# answers the health endpoint of the component it stands in for; the real ones cannot be had here.
STAND_IN_IMAGES=(
  "temporal:1.23.0|temporal-server" "temporal-ui:2.21.3|temporal-ui" "prometheus:v2.51.0|prometheus"
  "postgres-exporter:v0.19.1|postgres-exporter" "openbao:latest|openbao" "caddy:latest|caddy" "jaeger:1.55|jaeger"
  "grafana:10.4.0|grafana" "loki:3.0.0|loki" "promtail:3.0.0|promtail" "otelcol:0.99.0|otelcol"
)
# PgBouncer is real: Debian's build (package pgbouncer, installed by scripts/bootstrap.sh).
PGBOUNCER_BIN=/usr/sbin/pgbouncer
# Versions for which aegis-temporal-worker and aegis-seal-gateway are released.
COMPONENT_VERSIONS=(1.2.0 1.3.0 1.3.1 1.3.2 1.3.3)

runtime_versions() { grep -v '^#' "$RUNTIME_VERSIONS_FILE" | grep -v '^[[:space:]]*$' | cut -d'|' -f1; }
runtime_field() { grep "^$1|" "$RUNTIME_VERSIONS_FILE" | cut -d'|' -f"$2"; }

# Hash of everything an image is made of: a change rebuilds and re-pushes all images.
images_hash() {
  {
    find "$SANDBOX_SRC/images" -type f -print0 | sort -z | xargs -0 sha256sum
    find "$SANDBOX_SRC/images" -type f -printf '%m %P\n' | sort
    sha256sum "$SANDBOX_SRC/lib/images.sh"
    busybox --help 2>&1 | head -1
    /usr/lib/postgresql/15/bin/postgres --version
    "$PGBOUNCER_BIN" --version 2>&1 || true
    echo "$PGSERVER_WHEEL_SHA256"
  } | sha256sum | cut -c1-16
}

build_tool() {
  local out="$BUILD_DIR/aegis-sandbox-tool"
  if [[ ! -x "$out" || "$SANDBOX_SRC/images/tool/aegis-sandbox-tool.c" -nt "$out" ]]; then
    say "compiling aegis-sandbox-tool (static HTTP/log helper)"
    gcc -O2 -static -o "$out.tmp" "$SANDBOX_SRC/images/tool/aegis-sandbox-tool.c"
    mv "$out.tmp" "$out"
  fi
}

# Common skeleton: busybox with its applets, the tool, users, name service, UTC zone.
rootfs_skeleton() {
  local r="$1" a
  rm -rf "$r"
  mkdir -p "$r"/{bin,etc,tmp,root,app,usr/bin,usr/local/bin,usr/share/zoneinfo/Etc,var/run,var/lib}
  chmod 1777 "$r/tmp"
  cp "$(command -v busybox)" "$r/bin/busybox"
  for a in $(busybox --list); do
    [[ "$a" == busybox || -e "$r/bin/$a" ]] || ln -s busybox "$r/bin/$a"
  done
  cp "$BUILD_DIR/aegis-sandbox-tool" "$r/usr/local/bin/aegis-sandbox-tool"
  printf 'root:x:0:0:root:/root:/bin/sh\npostgres:x:70:70:PostgreSQL:/var/lib/postgresql:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$r/etc/passwd"
  printf 'root:x:0:\npostgres:x:70:\nnogroup:x:65534:\n' > "$r/etc/group"
  printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' > "$r/etc/nsswitch.conf"
  cp /usr/share/zoneinfo/UTC "$r/usr/share/zoneinfo/UTC"
  cp /usr/share/zoneinfo/UTC "$r/usr/share/zoneinfo/Etc/UTC"
  ln -s /usr/share/zoneinfo/UTC "$r/etc/localtime"
}

import_rootfs() { # <rootfs dir> <image name> [--change ...]
  local r="$1" name="$2"
  shift 2
  tar --numeric-owner -C "$r" -cf "$r.tar" .
  podman import --quiet --change "LABEL $SANDBOX_LABEL" "$@" "$r.tar" "$name" >/dev/null
  rm -f "$r.tar"
}

# copy_linked_libraries <rootfs> <binary>...: the host's shared libraries the binaries link (as ldd resolves
# them, those inside the rootfs left out) and the dynamic loader, copied into the rootfs at the same paths.
copy_linked_libraries() {
  local r="$1" f lib
  shift
  for f in "$@"; do
    ldd "$f" 2>/dev/null | grep -o '/[^ ]*\.so[^ ]*' || true
  done | grep -v "^$r/" | sort -u | while read -r lib; do
    [[ -e "$lib" ]] || continue
    mkdir -p "$r$(dirname "$lib")"
    cp -L "$lib" "$r$lib"
  done
  [[ -e "$r/lib64/ld-linux-x86-64.so.2" ]] || cp -L /lib64/ld-linux-x86-64.so.2 "$r/lib64/"
}

build_pg_base() {
  local r="$BUILD_DIR/rootfs-pg"
  say "building PostgreSQL 15 base image from the host's binaries (busybox + postgres + client tools)"
  rootfs_skeleton "$r"
  mkdir -p "$r/usr/lib/postgresql" "$r/usr/share/postgresql" "$r/var/run/postgresql" "$r/var/lib/postgresql/data" "$r/lib64"
  cp -a /usr/lib/postgresql/15 "$r/usr/lib/postgresql/"
  rm -rf "$r/usr/lib/postgresql/15/lib/bitcode" "$r/usr/lib/postgresql/15/lib/llvmjit"* "$r/usr/lib/postgresql/15/lib/pgxs"
  cp -a /usr/share/postgresql/15 "$r/usr/share/postgresql/"
  rm -rf "$r/usr/share/postgresql/15/man"
  copy_linked_libraries "$r" "$r"/usr/lib/postgresql/15/bin/* "$r"/usr/lib/postgresql/15/lib/*.so
  chown -R 70:70 "$r/var/run/postgresql" "$r/var/lib/postgresql"
  import_rootfs "$r" "$PG_BASE" \
    --change 'ENV PATH=/usr/local/bin:/usr/lib/postgresql/15/bin:/usr/bin:/bin' \
    --change 'ENV TZ=UTC' --change 'CMD ["/bin/sh"]'
  rm -rf "$r"
}

# PostgreSQL from a pgserver wheel (scripts/lib/pgserver.sh), laid out like the 15 image:
# /usr/lib/postgresql/<major>/{bin,lib,share}. Its client tools find their libpq through the RPATH
# $ORIGIN/../../../pgserver.libs, hence /usr/lib/pgserver.libs.
build_pgserver_base() { # <pgserver version> <image name>
  local release="$1" image="$2" major r unpacked
  pgserver_release "$release" || die "no pgserver release $release"
  major="${PGSERVER_PG_VERSION%%.*}"
  r="$BUILD_DIR/rootfs-pgserver-$release" unpacked="$BUILD_DIR/pgserver-$release"
  pgserver_wheel_ok || {
    say "PostgreSQL $PGSERVER_PG_VERSION comes from PyPI's pgserver $PGSERVER_VERSION wheel, not cached at $PGSERVER_WHEEL_PATH (scripts/bootstrap.sh fetches it): fetching it now"
    pgserver_fetch || die "could not fetch the pgserver wheel (above); run scripts/bootstrap.sh"
  }
  say "building PostgreSQL $PGSERVER_PG_VERSION base image from the pgserver $PGSERVER_VERSION wheel"
  rm -rf "$unpacked"
  mkdir -p "$unpacked"
  busybox unzip -q "$PGSERVER_WHEEL_PATH" 'pgserver/pginstall/*' 'pgserver.libs/*' -d "$unpacked"
  rootfs_skeleton "$r"
  mkdir -p "$r/usr/lib/postgresql/$major" "$r/var/run/postgresql" "$r/var/lib/postgresql/data" "$r/lib64"
  cp -a "$unpacked/pgserver/pginstall/bin" "$unpacked/pgserver/pginstall/share" "$r/usr/lib/postgresql/$major/"
  mkdir -p "$r/usr/lib/postgresql/$major/lib"
  cp -a "$unpacked/pgserver/pginstall/lib/postgresql" "$r/usr/lib/postgresql/$major/lib/"
  rm -rf "$r/usr/lib/postgresql/$major/lib/postgresql/pgxs"
  cp -a "$unpacked/pgserver.libs" "$r/usr/lib/pgserver.libs"
  # A wheel keeps no file modes.
  chmod 0755 "$r/usr/lib/postgresql/$major"/bin/* "$r/usr/lib/postgresql/$major"/lib/postgresql/*.so "$r"/usr/lib/pgserver.libs/*
  copy_linked_libraries "$r" "$r/usr/lib/postgresql/$major"/bin/* "$r/usr/lib/postgresql/$major"/lib/postgresql/*.so
  chown -R 70:70 "$r/var/run/postgresql" "$r/var/lib/postgresql"
  import_rootfs "$r" "$image" \
    --change "ENV PATH=/usr/local/bin:/usr/lib/postgresql/$major/bin:/usr/bin:/bin" \
    --change 'ENV TZ=UTC' --change 'CMD ["/bin/sh"]'
  rm -rf "$r" "$unpacked"
  pgserver_release 0.1.4
}

# PgBouncer from the host's binary and the libraries it links, with an entrypoint that reads edoburu/pgbouncer's
# environment (images/pgbouncer/entrypoint.sh).
build_pgbouncer_image() {
  local r="$BUILD_DIR/rootfs-pgbouncer"
  [[ -x "$PGBOUNCER_BIN" ]] || die "no $PGBOUNCER_BIN: PgBouncer's image is made of the host's (apt-get install pgbouncer; scripts/bootstrap.sh installs it)"
  say "building image pgbouncer (real PgBouncer: $("$PGBOUNCER_BIN" --version 2>&1 | head -n 1))"
  rootfs_skeleton "$r"
  mkdir -p "$r/usr/sbin" "$r/etc/pgbouncer" "$r/lib64"
  cp "$PGBOUNCER_BIN" "$r/usr/sbin/pgbouncer"
  copy_linked_libraries "$r" "$r/usr/sbin/pgbouncer"
  install -m 0755 "$SANDBOX_SRC/images/pgbouncer/entrypoint.sh" "$r/usr/local/bin/entrypoint.sh"
  import_rootfs "$r" "$LOCAL_NS/pgbouncer:latest" \
    --change 'ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/bin' --change 'ENV TZ=UTC' --change 'EXPOSE 5432' \
    --change 'CMD ["/usr/local/bin/entrypoint.sh"]'
  rm -rf "$r"
}

build_mini_base() {
  local r="$BUILD_DIR/rootfs-mini"
  say "building busybox base image"
  rootfs_skeleton "$r"
  import_rootfs "$r" "$MINI_BASE" \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'ENV TZ=UTC' --change 'CMD ["/bin/sh"]'
  rm -rf "$r"
}

podman_build() { # <image name> <context dir>  (Containerfile inside the context)
  podman build --pull=never --quiet -t "$1" "$2" >/dev/null
}

# postgres:15 and postgres:16: the same entrypoint on each major's base image.
build_postgres_images() { # <context dir>
  local ctx="$1"
  mkdir -p "$ctx/postgres"
  # entrypoints must be executable whatever the checkout did with file modes
  install -m 0755 "$SANDBOX_SRC/images/postgres/entrypoint.sh" "$ctx/postgres/entrypoint.sh"
  cat > "$ctx/postgres/Containerfile" <<EOF
FROM $PG_BASE
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PGDATA=/var/lib/postgresql/data
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["/usr/local/bin/docker-entrypoint.sh"]
EOF
  say "building image postgres:15 (sandbox)"
  podman_build "$LOCAL_NS/postgres:15" "$ctx/postgres"
  sed -i "1s|.*|FROM $PG16_BASE|" "$ctx/postgres/Containerfile"
  say "building image postgres:16 (sandbox, PostgreSQL $PGSERVER_PG_VERSION)"
  podman_build "$LOCAL_NS/postgres:16" "$ctx/postgres"
  sed -i "1s|.*|FROM $PG155_BASE|" "$ctx/postgres/Containerfile"
  say "building image postgres:15.5 (sandbox, a second 15.x for minor upgrades)"
  podman_build "$LOCAL_NS/postgres:15.5" "$ctx/postgres"
}

build_derived_images() {
  local ctx="$BUILD_DIR/ctx" v readiness m
  rm -rf "$ctx"
  mkdir -p "$ctx/components"
  build_postgres_images "$ctx"

  install -m 0755 "$SANDBOX_SRC/images/components/entrypoint.sh" "$ctx/components/entrypoint.sh"
  printf 'FROM %s\nCOPY entrypoint.sh /app/entrypoint.sh\n' "$MINI_BASE" > "$ctx/components/Containerfile"
  podman_build "$LOCAL_NS/components:base" "$ctx/components"
  local spec name kind
  for spec in "${STAND_IN_IMAGES[@]}"; do
    name="${spec%%|*}" kind="${spec##*|}"
    mkdir -p "$ctx/$name"
    printf 'FROM %s\nCMD ["/app/entrypoint.sh", "%s"]\n' "$LOCAL_NS/components:base" "$kind" > "$ctx/$name/Containerfile"
    if [[ "$kind" == openbao ]]; then # its CLI, as the real image has it on PATH
      install -m 0755 "$SANDBOX_SRC/images/components/bao" "$ctx/$name/bao"
      echo 'COPY bao /usr/local/bin/bao' >> "$ctx/$name/Containerfile"
    fi
    say "building image $name (stand-in)"
    podman_build "$LOCAL_NS/$name" "$ctx/$name"
  done
  # SeaweedFS: one image, the role (master, volume, filer, webdav) its argument, as the pod's `args` give it.
  mkdir -p "$ctx/seaweedfs"
  printf 'FROM %s\nENTRYPOINT ["/app/entrypoint.sh", "seaweedfs"]\nCMD ["master"]\n' "$LOCAL_NS/components:base" > "$ctx/seaweedfs/Containerfile"
  say "building image seaweedfs:latest (stand-in)"
  podman_build "$LOCAL_NS/seaweedfs:latest" "$ctx/seaweedfs"
  for v in "${COMPONENT_VERSIONS[@]}"; do
    for kind in temporal-worker seal-gateway; do
      mkdir -p "$ctx/$kind-$v"
      printf 'FROM %s\nENV AEGIS_VERSION=%s\nLABEL org.opencontainers.image.version=%s\nCMD ["/app/entrypoint.sh", "%s"]\n' \
        "$LOCAL_NS/components:base" "$v" "$v" "$kind" > "$ctx/$kind-$v/Containerfile"
      say "building image aegis-$kind:$v (stand-in)"
      podman_build "$LOCAL_NS/aegis-$kind:$v" "$ctx/$kind-$v"
    done
  done

  for v in $(runtime_versions); do
    readiness="$(runtime_field "$v" 2)"
    mkdir -p "$ctx/runtime-$v/migrations"
    install -m 0755 "$SANDBOX_SRC/images/runtime/entrypoint.sh" "$ctx/runtime-$v/entrypoint.sh"
    sed "s/@VERSION@/$v/g" "$SANDBOX_SRC/images/runtime/aegis-runtime" > "$ctx/runtime-$v/aegis-runtime"
    chmod 0755 "$ctx/runtime-$v/aegis-runtime"
    for m in $(runtime_field "$v" 3); do
      cp "$SANDBOX_SRC"/images/runtime/migrations/"${m}"_*.sql "$ctx/runtime-$v/migrations/"
    done
    cat > "$ctx/runtime-$v/Containerfile" <<EOF
FROM $PG_BASE
COPY entrypoint.sh /app/entrypoint.sh
COPY aegis-runtime /usr/local/bin/aegis-runtime
COPY migrations/ /app/migrations/
ENV AEGIS_VERSION=$v AEGIS_READINESS=$readiness
LABEL org.opencontainers.image.version=$v
EXPOSE 8088
CMD ["/app/entrypoint.sh"]
EOF
    say "building image aegis-runtime:$v (stand-in, $(runtime_field "$v" 3 | wc -w) migrations, $readiness)"
    podman_build "$LOCAL_NS/aegis-runtime:$v" "$ctx/runtime-$v"
  done
  rm -rf "$ctx"
}

# --- Real Temporal servers (opt-in) --------------------------------------------------------------
# temporalio/auto-setup:<version> images made of a real server release (scripts/temporal-server.sh
# builds it, minutes the first time) that set up their schema on PostgreSQL like auto-setup
# (images/temporal/entrypoint.sh). Only the component-upgrade tests need them, not the default
# platform (whose temporal pod runs the 1.23.0 stand-in): built when asked for, by
# `sandbox.sh images temporal <version>...` or AEGIS_SANDBOX_TEMPORAL_SERVERS="<version> ...".
TEMPORAL_IMAGE_LABEL=io.aegis-upgrade.temporal-image

temporal_server_image() { echo "$LOCAL_NS/temporal-server:$1"; }

# What a version's image is made of: its release's files and this image's sources.
temporal_image_hash() { # <release dir>
  {
    sha256sum "$1/temporal-server" "$1/temporal-sql-tool" "$SANDBOX_SRC"/images/temporal/* | cut -d' ' -f1
    find "$1/schema" -type f -print0 | sort -z | xargs -0 sha256sum | cut -d' ' -f1
    declare -f build_temporal_server_image
    busybox --help 2>&1 | sed -n 1p # sed reads it all: head would end busybox by SIGPIPE, now and then
  } | sha256sum | cut -c1-16
}

build_temporal_server_image() { # <version> <release dir> <hash>
  local v="$1" dir="$2" hash="$3" r="$BUILD_DIR/rootfs-temporal-$1" f lib kind
  say "building image temporalio/auto-setup:$v (real Temporal server $v on PostgreSQL)"
  rootfs_skeleton "$r"
  mkdir -p "$r/etc/temporal/config/dynamicconfig" "$r/etc/temporal/schema" "$r/lib64"
  for f in temporal-server temporal-sql-tool; do
    # Without debug symbols the image is a third smaller (~105 MB instead of ~145 MB).
    if command -v strip >/dev/null; then strip -o "$r/usr/local/bin/$f" "$dir/$f"; else cp "$dir/$f" "$r/usr/local/bin/$f"; fi
  done
  cp -r "$dir/schema/postgresql" "$r/etc/temporal/schema/postgresql"
  for kind in temporal visibility; do # the version update-schema brings each database to
    find "$r/etc/temporal/schema/postgresql/v12/$kind/versioned" -mindepth 1 -maxdepth 1 -type d -name 'v*' \
      | sed 's|.*/v||' | sort -V | tail -n 1 >"$r/etc/temporal/schema/postgresql/v12/$kind/VERSION"
  done
  install -m 0755 "$SANDBOX_SRC/images/temporal/entrypoint.sh" "$r/etc/temporal/entrypoint.sh"
  install -m 0644 "$SANDBOX_SRC/images/temporal/config.yaml" "$r/etc/temporal/config-template.yaml"
  for f in "$r"/usr/local/bin/temporal-*; do
    ldd "$f" 2>/dev/null | grep -o '/[^ ]*\.so[^ ]*' || true
  done | sort -u | while read -r lib; do
    [[ -e "$lib" ]] || continue
    mkdir -p "$r$(dirname "$lib")"
    cp -L "$lib" "$r$lib"
  done
  [[ -e "$r/lib64/ld-linux-x86-64.so.2" ]] || cp -L /lib64/ld-linux-x86-64.so.2 "$r/lib64/"
  import_rootfs "$r" "$(temporal_server_image "$v")" \
    --change "LABEL $TEMPORAL_IMAGE_LABEL=$hash" --change "LABEL org.opencontainers.image.version=$v" \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'ENV TZ=UTC' --change "ENV TEMPORAL_VERSION=$v" \
    --change 'WORKDIR /etc/temporal' --change 'EXPOSE 7233' --change 'STOPSIGNAL SIGTERM' \
    --change 'CMD ["/etc/temporal/entrypoint.sh"]'
  rm -rf "$r"
}

# Builds the images of the given releases that are missing or stale (building the releases first).
ensure_temporal_server_images() { # <version>...
  local v dir hash have
  [[ $# -gt 0 ]] || return 0
  mkdir -p "$BUILD_DIR"
  build_tool
  for v in "$@"; do
    dir="$("$REPO_ROOT/scripts/temporal-server.sh" "$v" | tail -n 1)" || die "could not build Temporal server $v (above)"
    hash="$(temporal_image_hash "$dir")" || die "could not hash the files of Temporal server $v in $dir"
    have="$(podman image inspect --format "{{index .Labels \"$TEMPORAL_IMAGE_LABEL\"}}" "$(temporal_server_image "$v")" 2>/dev/null || true)"
    [[ "$have" == "$hash" ]] || build_temporal_server_image "$v" "$dir" "$hash"
  done
}

# Puts them into the sandbox registry as temporalio/auto-setup:<version> (once per build).
publish_temporal_server_images() { # <version>...
  local v hash
  for v in "$@"; do
    hash="$(podman image inspect --format "{{index .Labels \"$TEMPORAL_IMAGE_LABEL\"}}" "$(temporal_server_image "$v")")" ||
      die "no image $(temporal_server_image "$v") to publish: build it first (ensure_temporal_server_images)"
    if [[ "$(cat "$REGISTRY_DIR/temporal-$v.pushed" 2>/dev/null)" != "$hash:$REGISTRY_HOST" ]] \
       || ! manifest_exists temporalio/auto-setup "$v"; then
      push_image "$(temporal_server_image "$v")" "$REGISTRY_HOST/temporalio/auto-setup:$v"
      echo "$hash:$REGISTRY_HOST" >"$REGISTRY_DIR/temporal-$v.pushed"
    fi
  done
}

# image_names <array> <podman command>: fills the associative array <array> with the names (<repository>:<tag>) of
# every image that podman holds. One listing instead of an `image exists` per image: each podman command costs tens
# of milliseconds of CPU, and a reset asks about some fifty images.
image_names() {
  local -n names_held="$1"
  local name
  while IFS= read -r name; do
    [[ "$name" == *'<none>'* ]] || names_held[$name]=1
  done < <("$2" images --format '{{.Repository}}:{{.Tag}}')
}

# Builds whatever is missing or stale. Cheap when everything is current.
ensure_images() {
  mkdir -p "$BUILD_DIR"
  local want have="" img missing=0
  local -A held
  want="$(images_hash)"
  [[ -f "$BUILD_DIR/images.stamp" ]] && have="$(cat "$BUILD_DIR/images.stamp")"
  image_names held podman
  for img in "$PG_BASE" "$PG16_BASE" "$MINI_BASE" "$LOCAL_NS/pgbouncer:latest" "$LOCAL_NS/postgres:15" "$LOCAL_NS/postgres:16" "$LOCAL_NS/postgres:15.5" "$LOCAL_NS/aegis-runtime:1.2.0"; do
    [[ -n "${held[$img]:-}" ]] || missing=1
  done
  if [[ "$want" == "$have" && $missing == 0 ]]; then
    return 0
  fi
  say "building sandbox images (first time or sources changed; well under a minute)"
  build_tool
  if [[ "$want" != "$have" ]] || ! podman image exists "$PG_BASE"; then build_pg_base; fi
  if [[ "$want" != "$have" ]] || ! podman image exists "$PG16_BASE"; then build_pgserver_base 0.1.4 "$PG16_BASE"; fi
  if [[ "$want" != "$have" ]] || ! podman image exists "$PG155_BASE"; then build_pgserver_base 0.0.9 "$PG155_BASE"; fi
  if [[ "$want" != "$have" ]] || ! podman image exists "$MINI_BASE"; then build_mini_base; fi
  if [[ "$want" != "$have" ]] || ! podman image exists "$LOCAL_NS/pgbouncer:latest"; then build_pgbouncer_image; fi
  build_derived_images
  echo "$want" > "$BUILD_DIR/images.stamp"
  prune_old_builds
  rm -f "$REGISTRY_DIR/pushed.stamp"
}

# Every sandbox image carries this label (set at import, inherited by the builds).
SANDBOX_LABEL=io.aegis-upgrade.sandbox=1

# Drops earlier sandbox builds that lost their names; images a container still uses stay.
prune_old_builds() {
  podman image prune -f --filter "label=$SANDBOX_LABEL" >/dev/null 2>&1 || true
}

manifest_exists() { # <repository path> <tag>
  curl -sf -o /dev/null -I --max-time 5 \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY_HOST/v2/$1/manifests/$2"
}

push_image() { # <local name> <registry reference>
  say "pushing $2"
  podman push --quiet "$1" "$2" >/dev/null
}

# Publishes every release into the sandbox registry (1.4.0: aegis-runtime only) and tags the
# baseline and third-party images locally under their registry names.
ensure_registry_content() {
  local stamp want v spec
  want="$(cat "$BUILD_DIR/images.stamp"):$REGISTRY_HOST"
  stamp="$REGISTRY_DIR/pushed.stamp"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]] \
     || ! manifest_exists 100monkeys-ai/aegis-runtime 1.4.0 \
     || ! manifest_exists library/postgres 15-alpine \
     || ! manifest_exists library/postgres 16-alpine \
     || ! manifest_exists edoburu/pgbouncer latest; then
    say "publishing images to the sandbox registry $REGISTRY_HOST"
    for spec in "${THIRD_PARTY_IMAGES[@]}"; do
      push_image "$LOCAL_NS/${spec%%|*}" "$REGISTRY_HOST/${spec##*|}"
    done
    for v in "${COMPONENT_VERSIONS[@]}"; do
      push_image "$LOCAL_NS/aegis-temporal-worker:$v" "$REGISTRY/aegis-temporal-worker:$v"
      push_image "$LOCAL_NS/aegis-seal-gateway:$v" "$REGISTRY/aegis-seal-gateway:$v"
    done
    for v in $(runtime_versions); do
      push_image "$LOCAL_NS/aegis-runtime:$v" "$REGISTRY/aegis-runtime:$v"
    done
    echo "$want" > "$stamp"
  fi
  tag_local_baseline
}

# move_latest <version>: the registry's `latest` of each AEGIS image names <version>'s images, as a release that
# publishes `latest` does (the real checkout's .env.example deploys `latest`). A deployment on `latest` pulls them at
# its next redeploy; those running keep what `latest` named before.
move_latest() {
  local version="$1" image
  for image in aegis-runtime aegis-temporal-worker aegis-seal-gateway; do
    podman image exists "$LOCAL_NS/$image:$version" || die "no $image:$version was built for the sandbox"
  done
  for image in aegis-runtime aegis-temporal-worker aegis-seal-gateway; do
    push_image "$LOCAL_NS/$image:$version" "$REGISTRY/$image:latest"
  done
}

# What a host that has run the baseline holds locally: third-party images and the 1.2.0 images.
# (A name already present, e.g. from an earlier pull, is left as it is.)
baseline_images() { # "<local build name>|<path under the registry host>" per image
  printf '%s\n' "${THIRD_PARTY_IMAGES[@]}" \
    "aegis-runtime:$BASELINE|100monkeys-ai/aegis-runtime:$BASELINE" \
    "aegis-temporal-worker:$BASELINE|100monkeys-ai/aegis-temporal-worker:$BASELINE" \
    "aegis-seal-gateway:$BASELINE|100monkeys-ai/aegis-seal-gateway:$BASELINE"
}
tag_local_baseline() {
  local spec pair
  local -A held
  image_names held podman
  while IFS= read -r spec; do
    pair="$REGISTRY_HOST/${spec##*|}"
    [[ -n "${held[$pair]:-}" ]] || podman tag "$LOCAL_NS/${spec%%|*}" "$pair"
  done < <(baseline_images)
}
# What the platform's user holds (its podman storage is its own, rootless: no local builds there): pulled from the
# registry, as a real host has them.
pull_baseline() {
  local spec ref
  local -A held
  image_names held platform_podman
  while IFS= read -r spec; do
    ref="$REGISTRY_HOST/${spec##*|}"
    [[ -n "${held[$ref]:-}" ]] || { say "pulling $ref as $PLATFORM_USER"; platform_podman pull --quiet "$ref" >/dev/null; }
  done < <(baseline_images)
}

# Forgets locally pulled releases other than the baseline, so the next scenario really pulls.
untag_pulled_releases() {
  local ref
  platform_podman images --format '{{.Repository}}:{{.Tag}}' \
    | { grep -E "^${REGISTRY//./\\.}/aegis-[a-z-]+:" || true; } | { grep -v ":$BASELINE\$" || true; } \
    | while read -r ref; do platform_podman untag "$ref" "$ref" >/dev/null 2>&1 || true; done
}
