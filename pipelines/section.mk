# sheaf — one section's pipeline, for the rules `plan-sections --emit make` generates.
# pipelines/sheaf.mk runs it as: make -f section.mk SHEAF_RUN=runs/<doc> SHEAF_PLAN=<plan> sheaf-sections
#
# A section's recipe is the filter pipeline, written atomically into the run directory. It
# records failures in sections/<id>.json and succeeds, so one section's failure never stops the
# others; a section a person wrote (source: human) is kept unless SHEAF_FORCE=1 (FORCE=1).
SHEAF_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
SHEAF_BIN ?= $(SHEAF_DIR)/../.build/release

# `sheaf-run deps` passes a person's section through as it is (so nothing after it asks a model),
# and marks a section skipped when a depends_on section did not complete.
define sheaf_section
@$(SHEAF_BIN)/plan-sections $(if $(SHEAF_MODE),--mode $(SHEAF_MODE)) --only $(1) \
    $(if $(and $(NOTE),$(filter $(1),$(SECTION))),--instructions "$$SHEAF_NOTE") $(SHEAF_PLAN) \
  | $(SHEAF_BIN)/sheaf-run deps --run $(SHEAF_RUN) \
  | $(SHEAF_BIN)/build-prompt --context $(SHEAF_RUN)/sections $(PROMPT_FLAGS) \
  | $(SHEAF_BIN)/call-llm -j 1 --events-file $(SHEAF_RUN)/events.ndjson \
      $(if $(SHEAF_REFRESH_ALL),--refresh $(1)) $(CALL_FLAGS) \
  | $(SHEAF_BIN)/validate-format $(VALIDATE_FLAGS) \
  | $(SHEAF_BIN)/sheaf-run save --run $(SHEAF_RUN)
endef

include $(SHEAF_RUN)/sections.mk
