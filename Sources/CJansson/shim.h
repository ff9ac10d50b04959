// Typed wrappers for what Swift cannot import from jansson.h: its macros.
#ifndef SHEAF_CJANSSON_SHIM_H
#define SHEAF_CJANSSON_SHIM_H
#include <jansson.h>

static inline int sheaf_json_type(const json_t *json) { return json ? (int)json_typeof(json) : -1; }
static inline json_t *sheaf_json_incref(json_t *json) { return json_incref(json); }
static inline void sheaf_json_decref(json_t *json) { json_decref(json); }
static inline size_t sheaf_json_decode_flags(void) { return JSON_ALLOW_NUL | JSON_DECODE_ANY; }

#endif
