#!/usr/bin/env bash
# Tests the repository's ./basalt command on the host (not in the forky root): help, exit
# codes, `serve` with a data dir given as a host path (relative to the caller's folder) that
# answers a real generation with stories260K, `admin` and `usage` on that data dir, signals
# reaching the server, and scripts/forky moving a half-made root aside instead of deleting it.
# Needs no network. Run as root on the host: tests/host/test_basalt_command.sh
# (scripts/test runs it as its `host` stage). Builds build-release on first use, as ./basalt
# does; BASALT_BUILD_DIR and BASALT_NO_BUILD are passed on to ./basalt.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
models=$(cd "$repo/../shared/models" 2>/dev/null && pwd) || models=""
root=${BASALT_FORKY_ROOT:-/var/cache/basalt/forky}
work=$(mktemp -d /tmp/basalt-host-test.XXXXXX)
server_pid=""
failures=0 checks=0

cleanup() {
  [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

ok() { checks=$((checks + 1)); echo "ok - $*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "not ok - $*"; }
check() {  # DESCRIPTION CMD...: passes when CMD succeeds
  local what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
contains() { case $1 in *"$2"*) return 0 ;; *) return 1 ;; esac; }
ms() { echo $(($(date +%s%N) / 1000000)); }

native=0
if [ "${BASALT_NATIVE:-}" = 1 ]; then
  native=1
else
  case "$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")" in forky|sid) native=1 ;; esac
fi

# --- help, version and exit codes (the first call builds when needed) ---------------------
out=$("$repo/basalt" --help 2>"$work/first.err")
rc=$?
check "./basalt --help exits 0 (rc $rc)" [ "$rc" = 0 ]
check "./basalt --help lists the subcommands" contains "$out" "SUBCOMMANDS"
for sub in serve models admin usage; do
  check "./basalt --help names '$sub'" contains "$out" "$sub"
done
[ "$rc" = 0 ] || { echo "# stderr:"; sed 's/^/#   /' "$work/first.err"; }
start=$(ms)
out=$("$repo/basalt" --help 2>"$work/warm.err")
elapsed=$(($(ms) - start))
check "a warm ./basalt --help neither builds nor sets up anything" [ ! -s "$work/warm.err" ]
echo "# warm ./basalt --help: $elapsed ms"
out=$(cd / && "$repo/basalt" version 2>&1)
check "./basalt version from another folder prints the version ($out)" contains "$out" "basalt "
ln -s "$repo/basalt" "$work/basalt-link"
out=$("$work/basalt-link" version 2>&1)
check "./basalt through a symbolic link works ($out)" contains "$out" "basalt "
if [ "$(id -u)" = 0 ] && su nobody -s /bin/sh -c "test -x '$repo/basalt' -a -r '$repo/basalt'" 2>/dev/null; then
  out=$(cd / && su nobody -s /bin/bash -c "'$repo/basalt' version" 2>&1)
  check "once built, ./basalt runs without root privileges ($out)" contains "$out" "basalt "
fi
"$repo/basalt" >/dev/null 2>&1
rc=$?
# CLI11's RequiredError ("A subcommand is required") is 106: the binary's code, passed through.
check "the binary's exit code passes through (no subcommand: rc $rc, want 106)" [ "$rc" = 106 ]

# --- serve with a host data dir, relative to the caller's folder --------------------------
if [ -z "$models" ] || [ ! -f "$models/stories260K.gguf" ]; then
  fail "../shared/models/stories260K.gguf is needed for the serve checks"
  echo "1..$checks"
  exit 1
fi
mkdir -p "$work/caller"

# start_server LOG: ./basalt serve from $work/caller with --data-dir data (relative), port 0.
start_server() {
  local log=$1
  (cd "$work/caller" && exec "$repo/basalt" serve --data-dir data --models-dir "$models" \
    --port 0 --threads 1 --parallel 1 >"$log" 2>&1) &
  server_pid=$!
  port=""
  local i
  for i in $(seq 1 1200); do
    port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$log" | head -n1)
    [ -n "$port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# stop_server SIGNAL: sends SIGNAL to the process started; its exit status goes to $rc.
stop_server() {
  kill "-$1" "$server_pid"
  rc=0
  { wait "$server_pid"; } 2>/dev/null || rc=$?  # (no "Hangup" job notice for SIGHUP)
  server_pid=""
}
# http METHOD PATH [BODY [TOKEN]]: one HTTP/1.1 request with bash's /dev/tcp (no curl needed).
http() {
  local method=$1 path=$2 body=${3:-} token=${4:-} auth=""
  [ -n "$token" ] && auth="Authorization: Bearer $token"$'\r\n'
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$method" "$path" "$port" "$auth" "${#body}" "$body" >&3
  timeout 120 cat <&3
  exec 3<&-
}

if start_server "$work/serve1.log"; then
  ok "./basalt serve --data-dir data (relative) started on port $port"
else
  fail "./basalt serve started"
  sed 's/^/#   /' "$work/serve1.log"
  echo "1..$checks"
  exit 1
fi
data=$work/caller/data
check "the data dir is the host's \$PWD/data (admin.env there)" [ -f "$data/admin.env" ]
check "the usage database is on the host path" [ -f "$data/usage.db" ]
if [ $native = 0 ]; then
  check "nothing was written under the root's copy of that path" [ ! -e "$root$data" ]
fi
comm=$(cat "/proc/$server_pid/comm" 2>/dev/null)
exe=$(readlink "/proc/$server_pid/exe" 2>/dev/null)
check "the process started is the server itself, no wrapper left (exe $exe)" \
  bash -c "case '$exe' in */basalt|*/host-run/ld-linux-*) exit 0;; *) exit 1;; esac"
check "no child process under the server's pid ($comm)" \
  bash -c "! grep -qs . /proc/$server_pid/task/*/children"

reply=$(http GET /health)
check "GET /health answers 200" contains "$reply" "200 OK"
token=$(sed -n 's/^# export AWS_BEARER_TOKEN_BEDROCK=//p; s/^export AWS_BEARER_TOKEN_BEDROCK=//p' \
  "$data/admin.env" | head -n1)
check "admin.env holds the administrator's API key" [ -n "$token" ]
body='{"messages":[{"role":"user","content":[{"text":"Once upon a time"}]}],"inferenceConfig":{"maxTokens":24,"temperature":0}}'
reply=$(http POST /model/tinystories.stories-260k-v1:0/converse "$body" "$token")
check "Converse on stories260K answers 200 through the host-run binary" contains "$reply" "200 OK"
check "the model generated the story (\"Lily\"): ${reply##*$'\r\n\r\n'}" contains "$reply" "Lily"
reply=$(http POST /model/anthropic.claude-v2/invoke \
  '{"prompt":"\n\nHuman: Once upon a time\n\nAssistant:","max_tokens_to_sample":8}' "$token")
check "InvokeModel through a Bedrock alias answers 200" contains "$reply" "200 OK"

# --- admin and usage on the same data dir, while it serves --------------------------------
out=$("$repo/basalt" admin list-accounts --data-dir "$data" 2>&1)
check "./basalt admin list-accounts --data-dir <host path> lists the operator account" \
  contains "$out" '"Accounts"'
# The operator's account is the one named "admin"; the sample apps' account sits beside it and
# ids are random, so the first listed is not always the operator's.
account=$(printf '%s\n' "$out" | awk -F'"' '/"AccountId"/ {id=$4} /"Name": *"admin"/ {print id; exit}')
check "the operator's account id was listed ($account)" [ -n "$account" ]
out=$(cd "$work/caller" && "$repo/basalt" admin list-users --data-dir data --account "$account" 2>&1)
check "./basalt admin list-users --data-dir data (relative) shows the admin user" contains "$out" '"admin"'
out=$(cd "$work/caller" && "$repo/basalt" admin create-user --data-dir data --account "$account" \
  host-test-user 2>&1)
check "./basalt admin create-user writes to the host data dir" contains "$out" "host-test-user"
today=$(date -u +%F)
tomorrow=$(date -u -d tomorrow +%F)
out=$(cd "$work/caller" && "$repo/basalt" usage report --data-dir data --from "$today" \
  --to "$tomorrow" --group-by model 2>&1)
check "./basalt usage report sees the two calls just made" contains "$out" "tinystories.stories-260k-v1:0"
out=$(cd "$work/caller" && "$repo/basalt" usage report --data-dir data --from "$today" \
  --to "$tomorrow" --group-by model --csv 2>&1)
check "./basalt usage report --csv prints CSV" contains "$out" ","

# --- signals reach the server ---------------------------------------------------------------
stop_server TERM
check "SIGTERM reaches the server: graceful exit 0 (rc $rc)" [ "$rc" = 0 ]
check "the server logged the SIGTERM" grep -q "signal 15" "$work/serve1.log"
if start_server "$work/serve2.log"; then
  stop_server INT
  check "SIGINT (Ctrl-C) reaches the server: graceful exit 0 (rc $rc)" [ "$rc" = 0 ]
  check "the server logged the SIGINT" grep -q "signal 2" "$work/serve2.log"
else
  fail "second start"
fi
if start_server "$work/serve3.log"; then
  # SIGHUP makes the server reload its models (a build without that handler dies of it, 129).
  kill -HUP "$server_pid"
  for _ in $(seq 1 100); do
    grep -q "SIGHUP" "$work/serve3.log" && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$server_pid" 2>/dev/null; then
    check "SIGHUP reaches the server (it logged it and keeps serving)" grep -q "SIGHUP" "$work/serve3.log"
    stop_server TERM
  else
    stop_server KILL  # already gone: collects its status
    check "SIGHUP reaches the server (ended by it: rc $rc, want 129)" [ "$rc" = 129 ]
  fi
else
  fail "third start"
fi
check "the data survives restarts at the same host path" [ -f "$data/basalt.db" ]

# --- scripts/forky never deletes a half-made root -------------------------------------------
if [ $native = 1 ] || [ "$(id -u)" != 0 ]; then
  echo "# skipping the forky root checks (native host or not root)"
else
  fake=$work/roots
  mkdir -p "$fake/forky/srv/x"
  echo "kept data" >"$fake/forky/srv/x/marker"
  out=$(BASALT_FORKY_ROOT=$fake/forky BASALT_FORKY_DEBOOTSTRAP="$repo/tests/host/fake_debootstrap.sh" \
    BASALT_FORKY_STOP_AFTER_BOOTSTRAP=1 "$repo/scripts/forky" 2>&1)
  rc=$?
  check "scripts/forky with a half-made root exits 0 (rc $rc)" [ "$rc" = 0 ]
  aside=$(compgen -G "$fake/forky.broken-*" | head -n1)
  check "the half-made root was moved aside ($aside)" [ -n "$aside" ]
  check "what it held is kept, unchanged" [ "$(cat "$aside/srv/x/marker" 2>/dev/null)" = "kept data" ]
  check "forky said where it went" contains "$out" "moving it aside to $aside"
  check "the new root was made (in a sibling, renamed into place) and marked complete" \
    [ -f "$fake/forky/.basalt-bootstrap-ok" ]
  check "the new root is what the bootstrap made" [ -f "$fake/forky/usr/bin/fake-debootstrap-was-here" ]
  check "no partial root is left" [ -z "$(compgen -G "$fake/forky.partial-*")" ]
  check "the new root has the mirror's sources.list" grep -q "forky main" "$fake/forky/etc/apt/sources.list"

  # A root marked complete whose /bin/true does not run is not trusted either.
  mkdir -p "$fake/marked/etc"
  touch "$fake/marked/.basalt-bootstrap-ok"
  echo "kept too" >"$fake/marked/etc/marker"
  BASALT_FORKY_ROOT=$fake/marked BASALT_FORKY_DEBOOTSTRAP="$repo/tests/host/fake_debootstrap.sh" \
    BASALT_FORKY_STOP_AFTER_BOOTSTRAP=1 "$repo/scripts/forky" >/dev/null 2>&1
  aside=$(compgen -G "$fake/marked.broken-*" | head -n1)
  check "a marked root that cannot run /bin/true is moved aside, kept" \
    [ "$(cat "$aside/etc/marker" 2>/dev/null)" = "kept too" ]

  # A failed bootstrap leaves its partial folder and no root.
  out=$(FAKE_DEBOOTSTRAP_FAIL=1 BASALT_FORKY_ROOT=$fake/failing \
    BASALT_FORKY_DEBOOTSTRAP="$repo/tests/host/fake_debootstrap.sh" "$repo/scripts/forky" 2>&1)
  rc=$?
  check "a failing bootstrap fails scripts/forky (rc $rc)" [ "$rc" != 0 ]
  check "and leaves no root in place" [ ! -e "$fake/failing" ]
  check "its partial folder is left and named" contains "$out" "$fake/failing.partial-"
fi

echo "1..$checks"
if [ "$failures" != 0 ]; then
  echo "# $failures of $checks checks FAILED"
  exit 1
fi
echo "# all $checks checks passed"
