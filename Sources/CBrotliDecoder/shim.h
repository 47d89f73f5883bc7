/* Brotli decoder for Swift (libbrotlidec); used by the tests only. */
#include <brotli/decode.h>
