# pokeflow: the two commands that matter are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
BUILD ?= build
JOBS ?= 2

.PHONY: all setup build test unit integration up down status demo chaos bench bench-replicas clean format fuzz sanitize kube-up kube-down kube-status

all: build

setup:
	scripts/setup.sh

# Static build of build/pokeflow (configure once, then incremental).
build:
	scripts/build.sh "$(BUILD)" "$(JOBS)"

# Sets up, builds, starts the local stack, runs every test through CTest, stops the stack.
test: setup
	scripts/run-tests.sh "$(BUILD)" "$(JOBS)"

up:
	scripts/stack.sh up

down:
	scripts/stack.sh down

status:
	scripts/stack.sh status

# Kubernetes in a box (scripts/kube.sh): API server, controller-manager, scheduler, etcd and
# kwok nodes on 127.0.0.1; prints the KUBECONFIG to use. State in .kube/.
kube-up: setup
	scripts/kube.sh up

kube-down:
	scripts/kube.sh down

kube-status:
	scripts/kube.sh status

# Sets up and runs the main job: the stack, every role, the seed's load shape (scaled down;
# FULL=1 runs the original 5 users x 1000 orders x 2 s).
demo: setup build
	scripts/demo.sh

chaos: setup build
	scripts/chaos.sh

bench: setup build
	bench/run.sh

# What a fraud/updater replica buys: 1, 2, 3 replicas, end-to-end rate and CPU per order
# (bench/replicas.py; docs/capacity.md uses its numbers).
bench-replicas: setup build
	"$$(scripts/chaos-venv.sh)/bin/python" bench/replicas.py

# libFuzzer targets (clang, build-fuzz/): each for FUZZ_SECONDS; a crash fails and keeps its
# reproducer under build-fuzz/artifacts/. See docs/fuzzing.md.
FUZZ_SECONDS ?= 60
fuzz: setup
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

# ASan + UBSan build (build-asan/) running the unit and integration tests on the local stack.
sanitize: setup
	scripts/sanitize.sh build-asan "$(JOBS)"

clean:
	rm -rf "$(BUILD)"

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')
