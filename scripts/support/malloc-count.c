/* LD_PRELOAD allocation counter for scripts/allocs: counts calls to malloc,
   calloc, realloc, posix_memalign and aligned_alloc, and keeps the running total
   in $MALLOC_COUNT_FILE.<pid> (one file per process: the supervisor and the
   serving process each have their own). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

static atomic_long count;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);

/* dlsym may call calloc before real_calloc is known: serve it from a static arena. */
static char arena[8192];
static size_t arena_used;

/* MALLOC_COUNT_TRACE=N: every Nth malloc prints its call stack to stderr (to find
   where a per-request allocation comes from; names need the binary's symbols). */
static long trace_every = -1;
static __thread int tracing;

static void trace(long c) {
    if (trace_every < 0) {
        const char *e = getenv("MALLOC_COUNT_TRACE");
        trace_every = e ? atol(e) : 0;
    }
    if (trace_every <= 0 || c % trace_every != 0 || tracing) return;
    tracing = 1;
    void *frames[24];
    int n = backtrace(frames, 24);
    dprintf(2, "malloc #%ld\n", c);
    backtrace_symbols_fd(frames, n, 2);
    tracing = 0;
}

void *malloc(size_t n) {
    if (!real_malloc) real_malloc = dlsym(RTLD_NEXT, "malloc");
    long c = atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    trace(c);
    return real_malloc(n);
}

void *calloc(size_t a, size_t b) {
    if (!real_calloc) {
        static int resolving;
        if (resolving) {
            void *p = arena + arena_used;
            arena_used += (a * b + 15) & ~(size_t)15;
            return p;
        }
        resolving = 1;
        real_calloc = dlsym(RTLD_NEXT, "calloc");
        resolving = 0;
    }
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    return real_calloc(a, b);
}

void *realloc(void *p, size_t n) {
    if (!real_realloc) real_realloc = dlsym(RTLD_NEXT, "realloc");
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    return real_realloc(p, n);
}

void free(void *p) {
    static void (*real_free)(void *);
    if (p >= (void *)arena && p < (void *)(arena + sizeof arena)) return;
    if (!real_free) real_free = dlsym(RTLD_NEXT, "free");
    real_free(p);
}

int posix_memalign(void **out, size_t align, size_t n) {
    if (!real_posix_memalign) real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    return real_posix_memalign(out, align, n);
}

void *aligned_alloc(size_t align, size_t n) {
    if (!real_aligned_alloc) real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    return real_aligned_alloc(align, n);
}

/* A thread writes the running count to $MALLOC_COUNT_FILE.<pid> every 20 ms, so the
   count can be read while the server runs (before and after a load) and a process that
   ends with _exit (the serving process does) is counted too. It is started again in a
   forked child, where threads do not survive. The thread itself does not allocate. */
static void *reporter(void *arg) {
    int fd = (int)(long)arg;
    for (;;) {
        /* Fixed width, written in place: a reader never sees a shorter number. */
        char line[32];
        int n = snprintf(line, sizeof line, "%20ld\n", atomic_load(&count));
        if (pwrite(fd, line, (size_t)n, 0) != n) break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void start_reporter(void) {
    const char *path = getenv("MALLOC_COUNT_FILE");
    if (!path) return;
    /* Opened here, before the server gives up root: the thread keeps writing to it. */
    char name[4096];
    snprintf(name, sizeof name, "%s.%ld", path, (long)getpid());
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    /* Created with every signal blocked: the server waits for its signals with signalfd,
       and a thread that could take them would hide them from it. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&t, &attr, reporter, (void *)(long)fd);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

__attribute__((constructor)) static void init(void) {
    if (!getenv("MALLOC_COUNT_FILE")) return;
    pthread_atfork(NULL, NULL, start_reporter);
    start_reporter();
}
