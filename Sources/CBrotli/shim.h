/* Brotli encoder for Swift (libbrotlienc).
 *
 * Brotli has no encoder reset: a pooled encoder destroys and recreates its state for each
 * response, and the state allocates its buffers again (about 27 mallocs per response at
 * quality 6). swiftginx_brotli_create gives the state an allocator that keeps freed
 * blocks in a small per-encoder cache and hands them back for a request of the same size,
 * so the next response's state reuses the last one's buffers. Each block carries its size
 * in a 16-byte header (keeping malloc's 16-byte alignment). */
#include <brotli/encode.h>
#include <stdlib.h>

#define SWIFTGINX_BROTLI_CACHE_SLOTS 64

typedef struct swiftginx_brotli_cache {
    size_t count;
    void *blocks[SWIFTGINX_BROTLI_CACHE_SLOTS]; /* header addresses; size at offset 0 */
} swiftginx_brotli_cache;

static inline void *swiftginx_brotli_alloc(void *opaque, size_t size) {
    swiftginx_brotli_cache *cache = (swiftginx_brotli_cache *)opaque;
    for (size_t i = 0; i < cache->count; i++) {
        if (*(size_t *)cache->blocks[i] == size) {
            void *block = cache->blocks[i];
            cache->blocks[i] = cache->blocks[--cache->count];
            return (char *)block + 16;
        }
    }
    if (size > (size_t)-1 - 16) return NULL;
    void *block = malloc(size + 16);
    if (block == NULL) return NULL;
    *(size_t *)block = size;
    return (char *)block + 16;
}

static inline void swiftginx_brotli_free(void *opaque, void *address) {
    if (address == NULL) return;
    swiftginx_brotli_cache *cache = (swiftginx_brotli_cache *)opaque;
    void *block = (char *)address - 16;
    if (cache->count < SWIFTGINX_BROTLI_CACHE_SLOTS) {
        cache->blocks[cache->count++] = block;
    } else {
        free(block);
    }
}

/* A new encoder state allocating through `cache` (which must outlive it). */
static inline BrotliEncoderState *swiftginx_brotli_create(swiftginx_brotli_cache *cache) {
    return BrotliEncoderCreateInstance(swiftginx_brotli_alloc, swiftginx_brotli_free, cache);
}

/* Frees every cached block (after the last state using the cache is destroyed). */
static inline void swiftginx_brotli_cache_release(swiftginx_brotli_cache *cache) {
    for (size_t i = 0; i < cache->count; i++) free(cache->blocks[i]);
    cache->count = 0;
}
