# Lucid — build, test and tooling entry points. `make test` and `make run` are the contract
# (see README.md); .ci/run calls `make test` and `make fuzz`.

GO       ?= go
BINDIR   ?= bin

# bash, for pipefail: `make test`'s pipeline fails when go test fails, not only when the
# report does.
SHELL := /bin/bash

# make run: its data folder (made on the first run, reused after)
DATA     ?= data

# make test: scripts/test-deps.sh installs what the tests need (as root) or names it and
# stops; then go test -json, written as plain go test writes it by scripts/testreport,
# which adds every skipped test and why, and the counts. -race in TESTFLAGS makes
# test-deps ask for a C compiler too; -v writes every test's output.
TESTFLAGS ?= -count=1 -timeout 20m

# make bench: the Go microbenchmarks of BENCHPKGS (BENCHTIME each, BENCHCOUNT times), then
# `edgebench compare` (Lucid against its peers), which writes BENCHREPORT and the charts
# in BENCHOUT. COMPAREFLAGS passes flags to it, e.g. COMPAREFLAGS="-rounds 1 -only handshake".
BENCHPKGS    ?= ./tlsmitm/... ./origin/... ./certcache/... ./internal/secmem/... ./internal/policy/... ./internal/accesslog/... ./internal/h2bridge/... ./internal/httphead/...
BENCHTIME    ?= 1s
BENCHCOUNT   ?= 1
BENCHOUT     ?= bench/results
BENCHREPORT  ?= BENCHMARKS.md
COMPAREFLAGS ?=

# make fuzz: every Fuzz* target found in FUZZPKGS runs for FUZZTIME.
FUZZPKGS ?= ./...
FUZZTIME ?= 30s

# make lint: staticcheck v0.8.2 is release 2026.2.2 (builds and runs with Go 1.26).
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK         := $(BINDIR)/staticcheck-$(STATICCHECK_VERSION)

.DEFAULT_GOAL := build
.PHONY: build test run bench bench-peers fuzz lint clean print-benchpkgs

## build: compile every package, and the commands under cmd/ into ./bin
build:
	$(GO) build ./...
	@mkdir -p $(BINDIR)
	$(GO) build -o $(BINDIR)/ ./cmd/...

## test: install what the tests need, then every test, once, no cache; the last lines list what was skipped
# The tests look nginx and squid up on PATH, and they live in /usr/sbin.
test: export PATH := $(PATH):/usr/sbin:/sbin
test:
	@./scripts/test-deps.sh $(filter -race,$(TESTFLAGS))
	@mkdir -p $(BINDIR)
	@$(GO) build -o $(BINDIR)/testreport ./scripts/testreport
	set -o pipefail; $(GO) test -json $(TESTFLAGS) ./... | $(BINDIR)/testreport $(filter -v,$(TESTFLAGS))

## run: a CA, a demo origin and the inspecting edge on loopback, data in $(DATA); Ctrl-C stops them
run:
	@mkdir -p $(BINDIR)
	$(GO) build -o $(BINDIR)/ ./cmd/edge ./cmd/ca
	@LUCID_BIN=$(BINDIR) LUCID_DATA=$(DATA) ./scripts/run-demo.sh

## bench: Go benchmarks of the TLS stack (benchstat), then Lucid side by side with nginx, squid,
## Go crypto/tls and goproxy (edgebench compare, ~10 min, as root) into BENCHMARKS.md
bench:
	@GO="$(GO)" BINDIR="$(BINDIR)" BENCHPKGS="$(BENCHPKGS)" BENCHTIME="$(BENCHTIME)" \
		BENCHCOUNT="$(BENCHCOUNT)" BENCHOUT="$(BENCHOUT)" BENCHREPORT="$(BENCHREPORT)" \
		COMPAREFLAGS="$(COMPAREFLAGS)" ./scripts/bench.sh

## print-benchpkgs: the packages make bench benchmarks (.ci/run runs each benchmark once)
print-benchpkgs:
	@echo $(BENCHPKGS)

## bench-peers: install the Debian peers of make bench (nginx-light, squid-openssl) when root
bench-peers:
	@./scripts/bench.sh peers

## fuzz: each fuzz target in FUZZPKGS for FUZZTIME (new targets are picked up by name; scripts/fuzz.sh)
fuzz:
	@GO="$(GO)" FUZZPKGS="$(FUZZPKGS)" FUZZTIME="$(FUZZTIME)" ./scripts/fuzz.sh

## lint: go vet and staticcheck
lint: $(STATICCHECK)
	$(GO) vet ./...
	./$(STATICCHECK) ./...

$(STATICCHECK):
	@mkdir -p $(BINDIR)/.staticcheck
	GOFLAGS= GOBIN=$(CURDIR)/$(BINDIR)/.staticcheck $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(BINDIR)/.staticcheck/staticcheck $@
	@rmdir $(BINDIR)/.staticcheck

## clean: remove build output and local tools
clean:
	rm -rf $(BINDIR)
