#!/usr/bin/env bash
# test-deps.sh checks that the system packages the tests need are there, and installs the
# missing ones with apt-get when it runs as root. `make test` runs it before the tests and
# .ci/run before everything; with nothing missing it only checks, in well under a second.
#
#   scripts/test-deps.sh          what `make test` needs
#   scripts/test-deps.sh -race    that, and the C toolchain that Go's race detector needs
#                                 (make test passes -race when TESTFLAGS has it)
#
# Not root, or no apt-get: it names what is missing and the command that installs it, and
# exits 1, so a test is never skipped for a tool that nobody was told about.
#
# Installing never starts the packages' services: Debian would start squid on 3128 (the
# edge's proxy port), nginx on 80 and a PostgreSQL cluster on 5432, none of which the tests
# use (each test starts its own, on a port of its own). While apt-get runs,
# /usr/sbin/policy-rc.d answers 101, "action forbidden" (invoke-rc.d(8), which
# deb-systemd-invoke honours too); the file that was there before is put back afterwards, or
# none if there was none. A service that started anyway is stopped, by its pid file.
set -euo pipefail

say() { printf 'test-deps: %s\n' "$*"; }
die() { printf 'test-deps: %s\n' "$*" >&2; exit 1; }

# The tests look tools up on PATH, and make test runs them with the sbin folders on it
# (nginx and squid live in /usr/sbin, which is not on a Debian user's PATH).
PATH=$PATH:/usr/sbin:/sbin

race=""
case ${1:-} in
"") ;;
-race) race=1 ;;
*)
	echo "usage: scripts/test-deps.sh [-race]" >&2
	exit 2
	;;
esac

# Each Debian package, and who needs it. present (below) knows how to see each one.
needs=(
	"make|make test itself"
	"ca-certificates|go mod download (HTTPS to the Go module proxy)"
	"openssl|openssl s_client: engine's interop and TLS 1.2 tests"
	"curl|curl: engine's interop and proxy tests, cmd/edge's proxy and make run tests"
	"gnutls-bin|gnutls-cli: engine's GnuTLS interop test"
	"postgresql|initdb and postgres: ca/store/postgres's tests start a server of their own"
	"nginx-light|nginx: bench/suite's nginx peer test"
	"squid-openssl|squid with ssl-bump: bench/suite's squid peer test"
)
if [ -n "$race" ]; then
	needs+=(
		"gcc|-race: Go's race detector needs cgo, and cgo a C compiler"
		"libc6-dev|-race: the C library's headers, for cgo"
	)
fi

have() { command -v "$1" >/dev/null 2>&1; }

# postgres_present: initdb and postgres side by side, where ca/store/postgres's tests look
# (/usr/lib/postgresql/*/bin, else initdb on PATH); as root, also the "postgres" user the
# package creates, since the server refuses to run as root.
postgres_present() {
	local initdb found=""
	for initdb in /usr/lib/postgresql/*/bin/initdb "$(command -v initdb || true)"; do
		if [ -x "$initdb" ] && [ -x "$(dirname "$initdb")/postgres" ]; then
			found=1
			break
		fi
	done
	[ -n "$found" ] || return 1
	[ "$(id -u)" -ne 0 ] || getent passwd postgres >/dev/null
}

# squid_present: squid built with OpenSSL and its certificate generator, which ssl-bump needs.
squid_present() {
	have squid && [ -x /usr/lib/squid/security_file_certgen ] &&
		squid -v 2>/dev/null | grep -q -- '--with-openssl'
}

present() {
	case $1 in
	make) have make ;;
	ca-certificates) [ -s /etc/ssl/certs/ca-certificates.crt ] ;;
	openssl) have openssl ;;
	curl) have curl ;;
	gnutls-bin) have gnutls-cli ;;
	postgresql) postgres_present ;;
	nginx-light) have nginx ;;
	squid-openssl) squid_present ;;
	gcc) have gcc ;;
	libc6-dev) [ -f /usr/include/stdio.h ] ;;
	*) die "no check for package $1" ;;
	esac
}

# find_missing sets missing (package names) and missing_why (one line each).
find_missing() {
	local entry pkg
	missing=() missing_why=()
	for entry in "${needs[@]}"; do
		pkg=${entry%%|*}
		if ! present "$pkg"; then
			missing+=("$pkg")
			missing_why+=("$(printf "  %-16s %s" "$pkg" "${entry#*|}")")
		fi
	done
}

find_missing
if [ ${#missing[@]} -eq 0 ]; then
	say "all ${#needs[@]} packages the tests need are installed"
	exit 0
fi

if ! have apt-get; then
	printf 'test-deps: the tests need these Debian packages, and there is no apt-get here:\n' >&2
	printf '%s\n' "${missing_why[@]}" >&2
	die "install what they provide with this system's package manager, then run make test again"
fi
if [ "$(id -u)" -ne 0 ]; then
	printf 'test-deps: the tests need packages that are not installed:\n' >&2
	printf '%s\n' "${missing_why[@]}" >&2
	printf 'test-deps: install them as root with this script, which keeps their services from starting:\n' >&2
	printf '    sudo ./scripts/test-deps.sh%s\n' "${race:+ -race}" >&2
	printf '  (it runs: apt-get update; apt-get install -y --no-install-recommends %s)\n' "${missing[*]}" >&2
	exit 1
fi

# One install at a time: two runs at once would each hide the other's policy-rc.d.
mkdir -p /run/lock
exec 9>/run/lock/lucid-test-deps.lock
flock 9
find_missing
if [ ${#missing[@]} -eq 0 ]; then
	say "installed meanwhile by another run"
	exit 0
fi

POLICY=/usr/sbin/policy-rc.d
SAVED=/usr/sbin/policy-rc.d.lucid-saved
MARK="# lucid scripts/test-deps.sh: no package service starts while it installs"

# hold_services puts our policy-rc.d in place, keeping the one that was there in SAVED.
# One carrying MARK was left by a run that was killed: it goes, and what it kept comes back.
hold_services() {
	if [ -f "$POLICY" ] && grep -qxF "$MARK" "$POLICY"; then
		rm -f "$POLICY"
		if [ -e "$SAVED" ]; then mv "$SAVED" "$POLICY"; fi
	fi
	printf '#!/bin/sh\n%s\nexit 101\n' "$MARK" >"$POLICY.lucid-new"
	chmod 755 "$POLICY.lucid-new"
	if [ -e "$POLICY" ]; then mv "$POLICY" "$SAVED"; fi
	mv "$POLICY.lucid-new" "$POLICY"
}

release_services() {
	rm -f "$POLICY" "$POLICY.lucid-new"
	if [ -e "$SAVED" ]; then mv "$SAVED" "$POLICY"; fi
}

# service_pids prints the live pids in the pid files of the Debian services of squid, nginx
# and PostgreSQL (the tests' own servers keep their pid files in their own folders).
service_pids() {
	local f pid
	for f in /run/squid.pid /run/nginx.pid /run/postgresql/*.pid; do
		[ -r "$f" ] && read -r pid <"$f" || continue
		if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
	done
}

# stop_new_services stops what the install started despite policy-rc.d: the pids in
# service_pids that were not in $1 (TERM, then KILL after 15 s).
stop_new_services() {
	local before=" $1 " pid n alive started=()
	for pid in $(service_pids); do
		case $before in *" $pid "*) ;; *) started+=("$pid") ;; esac
	done
	[ ${#started[@]} -gt 0 ] || return 0
	for pid in "${started[@]}"; do
		say "the install started $(cat "/proc/$pid/comm" 2>/dev/null) (pid $pid) all the same; stopping it"
		kill -TERM "$pid" 2>/dev/null || true
	done
	for ((n = 0; n < 150; n++)); do
		alive=0
		for pid in "${started[@]}"; do
			if kill -0 "$pid" 2>/dev/null; then alive=1; fi
		done
		[ "$alive" = 1 ] || return 0
		sleep 0.1
	done
	for pid in "${started[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}

# retry COMMAND...: up to 3 attempts, 10 s then 20 s apart (mirrors and networks blink).
retry() {
	local attempt
	for attempt in 1 2 3; do
		if "$@"; then return 0; fi
		if [ "$attempt" -lt 3 ]; then
			say "$* failed (attempt $attempt of 3); retrying in $((attempt * 10))s" >&2
			sleep $((attempt * 10))
		fi
	done
	die "$* failed 3 times"
}

# apt runs apt-get without questions, waiting up to 5 minutes for another apt's lock
# (a fresh cloud machine often runs its own updates at first boot).
apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@" </dev/null; }

say "installing ${missing[*]}:"
printf '%s\n' "${missing_why[@]}"
before=$(service_pids | tr '\n' ' ')
trap release_services EXIT
trap 'exit 1' INT TERM HUP
hold_services
retry apt update
retry apt install -y --no-install-recommends "${missing[@]}"
release_services
trap - EXIT INT TERM HUP
stop_new_services "$before"

find_missing
if [ ${#missing[@]} -gt 0 ]; then
	printf 'test-deps: installed, yet still not found:\n' >&2
	printf '%s\n' "${missing_why[@]}" >&2
	exit 1
fi
say "all ${#needs[@]} packages the tests need are installed"
