# sheaf — build, test, install, demo, bench.
#   make demo     build (release), then plan the example PRD and merge it
#   make test     unit tests and end-to-end tests of the built tools
#   make install  PREFIX=/usr/local
#   make bench    throughput and memory against jq (a script, not a test)

PREFIX ?= /usr/local
SWIFT ?= swift
TOOLS := plan-sections build-prompt call-llm validate-format merge-doc
APT_PACKAGES := libjansson-dev libcurl4-openssl-dev libcmark-dev pkg-config
TEST_APT_PACKAGES := json-schema-test-suite python3
PKG_MODULES := jansson libcurl libcmark
RELEASE_BIN := .build/release
RUNS ?= runs

.PHONY: all deps test-deps build debug test demo install uninstall bench clean lint

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

build: deps
	$(SWIFT) build -c release

debug: deps
	$(SWIFT) build

# What the tests read besides the build: the official JSON Schema Test Suite and python3 (the
# stub LLM server).
test-deps: deps
	@if [ ! -d /usr/share/json-schema-test-suite/tests/draft7 ] || ! command -v python3 >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "sheaf: installing $(TEST_APT_PACKAGES)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEST_APT_PACKAGES) >/dev/null; \
	  else \
	    echo "sheaf: the tests need: sudo apt-get install $(TEST_APT_PACKAGES)"; exit 2; \
	  fi; \
	fi

test: test-deps
	$(SWIFT) test

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	for t in $(TOOLS); do install -m 0755 $(RELEASE_BIN)/$$t $(DESTDIR)$(PREFIX)/bin/$$t; done

uninstall:
	for t in $(TOOLS); do rm -f $(DESTDIR)$(PREFIX)/bin/$$t; done

# Today's demo: plan the detailed PRD, show its stages, and merge the records into a document
# skeleton with its summary. Generation (build-prompt, call-llm, validate-format) is not built yet.
demo: build
	@mkdir -p $(RUNS)/prd
	@$(RELEASE_BIN)/plan-sections pipelines/prd/plan.json > $(RUNS)/prd/plan.ndjson
	@echo "sheaf demo: planned $$(wc -l < $(RUNS)/prd/plan.ndjson | tr -d ' ') sections of pipelines/prd/plan.json (mode detailed) into $(RUNS)/prd/plan.ndjson"
	@$(RELEASE_BIN)/plan-sections --emit dot pipelines/prd/plan.json > $(RUNS)/prd/prd.dot
	@$(RELEASE_BIN)/merge-doc -o $(RUNS)/prd/prd.md --summary $(RUNS)/prd/summary.json $(RUNS)/prd/plan.ndjson || true
	@echo "sheaf demo: document  $(RUNS)/prd/prd.md"
	@echo "sheaf demo: summary   $(RUNS)/prd/summary.json"
	@echo "sheaf demo: graph     $(RUNS)/prd/prd.dot (dot -Tsvg $(RUNS)/prd/prd.dot > prd.svg)"
	@echo "sheaf demo: generation with the offline provider arrives with call-llm and build-prompt;"
	@echo "            until then every section is 'pending' and the document is a skeleton."

bench: build
	python3 bench/bench.py

lint:
	$(SWIFT) format lint --recursive Sources Tests

clean:
	rm -rf .build $(RUNS)
