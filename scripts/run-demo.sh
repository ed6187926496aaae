#!/usr/bin/env bash
# run-demo.sh is what `make run` runs: Lucid on loopback, as three processes.
#
#   1. the CA           bin/ca serve -config data/ca.yaml      (SQLite store in data/ca)
#   2. a demo origin    bin/edge terminate ...                 (https://demo.lucid.test, on 127.0.0.1:8443)
#   3. the edge         bin/edge -config data/edge.yaml        (the inspecting proxy, on 127.0.0.1:3128)
#
# The first run makes everything in data/: the CA's password file (a demo: a real CA keeps
# its password elsewhere), `ca init`, the organisation "demo" with an intermediate under
# the service root, the edge's enrolment, a demo "public" root with the origin's
# certificate, and the two configuration files. Later runs reuse data/ as it is; remove
# the folder to start over. Then it prints the proxy, the root to trust and a curl command
# that works as printed, and runs until Ctrl-C (SIGINT) or SIGTERM, which stop all three.
#
# Before it makes or starts anything it checks what it needs (bin/ca and bin/edge, the
# tools it runs, a writable data folder, its addresses free) and names every problem at
# once. It needs no openssl: the edge makes the demo's certificates (edge demo-certs).
#
# Run it from the repository after `make build` (make run does both). The environment can
# move things, on the first run only (the addresses are then kept in data/demo.env):
#   LUCID_BIN (bin), LUCID_DATA (data), LUCID_PROXY (127.0.0.1:3128),
#   LUCID_EDGE_ADMIN (127.0.0.1:9090), LUCID_ORIGIN (127.0.0.1:8443),
#   LUCID_CA_ADMIN (127.0.0.1:8445), LUCID_CA_KEYS (127.0.0.1:8444), LUCID_CA_PUBLIC (127.0.0.1:8080)
set -euo pipefail

BIN=${LUCID_BIN:-bin}
DATA=${LUCID_DATA:-data}
ORG=demo
HOST=demo.lucid.test

say() { printf 'run-demo: %s\n' "$*"; }
die() { printf 'run-demo: %s\n' "$*" >&2; exit 1; }

# What the demo needs is checked before anything is made or started, and every
# problem is named at once: the two binaries, a bash with `wait -n`, the tools this
# script runs, a data folder it can write, and its six addresses free.
problems=()
for b in ca edge; do
	[ -x "$BIN/$b" ] || problems+=("$BIN/$b is missing: build it first with \`make build\` (or use \`make run\`)")
done
if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 3))); then
	problems+=("bash $BASH_VERSION is too old: this script needs 4.3 or later")
fi
for tool in od tr grep sed tail; do
	command -v "$tool" >/dev/null 2>&1 || problems+=("$tool is missing (Debian: coreutils, grep, sed)")
done
[ -r /dev/urandom ] || problems+=("/dev/urandom is not readable: the CA's password file is made from it")
if [ -e "$DATA" ]; then
	[ -d "$DATA" ] && [ -w "$DATA" ] || problems+=("$DATA is not a folder this user can write")
else
	[ -w "$(dirname "$DATA")" ] || problems+=("cannot make $DATA: $(dirname "$DATA") is not writable")
fi

# The addresses: chosen on the first run (written to demo.env below), kept after.
if [ -f "$DATA/demo.env" ]; then
	# shellcheck source=/dev/null
	. "$DATA/demo.env"
else
	PROXY=${LUCID_PROXY:-127.0.0.1:3128}
	EDGE_ADMIN=${LUCID_EDGE_ADMIN:-127.0.0.1:9090}
	ORIGIN=${LUCID_ORIGIN:-127.0.0.1:8443}
	CA_ADMIN=${LUCID_CA_ADMIN:-127.0.0.1:8445}
	CA_KEYS=${LUCID_CA_KEYS:-127.0.0.1:8444}
	CA_PUBLIC=${LUCID_CA_PUBLIC:-127.0.0.1:8080}
fi

# in_use reports whether something accepts connections on host:port.
in_use() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

taken=0
for pair in "proxy:$PROXY" "edge admin:$EDGE_ADMIN" "demo origin:$ORIGIN" \
	"CA admin API:$CA_ADMIN" "CA key API:$CA_KEYS" "CA public (CRL) listener:$CA_PUBLIC"; do
	what=${pair%%:*} addr=${pair#*:}
	if in_use "$addr"; then
		problems+=("$addr is in use, and the $what needs it")
		taken=1
	fi
done
if [ "$taken" = 1 ]; then
	problems+=("stop what listens there (\`ss -ltnp\` shows who; a \`make run\` already running?)")
fi
if [ ${#problems[@]} -gt 0 ]; then
	printf 'run-demo: %s\n' "${problems[@]}" >&2
	die "nothing was started; fix the above and try again"
fi
if ! command -v curl >/dev/null 2>&1; then
	say "curl is not installed (Debian: apt-get install curl); the command printed below needs it"
fi

mkdir -p "$DATA/logs"
chmod 700 "$DATA"
if [ ! -f "$DATA/demo.env" ]; then
	cat >"$DATA/demo.env" <<-EOF
		# The addresses of \`make run\` (scripts/run-demo.sh), fixed at its first run.
		PROXY=$PROXY
		EDGE_ADMIN=$EDGE_ADMIN
		ORIGIN=$ORIGIN
		CA_ADMIN=$CA_ADMIN
		CA_KEYS=$CA_KEYS
		CA_PUBLIC=$CA_PUBLIC
	EOF
fi

# First run: the CA's password and configuration, the edge's configuration.
if [ ! -s "$DATA/ca-password" ]; then
	(umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$DATA/ca-password")
	say "made the CA password file $DATA/ca-password (0600; a demo keeps it beside the CA)"
fi
if [ ! -f "$DATA/ca.yaml" ]; then
	cat >"$DATA/ca.yaml" <<-EOF
		# The CA of \`make run\`, written by scripts/run-demo.sh on its first run.
		# Relative paths are relative to this file's folder. See ca/server (Config).
		data_dir: ca
		password: {file: ca-password}
		listen:
		  admin: $CA_ADMIN
		  keys: $CA_KEYS
		  public: $CA_PUBLIC
	EOF
fi
if [ ! -f "$DATA/edge.yaml" ]; then
	cat >"$DATA/edge.yaml" <<-EOF
		# The edge of \`make run\`, written by scripts/run-demo.sh on its first run.
		# Relative paths are relative to this file's folder. See internal/edgeconfig.
		listen: $PROXY
		admin: $EDGE_ADMIN
		ca:
		  url: https://$CA_KEYS
		  cert_file: edge/edge-cert.pem
		  key_file: edge/edge-key.pem
		  root_file: edge/ca-root.pem
		orgs:
		  - id: $ORG
		hosts:
		  $HOST: $ORIGIN
		upstream:
		  roots_file: demo-public-root.pem
		access_log: logs/access.log
	EOF
fi
"$BIN/edge" demo-certs -out "$DATA" -hosts "$HOST" | sed 's/^/run-demo: /'

# The processes, stopped in reverse order on the way out.
names=() pids=() logs=()

stop_all() {
	local i n alive code failed=0
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
	done
	# Up to 20 s for them to stop (bash reaps its children as they exit), then SIGKILL.
	for ((n = 0; n < 200; n++)); do
		alive=0
		for i in "${!pids[@]}"; do
			if kill -0 "${pids[i]}" 2>/dev/null; then alive=1; fi
		done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for i in "${!pids[@]}"; do
		if kill -0 "${pids[i]}" 2>/dev/null; then
			say "the ${names[i]} did not stop within 20 s; killing it" >&2
			kill -KILL "${pids[i]}" 2>/dev/null || true
		fi
	done
	for i in "${!pids[@]}"; do
		wait "${pids[i]}" 2>/dev/null && code=0 || code=$?
		# 130 and 143: stopped by SIGINT or SIGTERM before its handler was in place;
		# 127: reaped already (it stopped by itself, and that was reported).
		case $code in
		0 | 127 | 130 | 143) ;;
		*)
			say "the ${names[i]} exited with status $code; see ${logs[i]}" >&2
			failed=1
			;;
		esac
	done
	return "$failed"
}

on_signal() {
	trap '' INT TERM
	trap - EXIT
	echo
	say "stopping the edge, the demo origin and the CA"
	if stop_all; then
		say "stopped"
		exit 0
	fi
	exit 1
}

on_exit() {
	local code=$?
	trap '' INT TERM
	trap - EXIT
	if [ "${#pids[@]}" -gt 0 ]; then
		stop_all || true
	fi
	exit "$code"
}

trap on_signal INT TERM
trap on_exit EXIT

# start NAME LOG COMMAND...: runs COMMAND in the background, output to LOG.
start() {
	local name=$1 log=$2
	shift 2
	: >"$log"
	"$@" </dev/null >>"$log" 2>&1 &
	names+=("$name") pids+=($!) logs+=("$log")
}

# ready NAME PATTERN: waits for PATTERN in the last started process's log.
ready() {
	local name=$1 pattern=$2 i=$((${#pids[@]} - 1)) n
	for ((n = 0; n < 600; n++)); do
		if grep -q -- "$pattern" "${logs[i]}"; then
			return 0
		fi
		if ! kill -0 "${pids[i]}" 2>/dev/null; then
			printf 'run-demo: the %s stopped while starting; the end of %s:\n' "$name" "${logs[i]}" >&2
			tail -n 20 "${logs[i]}" | sed 's/^/  /' >&2
			exit 1
		fi
		sleep 0.1
	done
	printf 'run-demo: the %s did not start within 60 s; the end of %s:\n' "$name" "${logs[i]}" >&2
	tail -n 20 "${logs[i]}" | sed 's/^/  /' >&2
	exit 1
}

ca() { "$BIN/ca" -config "$DATA/ca.yaml" "$@"; }

# The CA.
if [ ! -s "$DATA/ca/admin-token" ]; then
	say "initialising the CA in $DATA/ca (the key-derivation function takes a moment)"
	ca init >"$DATA/logs/ca-init.log" 2>&1 || { cat "$DATA/logs/ca-init.log" >&2; die "ca init failed"; }
fi
start "CA" "$DATA/logs/ca.log" "$BIN/ca" serve -config "$DATA/ca.yaml"
ready "CA" "CA started"

# The demo organisation with an intermediate under the service root, and the edge's enrolment.
if ! ca org show "$ORG" >/dev/null 2>&1; then
	ca org create "$ORG" -name "Lucid demo" | grep '^created' | sed 's/^/run-demo: /'
fi
org=$(ca org show "$ORG")
if ! grep -q '^  active' <<<"$org"; then
	ca org issue "$ORG" | sed 's/^/run-demo: /'
fi
if [ ! -s "$DATA/edge/edge-cert.pem" ]; then
	rm -rf "$DATA/edge"
	ca edge enrol -out "$DATA/edge" | sed 's/^/run-demo: /'
fi
ca root -out "$DATA/lucid-root.pem"

# The demo origin and the edge.
start "demo origin" "$DATA/logs/origin.log" "$BIN/edge" terminate -listen "$ORIGIN" \
	-cert "$DATA/demo-origin.pem" -key "$DATA/demo-origin-key.pem"
ready "demo origin" "lucid: terminating TLS 1.3 on"
start "edge" "$DATA/logs/edge.log" "$BIN/edge" -config "$DATA/edge.yaml"
ready "edge" "lucid: inspecting proxy on"

cat <<EOF

Lucid is running on loopback (data in $DATA/, logs in $DATA/logs/):
  CA           admin http://$CA_ADMIN, key API https://$CA_KEYS, CRLs http://$CA_PUBLIC  (pid ${pids[0]})
  demo origin  https://$HOST/ served from $ORIGIN, certificate from a demo "public" root  (pid ${pids[1]})
  edge         inspecting proxy on $PROXY, metrics http://$EDGE_ADMIN/metrics  (pid ${pids[2]})

proxy:          http://$PROXY
root to trust:  $DATA/lucid-root.pem   (Lucid's service root: the edge's leaves chain to it)
try:
  curl -x http://$PROXY --cacert $DATA/lucid-root.pem https://$HOST/

The edge decrypts that request with a leaf for $HOST minted under organisation "$ORG"
(see $DATA/logs/access.log). Ctrl-C stops the CA, the demo origin and the edge.
EOF

# Run until a signal (on_signal) or until one of the three stops by itself.
set +e
wait -n "${pids[@]}"
code=$?
for i in "${!pids[@]}"; do
	if ! kill -0 "${pids[i]}" 2>/dev/null; then
		printf 'run-demo: the %s stopped (status %s); the end of %s:\n' "${names[i]}" "$code" "${logs[i]}" >&2
		tail -n 20 "${logs[i]}" | sed 's/^/  /' >&2
	fi
done
exit 1
