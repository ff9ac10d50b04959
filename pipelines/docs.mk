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

# A stop (make docs sends TERM to this make's group) reaches the document's make, which stops it
# as it stops one document; the recipe waits for it to end (its sections written cancelled, its
# document merged). A document that ends ready gets its stamp (sheaf-run stamp). A line says how
# each ended, unless make docs draws its live view (SHEAF_DOCS_LIVE), which says it there.
$(SHEAF_DOCS):
	+@cd "$$SHEAF_CWD" && { PLAN="$$SHEAF_PLAN" RUNS="$$SHEAF_RUNS" MODE="$$SHEAF_MODE_ARG" J="$$SHEAF_JOBS" BUDGET="$$SHEAF_BUDGET" \
	  $(MAKE) --no-print-directory -f "$$SHEAF_MAKEFILE" doc DOC=$@ >"$$SHEAF_SET/logs/$@.log" 2>&1 & doc=$$!; \
	  trap : INT TERM HUP; wait $$doc; made=$$?; while kill -0 $$doc 2>/dev/null; do wait $$doc; made=$$?; done; }; \
	if [ $$made = 0 ] && "$$SHEAF_BIN/sheaf-run" stamp --run "$$SHEAF_RUNS/$@"; then [ -n "$$SHEAF_DOCS_LIVE" ] || echo "sheaf: ✓ $@"; \
	else [ -n "$$SHEAF_DOCS_LIVE" ] || echo "sheaf: ✗ $@ is not ready: $$SHEAF_SET/logs/$@.log" >&2; exit 1; fi
