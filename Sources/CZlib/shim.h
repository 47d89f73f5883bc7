/* zlib for Swift. deflateInit2/inflateInit2 are macros (they pass the library version and
 * sizeof(z_stream)), so they are wrapped here. */
#include <zlib.h>

static inline int swiftginx_deflateInit2(z_streamp strm, int level, int windowBits, int memLevel) {
    return deflateInit2(strm, level, Z_DEFLATED, windowBits, memLevel, Z_DEFAULT_STRATEGY);
}

static inline int swiftginx_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
