/* Zstandard for Swift (libzstd): the streaming compression API (ZSTD_compressStream2)
 * and, for the tests, ZSTD_decompressStream. */
#include <zstd.h>
#include <zstd_errors.h>
