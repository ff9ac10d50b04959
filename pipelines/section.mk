# sheaf — one section's pipeline, for the rules `plan-sections --emit make` generates.
# pipelines/sheaf.mk runs it in the run directory as: make -C runs/<doc> -f section.mk sheaf-sections
# with SHEAF_BIN, SHEAF_PLAN, SHEAF_RUN, SHEAF_CWD (and SHEAF_NOTE) in the environment.
#
# A section's recipe is the filter pipeline, run from the folder make was started in and written
# atomically into the run directory. It records failures in sections/<id>.json and succeeds, so
# one section's failure never stops the others; a section a person wrote (source: human) is kept
# unless SHEAF_FORCE=1 (FORCE=1). Paths come from the environment, quoted, never from make text.

# Never put what people typed into a recipe's environment as make text: make would expand it
# there (a NOTE with `$(shell …)` would run). The recipes read the SHEAF_* copies instead.
unexport NOTE PLAN RUNS MODE BASE_URL PROVIDER MODEL CASCADE CALL_FLAGS PROMPT_FLAGS VALIDATE_FLAGS SECTION DOC PRICES WARN DRY CLEAR_NOTE BUDGET ONLY NOTIFY BRIEF OUT KIND SECTIONS CANDIDATES NOTES

# `sheaf-run deps` passes a person's section through as it is (so nothing after it asks a model),
# adds the section's kept note (make regen NOTE=) to its instructions, marks a section skipped
# when what it uses did not complete (its on_dependency_failure policy), and cancels it when the
# run was interrupted. A section's target depends on the targets of what it uses, so it is
# reconsidered when one of them was rebuilt: `sheaf-run fresh` then passes its stored result on
# when the fingerprint build-prompt computes is the one it was built with (the rebuilt section
# came out the same: the cascade stops), and otherwise it is asked for. call-llm re-asks an answer that breaks its format
# with the violations as feedback, and shares the run's 429 cool-down and concurrency with the
# other sections' processes through $SHEAF_RUN/rate; both it and validate-format compare with the
# run's stored sections for the duplicate rule.
define sheaf_section
@cd "$$SHEAF_CWD" && "$$SHEAF_BIN/plan-sections" $(if $(SHEAF_MODE),--mode $(SHEAF_MODE)) --only $(1) "$$SHEAF_PLAN" \
  | "$$SHEAF_BIN/sheaf-run" deps --run "$$SHEAF_RUN" \
  | "$$SHEAF_BIN/build-prompt" --context "$$SHEAF_RUN/sections" --summaries "$$SHEAF_RUN/summaries" \
      --shared-limit "$$SHEAF_RUN/rate" --budget-file "$$SHEAF_RUN/budget.json" $${SHEAF_BUDGET:+--budget "$$SHEAF_BUDGET"} $(PROMPT_FLAGS) \
  | "$$SHEAF_BIN/sheaf-run" fresh --run "$$SHEAF_RUN" \
  | "$$SHEAF_BIN/call-llm" -j 1 --events-file "$$SHEAF_RUN/events.ndjson" \
      --shared-limit "$$SHEAF_RUN/rate" --sections "$$SHEAF_RUN/sections" --warn "$$SHEAF_WARN" \
      --budget-file "$$SHEAF_RUN/budget.json" $${SHEAF_BUDGET:+--budget "$$SHEAF_BUDGET"} \
      $(if $(filter $(1),$(SHEAF_REFRESH_IDS)),--refresh $(1)) $(CALL_FLAGS) \
  | "$$SHEAF_BIN/validate-format" --sections "$$SHEAF_RUN/sections" --warn "$$SHEAF_WARN" $(VALIDATE_FLAGS) \
  | "$$SHEAF_BIN/sheaf-run" save --run "$$SHEAF_RUN"
endef

# The sections a regeneration asks for again even when the cache has an answer (written by
# `sheaf-run prepare`: section ids only).
SHEAF_REFRESH_IDS := $(file < refresh)

include sections.mk
