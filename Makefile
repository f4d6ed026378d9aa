# RackPlane: the two commands of the README, and the pieces they are made of.
SHELL := /bin/bash
SWIFT ?= swift
CORPUS ?= ../shared/corpus

.PHONY: setup build release test unit integration demo fuzz bench clean

setup:
	./scripts/setup

build: setup
	$(SWIFT) build

# One self-contained binary: the Swift runtime and Foundation linked in (--static-swift-stdlib);
# only system libraries (glibc, liburing, libpcap, libpq, libcurl) stay dynamic. `ldd` checks it.
release: setup
	$(SWIFT) build -c release --static-swift-stdlib
	@if ldd $$($(SWIFT) build -c release --static-swift-stdlib --show-bin-path)/rackplane | grep -i swift; then \
		echo "release: Swift libraries are linked dynamically" >&2; exit 1; fi
	@echo "release: $$($(SWIFT) build -c release --static-swift-stdlib --show-bin-path)/rackplane"

# Every test: unit tests (Swift Testing), then the integration tests that drive the built binary
# against real peers (tshark today).
test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(MAKE) --no-print-directory integration

integration:
	RACKPLANE=$$($(SWIFT) build --show-bin-path)/rackplane CORPUS=$(CORPUS) python3 -m pytest -q Tests/integration

# The main job: a region and a connected rack boot 1,000 simulated machines (scripts/demo).
demo: release
	./scripts/demo

# Decode the two real network boots of the shared corpus and summarise them.
decode-demo: release
	./scripts/decode-corpus

fuzz: setup
	./fuzz/run

bench: setup
	./Benchmarks/run

clean:
	rm -rf .build fuzz/.build Benchmarks/.build
