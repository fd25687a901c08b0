# rbee acceptance — every target works from a fresh clone (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON      ?= python3
VENV        := .venv
BIN         := $(VENV)/bin
WHEEL_CACHE ?= $(HOME)/.cache/rbee/wheels
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
# The reference stack's image: the one image name `make image` builds (and rebuilds when its
# sources change). Any other IMAGE is the user's own build: used as it is, never built or replaced.
REFERENCE_IMAGE := rbee-stack:latest
IMAGE       ?= $(REFERENCE_IMAGE)
BASE_IMAGE  ?= rbee-base:latest
MODELS      := fixtures/models
BEHAVE_ARGS ?=
TAGS        ?= @integration
REPORTS     ?= reports
N           ?= 5
SEED        ?= 1
FUZZ_EXAMPLES ?= 100
# bdd-report measures the daemons' coverage (COVERAGE=1, about a sixth more CPU); make test runs it without
COVERAGE    ?= 1
comma       := ,
# Scenarios run in JOBS behave processes at once (each scenario has its own stack); SHARD=I/N
# runs only the I-th of N slices balanced by recorded durations (CI matrix jobs). Default 2:
# measured on 2 cores, 174 scenarios: 546 s with 2, 567 s with 3 (the suite is CPU-bound; see README).
JOBS        ?= 2
# The container engine of the Docker target: docker (DOCKER_HOST or its default socket), or podman
ENGINE      ?= docker
SHARD       ?= 1/1
PROGRESS    := -f rbee_bdd.reports.progress:ScenarioProgress
SUITE        = $(BIN)/python -m rbee_bdd.runner.parallel --jobs $(JOBS) --shard $(SHARD) --reports $(REPORTS) --
# The suite with behave arguments $(1), then its parts merged (rerun.txt, recorded durations).
run_suite    = @status=0; $(SUITE) $(1) -f rerun -o $(REPORTS)/parts/rerun-{part}.txt $(PROGRESS) $(BEHAVE_ARGS) \
	|| status=$$?; $(BIN)/python -m rbee_bdd.reports merge $(REPORTS) >/dev/null; exit $$status
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help setup fixtures image stack-image image-standalone bdd-standalone preflight-docker bdd bdd-local bdd-report bdd-soak coverage-report test lint unit podman-setup rootless-user bdd-local-user \
	clean distclean bench bench-suite bench-startup bench-flow bench-auth bench-load fuzz fuzz-short chaos vm vm-test vm-shell

help:
	@echo "make bdd        run the acceptance suite (@integration) on Docker, setting up what is missing"
	@echo "make bdd-local  the same on local processes"
	@echo "make test       lint + unit tests + the whole behave suite on both targets"
	@echo "make bdd-report the suite on Docker with reports/: HTML, JUnit, Allure, rerun.txt, summary.md, coverage"
	@echo "make bdd-soak N=5  the suite N times: each scenario's pass rate, flaky ones named"
	@echo "make bdd-standalone  the suite against the stack installed another way (docs/own-build.md)"
	@echo "make bench      telemetry benchmarks;  make bench-startup  stack start-up;  make bench-flow  queen overhead and load"
	@echo "make bench-auth what authentication adds to POST /v1/jobs;  make bench-load  100 and 1000 concurrent clients"
	@echo "make bench-suite CPU-seconds per scenario on each target, by process kind, from the kernel's accounting (root)"
	@echo "make chaos      a seeded chaos run judged by the checker (SEED=1 DURATION=600 CLIENTS=4 TARGET=docker CONCURRENT=1)"
	@echo "make vm-test    the cgroup and telemetry scenarios in a cgroup v2 guest under QEMU (docs/vm.md); make vm, vm-shell"
	@echo "make fuzz       schemathesis against queen, hive and worker (FUZZ_EXAMPLES=100 SEED=1); fuzz-short: 10"
	@echo "make setup | fixtures | image | image-standalone | lint | unit | clean | distclean"
	@echo ""
	@echo "variables:"
	@echo "  TAGS='@faults and not @slow'  behave tag expression (default @integration)"
	@echo "  BEHAVE_ARGS='-D key=value …'   any behave option or setting (see README, Settings)"
	@echo "  IMAGE=my-rbee:dev              your own image, used as it is (default: the reference rbee-stack:latest)"
	@echo "  ENGINE=podman                  the Docker target on Podman (make podman-setup installs it)"
	@echo "  JOBS=N                         scenarios in N behave processes at once (default $(JOBS))"
	@echo "  SHARD=I/N                      only the I-th of N slices balanced by duration (CI matrix)"
	@echo "  REPORTS=dir  N=runs (bdd-soak)"

# --- setup: virtualenv, dependencies, the cached llama-cpp-python wheel -------------
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@if ! ls $(WHEEL_CACHE)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
	  echo "setup: building the llama-cpp-python $(LLAMA_VERSION) wheel once (several minutes on 2 cores)…"; \
	  mkdir -p $(WHEEL_CACHE); \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PYTHON) -m pip wheel --quiet --no-deps -w $(WHEEL_CACHE) \
	    llama-cpp-python==$(LLAMA_VERSION); \
	fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "setup: installing the project and its dependencies into $(VENV)…"
	@$(BIN)/pip install --quiet --upgrade pip
	@$(BIN)/pip install --quiet --find-links $(WHEEL_CACHE) -e ".[stack,suite,dev]"
	@touch $@

# --- fixtures: tiny generated GGUF models -------------------------------------------
fixtures: $(MODELS)/.generated

$(MODELS)/.generated: fixtures/make_models.py | setup
	@$(BIN)/python fixtures/make_models.py $(MODELS)
	@touch $@

# --- image: offline base image + stack image from a local wheelhouse ---------------
image: setup
	@$(BIN)/python fixtures/docker/build_image.py --image $(REFERENCE_IMAGE) --base $(BASE_IMAGE) --wheel-cache $(WHEEL_CACHE)

# The stack installed another way (programs under another prefix and name, nothing on PATH),
# run by the suite as a user's own build would be: proves the suite uses only what it is pointed at.
STANDALONE_IMAGE := rbee-standalone:latest
STANDALONE := /usr/libexec/rbee-standalone
STANDALONE_ARGS := -D image=$(STANDALONE_IMAGE) -D queen_cmd=$(STANDALONE)/queen -D hive_cmd=$(STANDALONE)/hive \
	-D worker_cmd=$(STANDALONE)/worker

image-standalone: setup
	@$(BIN)/python fixtures/docker/build_image.py --variant standalone --image $(STANDALONE_IMAGE) \
	  --base $(BASE_IMAGE) --wheel-cache $(WHEEL_CACHE)

bdd-standalone: preflight-docker setup fixtures image-standalone
	$(BIN)/python -m rbee_bdd.runner.parallel --jobs $(JOBS) --reports $(REPORTS)/standalone -- --tags '$(TAGS)' \
	  -D target=docker $(STANDALONE_ARGS) -D reports_dir=$(REPORTS)/standalone $(PROGRESS) $(BEHAVE_ARGS)

# The image the suite runs: the reference image is built when missing or stale; a user's own is checked only.
stack-image: setup
ifneq ($(filter $(IMAGE),$(REFERENCE_IMAGE) $(basename $(subst :,.,$(REFERENCE_IMAGE)))),)
	@$(MAKE) --no-print-directory image
else
	@echo "image: using your image $(IMAGE) as it is (the suite never builds or replaces it)"
	@$(BIN)/python -m rbee_bdd.host.engine image $(IMAGE)
endif

preflight-docker: setup
	@$(BIN)/python -m rbee_bdd.host.engine check

# --- the acceptance suite -------------------------------------------------------------
ifeq ($(ENGINE),podman)
# The same targets on Podman: its service found, or started for the run and stopped after it
# (rbee_bdd/host/podman.py); DOCKER_HOST points the Docker SDK at it, images go to Podman's store.
bdd bdd-report: setup fixtures
	@$(BIN)/python -m rbee_bdd.host.podman run -- $(MAKE) --no-print-directory $@ ENGINE=docker
else
bdd: preflight-docker setup fixtures stack-image
	$(call run_suite,--tags '$(TAGS)' -D target=docker -D image=$(IMAGE) -D reports_dir=$(REPORTS))

# --- reports: what nightly CI publishes ------------------------------------------------
bdd-report: preflight-docker setup fixtures stack-image
	@rm -rf $(REPORTS)/junit $(REPORTS)/allure-results $(REPORTS)/coverage $(REPORTS)/report.html \
	  $(REPORTS)/rerun.txt $(REPORTS)/summary.md $(REPORTS)/parts
	@mkdir -p $(REPORTS)
	@status=0; $(SUITE) --tags '$(TAGS)' -D target=docker -D image=$(IMAGE) -D reports_dir=$(REPORTS) \
	  -D coverage=$(COVERAGE) --junit --junit-directory $(REPORTS)/parts/junit-{part} \
	  -f rbee_bdd.reports.html:HTMLPart -o $(REPORTS)/parts/html-{part}.jsonl \
	  -f allure_behave.formatter:AllureFormatter -o $(REPORTS)/allure-results \
	  -f rerun -o $(REPORTS)/parts/rerun-{part}.txt \
	  $(PROGRESS) $(BEHAVE_ARGS) || status=$$?; \
	$(BIN)/python -m rbee_bdd.reports merge $(REPORTS) || status=1; \
	$(BIN)/python -m rbee_bdd.reports summary $(REPORTS) || status=1; \
	if [ "$(COVERAGE)" = 1 ]; then $(MAKE) --no-print-directory coverage-report || status=1; fi; \
	echo "bdd-report: $(REPORTS)/report.html, $(REPORTS)/summary.md, $(REPORTS)/junit/, $(REPORTS)/allure-results/$(if $(filter 1,$(COVERAGE)),$(comma) $(REPORTS)/coverage/html/)"; \
	exit $$status
endif

# Podman and what rootless Podman needs, from Debian's packages (idempotent)
podman-setup:
	@command -v podman >/dev/null && test -x /usr/libexec/podman/catatonit || \
	  { echo "podman-setup: apt-get install podman catatonit uidmap slirp4netns fuse-overlayfs"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman catatonit uidmap slirp4netns fuse-overlayfs >/dev/null; }
	@podman --version

# A user other than root for the suite (rootless Podman, the local target without root's rights),
# with subordinate id ranges and the llama-cpp-python wheel in its cache (idempotent; run as root)
RBEE_USER ?= rbee-tester
rootless-user:
	@id -u $(RBEE_USER) >/dev/null 2>&1 || useradd --create-home --shell /bin/bash $(RBEE_USER)
	@grep -q "^$(RBEE_USER):" /etc/subuid || usermod --add-subuids 200000-265535 $(RBEE_USER)
	@grep -q "^$(RBEE_USER):" /etc/subgid || usermod --add-subgids 200000-265535 $(RBEE_USER)
	@home=$$(getent passwd $(RBEE_USER) | cut -d: -f6); \
	  install -d -o $(RBEE_USER) -g $(RBEE_USER) $$home/.cache $$home/.cache/rbee $$home/.cache/rbee/wheels; \
	  for wheel in $(WHEEL_CACHE)/llama_cpp_python-*.whl; do test -e "$$wheel" || continue; \
	    test -e $$home/.cache/rbee/wheels/$$(basename $$wheel) || \
	      install -o $(RBEE_USER) -g $(RBEE_USER) -m 0644 $$wheel $$home/.cache/rbee/wheels/; done
	@echo "rootless-user: $(RBEE_USER) ($$(id -u $(RBEE_USER))), subordinate ids: $$(grep "^$(RBEE_USER):" /etc/subuid)"

# The local target as that user, from a clone of this checkout in its home (make rootless-user first)
bdd-local-user: rootless-user
	runuser -u $(RBEE_USER) -- bash -c 'set -e; cd; rm -rf rbee-acceptance; \
	  git config --global --get-all safe.directory | grep -qxF "$(CURDIR)/.git" || \
	    git config --global --add safe.directory "$(CURDIR)/.git"; \
	  git clone --quiet $(CURDIR) rbee-acceptance; cd rbee-acceptance; \
	  make bdd-local TAGS="$(TAGS)" JOBS=$(JOBS)'

coverage-report:  # after a run: the run did the setup
	@cov="$(BIN)/coverage"; rc=fixtures/coverage-report.ini; data=$(REPORTS)/coverage/.coverage; \
	  $$cov combine --rcfile=$$rc --data-file=$$data --keep $(REPORTS)/coverage/data >/dev/null && \
	  $$cov html --rcfile=$$rc --data-file=$$data -d $(REPORTS)/coverage/html -q && \
	  $$cov xml --rcfile=$$rc --data-file=$$data -o $(REPORTS)/coverage/coverage.xml -q && \
	  $$cov report --rcfile=$$rc --data-file=$$data | grep '^TOTAL' | sed 's/^/coverage of the daemons and rbee-keeper: /'

bdd-soak: preflight-docker setup fixtures stack-image
	@rm -rf $(REPORTS)/soak
	@for i in $$(seq 1 $(N)); do echo "bdd-soak: run $$i of $(N)"; \
	  $(BIN)/python -m rbee_bdd.runner.parallel --jobs $(JOBS) --reports $(REPORTS)/soak/run-$$i -- --tags '$(TAGS)' \
	    -D target=docker -D image=$(IMAGE) -D reports_dir=$(REPORTS)/soak/run-$$i $(PROGRESS) $(BEHAVE_ARGS) || true; done
	@$(BIN)/python -m rbee_bdd.reports soak $(REPORTS)/soak/soak.md $(REPORTS)/soak/run-*

bdd-local: setup fixtures
	$(call run_suite,--tags '$(TAGS)' -D target=local -D reports_dir=$(REPORTS))

# --- the project's own tests ---------------------------------------------------------
lint: setup
	$(BIN)/ruff check src features tests fixtures benchmarks
	$(BIN)/mypy src  # --strict, with warn_return_any (pyproject.toml)
	# step bodies type-checked; their signatures and decorators are behave's, untyped
	$(BIN)/mypy --allow-untyped-defs --allow-incomplete-defs --allow-untyped-decorators --allow-untyped-calls \
	  --check-untyped-defs features/steps
	$(BIN)/lint-imports
	$(BIN)/python -m rbee_bdd.runner.tags features
	$(BIN)/python -m rbee_bdd.reports.traceability features
	$(BIN)/zizmor --offline --quiet .github/workflows  # pinned actions, least permissions, no persisted token
	@! grep -rnE '^\s*(from|import)\s+rbee(\.|\s|$$)' features || { echo "lint: features/ imports the stack" >&2; exit 1; }

unit: setup fixtures
	$(BIN)/pytest -q

test: lint unit
	$(MAKE) --no-print-directory bdd-report COVERAGE=0  # coverage: make bdd-report, and nightly
	$(MAKE) --no-print-directory bdd-local
	$(MAKE) --no-print-directory fuzz-short

bench-startup: setup fixtures image
	$(BIN)/python -m benchmarks.startup --runs 5

bench-flow: setup fixtures  # plain HTTP, then TLS on every hop
	$(BIN)/python -m benchmarks.flow --transport plain
	$(BIN)/python -m benchmarks.flow --transport tls

bench-load: setup fixtures
	$(BIN)/python -m benchmarks.load --clients 100 1000 --runs 3 --reports $(REPORTS)/bench-load

bench-auth: setup fixtures
	$(BIN)/python -m benchmarks.auth

# --- chaos: a seeded nemesis against a workload, the history judged by the checker --------------
DURATION ?= 600
CLIENTS  ?= 4
TARGET   ?= docker
CONCURRENT ?= 1
chaos: setup fixtures stack-image
	$(BIN)/python -m rbee_bdd.faults.chaos --seed $(SEED) --duration $(DURATION) --clients $(CLIENTS) --target $(TARGET) \
	  --concurrent $(CONCURRENT) --reports $(REPORTS)/chaos

# --- fuzz: schemathesis against the OpenAPI of a live local stack's queen, hive and worker --------
fuzz: setup fixtures
	$(BIN)/python -m rbee_bdd.faults.fuzz --examples $(FUZZ_EXAMPLES) --seed $(SEED) --reports $(REPORTS)/fuzz

fuzz-short: setup fixtures
	$(BIN)/python -m rbee_bdd.faults.fuzz --examples 10 --seed $(SEED) --reports $(REPORTS)/fuzz --timeout 120

bench: setup fixtures
	$(BIN)/python -m benchmarks.telemetry --runs 5

bench-suite: preflight-docker setup fixtures stack-image  # CPU-seconds per scenario by process kind (root: acct)
	$(BIN)/python -m benchmarks.suite_cpu --runs 3

# --- the cgroup v2 guest: a Debian VM with systemd and Docker, under QEMU (docs/vm.md) -----------
VM_CACHE ?= $(HOME)/.cache/rbee/vm
VM_TAGS  ?= @needs.cgroups or @telemetry
# software emulation (no hardware virtualisation here) is about 15x slower than the host
VM_TIMEOUT_MULTIPLIER ?= 10
VM_TIMEOUT ?= 7200
vm: setup
	@$(BIN)/python fixtures/vm/build_vm.py --cache $(VM_CACHE) --wheel-cache $(WHEEL_CACHE)

vm-test: vm fixtures stack-image
	@$(BIN)/python fixtures/vm/stage.py --cache $(VM_CACHE) --image $(REFERENCE_IMAGE) \
	  --tags '$(VM_TAGS)' --timeout-multiplier $(VM_TIMEOUT_MULTIPLIER)
	@rm -rf $(REPORTS)/vm
	$(BIN)/python fixtures/vm/run_vm.py --cache $(VM_CACHE) --job test --out $(REPORTS)/vm --timeout $(VM_TIMEOUT)

vm-shell: vm
	$(BIN)/python fixtures/vm/run_vm.py --cache $(VM_CACHE) --shell --out $(REPORTS)/vm-shell

# --- cleaning ----------------------------------------------------------------------------
clean:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m rbee_bdd.host.sweep --all; fi
	@-docker image rm -f $(REFERENCE_IMAGE) $(STANDALONE_IMAGE) >/dev/null 2>&1 || true
	rm -rf reports build $(MODELS) .pytest_cache .mypy_cache .ruff_cache

distclean: clean
	@-docker image rm -f rbee-base:latest >/dev/null 2>&1 || true
	rm -rf $(VENV) $(WHEEL_CACHE)
