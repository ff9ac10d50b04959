# sheaf — one section's pipeline, for the rules `plan-sections --emit make` generates.
# pipelines/sheaf.mk runs it in the run directory as: make -C runs/<doc> -f section.mk sheaf-sections
# with SHEAF_BIN, SHEAF_PLAN, SHEAF_RUN and SHEAF_CWD in the environment.
#
# A section's recipe is the filter pipeline, run from the folder make was started in and written
# atomically into the run directory. It records failures in sections/<id>.json and succeeds, so
# one section's failure never stops the others; a section a person wrote (source: human) is kept
# unless SHEAF_FORCE=1 (FORCE=1). Paths come from the environment, quoted, never from make text.

include $(dir $(lastword $(MAKEFILE_LIST)))unexport.mk

# Requests at once where one step asks several (the summaries, the continuity pass): J; in a
# document of a set (make docs), one, as that step holds one of the set's J.
ifeq ($(value SHEAF_SET),)
SHEAF_CALL_JOBS = "$$SHEAF_JOBS"
else
SHEAF_CALL_JOBS = 1
endif

# Each section is one pipeline, one tool a line, each taking the run as `--run`. It starts from
# planned/<id>.ndjson, what `plan-sections --only <id>` gives for the run's plan and mode (prepare
# writes it, so a section reads its own lines, not the whole plan). The settings the
# run stored (prompt options, request settings, WARN, BUDGET) are read from run.json, the files
# from their one place (RunLayout). `sheaf-run deps` passes a person's section through as it is,
# adds the section's kept note (make regen NOTE=), marks a section skipped when what it uses did
# not complete (its on_dependency_failure policy), and cancels it when the run was interrupted or
# paused. A section's target depends on the targets of what it uses, so it is reconsidered when
# one of them was rebuilt: `sheaf-run fresh` passes its stored result on when its fingerprint is
# the one it was built with (the cascade stops). call-llm re-asks an answer that breaks its
# format, shares the run's rate limit and budget, and logs every request in events.ndjson.
# A recipe's shell outlives a stop signal (its tools get their own: call-llm cancels, the filters
# after it finish their input), so make waits until every cancelled record is written.
# In a set built with BATCH=1 (SHEAF_BATCH_DIR, the set's batch folder), a section's request goes
# through the provider's batch API: played back from the answer a wave brought, or queued for the
# next wave and written skipped (batch_pending), which the sections that use it wait for. The
# summaries and the continuity pass are asked directly.
# A section whose prompt has a budget (SHEAF_SUMMARIZE) first has the summaries it needs made,
# as records of their own, one summary pipeline at a time (flock on .summaries.lock).
define sheaf_section
@trap '' INT TERM HUP; cd "$$SHEAF_CWD" && $(if $(filter $(1),$(SHEAF_SUMMARIZE)),$(call sheaf_summaries,$(1)) &&) \
  "$$SHEAF_BIN/sheaf-run" deps --run "$$SHEAF_RUN" < "$$SHEAF_RUN/planned/$(1).ndjson" \
  | "$$SHEAF_BIN/build-prompt" --run "$$SHEAF_RUN" \
  | "$$SHEAF_BIN/sheaf-run" fresh --run "$$SHEAF_RUN" \
  | "$$SHEAF_BIN/call-llm" -j 1 --run "$$SHEAF_RUN" $(if $(filter $(1),$(SHEAF_REFRESH_IDS)),--refresh $(1)) $${SHEAF_BATCH_DIR:+--batch "$$SHEAF_BATCH_DIR"} $$SHEAF_CALL_FLAGS \
  | "$$SHEAF_BIN/validate-format" --run "$$SHEAF_RUN" $$SHEAF_VALIDATE_FLAGS \
  | "$$SHEAF_BIN/sheaf-run" save --run "$$SHEAF_RUN"
endef

# The summaries a section needs, made before it: the same pipeline with build-prompt writing the
# summary requests instead of the section.
define sheaf_summaries
{ flock 8 && "$$SHEAF_BIN/sheaf-run" deps --run "$$SHEAF_RUN" --for-summaries < "$$SHEAF_RUN/planned/$(1).ndjson" \
  | "$$SHEAF_BIN/build-prompt" --run "$$SHEAF_RUN" --summary-requests \
  | "$$SHEAF_BIN/call-llm" -j $(SHEAF_CALL_JOBS) --run "$$SHEAF_RUN" $$SHEAF_CALL_FLAGS \
  | "$$SHEAF_BIN/validate-format" --run "$$SHEAF_RUN" \
  | "$$SHEAF_BIN/sheaf-run" summaries --run "$$SHEAF_RUN" --save; } 8>>"$$SHEAF_RUN/.summaries.lock"
endef

# The continuity pass, after the sections (make doc ONLY=… only prunes revisions): the edits of
# sections marked "revises": true applied here, the rest asked for as revision requests.
.PHONY: sheaf-revise
sheaf-revise:
	@trap '' INT TERM HUP; cd "$$SHEAF_CWD" && "$$SHEAF_BIN/sheaf-run" revise --run "$$SHEAF_RUN" $${SHEAF_ONLY_GIVEN:+--prune} \
	  | "$$SHEAF_BIN/build-prompt" --run "$$SHEAF_RUN" \
	  | "$$SHEAF_BIN/call-llm" -j $(SHEAF_CALL_JOBS) --run "$$SHEAF_RUN" $$SHEAF_CALL_FLAGS \
	  | "$$SHEAF_BIN/validate-format" --run "$$SHEAF_RUN" $$SHEAF_VALIDATE_FLAGS \
	  | "$$SHEAF_BIN/sheaf-run" revise --run "$$SHEAF_RUN" --save

# The sections a regeneration asks for again even when the cache has an answer (written by
# `sheaf-run prepare`: section ids only).
SHEAF_REFRESH_IDS := $(file < refresh)

include sections.mk

# A section's record is written by its own pipeline, cancelled ones too: make never deletes it
# when the run is stopped.
.PRECIOUS: $(SHEAF_SECTION_FILES)
