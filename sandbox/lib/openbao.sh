# shellcheck shell=bash
# OpenBao (pod secrets), as the sandbox keeps it between scenarios: the stand-in comes back sealed from every restart
# (sandbox/images/components/bao), and the checkout's `make bootstrap-secrets` unseals it and, when the AppRole
# credentials it keeps stopped working, makes new ones and writes them into .env. Sourced by sandbox/sandbox.sh, whose
# variables (checkout, state directory, platform user) it uses.

# What the checkout's bootstrap keeps in generated/ (the unseal key, the AppRole credentials): carried across the
# checkout's regeneration, as the files of a real host's checkout stay.
OPENBAO_KEPT_DIR="$STATE_DIR/openbao-generated"

# Before the checkout is written again: its generated/ files, kept.
keep_openbao_files() {
  [[ -d "$DEPLOY_DIR/generated" ]] || return 0
  rm -rf "$OPENBAO_KEPT_DIR"
  cp -a "$DEPLOY_DIR/generated" "$OPENBAO_KEPT_DIR"
}

# After it is written: those files back, and .env's AppRole lines as the bootstrap left them.
restore_openbao_files() {
  [[ -d "$OPENBAO_KEPT_DIR" ]] || return 0
  cp -a "$OPENBAO_KEPT_DIR" "$DEPLOY_DIR/generated"
  [[ -f "$DEPLOY_DIR/generated/openbao-approle.env" ]] || return 0
  local line
  while IFS= read -r line; do
    [[ "$line" == OPENBAO_*=* ]] || continue
    sed -i "s|^${line%%=*}=.*|$line|" "$DEPLOY_DIR/.env"
  done < "$DEPLOY_DIR/generated/openbao-approle.env"
}

# OpenBao initialised, unsealed, and .env's AppRole credentials valid: the checkout's own bootstrap, run as the
# platform's user (a real operator runs `make bootstrap-secrets` after `make deploy`).
bootstrap_secrets() {
  local output
  output="$(as_platform_user env PATH=/usr/local/bin:/usr/bin:/bin bash "$DEPLOY_DIR/scripts/bootstrap-openbao.sh" 2>&1)" ||
    die "make bootstrap-secrets failed as $PLATFORM_USER: $output"
  grep -q 'Unsealing\|Initializing\|generated' <<<"$output" && say "OpenBao: $(grep -E 'initialized\.|unsealed|generated' <<<"$output" | tr '\n' ' ')"
  keep_openbao_files
}
