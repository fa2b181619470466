# kumo: make run brings up the all-in-one cloud, make test runs every test.
SHELL      := /bin/bash
GO         ?= go
BIN        := bin
VERSION    ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -X main.version=$(VERSION)
STATE_DIR  ?= $(CURDIR)/.kumo
TEST_FLAGS ?= -count=1 -timeout 20m
# The end-to-end tests that boot the most TCG guests run in a second go test
# process beside the rest (each with its own all-in-one cloud), so the two
# halves overlap: the slowest part of make test is waiting for guests.
VM_TESTS   := TestComputeResizeRebuildSnapshot|TestOpenstackComputeServerTasks|TestComputeFaults|TestComputeConcurrentCreates|TestNetworkSecurity|TestComputeVolumeAttach|TestComputeVolumeAttachFault|TestVolumeGuestData
BENCH_FLAGS ?= -run '^$$' -bench . -benchtime 2s -count=1 -timeout 20m

.PHONY: all build run test bench check setup clean

all: build

setup:
	@bash deploy/host-setup.sh

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/kumod ./cmd/kumod
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/kumo ./cmd/kumo

run: setup build
	@tiny=$$(bash deploy/images/build-kumo-tiny.sh | tail -n 1) && \
	  seeds="--seed-image kumo-tiny=$$tiny" && \
	  if host=$$(bash deploy/images/build-kumo-host.sh --cached-only 2>/dev/null | tail -n 1) && [ -f "$$host" ]; then \
	    seeds="$$seeds --seed-image kumo-host=$$host"; fi && \
	  echo "kumo: starting the all-in-one cloud (state in $(STATE_DIR)); Ctrl-C stops it" && \
	  exec $(BIN)/kumod all-in-one --state-dir "$(STATE_DIR)" $$seeds

test: setup check
	@( $(GO) test $(TEST_FLAGS) -run '^($(VM_TESTS))$$' ./test 2>&1 | sed -u 's/^/[vm] /'; exit $${PIPESTATUS[0]} ) & vm=$$!; \
	  $(GO) test $(TEST_FLAGS) -skip '^($(VM_TESTS))$$' ./...; rest=$$?; \
	  wait $$vm; vmrc=$$?; \
	  if [ $$rest -ne 0 ] || [ $$vmrc -ne 0 ]; then echo "make test: FAIL (rest $$rest, vm tests $$vmrc)"; exit 1; fi

bench: setup
	$(GO) test $(BENCH_FLAGS) ./...

check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 -run TestServicePackagesDoNotImportEachOther ./internal/archtest/

clean:
	rm -rf $(BIN)
