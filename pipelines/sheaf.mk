# sheaf — staged runs driven by make. Include it from a Makefile (the project's own does):
#
#   make doc PLAN=pipelines/prd/plan.json J=8        build every section, as soon as its
#                                                     dependencies are done, then the document
#   make regen DOC=prd SECTION=goals_objectives NOTE="focus on scalability" [CASCADE=no]
#   make status DOC=prd                               each section, and the progress
#   make watch DOC=prd                                the same, live, with the text being written
#
# Variables: RUNS (default runs), J (sections at once, default 4), MODE, PROVIDER, MODEL,
# BASE_URL (or SHEAF_PROVIDER, SHEAF_MODEL, SHEAF_BASE_URL in the environment), FORCE=1
# (regenerate over people's edits), CALL_FLAGS, PROMPT_FLAGS, VALIDATE_FLAGS (extra flags).
SHEAF_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
SHEAF_BIN ?= $(SHEAF_DIR)/../.build/release
RUNS ?= runs
J ?= 4
CASCADE ?= yes

ifneq ($(PROVIDER),)
export SHEAF_PROVIDER := $(PROVIDER)
endif
ifneq ($(MODEL),)
export SHEAF_MODEL := $(MODEL)
endif
ifneq ($(BASE_URL),)
export SHEAF_BASE_URL := $(BASE_URL)
endif
ifneq ($(FORCE),)
export SHEAF_FORCE := 1
endif
export SHEAF_NOTE := $(NOTE)

.PHONY: doc regen status watch

# Prepare the run, build the sections (-k: a failure never stops the others), merge the document
# whatever happened, and fail when it is not ready.
doc: $(SHEAF_TOOLS)
	@test -n "$(PLAN)" || { echo "sheaf: usage: make doc PLAN=pipelines/prd/plan.json [J=8] [MODE=…] [PROVIDER=…] [MODEL=…]" >&2; exit 2; }
	@doc=$$($(SHEAF_BIN)/sheaf-run prepare --plan "$(PLAN)" --runs "$(RUNS)" --mode "$(MODE)" $(if $(FORCE),--force) \
	    $(if $(SHEAF_REGEN),--regenerate $(SHEAF_REGEN) --cascade $(CASCADE))) || exit 2; \
	run="$(RUNS)/$$doc"; \
	$(MAKE) --no-print-directory -k -j$(J) -f $(SHEAF_DIR)/section.mk SHEAF_RUN="$$run" SHEAF_PLAN="$(PLAN)" sheaf-sections; \
	built=$$?; \
	$(SHEAF_BIN)/merge-doc -o "$$run/$$doc.md" --summary "$$run/summary.json" --events-file "$$run/events.ndjson" \
	    "$$run/plan.ndjson" $$(ls "$$run"/sections/*.json 2>/dev/null); \
	merged=$$?; \
	echo "sheaf: document $$run/$$doc.md · summary $$run/summary.json · make status DOC=$$doc"; \
	[ $$built = 0 ] && [ $$merged = 0 ]

# Regenerate one section (with NOTE as its instructions) and, unless CASCADE=no, every section
# that uses it, asking the provider again even when the cache has an answer; then re-merge.
regen: $(SHEAF_TOOLS)
	@test -n "$(DOC)" -a -n "$(SECTION)" || { echo "sheaf: usage: make regen DOC=prd SECTION=id [NOTE=\"…\"] [CASCADE=no]" >&2; exit 2; }
	@plan=$$(sed -n 's/^SHEAF_PLAN ?= //p' "$(RUNS)/$(DOC)/sections.mk" 2>/dev/null); \
	test -n "$$plan" || { echo "sheaf: no run at $(RUNS)/$(DOC): make doc PLAN=… first" >&2; exit 2; }; \
	mode=$$(sed -n 's/^SHEAF_MODE := //p' "$(RUNS)/$(DOC)/sections.mk"); \
	$(MAKE) --no-print-directory doc PLAN="$$plan" MODE="$$mode" SHEAF_REGEN="$(SECTION)" SHEAF_REFRESH_ALL=1

status: $(SHEAF_TOOLS)
	@test -n "$(DOC)" || { echo "sheaf: usage: make status DOC=prd" >&2; exit 2; }
	@$(SHEAF_BIN)/sheaf-run status --run "$(RUNS)/$(DOC)"

watch: $(SHEAF_TOOLS)
	@test -n "$(DOC)" || { echo "sheaf: usage: make watch DOC=prd" >&2; exit 2; }
	@$(SHEAF_BIN)/sheaf-run watch --run "$(RUNS)/$(DOC)" --until-complete
