#!/usr/bin/env bash
# Fault injection for the sandbox: installed by `sandbox.sh up` as <state>/bin/podman, make and systemctl.
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
#
# The journal of commands: with $AEGIS_SANDBOX_COMMANDS_RUN set (`sandbox.sh env` names <state>/commands-run.log),
# every command is written there, tab-separated, when it starts ("<id> start <parent id or -> <subject>"), when a
# pause rule holds it ("<id> held"), and when it ends ("<id> end <exit code>"). A command killed with the worker
# has no end line. Commands that another one (a make) runs name it as their parent. `.env`'s secret values are
# written ***. The tests read it to prove that no change was made twice (test/helpers/commands-run.ts).
set -uo pipefail

# Every podman, make and systemctl command of a worker passes here, hundreds per upgrade: the path to the result is
# written in bash builtins, without a process of its own (basename, sed, date…), which cost more than the rest.
program="${0##*/}"

# The real program: the first of that name on PATH that is not this script (however reached: -ef follows links).
real=""
IFS=: read -ra path_entries <<< "${PATH:-}"
for entry in "${path_entries[@]}"; do
  [[ -n "$entry" && -x "$entry/$program" && ! "$entry/$program" -ef "$0" ]] || continue
  real="$entry/$program"
  break
done
[[ -n "$real" ]] || { echo "sandbox fault shim: no real $program on PATH" >&2; exit 127; }

# The checkout's tag (its last AEGIS_IMAGE_TAG line) and the values of its secrets, read from .env in one pass.
tag="" secrets=()
env_file="${AEGIS_ROOT:-.}/.env"
if [[ -r "$env_file" ]]; then
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" != AEGIS_IMAGE_TAG=* ]] || tag="${line#AEGIS_IMAGE_TAG=}"
    [[ ! "$line" =~ ^[A-Z_]*(TOKEN|PASSWORD|SECRET|KEY)[A-Z_]*= ]] || secrets+=("${line#*=}")
  done < "$env_file"
fi
subject="$program $* AEGIS_IMAGE_TAG=$tag"

journal="${AEGIS_SANDBOX_COMMANDS_RUN:-}"
run_id="${EPOCHREALTIME/./}-$$"
journal() { [[ -z "$journal" ]] || printf '%s\t%s\n' "$run_id" "$*" >> "$journal"; }
if [[ -n "$journal" ]]; then
  written="$subject"
  for secret in "${secrets[@]}"; do
    [[ ${#secret} -ge 4 ]] && written="${written//"$secret"/***}"
  done
  journal "start	${AEGIS_SANDBOX_COMMAND_PARENT:--}	${written//$'\n'/ }"
  export AEGIS_SANDBOX_COMMAND_PARENT="$run_id"
fi
# Runs the real program (the rules stay on fd 3 only, stdin stays its own) and journals its end. A signal the
# shim gets (a cancelled command) goes to the program, as if the shim had exec'd it.
run_real() {
  local child status
  "$real" "$@" 3<&- <&0 &
  child=$!
  trap 'kill -TERM "$child" 2>/dev/null' TERM
  trap 'kill -INT "$child" 2>/dev/null' INT
  wait "$child"
  status=$?
  while kill -0 "$child" 2>/dev/null; do
    wait "$child"
    status=$?
  done
  journal "end	$status"
  return "$status"
}

rules="${AEGIS_SANDBOX_FAULTS:-}"
if [[ -z "$rules" || ! -s "$rules" ]]; then
  [[ -n "$journal" ]] || exec "$real" "$@"
  run_real "$@"
  exit
fi

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
      journal "end	1"
      exit 1
      ;;
    hang)
      echo "sandbox fault: hanging: $subject" >&2
      exec sleep infinity
      ;;
    pause)
      printf '%s\n' "$subject" >> "$rules.paused"
      journal held
      while grep -qxF -- "$rule" "$rules" 2>/dev/null; do sleep 0.1; done
      run_real "$@"
      exit
      ;;
    stop-after:*)
      run_real "$@"
      status=$?
      self_dir="$(cd "${0%/*}" && pwd)"
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
run_real "$@"
