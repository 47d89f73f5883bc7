/* PCRE2 8-bit API for Swift. The code unit width must be set before pcre2.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

static inline size_t swiftginx_pcre2_unset(void) { return PCRE2_UNSET; }
static inline size_t swiftginx_pcre2_zero_terminated(void) { return PCRE2_ZERO_TERMINATED; }
