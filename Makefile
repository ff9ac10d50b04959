# sheaf — build, test, install, demo, bench.
#   make demo     build (release), then generate the example PRD with the offline provider
#   make doc PLAN=… / docs PLAN=… ROWS=… / regen DOC=… SECTION=… / status DOC=… / watch DOC=… / serve DOC=…   (pipelines/sheaf.mk)
#   make test     unit tests and end-to-end tests of the built tools
#   make install  PREFIX=/usr/local
#   make bench    throughput and memory against jq (a script, not a test)

PREFIX ?= /usr/local
SWIFT ?= swift
TOOLS := plan-sections build-prompt call-llm validate-format merge-doc sheaf-run sheaf-serve
APT_PACKAGES := libjansson-dev libcurl4-openssl-dev libcmark-dev pkg-config
TEST_APT_PACKAGES := json-schema-test-suite python3 tmux man-db pandoc jq curl chromium fonts-liberation
PKG_MODULES := jansson libcurl libcmark
RELEASE_BIN := .build/release
RUNS ?= runs
SHEAF_BIN := $(RELEASE_BIN)
# make doc builds the tools only when a source is newer than them (a staged run used to spend
# 0.5-2.5 s in swift build each time).
SOURCES := Package.swift $(shell find Sources -type f 2>/dev/null)
SHEAF_TOOLS := $(RELEASE_BIN)/sheaf-run
# Where make install writes, as a value (a quote or a `$(…)` in PREFIX is a path, not make text).
export SHEAF_DEST := $(value DESTDIR)$(value PREFIX)
# What make install installs: the tools linked against the Swift runtime as shared libraries,
# which it copies once into $(PREFIX)/lib/sheaf (the tools look there, beside themselves).
INSTALL_BIN := .build/dist/release
EXAMPLES := prd book blog episode report outline
# swift-argument-parser's manual generator: the tools' man pages come from their own definitions.
MANUAL_TOOL := .build/debug/generate-manual
MAN_DIR = $$SHEAF_DEST/share/man
BASH_COMPLETIONS = $$SHEAF_DEST/share/bash-completion/completions
ZSH_COMPLETIONS = $$SHEAF_DEST/share/zsh/site-functions
FISH_COMPLETIONS = $$SHEAF_DEST/share/fish/vendor_completions.d

.PHONY: all deps test-deps build dist debug test test-local-model demo install uninstall bench clean lint format

all: build

# The C libraries sheaf links: installed with apt-get when we are root, else the exact command.
deps:
	@missing=""; \
	command -v pkg-config >/dev/null 2>&1 || missing="pkg-config"; \
	for m in $(PKG_MODULES); do pkg-config --exists $$m 2>/dev/null || missing="$$missing $$m"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "sheaf: installing $(APT_PACKAGES)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	  else \
	    echo "sheaf: missing:$$missing. Install them with:"; \
	    echo "  sudo apt-get install $(APT_PACKAGES)"; \
	    exit 2; \
	  fi; \
	fi

# Release binaries with the Swift runtime linked in, and not position-independent: a staged run
# starts six of them per section, and a static Swift binary spends most of its start applying
# some 80,000 relocations (about half the time of a --version). They run where no Swift is
# installed.
build: deps
	$(SWIFT) build -c release --static-swift-stdlib -Xlinker -no-pie

$(RELEASE_BIN)/sheaf-run: $(SOURCES)
	@$(MAKE) --no-print-directory build && touch $@

# The tools to install: the Swift runtime and Foundation linked as shared libraries (the stripped
# tools are 2-3 MB each instead of 57-59 MB; the runtime, 63 MB stripped, is installed once, in
# $(PREFIX)/lib/sheaf), found through the run path $ORIGIN/../lib/sheaf, not the toolchain's.
# They start about 7 ms slower than the static build make doc uses in a checkout.
dist: deps
	$(SWIFT) build -c release --scratch-path .build/dist -Xswiftc -no-toolchain-stdlib-rpath \
	  -Xlinker -rpath -Xlinker '$$ORIGIN/../lib/sheaf'

.build/dist/release/sheaf-run: $(SOURCES)
	@$(MAKE) --no-print-directory dist && touch $@

debug: deps
	$(SWIFT) build

# What the tests read besides the build: the official JSON Schema Test Suite, python3 (the stub
# LLM server), curl and chromium (the live page's HTTP and browser tests).
test-deps: deps
	@if [ ! -d /usr/share/json-schema-test-suite/tests/draft7 ] || ! command -v python3 >/dev/null 2>&1 || ! command -v tmux >/dev/null 2>&1 || ! command -v man >/dev/null 2>&1 || ! command -v pandoc >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "sheaf: installing $(TEST_APT_PACKAGES)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEST_APT_PACKAGES) >/dev/null; \
	  else \
	    echo "sheaf: the tests need: sudo apt-get install $(TEST_APT_PACKAGES)"; exit 2; \
	  fi; \
	fi

test: test-deps lint $(MANUAL_TOOL)
	$(SWIFT) test

$(MANUAL_TOOL):
	$(SWIFT) build --product generate-manual

# The stripped tools in $(PREFIX)/bin; the Swift runtime libraries they use (those ldd finds in
# the toolchain's runtime folder) in $(PREFIX)/lib/sheaf; and in $(PREFIX)/share/sheaf the make
# driver (pipelines/sheaf.mk and section.mk), the prompt sets and the example plans, laid out as
# in the checkout, so the driver finds the tools beside it (../../../bin) or on PATH.
install: $(INSTALL_BIN)/sheaf-run $(MANUAL_TOOL)
	install -d "$$SHEAF_DEST/bin" "$$SHEAF_DEST/lib/sheaf" "$$SHEAF_DEST/share/sheaf/pipelines" "$$SHEAF_DEST/share/sheaf/prompts"
	for t in $(TOOLS); do install -m 0755 -s $(INSTALL_BIN)/$$t "$$SHEAF_DEST/bin/$$t"; done
	@runtime="$$($(SWIFT) -print-target-info | sed -n '/runtimeLibraryPaths/{n;s/.*"\(.*\)".*/\1/p;}')"; \
	test -d "$$runtime" || { echo "sheaf: cannot find the Swift runtime libraries ($$runtime)" >&2; exit 2; }; \
	for t in $(TOOLS); do LD_LIBRARY_PATH="$$runtime" ldd $(INSTALL_BIN)/$$t; done \
	  | awk -v dir="$$runtime/" 'index($$3, dir) == 1 { print $$3 }' | sort -u > .build/runtime-libs; \
	test -s .build/runtime-libs || { echo "sheaf: the tools in $(INSTALL_BIN) use no Swift runtime library from $$runtime" >&2; exit 2; }; \
	while read -r lib; do install -m 0644 "$$lib" "$$SHEAF_DEST/lib/sheaf/" && strip --strip-unneeded "$$SHEAF_DEST/lib/sheaf/$${lib##*/}" || exit 1; done < .build/runtime-libs
	install -m 0644 pipelines/sheaf.mk pipelines/section.mk pipelines/docs.mk pipelines/unexport.mk "$$SHEAF_DEST/share/sheaf/pipelines/"
	for e in $(EXAMPLES); do install -d "$$SHEAF_DEST/share/sheaf/pipelines/$$e" && cp -R pipelines/$$e/. "$$SHEAF_DEST/share/sheaf/pipelines/$$e/"; done
	cp -R prompts/. "$$SHEAF_DEST/share/sheaf/prompts/"
	install -d "$(MAN_DIR)/man1" "$(MAN_DIR)/man7" "$(BASH_COMPLETIONS)" "$(ZSH_COMPLETIONS)" "$(FISH_COMPLETIONS)"
	for t in $(TOOLS); do $(MANUAL_TOOL) $(INSTALL_BIN)/$$t --section 1 -o "$(MAN_DIR)/man1" >/dev/null || exit 1; done
	install -m 0644 man/sheaf.7 "$(MAN_DIR)/man7/sheaf.7"
	for t in $(TOOLS); do \
	  $(INSTALL_BIN)/$$t --generate-completion-script bash > "$(BASH_COMPLETIONS)/$$t" && \
	  $(INSTALL_BIN)/$$t --generate-completion-script zsh > "$(ZSH_COMPLETIONS)/_$$t" && \
	  $(INSTALL_BIN)/$$t --generate-completion-script fish > "$(FISH_COMPLETIONS)/$$t.fish" || exit 1; \
	done
	@echo "sheaf: installed in $$SHEAF_DEST (tools in bin/, driver, prompts and examples in share/sheaf/, man pages, completions for bash, zsh and fish)"

uninstall:
	for t in $(TOOLS); do rm -f "$$SHEAF_DEST/bin/$$t" "$(MAN_DIR)/man1/$$t.1" "$(BASH_COMPLETIONS)/$$t" "$(ZSH_COMPLETIONS)/_$$t" "$(FISH_COMPLETIONS)/$$t.fish"; done
	rm -f "$(MAN_DIR)/man7/sheaf.7"
	rm -rf "$$SHEAF_DEST/share/sheaf" "$$SHEAF_DEST/lib/sheaf"

# The demo: the detailed PRD with the offline provider, paced so that streaming and the parallel
# second stage can be seen, shown live; then where the document and summary are.
demo: build
	@rm -rf $(RUNS)/prd && mkdir -p $(RUNS)
	@echo "sheaf demo: the detailed PRD (12 sections in 3 stages) with the offline provider, J=4"
	@$(MAKE) --no-print-directory doc PLAN=pipelines/prd/plan.json J=4 \
	    CALL_FLAGS="--no-cache --offline-delay 0.3 --offline-tps 120" > $(RUNS)/demo.log 2>&1 & \
	  $(RELEASE_BIN)/sheaf-run watch --run $(RUNS)/prd --until-complete --timeout 180; \
	  wait $$!; status=$$?; \
	  echo; $(RELEASE_BIN)/sheaf-run status --run $(RUNS)/prd; \
	  echo "sheaf demo: document  $(RUNS)/prd/prd.md"; \
	  echo "sheaf demo: summary   $(RUNS)/prd/summary.json"; \
	  echo "sheaf demo: next      make regen DOC=prd SECTION=goals_objectives NOTE=\"focus on scalability\""; \
	  echo "sheaf demo: or watch  make serve DOC=prd   (a live page of the run, with its actions)"; \
	  exit $$status

bench: build
	python3 bench/bench.py

# sheaf against a real local model: llama.cpp's server and a small GGUF model from PyPI (see
# Tests/Tools/local_model.py); not part of make test.
test-local-model: build
	python3 Tests/Tools/local_model.py

# Staged runs: make doc, regen, status, watch.
include pipelines/sheaf.mk

# One formatter: .swift-format (swift-argument-parser's rules, 100 columns). `make format` fixes
# what it can; `make lint` (part of `make test`, so CI enforces it) fails on any finding, and on
# a source file over 500 lines or a function over 120 (Tests/Tools/check_sizes.py).
lint:
	$(SWIFT) format lint --strict --recursive --parallel Sources Tests Package.swift
	python3 Tests/Tools/check_sizes.py

format:
	$(SWIFT) format --in-place --recursive --parallel Sources Tests Package.swift

clean:
	rm -rf .build $(RUNS)
