# sheaf — staged runs driven by make. Include it from a Makefile (the project's own does):
#
#   make doc PLAN=pipelines/prd/plan.json J=8        build every section, as soon as its
#                                                     dependencies are done, then the document
#   make regen DOC=prd SECTION=goals_objectives NOTE="focus on scalability" [CASCADE=no|a,b] [DRY=1]
#   make status DOC=prd                               each section (stale ones with the reason),
#                                                     the progress, what the next make doc asks
#   make watch DOC=prd                                the same, live, with the text being written
#   make outline BRIEF=brief.md OUT=plan.json [KIND=report|prd|book|blog] [SECTIONS=n] [CANDIDATES=k]
#                                                     a plan drafted from a brief, to read, edit
#                                                     and run (k candidates: OUT-1.json …)
#   make doctor PLAN=plan.json [PROVIDER=…] [ROWS=…] check the tools, plan, prompts, key, server,
#                                                     model and price before anything is spent
#   make serve DOC=prd [PORT=n]                       a live page of the run, with its actions
#   make serve PLAN=plan.json ROWS=rows.csv           the set's page: every document, each opening
#                                                     its own live page
#   make docs PLAN=plan.json ROWS=rows.csv [DOC_ID='{{row.product}}'] [SHARD=i/N] [J=16]
#                                                     one document per row (CSV or JSON lines),
#                                                     its fields the document's inputs; J, BUDGET
#                                                     and the rate limit shared by them all
#   make docs PLAN=… ROWS=… BATCH=1                   the same through the providers' batch APIs
#                                                     (openai, anthropic): half the price, in waves
#   make status PLAN=plan.json ROWS=rows.csv          the set: each document and the totals
#   make watch PLAN=plan.json ROWS=rows.csv           the documents being built, live
#   make doc PLAN=plan.json DOC=id                    one document of the plan (a row of a set)
#   sheaf-run approve --run runs/<doc> ID             let a section marked "review": true go on
#
# Variables: RUNS (default runs), J (sections at once, default 4), MODE, PROVIDER, MODEL,
# BASE_URL (or SHEAF_PROVIDER, SHEAF_MODEL, SHEAF_BASE_URL in the environment), FORCE=1
# (regenerate over people's edits), ALLOW_OUTSIDE=1 (let the plan read files outside its
# folder), ONLY=a,b (build those sections and what they need), DRY=1 (say what would be asked
# and its estimated cost, do nothing), PRICES=file (or
# SHEAF_PRICES), BUDGET=usd (no request starts once the run's spending would pass it), WARN=rules
# (rules that only warn; remembered by the run until given again), MAX_TOKENS=n, TIMEOUT=s,
# RETRIES=n (caps for every request; MAX_TOKENS is remembered like WARN), FORGET=1 (forget the
# settings earlier runs were given), NOTES=1 (keep sections marked in_document: false in the document),
# FORMAT=docx,pdf,epub,html,odt (also write the document in these formats with pandoc, next to
# the Markdown), NOTIFY='command' (run when a make doc ends, with SHEAF_DOC,
# SHEAF_DOC_STATUS, SHEAF_DOCUMENT and SHEAF_SUMMARY in its environment), CALL_FLAGS,
# PROMPT_FLAGS, VALIDATE_FLAGS.
#
# A section is built when it did not complete or when its fingerprint (the prompt it would get
# now, its llm settings and format) differs from the one it was built with; one run per document
# at a time (`sheaf-run lock`).
#
# What people type (PLAN, RUNS, NOTE, MODE) and every path reach the recipes through the
# environment, unexpanded: a space or a `$` arrives exactly as typed, and the generated
# sections.mk holds nothing but section ids, so nothing a plan says is ever make or shell syntax.
# Never put what people typed into a recipe's environment as make text: make would expand it
# there (a NOTE with `$(shell …)` would run). The recipes read the SHEAF_* copies instead.
# ONLY= given (even empty) or not at all: told apart before `unexport` defines it.
export SHEAF_ONLY_GIVEN := $(if $(filter undefined,$(origin ONLY)),,1)
# WARN= given (even empty) or not: the run remembers the last one given.
export SHEAF_WARN_GIVEN := $(if $(filter undefined,$(origin WARN)),,1)
export SHEAF_ONLY := $(value ONLY)
# Defaults first: `unexport` below defines a variable that is not set yet (as empty).
RUNS ?= runs
J ?= 4
CASCADE ?= yes
include $(dir $(lastword $(MAKEFILE_LIST)))unexport.mk
SHEAF_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
# The tools: SHEAF_BIN if set; else a checkout's release build; else beside an installed driver
# ($(PREFIX)/share/sheaf/pipelines → $(PREFIX)/bin); else on PATH.
ifeq ($(strip $(SHEAF_BIN)),)
undefine SHEAF_BIN
endif
SHEAF_BIN ?= $(patsubst %/,%,$(dir $(firstword $(wildcard $(SHEAF_DIR)/../.build/release/sheaf-run $(SHEAF_DIR)/../../../bin/sheaf-run) $(shell command -v sheaf-run 2>/dev/null) $(SHEAF_DIR)/../.build/release/sheaf-run)))
# The prompt sets that ship with the driver (the generic `default` set among them).
SHEAF_PROMPTS ?= $(abspath $(SHEAF_DIR)/../prompts)
export SHEAF_PROMPTS

export SHEAF_BIN
export SHEAF_PLAN := $(value PLAN)
export SHEAF_RUNS := $(value RUNS)
export SHEAF_NOTE := $(value NOTE)
export SHEAF_MODE_ARG := $(value MODE)
export SHEAF_DOC_ARG := $(value DOC)
export SHEAF_CASCADE := $(value CASCADE)
export SHEAF_SECTION_ARG := $(value SECTION)
export SHEAF_BRIEF := $(value BRIEF)
export SHEAF_OUT := $(value OUT)
export SHEAF_KIND := $(value KIND)
export SHEAF_SECTIONS := $(value SECTIONS)
export SHEAF_CANDIDATES := $(value CANDIDATES)
export SHEAF_PORT := $(value PORT)
export SHEAF_HOST := $(value HOST)
export SHEAF_ROWS := $(value ROWS)
export SHEAF_DOC_ID := $(value DOC_ID)
export SHEAF_SHARD := $(value SHARD)
export SHEAF_BATCH := $(value BATCH)
# The makefile make was started with (make serve's actions run make with it).
export SHEAF_MAKEFILE := $(firstword $(MAKEFILE_LIST))
# Flags are 1 or 0 (or not given), read as values: a flag never reaches a recipe as make text.
SHEAF_BAD_FLAG := $(firstword $(foreach v,FORCE DRY ALLOW_OUTSIDE CLEAR_NOTE NOTES FORGET,$(if $(filter-out 0 1,$(value $(v))),$(v))))
ifneq ($(SHEAF_BAD_FLAG),)
$(error sheaf: $(SHEAF_BAD_FLAG)=$(value $(SHEAF_BAD_FLAG)): give 1 (or 0))
endif
ifeq ($(value NOTES),1)
export SHEAF_NOTES := 1
endif
ifeq ($(value FORGET),1)
export SHEAF_FORGET := 1
endif
ifneq ($(value PROVIDER),)
export SHEAF_PROVIDER := $(value PROVIDER)
endif
ifneq ($(value MODEL),)
export SHEAF_MODEL := $(value MODEL)
endif
ifneq ($(value BASE_URL),)
export SHEAF_BASE_URL := $(value BASE_URL)
endif
ifeq ($(value FORCE),1)
export SHEAF_FORCE := 1
endif
ifeq ($(value ALLOW_OUTSIDE),1)
export SHEAF_ALLOW_OUTSIDE := 1
endif
ifneq ($(value PRICES),)
export SHEAF_PRICES := $(value PRICES)
endif
export SHEAF_WARN := $(value WARN)
export SHEAF_JOBS := $(value J)
# The tools' own flags, as values: split into words by the shell, never expanded by make.
export SHEAF_CALL_FLAGS := $(value CALL_FLAGS)
export SHEAF_PROMPT_FLAGS := $(value PROMPT_FLAGS)
export SHEAF_VALIDATE_FLAGS := $(value VALIDATE_FLAGS)
# Caps from the command line: MAX_TOKENS (part of what a section is built from, remembered by
# the run), TIMEOUT (seconds an attempt) and RETRIES; call-llm reads them as SHEAF_*.
ifneq ($(value MAX_TOKENS),)
export SHEAF_MAX_TOKENS := $(value MAX_TOKENS)
endif
ifneq ($(value TIMEOUT),)
export SHEAF_TIMEOUT := $(value TIMEOUT)
endif
ifneq ($(value RETRIES),)
export SHEAF_RETRIES := $(value RETRIES)
endif
export SHEAF_NOTIFY := $(value NOTIFY)
export SHEAF_FORMAT := $(value FORMAT)
export SHEAF_BUDGET := $(value BUDGET)
ifeq ($(value DRY),1)
export SHEAF_DRY := 1
endif
ifeq ($(value CLEAR_NOTE),1)
export SHEAF_CLEAR_NOTE := 1
endif

.PHONY: doc docs regen status watch outline doctor serve

# The prepare step, written once (make doc and DRY=1): the plan, the settings the run stores for
# every tool (PROMPT_FLAGS, WARN, BUDGET, J, and call-llm's flags after --), the regeneration.
SHEAF_PREPARE = "$$SHEAF_BIN/sheaf-run" prepare --plan "$$SHEAF_PLAN" --runs "$$SHEAF_RUNS" --mode "$$SHEAF_MODE_ARG" \
  $${SHEAF_DOC_ARG:+--id "$$SHEAF_DOC_ARG"} $${SHEAF_SET:+--in-set "$$SHEAF_SET"} \
  $${SHEAF_WARN_GIVEN:+--warn "$$SHEAF_WARN"} --jobs "$$SHEAF_JOBS" $${SHEAF_BUDGET:+--budget "$$SHEAF_BUDGET"} $${SHEAF_DRY:+--dry-run} \
  $${SHEAF_FORCE:+--force} $${SHEAF_REGEN:+--regenerate "$$SHEAF_REGEN" --cascade "$$SHEAF_CASCADE" --note "$$SHEAF_NOTE"} \
  $${SHEAF_CLEAR_NOTE:+--clear-note} $${SHEAF_FORGET:+--forget} $${SHEAF_ONLY_GIVEN:+--only "$$SHEAF_ONLY"} $$SHEAF_PROMPT_FLAGS -- $$SHEAF_CALL_FLAGS

# What a run needs, checked before anything is spent (make doctor; make doc checks, once the run
# is prepared, the part that needs no network for the sections it will ask, with the settings the
# run keeps, and says only what failed).
SHEAF_DOCTOR = "$$SHEAF_BIN/sheaf-run" doctor $(1) --plan "$$SHEAF_PLAN" --mode "$$SHEAF_MODE_ARG" --rows "$$SHEAF_ROWS" \
  $${SHEAF_BUDGET:+--budget "$$SHEAF_BUDGET"} $$SHEAF_PROMPT_FLAGS -- $$SHEAF_CALL_FLAGS

# One run per document at a time: the recipe's shell opens runs/<doc>/.lock as descriptor 9 and
# `sheaf-run lock` takes a flock on it (waiting, and saying so, while another make doc or regen
# holds it); every process of the run inherits it, so it dies with them. Then: prepare the run,
# build the sections (-k: a failure never stops the others) with make running in the run
# directory, the continuity pass, merge the run's document whatever happened (merge-doc --run),
# say where it is and run NOTIFY (sheaf-run finish), and fail when the document is not ready
# (with ONLY=: when a section asked for did not complete). A pass of make docs BATCH=1 that leaves
# sections waiting for the next wave runs neither the continuity pass nor NOTIFY.
# DRY=1 only says what would be asked.
doc: $(SHEAF_TOOLS)
	@test -n "$$SHEAF_PLAN" || { echo "sheaf: usage: make doc PLAN=pipelines/prd/plan.json [J=8] [MODE=…] [PROVIDER=…] [MODEL=…]" >&2; exit 2; }
	@SHEAF_CWD="$$(pwd)"; export SHEAF_CWD; \
	SHEAF_BIN="$$(cd "$$SHEAF_BIN" 2>/dev/null && pwd)" || { echo "sheaf: no tools in $(SHEAF_BIN): run make build, or set SHEAF_BIN" >&2; exit 2; }; \
	export SHEAF_BIN; case "$$SHEAF_JOBS" in ''|0|*[!0-9]*) echo "sheaf: J=$$SHEAF_JOBS: give the number of sections at once" >&2; exit 2;; esac; \
	if [ -n "$$SHEAF_BATCH" ] && [ "$$SHEAF_BATCH" != 0 ] && [ -z "$$SHEAF_SET" ]; then echo "sheaf: BATCH=1 works with make docs (a table of one row makes one document): make docs PLAN=… ROWS=rows.csv BATCH=1" >&2; exit 2; fi; \
	for f in $$(printf '%s' "$$SHEAF_FORMAT" | tr ',' ' '); do case "$$f" in docx|pdf|epub|html|odt) ;; *) echo "sheaf: FORMAT=$$SHEAF_FORMAT: '$$f' is not one of docx, pdf, epub, html, odt" >&2; exit 2;; esac; done; \
	[ -n "$$SHEAF_DRY" ] && exec $(SHEAF_PREPARE); \
	run=$$("$$SHEAF_BIN/sheaf-run" where --plan "$$SHEAF_PLAN" --runs "$$SHEAF_RUNS" $${SHEAF_DOC_ARG:+--id "$$SHEAF_DOC_ARG"}) || exit 2; $(SHEAF_TRAPS); \
	exec 9>>"$$run/.lock" && "$$SHEAF_BIN/sheaf-run" lock --run "$$run" --fd 9 $${SHEAF_NO_WAIT:+--no-wait} || exit 2; \
	doc=$$($(SHEAF_PREPARE)) || exit 2; SHEAF_RUN="$$SHEAF_RUNS/$$doc"; export SHEAF_RUN; \
	$(call SHEAF_DOCTOR,--cheap --run "$$SHEAF_RUN") >&2 || { echo "sheaf: fix what is marked ✗ above (make doctor PLAN=… checks it all); nothing was asked" >&2; exit 2; }; \
	[ -z "$$stop" ] || exit $$stop; live=; if [ -t 2 ] && [ -z "$$SHEAF_NO_LIVE" ]; then \
	  SHEAF_NO_PROGRESS=1 SHEAF_LIVE=1; export SHEAF_NO_PROGRESS SHEAF_LIVE; \
	  "$$SHEAF_BIN/sheaf-run" watch --run "$$SHEAF_RUN" >&2 9>&- & live=$$!; \
	  trap 'kill $$live 2>/dev/null' EXIT; \
	fi; \
	setsid $(SHEAF_RUN_MAKE) $$("$$SHEAF_BIN/sheaf-run" info --run "$$SHEAF_RUN" targets) & made=$$!; \
	wait $$made; built=$$?; while kill -0 $$made 2>/dev/null; do wait $$made; built=$$?; done; \
	if [ -n "$$live" ]; then sleep 0.3; kill $$live 2>/dev/null; wait $$live 2>/dev/null; echo >&2; fi; \
	waiting=; [ -z "$$SHEAF_BATCH_DIR" ] || waiting=$$("$$SHEAF_BIN/sheaf-run" info --run "$$SHEAF_RUN" batched); notify="$$SHEAF_NOTIFY"; [ -z "$$waiting" ] || notify=; \
	[ -n "$$stop$$waiting" ] || $(SHEAF_RUN_MAKE) sheaf-revise || built=1; \
	"$$SHEAF_BIN/merge-doc" --run "$$SHEAF_RUN" $${SHEAF_NOTES:+--include-hidden} $${SHEAF_FORMAT:+--to "$$SHEAF_FORMAT"}; [ $$? -le 1 ] || built=1; \
	"$$SHEAF_BIN/sheaf-run" finish --run "$$SHEAF_RUN" --notify "$$notify" 9>&- && [ $$built = 0 ] && [ -z "$$stop" ] || exit $${stop:-1}

# Many documents from one plan: one per row of ROWS (CSV with a header, or JSON lines), each in
# its own run directory, RUNS/<id>/, its row's fields its inputs (DOC_ID= names it: a template
# such as '{{row.product}}', or a field). `sheaf-run docs` writes each document's row.json and
# the list of those to build (an unchanged document that is ready is left out) into the set's
# folder, RUNS/<plan>.set/<shard>/; docs.mk runs `make doc DOC=<id>` for each there, J at once,
# and every document's sections take their share of the same J through make's jobserver. The
# documents share the set's rate limit (RUNS/<plan>.set/rate/) and one BUDGET= ledger; each has
# its own lock. SHARD=i/N builds a deterministic share of the rows (one machine of N). DRY=1 says
# what each document would ask. The end says where the set stands (make status PLAN= ROWS=).
# BATCH=1 asks through the providers' batch APIs (openai, anthropic) at their batch price, in
# waves: each pass of the documents queues what is ready to ask (a section that uses one waits);
# `call-llm --batch-run` sends it as one batch per provider, base URL and key (and model, for OpenAI), polls until it is
# answered (SHEAF_BATCH_POLL seconds apart, default 30), and the next pass reads the answers as
# ordinary ones (a re-ask goes into the wave after), until nothing is queued. The batch ids are
# kept in RUNS/<plan>.set/<shard>/batch: stopped or killed, make docs BATCH=1 polls the same
# batches again and sends nothing twice.
SHEAF_DOCS_ARGS = --plan "$$SHEAF_PLAN" --rows "$$SHEAF_ROWS" --runs "$$SHEAF_RUNS" --mode "$$SHEAF_MODE_ARG" \
  $${SHEAF_DOC_ID:+--doc-id "$$SHEAF_DOC_ID"} $${SHEAF_SHARD:+--shard "$$SHEAF_SHARD"} $$SHEAF_PROMPT_FLAGS

docs: $(SHEAF_TOOLS)
	@test -n "$$SHEAF_PLAN" -a -n "$$SHEAF_ROWS" || { echo "sheaf: usage: make docs PLAN=plan.json ROWS=rows.csv [DOC_ID='{{row.field}}'] [SHARD=i/N] [J=16] [BUDGET=usd]" >&2; exit 2; }
	@SHEAF_CWD="$$(pwd)"; export SHEAF_CWD; \
	SHEAF_BIN="$$(cd "$$SHEAF_BIN" 2>/dev/null && pwd)" || { echo "sheaf: no tools in $(SHEAF_BIN): run make build, or set SHEAF_BIN" >&2; exit 2; }; \
	export SHEAF_BIN; case "$$SHEAF_JOBS" in ''|0|*[!0-9]*) echo "sheaf: J=$$SHEAF_JOBS: give the number of sections at once" >&2; exit 2;; esac; \
	[ -n "$$SHEAF_DRY" ] && exec "$$SHEAF_BIN/sheaf-run" docs $(SHEAF_DOCS_ARGS) --dry-run -- $$SHEAF_CALL_FLAGS; \
	SHEAF_SET=$$("$$SHEAF_BIN/sheaf-run" docs $(SHEAF_DOCS_ARGS) --where) || exit 2; \
	exec 8>>"$$SHEAF_SET/.lock" && flock -n 8 || { echo "sheaf: another make docs of this set (and shard) is under way" >&2; exit 2; }; \
	"$$SHEAF_BIN/sheaf-run" docs $(SHEAF_DOCS_ARGS) $${SHEAF_FORCE:+--all} $${SHEAF_ONLY_GIVEN:+--all} >/dev/null || exit 2; \
	export SHEAF_SET; $(SHEAF_TRAPS); live=; if [ -t 2 ] && [ -z "$$SHEAF_NO_LIVE" ]; then \
	  SHEAF_DOCS_LIVE=1; export SHEAF_DOCS_LIVE; "$$SHEAF_BIN/sheaf-run" docs $(SHEAF_DOCS_ARGS) --watch >&2 & live=$$!; \
	  trap 'kill $$live 2>/dev/null' EXIT; \
	fi; \
	case "$$SHEAF_BATCH" in ''|0) ;; *) SHEAF_BATCH_DIR="$$SHEAF_SET/batch"; export SHEAF_BATCH_DIR;; esac; \
	wave=--batch-resume; while :; do \
	  if [ -n "$$SHEAF_BATCH_DIR" ]; then "$$SHEAF_BIN/call-llm" --batch-run "$$SHEAF_BATCH_DIR" $$wave & waving=$$!; \
	    wait $$waving; sent=$$?; while kill -0 $$waving 2>/dev/null; do wait $$waving; sent=$$?; done; waving=; \
	    [ $$sent = 0 ] || { built=1; break; }; [ -z "$$stop" ] || break; wave=; fi; \
	  setsid $(MAKE) --no-print-directory -k -j"$$SHEAF_JOBS" -C "$$SHEAF_SET" -f "$$(cd "$(SHEAF_DIR)" && pwd)/docs.mk" sheaf.docs & made=$$!; \
	  wait $$made; built=$$?; while kill -0 $$made 2>/dev/null; do wait $$made; built=$$?; done; made=; \
	  [ -n "$$SHEAF_BATCH_DIR" ] && [ -z "$$stop" ] && ls "$$SHEAF_BATCH_DIR"/queue/*.json >/dev/null 2>&1 || break; \
	  "$$SHEAF_BIN/sheaf-run" docs $(SHEAF_DOCS_ARGS) --next-pass >/dev/null || exit 2; \
	done; \
	if [ -n "$$live" ]; then sleep 0.6; kill $$live 2>/dev/null; wait $$live 2>/dev/null; echo >&2; fi; \
	"$$SHEAF_BIN/sheaf-run" docs $(SHEAF_DOCS_ARGS) --status --totals -- $$SHEAF_CALL_FLAGS >&2; \
	[ $$built = 0 ] && [ -z "$$stop" ] || exit $${stop:-1}

# Ctrl-C, SIGTERM or SIGHUP, to make alone or to the whole run: the sections' make runs in a
# process group of its own (setsid), waited for in the background so that the signal is seen
# while it runs, and that group alone is told (never the caller's: a CI script, a supervisor),
# Ctrl-C as SIGTERM (a background job ignores SIGINT). The sections in flight are written
# cancelled, then the document is merged and the run exits 130, 143 or 129. A batch wave (make docs
# BATCH=1: waving) sees Ctrl-C itself, and asks a person at the terminal whether to leave its
# batches running or cancel them (the live view stops, so the question is not drawn over);
# SIGTERM and SIGHUP are passed on to it, and leave them running.
SHEAF_TRAPS = stop=; made=; waving=; trap '[ -n "$$stop" ] || { stop=130; [ -z "$$made" ] || kill -TERM -$$made; [ -z "$$waving" ] || [ -z "$$live" ] || kill $$live; }' INT; \
	trap '[ -n "$$stop" ] || { stop=143; [ -z "$$made" ] || kill -TERM -$$made; [ -z "$$waving" ] || kill -TERM $$waving; }' TERM; \
	trap '[ -n "$$stop" ] || { stop=129; [ -z "$$made" ] || kill -HUP -$$made; [ -z "$$waving" ] || kill -HUP $$waving; }' HUP

# make in the run directory, on section.mk (the sections' pipelines and the continuity pass):
# J sections at once; a document of a set (make docs: SHEAF_SET) takes its share of the set's J
# through make's jobserver instead.
ifeq ($(value SHEAF_SET),)
SHEAF_JOBS_FLAG = -j"$$SHEAF_JOBS"
endif
SHEAF_RUN_MAKE = $(MAKE) --no-print-directory -k $(SHEAF_JOBS_FLAG) -C "$$SHEAF_RUN" -f "$$(cd "$(SHEAF_DIR)" && pwd)/section.mk"

# Regenerate one section (with NOTE kept as its instructions until CLEAR_NOTE=1) and, unless
# CASCADE=no, every section that uses it (or those CASCADE=a,b names), asking the provider again
# even when the cache has an answer; the versions they replace are kept. DRY=1 lists what would
# be asked and its estimated cost.
regen: $(SHEAF_TOOLS)
	@test -n "$$SHEAF_DOC_ARG" -a -n "$$SHEAF_SECTION_ARG" || { echo "sheaf: usage: make regen DOC=prd SECTION=id [NOTE=\"…\"] [CASCADE=no|a,b] [DRY=1]" >&2; exit 2; }
	@plan="$$("$$SHEAF_BIN/sheaf-run" info --run "$$SHEAF_RUNS/$$SHEAF_DOC_ARG" plan)" || exit 2; \
	mode="$$("$$SHEAF_BIN/sheaf-run" info --run "$$SHEAF_RUNS/$$SHEAF_DOC_ARG" mode)"; \
	PLAN="$$plan" MODE="$$mode" SHEAF_REGEN="$$SHEAF_SECTION_ARG" exec $(MAKE) --no-print-directory -f "$(firstword $(MAKEFILE_LIST))" doc

doctor: $(SHEAF_TOOLS)
	@test -n "$$SHEAF_PLAN" || { echo "sheaf: usage: make doctor PLAN=plan.json [PROVIDER=…] [MODEL=…] [BASE_URL=…] [BUDGET=…]" >&2; exit 2; }
	@SHEAF_BIN="$$(cd "$$SHEAF_BIN" 2>/dev/null && pwd)" || { echo "sheaf: no tools in $(SHEAF_BIN): run make build, or set SHEAF_BIN" >&2; exit 2; }; \
	export SHEAF_BIN; $(call SHEAF_DOCTOR,)

status: $(SHEAF_TOOLS)
	@test -n "$$SHEAF_DOC_ARG" -o -n "$$SHEAF_ROWS" || { echo "sheaf: usage: make status DOC=prd (or PLAN=plan.json ROWS=rows.csv for a set)" >&2; exit 2; }
	@[ -z "$$SHEAF_ROWS" ] || exec "$$SHEAF_BIN/sheaf-run" docs $(SHEAF_DOCS_ARGS) --status -- $$SHEAF_CALL_FLAGS; \
	"$$SHEAF_BIN/sheaf-run" status --run "$$SHEAF_RUNS/$$SHEAF_DOC_ARG" $$SHEAF_PROMPT_FLAGS -- $$SHEAF_CALL_FLAGS

watch: $(SHEAF_TOOLS)
	@test -n "$$SHEAF_DOC_ARG" -o -n "$$SHEAF_ROWS" || { echo "sheaf: usage: make watch DOC=prd (or PLAN=plan.json ROWS=rows.csv for a set)" >&2; exit 2; }
	@[ -z "$$SHEAF_ROWS" ] || exec "$$SHEAF_BIN/sheaf-run" docs $(SHEAF_DOCS_ARGS) --watch --until-complete; \
	"$$SHEAF_BIN/sheaf-run" watch --run "$$SHEAF_RUNS/$$SHEAF_DOC_ARG" --until-complete

# The run's live page (sheaf-run serve): the document as it is written, from this or any later
# make doc, and its actions, which run make with this makefile and the variables given here
# (PROVIDER=, MODEL=, CALL_FLAGS=…, as a sub-make gets them). HOST= and PORT= say where it listens.
serve: $(SHEAF_TOOLS)
	@test -n "$$SHEAF_DOC_ARG" -o -n "$$SHEAF_ROWS" || { echo "sheaf: usage: make serve DOC=prd [PORT=n] [HOST=address], or make serve PLAN=plan.json ROWS=rows.csv [DOC_ID=…] for a set" >&2; exit 2; }
	@if [ -n "$$SHEAF_DOC_ARG" ]; then set -- --run "$$SHEAF_RUNS/$$SHEAF_DOC_ARG"; \
	else set -- --plan "$$SHEAF_PLAN" --rows "$$SHEAF_ROWS" --runs "$$SHEAF_RUNS" $${SHEAF_DOC_ID:+--doc-id "$$SHEAF_DOC_ID"} $${SHEAF_SHARD:+--shard "$$SHEAF_SHARD"}; fi; \
	exec "$$SHEAF_BIN/sheaf-run" serve "$$@" --makefile "$$SHEAF_MAKEFILE" \
	  $${SHEAF_PORT:+--port "$$SHEAF_PORT"} $${SHEAF_HOST:+--host "$$SHEAF_HOST"}

# A plan drafted from a brief: the shipped one-section plan (outline/plan.json) asks for sheaf's
# plan format as JSON, checked against outline/plan.schema.json and plan-sections' own rules and
# asked again with the problems; CANDIDATES=k asks k plans, each from another angle. `sheaf-run
# draft` writes them (the kind's prompt set and inputs, the brief as an input) and lists them.
outline: $(SHEAF_TOOLS)
	@test -n "$$SHEAF_BRIEF" -a -n "$$SHEAF_OUT" || { echo "sheaf: usage: make outline BRIEF=brief.md OUT=plan.json [KIND=report|prd|book|blog] [SECTIONS=n] [CANDIDATES=k]" >&2; exit 2; }
	@kind="$${SHEAF_KIND:-report}"; k="$${SHEAF_CANDIDATES:-1}"; \
	SHEAF_BIN="$$(cd "$$SHEAF_BIN" 2>/dev/null && pwd)" || { echo "sheaf: no tools in $(SHEAF_BIN): run make build, or set SHEAF_BIN" >&2; exit 2; }; \
	guide=$$("$$SHEAF_BIN/sheaf-run" draft --check --out "$$SHEAF_OUT" --brief "$$SHEAF_BRIEF" --kind "$$kind" --kinds "$(SHEAF_DIR)/outline/kinds.json" \
	  --sections "$$SHEAF_SECTIONS" --candidates "$$k" $${SHEAF_FORCE:+--force}) || exit 2; \
	i=1; while [ $$i -le $$k ]; do \
	  "$$SHEAF_BIN/plan-sections" "$(SHEAF_DIR)/outline/plan.json" --input brief=@"$$SHEAF_BRIEF" --input kind="$$kind" \
	    --input guide=@"$$guide" --input sections="$$SHEAF_SECTIONS" --input candidate=$$i --input candidates=$$k || exit 2; \
	  i=$$((i + 1)); \
	done \
	| "$$SHEAF_BIN/build-prompt" $$SHEAF_PROMPT_FLAGS \
	| "$$SHEAF_BIN/call-llm" -j $$k $$SHEAF_CALL_FLAGS \
	| "$$SHEAF_BIN/validate-format" $$SHEAF_VALIDATE_FLAGS \
	| "$$SHEAF_BIN/sheaf-run" draft --out "$$SHEAF_OUT" --brief "$$SHEAF_BRIEF" --kind "$$kind" --kinds "$(SHEAF_DIR)/outline/kinds.json" --runs "$$SHEAF_RUNS" $${SHEAF_FORCE:+--force}
