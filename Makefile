# getlab — the two commands a user needs:
#   make conformance   run the suites on the default topology, write the report
#   make test          go vet, unit tests, then the suites
# Both need root (network namespaces). LABELS= passes a Ginkgo label filter,
# e.g. `make conformance LABELS=smoke` or LABELS='!slow' (the quick subset).
# KS= and GM= choose the implementations (images/<name>/implementation.yaml)
# the registration, dataplane, rekey, robustness, coop and operations suites judge:
# `make conformance KS=getvpnd-wire GM=getvpnd`. The smoke suite tests the
# bench itself and runs getvpnd on the topologies' own configs.
# `make interop` runs those six suites for every KS × GM pairing and writes
# the matrix (reports/out/interop/matrix.html).

# bash: the interop target waits for one of its pairings at a time.
SHELL   := /bin/bash
GO      ?= go
GINKGO  ?= $(GO) tool ginkgo
LABELS  ?=
PROCS   ?= 2
REPORTS ?= reports/out
TIMEOUT ?= 60m
BIN     := $(CURDIR)/bin
# The module version: the images' second tag and getvpnd --version.
VERSION ?= v0.1.0
BUSYBOX ?= /bin/busybox
# The implementations under test, passed to the suites as the environment.
KS      ?= getvpnd
GM      ?= getvpnd

export GETLAB_BIN     := $(BIN)
export GETLAB_REPORTS := $(abspath $(REPORTS))
export GETLAB_KS      := $(KS)
export GETLAB_GM      := $(GM)

# The unit tests: every package but the suites, and suitekit (the suites'
# shared code).
UNIT_PKGS = $(shell $(GO) list ./... | grep -v /suites/) $(shell $(GO) list ./suites/suitekit)

.PHONY: all build images docker-images conformance conformance-docker interop test vet unit bench fuzz clean require-root deps

all: build

# Static binaries (no cgo), so the same files run in the netns runtime and in
# FROM-scratch container images.
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -ldflags '-X main.version=$(VERSION)' -o $(BIN)/ ./cmd/...

# The project's images, FROM scratch: a context per image with the static
# binaries and a static busybox (Debian package busybox-static); nothing is
# pulled. Tagged dev and $(VERSION).
images: build
	@test -x $(BUSYBOX) && $(BUSYBOX) --help >/dev/null 2>&1 || { echo "make images: needs a static busybox at $(BUSYBOX) (apt-get install busybox-static)" >&2; exit 1; }
	@for img in getvpnd host gm-swarm wire router; do \
		ctx=build/images/$$img; rm -rf $$ctx && mkdir -p $$ctx && \
		cp images/$$img/Dockerfile $(BUSYBOX) $$ctx/ && \
		if [ $$img = getvpnd ]; then cp $(BIN)/getvpnd $(BIN)/getctl $$ctx/; fi && \
		if [ $$img = gm-swarm ]; then cp $(BIN)/gm-swarm $$ctx/; fi && \
		if [ $$img = wire ]; then cp $(BIN)/getlab-wire $$ctx/; fi && \
		if [ $$img = router ]; then cp $(BIN)/getlab-mrouter $$ctx/; fi && \
		docker build -q -t getlab/$$img:dev -t getlab/$$img:$(VERSION) $$ctx || exit 1; \
	done

# The Debian packages the bench needs, installed when missing, and a Docker
# engine started when one is installed but none answers
# (harness/setup/debian-deps says what it does; GETLAB_NO_INSTALL=1 only
# reports).
deps:
	@harness/setup/debian-deps

require-root:
	@if [ "$$(id -u)" != 0 ]; then \
		echo "getlab: 'make $(MAKECMDGOALS)' needs root to create network namespaces; run it as root (or with sudo)" >&2; \
		exit 1; \
	fi

# The suites, with JUnit and JSON reports and a one-screen summary, then a
# bug-report bundle per failed spec in $(REPORTS)/bundles/ (`getlab repro`
# replays one; said on stderr, the summary stays as it is). The exit
# status is Ginkgo's, after the summary is printed.
conformance: require-root deps build docker-images
	@rm -rf $(REPORTS) && mkdir -p $(REPORTS)
	@rc=0; $(GINKGO) -r --procs=$(PROCS) --label-filter='$(LABELS)' \
		--junit-report=junit.xml --json-report=report.json --output-dir=$(REPORTS) \
		--keep-going --timeout=$(TIMEOUT) --poll-progress-after=120s \
		./suites || rc=$$?; \
	$(BIN)/getlab report $(REPORTS) | tee $(REPORTS)/summary.txt; \
	$(BIN)/getlab bundle --failed $(REPORTS) || echo "getlab bundle: some bundles not written" >&2; \
	exit $$rc

# The smoke, data plane and rekey suites again on the docker runtime (GETLAB_RUNTIME=docker), its
# reports under $(REPORTS)/docker/. Without a Docker engine its specs skip
# and say so.
conformance-docker: require-root build docker-images
	@rm -rf $(REPORTS)/docker && mkdir -p $(REPORTS)/docker
	@rc=0; GETLAB_RUNTIME=docker GETLAB_REPORTS=$(abspath $(REPORTS))/docker $(GINKGO) --procs=$(PROCS) \
		--label-filter='smoke || dataplane || rekey' --junit-report=junit.xml --json-report=report.json \
		--output-dir=$(REPORTS)/docker --keep-going --timeout=$(TIMEOUT) ./suites/smoke ./suites/dataplane ./suites/rekey || rc=$$?; \
	$(BIN)/getlab report $(REPORTS)/docker | sed 's/^conformance:/conformance (docker runtime):/' | tee $(REPORTS)/docker/summary.txt; \
	$(BIN)/getlab bundle --failed $(REPORTS)/docker || echo "getlab bundle: some bundles not written" >&2; \
	exit $$rc

# Docker is optional: where an engine answers, the images are built so that
# the docker runtime's tests and specs run; elsewhere they skip.
docker-images:
	@if docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory images; \
	else echo "no Docker engine answers: the docker runtime's tests and specs will skip"; fi

# The suites that judge the implementations KS= and GM= choose: the ones
# `make interop` runs for every pairing. The scale suite (suites/scale)
# judges the KS alone, against the GM swarm: `make conformance` runs it
# for KS=, and no pairing needs it again.
INTEROP_SUITES ?= ./suites/registration ./suites/dataplane ./suites/rekey ./suites/robustness ./suites/coop ./suites/operations ./suites/modes ./suites/impair ./suites/mtu

# Every pairing of the registered implementations (every one playing KS
# with every one playing GM) runs INTEROP_SUITES on the netns runtime, each
# pairing's reports and artifacts under $(REPORTS)/interop/<ks>__<gm>/
# (Ginkgo's output in ginkgo.log there); then `getlab matrix` writes
# matrix.json and matrix.html and prints a line per pairing. Fails when a
# spec failed or a pairing did not run (the matrix reads both from the
# reports). INTEROP_JOBS pairings run at a time (default 1): pairings in
# protocol time mostly wait, so a full run of slow pairings can overlap
# them; timings at a timer scale want the machine to themselves.
INTEROP_JOBS ?= 1
comma := ,
space := $(subst ,, )
# The suites are compiled once, each into build/suites/<suite>/ (inside the
# tree: a suite finds the repository from its working directory; a folder
# each, so that their reports do not overwrite one another), and every
# pairing runs the same binaries: concurrent pairings must not rebuild them.
# The matrix fails a pairing that did not report every one of them.
INTEROP_NAMES = $(patsubst ./suites/%,%,$(INTEROP_SUITES))
INTEROP_BINS  = $(foreach s,$(INTEROP_NAMES),$(CURDIR)/build/suites/$(s)/$(s).test)
interop: require-root deps build
	@rm -rf $(REPORTS)/interop && mkdir -p $(REPORTS)/interop
	@rm -rf build/suites && for s in $(INTEROP_NAMES); do \
		mkdir -p build/suites/$$s && $(GINKGO) build -o $(CURDIR)/build/suites/$$s ./suites/$$s >/dev/null || exit 1; \
	done
	@pairs=$$($(BIN)/getlab matrix --pairings) || exit 1; \
	pairing() { \
		ks=$${1%%__*}; gm=$${1#*__}; out=$(abspath $(REPORTS))/interop/$$1; mkdir -p $$out; \
		start=$$(date +%s); \
		GETLAB_KS=$$ks GETLAB_GM=$$gm GETLAB_REPORTS=$$out $(GINKGO) --procs=$(PROCS) \
			--label-filter='$(LABELS)' --junit-report=junit.xml --json-report=report.json \
			--output-dir=$$out --keep-going --timeout=$(TIMEOUT) $(INTEROP_BINS) >$$out/ginkgo.log 2>&1; \
		echo "interop: KS $$ks × GM $$gm done in $$(( $$(date +%s) - start )) s (log: $$out/ginkgo.log)"; \
	}; \
	running=0; for p in $$pairs; do \
		pairing $$p & running=$$((running + 1)); \
		if [ $$running -ge $(INTEROP_JOBS) ]; then wait -n; running=$$((running - 1)); fi; \
	done; wait; \
	rc=0; $(BIN)/getlab matrix --suites $(subst $(space),$(comma),$(INTEROP_NAMES)) $(REPORTS)/interop >$(REPORTS)/interop/summary.txt 2>&1 || rc=1; \
	cat $(REPORTS)/interop/summary.txt; \
	exit $$rc

# make test ends with the interop matrix: the six suites judge
# getvpnd-wire (no status, key log or timer scale) as KS, GM and both.
# It is the pull-request subset: the specs labelled slow (scenarios that
# run minutes of protocol time where an implementation cannot scale its
# timers) are left out, and the matrix counts them; `make interop` alone
# runs them all.
QUICK ?= !slow
test: require-root deps vet unit conformance conformance-docker
	@$(MAKE) --no-print-directory interop LABELS='$(QUICK)'

vet:
	$(GO) vet ./...

# harness/netns tests `getlab down --all`, which removes every lab on the
# machine: the packages whose tests deploy labs (netns, docker) run one after
# the other, after the rest.
LAB_PKGS = $(filter %/harness/netns %/harness/docker,$(UNIT_PKGS))

unit: build docker-images
	$(GO) test -count=1 $(filter-out $(LAB_PKGS),$(UNIT_PKGS))
	$(GO) test -count=1 -p 1 $(LAB_PKGS)

# The anchor of the data-plane figures, wireguard-go, is built from its Go
# module (a tool in go.mod) and run on the same namespaces as getvpnd.
bench: require-root deps build
	CGO_ENABLED=0 $(GO) build -o $(BIN)/wireguard-go golang.zx2c4.com/wireguard
	$(GO) test -run '^$$' -bench . -benchmem $(UNIT_PKGS)
	$(GO) test -run '^$$' -bench EndToEnd -benchtime 1x ./suites/dataplane
	$(GO) test -run '^$$' -bench Swarm -benchtime 1x ./suites/scale

# A short fuzzing pass over every fuzz target (FUZZTIME each).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $(UNIT_PKGS); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf $(BIN) reports/out
