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
# (regenerate over people's edits), ALLOW_OUTSIDE=1 (let the plan read files outside its
# folder), CALL_FLAGS, PROMPT_FLAGS, VALIDATE_FLAGS (extra flags).
#
# What people type (PLAN, RUNS, NOTE, MODE) and every path reach the recipes through the
# environment, unexpanded: a space or a `$` arrives exactly as typed, and the generated
# sections.mk holds nothing but section ids, so nothing a plan says is ever make or shell syntax.
# Never put what people typed into a recipe's environment as make text: make would expand it
# there (a NOTE with `$(shell …)` would run). The recipes read the SHEAF_* copies instead.
unexport NOTE PLAN RUNS MODE BASE_URL PROVIDER MODEL CASCADE CALL_FLAGS PROMPT_FLAGS VALIDATE_FLAGS SECTION DOC
SHEAF_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
SHEAF_BIN ?= $(SHEAF_DIR)/../.build/release
RUNS ?= runs
J ?= 4
CASCADE ?= yes

export SHEAF_BIN
export SHEAF_PLAN := $(value PLAN)
export SHEAF_RUNS := $(value RUNS)
export SHEAF_NOTE := $(value NOTE)
export SHEAF_MODE_ARG := $(value MODE)
export SHEAF_DOC_ARG := $(value DOC)
export SHEAF_CASCADE := $(value CASCADE)
export SHEAF_SECTION_ARG := $(value SECTION)
ifneq ($(value PROVIDER),)
export SHEAF_PROVIDER := $(value PROVIDER)
endif
ifneq ($(value MODEL),)
export SHEAF_MODEL := $(value MODEL)
endif
ifneq ($(value BASE_URL),)
export SHEAF_BASE_URL := $(value BASE_URL)
endif
ifneq ($(FORCE),)
export SHEAF_FORCE := 1
endif
ifneq ($(ALLOW_OUTSIDE),)
export SHEAF_ALLOW_OUTSIDE := 1
endif

.PHONY: doc regen status watch

# Prepare the run, build the sections (-k: a failure never stops the others) with make running in
# the run directory, merge the document whatever happened, and fail when it is not ready.
doc: $(SHEAF_TOOLS)
	@test -n "$$SHEAF_PLAN" || { echo "sheaf: usage: make doc PLAN=pipelines/prd/plan.json [J=8] [MODE=…] [PROVIDER=…] [MODEL=…]" >&2; exit 2; }
	@SHEAF_CWD="$$(pwd)"; export SHEAF_CWD; \
	SHEAF_BIN="$$(cd "$$SHEAF_BIN" 2>/dev/null && pwd)" || { echo "sheaf: no tools in $(SHEAF_BIN): run make build, or set SHEAF_BIN" >&2; exit 2; }; \
	export SHEAF_BIN; \
	doc=$$("$$SHEAF_BIN/sheaf-run" prepare --plan "$$SHEAF_PLAN" --runs "$$SHEAF_RUNS" --mode "$$SHEAF_MODE_ARG" $(if $(FORCE),--force) \
	    $${SHEAF_REGEN:+--regenerate "$$SHEAF_REGEN" --cascade "$$SHEAF_CASCADE"}) || exit 2; \
	SHEAF_RUN="$$SHEAF_RUNS/$$doc"; export SHEAF_RUN; \
	$(MAKE) --no-print-directory -k -j$(J) -C "$$SHEAF_RUN" -f "$$(cd "$(SHEAF_DIR)" && pwd)/section.mk" sheaf-sections; \
	built=$$?; \
	set -- "$$SHEAF_RUN/plan.ndjson"; \
	for f in "$$SHEAF_RUN"/sections/*.json; do [ -e "$$f" ] && set -- "$$@" "$$f"; done; \
	"$$SHEAF_BIN/merge-doc" -o "$$SHEAF_RUN/$$doc.md" --summary "$$SHEAF_RUN/summary.json" --events-file "$$SHEAF_RUN/events.ndjson" "$$@"; \
	merged=$$?; \
	echo "sheaf: document $$SHEAF_RUN/$$doc.md · summary $$SHEAF_RUN/summary.json · make status DOC=$$doc"; \
	[ $$built = 0 ] && [ $$merged = 0 ]

# Regenerate one section (with NOTE as its instructions) and, unless CASCADE=no, every section
# that uses it, asking the provider again even when the cache has an answer; then re-merge.
regen: $(SHEAF_TOOLS)
	@test -n "$$SHEAF_DOC_ARG" -a -n "$$SHEAF_SECTION_ARG" || { echo "sheaf: usage: make regen DOC=prd SECTION=id [NOTE=\"…\"] [CASCADE=no]" >&2; exit 2; }
	@plan="$$("$$SHEAF_BIN/sheaf-run" info --run "$$SHEAF_RUNS/$$SHEAF_DOC_ARG" plan)" || exit 2; \
	mode="$$("$$SHEAF_BIN/sheaf-run" info --run "$$SHEAF_RUNS/$$SHEAF_DOC_ARG" mode)"; \
	PLAN="$$plan" MODE="$$mode" SHEAF_REGEN="$$SHEAF_SECTION_ARG" $(MAKE) --no-print-directory doc SHEAF_REFRESH_ALL=1

status: $(SHEAF_TOOLS)
	@test -n "$$SHEAF_DOC_ARG" || { echo "sheaf: usage: make status DOC=prd" >&2; exit 2; }
	@"$$SHEAF_BIN/sheaf-run" status --run "$$SHEAF_RUNS/$$SHEAF_DOC_ARG"

watch: $(SHEAF_TOOLS)
	@test -n "$$SHEAF_DOC_ARG" || { echo "sheaf: usage: make watch DOC=prd" >&2; exit 2; }
	@"$$SHEAF_BIN/sheaf-run" watch --run "$$SHEAF_RUNS/$$SHEAF_DOC_ARG" --until-complete
