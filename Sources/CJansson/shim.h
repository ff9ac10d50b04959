// Typed wrappers for what Swift cannot import from jansson.h: its macros.
#ifndef SHEAF_CJANSSON_SHIM_H
#define SHEAF_CJANSSON_SHIM_H
#include <stddef.h>
#include <jansson.h>

static inline int sheaf_json_type(const json_t *json) { return json ? (int)json_typeof(json) : -1; }
static inline json_t *sheaf_json_incref(json_t *json) { return json_incref(json); }
static inline void sheaf_json_decref(json_t *json) { json_decref(json); }
static inline size_t sheaf_json_max_depth(void) { return JSON_PARSER_MAX_DEPTH; }
static inline size_t sheaf_json_error_text_length(void) { return JSON_ERROR_TEXT_LENGTH; }
static inline size_t sheaf_json_compact_flags(void) { return JSON_COMPACT | JSON_ENCODE_ANY; }
static inline size_t sheaf_json_decode_flags(void) { return JSON_ALLOW_NUL | JSON_DECODE_ANY; }

// memmem is a GNU extension that the Glibc module does not export; declaring it here (rather
// than defining _GNU_SOURCE) keeps the system headers the same for every module.
extern void *memmem(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len);
static inline void *sheaf_memmem(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len) {
  return memmem(haystack, haystack_len, needle, needle_len);
}

#endif
