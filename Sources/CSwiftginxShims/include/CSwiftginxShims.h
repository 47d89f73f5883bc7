/*
 * Thin C wrappers for kernel interfaces that Swift's Glibc module does not
 * import: epoll, eventfd, signalfd, accept4, pipe2, sendfile and TCP options.
 * Names follow swiftginx_<c_name>. No logic lives here.
 */
#ifndef CSWIFTGINX_SHIMS_H
#define CSWIFTGINX_SHIMS_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <signal.h>
#include <stdint.h>

/* The hot socket calls made with syscall(2): glibc's recv, send, epoll_wait, accept4
 * and close are thread cancellation points, and in a multi-threaded process each call
 * pays ~100 instructions to enable and disable asynchronous cancellation around the
 * system call. The server never cancels a thread; the calls are otherwise the same. */
ssize_t swiftginx_recv(int fd, void *buf, size_t len, int flags);
ssize_t swiftginx_send(int fd, const void *buf, size_t len, int flags);
int swiftginx_close(int fd);

int swiftginx_epoll_create1(int flags);
int swiftginx_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
int swiftginx_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout);
uint64_t swiftginx_epoll_event_data(const struct epoll_event *event);
uint32_t swiftginx_epoll_event_events(const struct epoll_event *event);

int swiftginx_eventfd(unsigned int initval, int flags);
int swiftginx_signalfd(int fd, const sigset_t *mask, int flags);
/* Reads one signalfd record; returns the signal number, 0 on EAGAIN, -1 on error. */
int swiftginx_signalfd_read(int fd);

int swiftginx_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
ssize_t swiftginx_sendfile(int out_fd, int in_fd, off_t *offset, size_t count);

int swiftginx_gettid(void);
/* Binds the calling thread to the `n` CPUs listed (sched_setaffinity on its tid). */
int swiftginx_bind_thread(const int *cpus, int n);
/* fork + exec with stdin from /dev/null, stdout/stderr on the given fds and every
   other descriptor closed in the child; returns the pid or -1. */
int swiftginx_spawn(const char *path, char *const argv[], int stdout_fd, int stderr_fd);
int swiftginx_sock_nonblock(void);
int swiftginx_o_tmpfile(void);
int swiftginx_sock_cloexec(void);

/* crypt_r(3) from libxcrypt: `data` is a zeroed buffer of swiftginx_crypt_data_size()
   bytes owned by the caller. Returns the hash (inside `data`), a failure token ("*0")
   for a setting the library does not know, or NULL. */
char *swiftginx_crypt_r(const char *phrase, const char *setting, void *data);
size_t swiftginx_crypt_data_size(void);

/* One datagram on a SOCK_SEQPACKET socket with up to `nfds` descriptors attached
 * (SCM_RIGHTS); the CMSG_* macros are not importable from Swift. */
ssize_t swiftginx_send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);
/* Receives one datagram; descriptors arrive close-on-exec in `fds` (at most `maxfds`,
 * the count in *nfds; any beyond are closed). */
ssize_t swiftginx_recv_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds);


/* Counters one thread adds to and others read (metrics): relaxed atomic load and store
 * (a plain add, no locked instruction), and pointers published with release/acquire. */
static inline void swiftginx_counter_add(long *cell, long n) {
    __atomic_store_n(cell, __atomic_load_n(cell, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}
static inline long swiftginx_counter_load(const long *cell) { return __atomic_load_n(cell, __ATOMIC_RELAXED); }
static inline void swiftginx_pointer_publish(void **slot, void *p) { __atomic_store_n(slot, p, __ATOMIC_RELEASE); }
static inline void *swiftginx_pointer_load(void *const *slot) { return __atomic_load_n(slot, __ATOMIC_ACQUIRE); }

#endif
