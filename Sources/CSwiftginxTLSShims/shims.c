/* The wrappers are static inline in the header; this file holds the one thread-local
 * flag and the socket BIO. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "CSwiftginxTLSShims.h"

/* Every thread starts not knowing what its error queue holds. */
__thread int swiftginx_tls_error_queue_dirty = 1;

/* The socket BIO of connections without kernel TLS (see the header). Its data pointer
 * holds the descriptor shifted left by one, and in the low bit whether the last read
 * returned fewer bytes than asked: no allocation per connection. */
static BIO_METHOD *swiftginx_socket_method;
static int swiftginx_socket_type;
static pthread_once_t swiftginx_socket_once = PTHREAD_ONCE_INIT;

static int swiftginx_socket_fd(BIO *b) { return (int)((intptr_t)BIO_get_data(b) >> 1); }

static void swiftginx_socket_mark(BIO *b, int drained) {
    intptr_t d = (intptr_t)BIO_get_data(b);
    BIO_set_data(b, (void *)((d & ~(intptr_t)1) | (drained ? 1 : 0)));
}

static int swiftginx_socket_read(BIO *b, char *out, int outl) {
    BIO_clear_retry_flags(b);
    ssize_t n = syscall(SYS_recvfrom, swiftginx_socket_fd(b), out, (size_t)outl, 0, NULL, NULL);
    if (n < 0) {
        swiftginx_socket_mark(b, 1);
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_read(b);
        return -1;
    }
    if (n == 0) BIO_set_flags(b, BIO_FLAGS_IN_EOF);
    swiftginx_socket_mark(b, n < outl);
    return (int)n;
}

static int swiftginx_socket_write(BIO *b, const char *in, int inl) {
    BIO_clear_retry_flags(b);
    ssize_t n = syscall(SYS_sendto, swiftginx_socket_fd(b), in, (size_t)inl, MSG_NOSIGNAL, NULL, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_write(b);
        return -1;
    }
    return (int)n;
}

static int swiftginx_socket_puts(BIO *b, const char *s) { return swiftginx_socket_write(b, s, (int)strlen(s)); }

static long swiftginx_socket_ctrl(BIO *b, int cmd, long num, void *ptr) {
    switch (cmd) {
    case BIO_C_GET_FD:
        if (ptr != NULL) *(int *)ptr = swiftginx_socket_fd(b);
        return swiftginx_socket_fd(b);
    case BIO_CTRL_GET_CLOSE:
        return BIO_get_shutdown(b);
    case BIO_CTRL_SET_CLOSE:
        BIO_set_shutdown(b, (int)num);
        return 1;
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_DUP:
        return 1;
    case BIO_CTRL_EOF:
        return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
    default:
        return 0;
    }
}

static int swiftginx_socket_create(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

static int swiftginx_socket_destroy(BIO *b) {
    (void)b; /* the descriptor belongs to the connection */
    return 1;
}

static void swiftginx_socket_setup(void) {
    swiftginx_socket_type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR;
    BIO_METHOD *m = BIO_meth_new(swiftginx_socket_type, "swiftginx socket");
    if (m == NULL) return;
    BIO_meth_set_read(m, swiftginx_socket_read);
    BIO_meth_set_write(m, swiftginx_socket_write);
    BIO_meth_set_puts(m, swiftginx_socket_puts);
    BIO_meth_set_ctrl(m, swiftginx_socket_ctrl);
    BIO_meth_set_create(m, swiftginx_socket_create);
    BIO_meth_set_destroy(m, swiftginx_socket_destroy);
    swiftginx_socket_method = m;
}

int swiftginx_SSL_set_socket(SSL *ssl, int fd) {
    pthread_once(&swiftginx_socket_once, swiftginx_socket_setup);
    if (swiftginx_socket_method == NULL) return 0;
    BIO *b = BIO_new(swiftginx_socket_method);
    if (b == NULL) return 0;
    BIO_set_data(b, (void *)((intptr_t)fd << 1));
    BIO_set_shutdown(b, BIO_NOCLOSE);
    SSL_set_bio(ssl, b, b);
    return 1;
}

int swiftginx_SSL_socket_drained(SSL *ssl) {
    BIO *b = SSL_get_rbio(ssl);
    if (b == NULL || swiftginx_socket_method == NULL || BIO_method_type(b) != swiftginx_socket_type) return 0;
    return (int)((intptr_t)BIO_get_data(b) & 1);
}
