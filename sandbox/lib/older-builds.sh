# shellcheck shell=bash
# A host behind a moving tag: it runs an older build of a third-party image on `latest` than the registry names now,
# as every host does once upstream publishes a new `latest` after its pod was deployed (docs/sandbox.md, "Moving tags").
# Sourced by sandbox/sandbox.sh, whose variables (registry, checkout, platform user) and functions it uses.

# run_older_build <name>: the pod that runs the third-party image <name>:latest (pgbouncer: database) runs an older
# build of it, and the platform's user holds that build under the real name, as after a pull last month. The older
# build is the image with one label more, published under a repository of the sandbox's own, per platform user: the
# deployments share the registry's storage, and the registry's own `latest` stays as it is for all of them. The pod is
# played on the older build's own name, so that `play kube` has nothing newer to pull; the next `reset` finds the pod
# not as its definition names it and deploys it again, on the registry's `latest`.
run_older_build() {
  local name="$1" spec path older pod pod_file context
  spec="$(printf '%s\n' "${THIRD_PARTY_IMAGES[@]}" | grep -m1 -F "$name:latest|")" \
    || die "no third-party image $name:latest in the sandbox (those on latest: $(printf '%s\n' "${THIRD_PARTY_IMAGES[@]}" | grep -F ':latest|' | cut -d: -f1 | tr '\n' ' '))"
  path="${spec##*|}"
  pod_file="$(grep -l -F "$REGISTRY_HOST/$path" "$DEPLOY_DIR"/podman/pods/*/pod-*.yaml | head -n 1)" \
    || die "no pod of $DEPLOY_DIR runs $path"
  pod="$(basename "$(dirname "$pod_file")")"
  older="$REGISTRY_HOST/sandbox-older/$name:$PLATFORM_USER"

  context="$(mktemp -d)"
  printf 'FROM %s\nLABEL io.aegis-sandbox.older-build="%s"\n' "$LOCAL_NS/$name:latest" "$PLATFORM_USER" > "$context/Containerfile"
  podman build --quiet -t "$LOCAL_NS/$name:older-$PLATFORM_USER" "$context" >/dev/null
  rm -rf "$context"
  push_image "$LOCAL_NS/$name:older-$PLATFORM_USER" "$older"
  platform_podman pull --quiet "$older" >/dev/null
  platform_podman tag "$older" "$REGISTRY_HOST/$path"

  say "pod aegis-$pod on an older build of $path"
  platform_podman pod stop --ignore -t 10 "aegis-$pod" >/dev/null 2>&1 9>&- || true
  (cd "$DEPLOY_DIR" && pod_yaml "$pod" | sed "s|$REGISTRY_HOST/$path|$older|" \
    | platform_podman play kube --quiet --network "$NETWORK" --replace - >/dev/null 9>&-) \
    || die "podman play kube failed for pod $pod on $older"
  [[ "$pod" != database ]] || wait_database
}
