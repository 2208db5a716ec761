#!/usr/bin/env bash
# Fault injection for the sandbox: installed by `sandbox.sh up` as <state>/bin/podman and <state>/bin/make.
# A worker started with <state>/bin first on its PATH runs every podman and make command through this
# script, which matches the command against the rules in $AEGIS_SANDBOX_FAULTS (one per line) and then
# runs the real program. With no rule file, or no matching rule, it only runs the real program.
#
# The command is matched, as a shell glob, in the form the sandbox's command log uses:
#   "<program> <arguments…> AEGIS_IMAGE_TAG=<tag in the deploy checkout's .env>"
# e.g. "make -C /…/deploy redeploy POD=core AEGIS_IMAGE_TAG=1.3.0". Rules (first match wins):
#   fail <glob>             exit 1 with "sandbox fault: …" on stderr, running nothing
#   hang <glob>             never return (until killed), running nothing
#   pause <glob>            append the command to $AEGIS_SANDBOX_FAULTS.paused, wait while this very rule
#                           is in the file, then run the real program (a test kills the worker meanwhile)
#   stop-after:<pod> <glob> run the real program, then stop pod aegis-<pod>'s containers
#                           (the command succeeded, the pod is not ready)
#   once:<action> <glob>    <action> on the first matching command only: the rule leaves the file first (a
#                           forward step fails, the rollback's same command then runs for real)
set -uo pipefail

program="$(basename "$0")"
self_dir="$(cd "$(dirname "$0")" && pwd)"

real=""
IFS=: read -ra path_entries <<< "${PATH:-}"
for entry in "${path_entries[@]}"; do
  [[ -n "$entry" && "$(cd "$entry" 2>/dev/null && pwd)" != "$self_dir" && -x "$entry/$program" ]] || continue
  real="$entry/$program"
  break
done
[[ -n "$real" ]] || { echo "sandbox fault shim: no real $program on PATH" >&2; exit 127; }

rules="${AEGIS_SANDBOX_FAULTS:-}"
[[ -n "$rules" && -s "$rules" ]] || exec "$real" "$@"

tag="$(sed -n 's/^AEGIS_IMAGE_TAG=//p' "${AEGIS_ROOT:-.}/.env" 2>/dev/null | tail -n 1)"
subject="$program $* AEGIS_IMAGE_TAG=$tag"

# The rules are read on fd 3: the program run keeps the shim's stdin (`podman exec -i … < dump`).
while IFS= read -r -u 3 rule || [[ -n "$rule" ]]; do
  action="${rule%% *}"
  pattern="${rule#* }"
  [[ -n "$action" && "$action" != \#* && "$pattern" != "$rule" ]] || continue
  # shellcheck disable=SC2053 # the pattern is a glob on purpose
  [[ "$subject" == $pattern ]] || continue
  if [[ "$action" == once:* ]]; then
    { grep -vxF -- "$rule" "$rules" || true; } > "$rules.once.$$"
    mv -f "$rules.once.$$" "$rules"
    action="${action#once:}"
  fi
  case "$action" in
    fail)
      echo "sandbox fault: $subject" >&2
      exit 1
      ;;
    hang)
      echo "sandbox fault: hanging: $subject" >&2
      exec sleep infinity
      ;;
    pause)
      printf '%s\n' "$subject" >> "$rules.paused"
      while grep -qxF -- "$rule" "$rules" 2>/dev/null; do sleep 0.1; done
      exec "$real" "$@" 3<&-
      ;;
    stop-after:*)
      "$real" "$@" 3<&-
      status=$?
      podman_bin="$(PATH="${PATH//$self_dir/}" command -v podman)"
      "$podman_bin" pod stop -t 0 "aegis-${action#stop-after:}" >/dev/null 2>&1
      echo "sandbox fault: stopped aegis-${action#stop-after:} after: $subject" >&2
      exit "$status"
      ;;
    *)
      echo "sandbox fault shim: unknown action '$action' in $rules" >&2
      exit 2
      ;;
  esac
done 3< "$rules"
exec "$real" "$@"
