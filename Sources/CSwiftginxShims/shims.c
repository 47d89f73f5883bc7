/* See CSwiftginxShims.h: one-line wrappers compiled with _GNU_SOURCE. */
#define _GNU_SOURCE
#include <sys/sendfile.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <crypt.h>
#include "CSwiftginxShims.h"

int swiftginx_epoll_create1(int flags) { return epoll_create1(flags); }

int swiftginx_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int swiftginx_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout) {
    return epoll_wait(epfd, events, maxevents, timeout);
}

uint64_t swiftginx_epoll_event_data(const struct epoll_event *event) { return event->data.u64; }
uint32_t swiftginx_epoll_event_events(const struct epoll_event *event) { return event->events; }

int swiftginx_eventfd(unsigned int initval, int flags) { return eventfd(initval, flags); }

int swiftginx_signalfd(int fd, const sigset_t *mask, int flags) { return signalfd(fd, mask, flags); }

int swiftginx_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof(info));
    if (n == (ssize_t)sizeof(info)) return (int)info.ssi_signo;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return -1;
}

int swiftginx_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}

ssize_t swiftginx_sendfile(int out_fd, int in_fd, off_t *offset, size_t count) {
    return sendfile(out_fd, in_fd, offset, count);
}

int swiftginx_sock_nonblock(void) { return SOCK_NONBLOCK; }
int swiftginx_sock_cloexec(void) { return SOCK_CLOEXEC; }
int swiftginx_o_tmpfile(void) { return O_TMPFILE; }

int swiftginx_gettid(void) { return (int)gettid(); }

#include <fcntl.h>
#include <sys/syscall.h>

int swiftginx_spawn(const char *path, char *const argv[], int stdout_fd, int stderr_fd) {
    pid_t pid = fork();
    if (pid != 0) return (int)pid;
    int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    dup2(stdout_fd >= 0 ? stdout_fd : null_fd, 1);
    dup2(stderr_fd >= 0 ? stderr_fd : null_fd, 2);
    syscall(SYS_close_range, 3U, ~0U, 0U);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(path, argv);
    _exit(127);
}

char *swiftginx_crypt_r(const char *phrase, const char *setting, void *data) {
    return crypt_r(phrase, setting, (struct crypt_data *)data);
}

size_t swiftginx_crypt_data_size(void) { return sizeof(struct crypt_data); }
