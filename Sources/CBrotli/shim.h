/* Brotli encoder for Swift (libbrotlienc). */
#include <brotli/encode.h>
