/* See CSwiftginxShims.h: one-line wrappers compiled with _GNU_SOURCE. */
#define _GNU_SOURCE
#include <sys/sendfile.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <crypt.h>
#include <string.h>
#include <sys/syscall.h>
#include "CSwiftginxShims.h"

ssize_t swiftginx_recv(int fd, void *buf, size_t len, int flags) {
    return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
}

ssize_t swiftginx_send(int fd, const void *buf, size_t len, int flags) {
    return syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
}

int swiftginx_close(int fd) { return (int)syscall(SYS_close, fd); }

int swiftginx_epoll_create1(int flags) { return epoll_create1(flags); }

int swiftginx_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int swiftginx_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout) {
    /* epoll_pwait with no signal mask is epoll_wait (aarch64 has only the former). */
    return (int)syscall(SYS_epoll_pwait, epfd, events, maxevents, timeout, NULL, (size_t)8);
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
    return (int)syscall(SYS_accept4, fd, addr, len, flags);
}

ssize_t swiftginx_sendfile(int out_fd, int in_fd, off_t *offset, size_t count) {
    return sendfile(out_fd, in_fd, offset, count);
}

int swiftginx_sock_nonblock(void) { return SOCK_NONBLOCK; }
int swiftginx_sock_cloexec(void) { return SOCK_CLOEXEC; }
int swiftginx_o_tmpfile(void) { return O_TMPFILE; }

int swiftginx_gettid(void) { return (int)gettid(); }

#include <sched.h>

int swiftginx_bind_thread(const int *cpus, int n) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < n; i++) {
        if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set);
    }
    return sched_setaffinity(0, sizeof(set), &set);
}

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

#define SWIFTGINX_MAX_FDS 64

ssize_t swiftginx_send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds) {
    struct iovec iov = { (void *)buf, len };
    struct msghdr msg = { 0 };
    union { struct cmsghdr align; char data[CMSG_SPACE(sizeof(int) * SWIFTGINX_MAX_FDS)]; } control;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds > SWIFTGINX_MAX_FDS) { errno = EINVAL; return -1; }
    if (nfds > 0) {
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.data;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    ssize_t n;
    do { n = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n;
}

ssize_t swiftginx_recv_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds) {
    struct iovec iov = { buf, len };
    struct msghdr msg = { 0 };
    union { struct cmsghdr align; char data[CMSG_SPACE(sizeof(int) * SWIFTGINX_MAX_FDS)]; } control;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data;
    msg.msg_controllen = sizeof(control.data);
    *nfds = 0;
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *in = (int *)CMSG_DATA(c);
        for (int i = 0; i < count; i++) {
            if (*nfds < maxfds) fds[(*nfds)++] = in[i]; else close(in[i]);
        }
    }
    return n;
}
