# sheaf — what people type never reaches a recipe's environment as make text (make would expand
# it there: a NOTE with `$(shell …)` would run); the recipes read the SHEAF_* copies sheaf.mk
# exports instead. Included by sheaf.mk and section.mk: the list is written once.
unexport NOTE PLAN RUNS MODE BASE_URL PROVIDER MODEL CASCADE CALL_FLAGS PROMPT_FLAGS VALIDATE_FLAGS SECTION DOC PRICES WARN DRY CLEAR_NOTE BUDGET ONLY NOTIFY FORMAT BRIEF OUT KIND SECTIONS CANDIDATES NOTES MAX_TOKENS TIMEOUT RETRIES J FORCE ALLOW_OUTSIDE FORGET PREFIX DESTDIR PORT HOST ROWS DOC_ID SHARD BATCH
