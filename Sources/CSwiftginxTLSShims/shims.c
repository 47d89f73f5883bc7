/* The wrappers are static inline in the header; this file gives the target a translation
 * unit and holds the one thread-local flag. */
#include "CSwiftginxTLSShims.h"

/* Every thread starts not knowing what its error queue holds. */
__thread int swiftginx_tls_error_queue_dirty = 1;
