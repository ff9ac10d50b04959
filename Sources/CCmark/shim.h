// cmark's option flags are macros; these give Swift typed access to them.
#ifndef SHEAF_CCMARK_SHIM_H
#define SHEAF_CCMARK_SHIM_H
#include <cmark.h>

static inline int sheaf_cmark_opt_default(void) { return CMARK_OPT_DEFAULT; }
static inline int sheaf_cmark_opt_unsafe(void) { return CMARK_OPT_UNSAFE; }

#endif
