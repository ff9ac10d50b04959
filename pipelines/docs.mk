# sheaf — the documents of a set, for `make docs` (pipelines/sheaf.mk runs it in the set's folder,
# RUNS/<plan>.set/<shard>/, with -j J and SHEAF_SET, SHEAF_CWD and SHEAF_MAKEFILE in the
# environment). `docs` lists the ids of the documents to build (`sheaf-run docs` writes it: ids
# only, slugs). Each document is its own `make doc DOC=<id>`, run from the folder make docs was
# started in, with the makefile and the variables make docs was given, its output in
# logs/<id>.log. Its sections' make runs without -j and takes its share of this make's jobserver:
# J is the number of sections under way across all the documents, not in each.
include $(dir $(lastword $(MAKEFILE_LIST)))unexport.mk

SHEAF_DOCS := $(file < docs)

.PHONY: sheaf.docs $(SHEAF_DOCS)
sheaf.docs: $(SHEAF_DOCS) ; @:

# With BATCH=1 (SHEAF_BATCH_DIR), a document whose sections wait for the next batch wave is not a
# failure: make docs builds it again after the wave.
# A stop (make docs sends TERM to this make's group) reaches the document's make, which stops it
# as it stops one document; the recipe waits for it to end (its sections written cancelled, its
# document merged). A document that ends ready gets its stamp (sheaf-run stamp); one that does not
# is added to `failed`, which the end of make docs lists. A line says how each ended, unless make
# docs draws its live view (SHEAF_DOCS_LIVE). The variables make docs was given reach each
# document's make as make does them: on its command line (MAKEFLAGS), or, from the environment,
# through the SHEAF_* copies given back here (WARN and ONLY only when given).
$(SHEAF_DOCS):
	+@cd "$$SHEAF_CWD" && { env PLAN="$$SHEAF_PLAN" RUNS="$$SHEAF_RUNS" MODE="$$SHEAF_MODE_ARG" J="$$SHEAF_JOBS" BUDGET="$$SHEAF_BUDGET" \
	  CALL_FLAGS="$$SHEAF_CALL_FLAGS" PROMPT_FLAGS="$$SHEAF_PROMPT_FLAGS" VALIDATE_FLAGS="$$SHEAF_VALIDATE_FLAGS" \
	  NOTIFY="$$SHEAF_NOTIFY" FORMAT="$$SHEAF_FORMAT" $${SHEAF_WARN_GIVEN:+WARN="$$SHEAF_WARN"} $${SHEAF_ONLY_GIVEN:+ONLY="$$SHEAF_ONLY"} \
	  $(MAKE) --no-print-directory -f "$$SHEAF_MAKEFILE" doc DOC=$@ >"$$SHEAF_SET/logs/$@.log" 2>&1 & doc=$$!; \
	  trap : INT TERM HUP; wait $$doc; made=$$?; while kill -0 $$doc 2>/dev/null; do wait $$doc; made=$$?; done; }; \
	if [ $$made = 0 ] && "$$SHEAF_BIN/sheaf-run" stamp --run "$$SHEAF_RUNS/$@"; then [ -n "$$SHEAF_DOCS_LIVE" ] || echo "sheaf: ✓ $@"; \
	elif [ -n "$$SHEAF_BATCH_DIR" ] && waiting=$$("$$SHEAF_BIN/sheaf-run" info --run "$$SHEAF_RUNS/$@" batched) && [ -n "$$waiting" ]; then \
	  [ -n "$$SHEAF_DOCS_LIVE" ] || { n=$$(echo "$$waiting" | wc -l); echo "sheaf: … $@: $$n section$$([ $$n = 1 ] || echo s) wait$$([ $$n != 1 ] || echo s) for the next batch wave"; }; \
	else echo $@ >>"$$SHEAF_SET/failed"; [ -n "$$SHEAF_DOCS_LIVE" ] || echo "sheaf: ✗ $@ is not ready: $$SHEAF_SET/logs/$@.log" >&2; exit 1; fi
