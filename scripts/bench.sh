#!/usr/bin/env bash
# bench.sh is what `make bench` runs: the Go microbenchmarks, then Lucid side by
# side with its peers (edgebench compare), which writes BENCHMARKS.md.
#
#   scripts/bench.sh          install missing peers (as root), build, microbenchmarks, compare
#   scripts/bench.sh peers    only install the peers (make bench-peers)
#
# Steps:
#   1. peers: nginx-light and squid-openssl from Debian, installed with apt-get when
#      this runs as root and they are missing; otherwise the comparison skips them
#      and says so in BENCHMARKS.md.
#   2. build: bin/edge, bin/ca, bin/edgebench and the Go peers bin/gotls, bin/goproxymitm.
#   3. microbenchmarks: `go test -bench` over BENCHPKGS, raw output in
#      $BENCHOUT/micro.txt, benchstat's summary in $BENCHOUT/micro-benchstat.txt.
#   4. compare: `edgebench compare` (about ten minutes with the defaults), which writes
#      $BENCHREPORT, and in $BENCHOUT the SVG charts and every round's figures
#      (compare.json); with -profile (where Lucid's CPU goes, from perf) when perf is
#      installed. It must run as root: squid reaches the bench origin on port 443.
#
# The environment (the Makefile passes its variables): GO, BINDIR, BENCHPKGS,
# BENCHTIME, BENCHCOUNT, BENCHOUT (bench/results), BENCHREPORT (BENCHMARKS.md),
# COMPAREFLAGS (extra edgebench compare flags, e.g. "-rounds 1 -duration 3s").
set -euo pipefail

GO=${GO:-go}
BIN=${BINDIR:-bin}
BENCHPKGS=${BENCHPKGS:-./tlsmitm/... ./origin/... ./certcache/... ./internal/secmem/... ./internal/policy/... ./internal/accesslog/...}
BENCHTIME=${BENCHTIME:-1s}
BENCHCOUNT=${BENCHCOUNT:-1}
OUT=${BENCHOUT:-bench/results}
REPORT=${BENCHREPORT:-BENCHMARKS.md}
COMPAREFLAGS=${COMPAREFLAGS:-}

say() { printf 'bench: %s\n' "$*"; }

install_peers() {
	local missing=()
	command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
	if ! command -v squid >/dev/null 2>&1 || [ ! -x /usr/lib/squid/security_file_certgen ]; then
		missing+=(squid-openssl)
	fi
	if [ ${#missing[@]} -eq 0 ]; then
		say "peers: nginx and squid-openssl are installed"
		return 0
	fi
	if [ "$(id -u)" != 0 ]; then
		say "peers: ${missing[*]} missing and not root, so not installed; the comparison skips them"
		return 0
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		say "peers: ${missing[*]} missing and no apt-get here; the comparison skips them"
		return 0
	fi
	say "peers: apt-get install -y ${missing[*]}"
	# Installing must not start the Debian services: the comparison runs its own,
	# on loopback, with its own configuration.
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"; then
		say "peers: apt-get install failed; the comparison skips what is missing"
	fi
}

case ${1:-all} in
peers)
	install_peers
	exit 0
	;;
all) ;;
*)
	echo "usage: scripts/bench.sh [peers]" >&2
	exit 2
	;;
esac

install_peers

say "building into $BIN/"
mkdir -p "$BIN" "$OUT"
"$GO" build -o "$BIN/" ./cmd/edge ./cmd/ca ./cmd/edgebench ./bench/peers/gotls ./bench/peers/goproxymitm

say "Go microbenchmarks ($BENCHPKGS), -benchtime $BENCHTIME -count $BENCHCOUNT"
# shellcheck disable=SC2086 # BENCHPKGS is a list
"$GO" test -run '^$' -bench . -benchmem -benchtime "$BENCHTIME" -count "$BENCHCOUNT" -timeout 20m $BENCHPKGS |
	tee "$OUT/micro.txt"
micro=()
if "$GO" tool benchstat "$OUT/micro.txt" >"$OUT/micro-benchstat.txt" 2>"$OUT/benchstat.err"; then
	cat "$OUT/micro-benchstat.txt"
	micro=(-micro "$OUT/micro-benchstat.txt")
else
	say "benchstat failed (see $OUT/benchstat.err); BENCHMARKS.md goes without the microbenchmarks"
fi
rm -f "$OUT/benchstat.err"

if [ "$(id -u)" != 0 ]; then
	say "not root: the bench origin cannot listen on port 443, so the inspection tables will be skipped"
fi
# With perf installed, each table also says where Lucid's CPU went (one extra run each).
profile=()
if command -v perf >/dev/null 2>&1; then
	profile=(-profile)
fi
# bench/NOTES.md says why Lucid is short where it is; the report includes it.
notes=()
if [ -f bench/NOTES.md ]; then
	notes=(-notes bench/NOTES.md)
fi
say "edgebench compare (writes $REPORT and the charts in $OUT)"
# shellcheck disable=SC2086 # COMPAREFLAGS is a list of flags
"$BIN/edgebench" compare -bin "$BIN" -out "$REPORT" -charts "$OUT" -json "$OUT/compare.json" \
	"${micro[@]}" "${profile[@]}" "${notes[@]}" $COMPAREFLAGS
