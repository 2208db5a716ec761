# shellcheck shell=bash
# The host's side of the platform: bin/aegis, taken out of the runtime image by `make install-cli`, and the FUSE
# daemon, the aegis-fuse-daemon user unit that runs it (`systemctl --user`: the stand-in in sandbox/host/bin). Sourced
# by sandbox/sandbox.sh, whose variables (checkout, platform user) it uses.

# What the platform's user runs for its host side: the stand-ins first, nothing of the fault shim (the sandbox's own
# set-up is no command of a worker's).
host_cli_as_platform_user() {
  as_platform_user env PATH="$HOST_BIN_DIR:/usr/local/bin:/usr/bin:/bin" "$@"
}

# As the real setup installs the unit and `make deploy` runs install-cli: the unit installed and enabled, bin/aegis
# of the checkout's tag, and the daemon (re)started on it.
ensure_fuse_daemon() {
  host_cli_as_platform_user bash -c '
    set -e
    mkdir -p ~/.config/systemd/user "$XDG_RUNTIME_DIR/aegis-fuse-mounts"
    cp "$1/systemd/aegis-fuse-daemon.service" ~/.config/systemd/user/
    systemctl --user daemon-reload
    systemctl --user enable aegis-fuse-daemon
    make -s -C "$1" install-cli >/dev/null
  ' _ "$DEPLOY_DIR" || die "make install-cli failed as $PLATFORM_USER (the aegis binary and the FUSE daemon)"
}

stop_fuse_daemon() {
  id "$PLATFORM_USER" >/dev/null 2>&1 || return 0
  host_cli_as_platform_user systemctl --user stop aegis-fuse-daemon 2>/dev/null || true
}
