/* The DNS client behind `resolver`, over c-ares, with a narrow C interface (no
 * system headers leak into Swift through it): a channel per `resolver` directive and
 * worker thread, its sockets watched by the caller's epoll, answers as arrays of
 * socket addresses with the smallest TTL, failures as nginx's resolver codes. */
#ifndef SWIFTGINX_DNS_H
#define SWIFTGINX_DNS_H

typedef struct swiftginx_dns swiftginx_dns;

/* A socket c-ares opened or changed interest in; readable == writable == 0: closed. */
typedef void (*swiftginx_dns_socket_cb)(void *data, int fd, int readable, int writable);

/* An answer: `code` 0 and `count` addresses (each a struct sockaddr_storage, port 0)
 * valid for `ttl` seconds, or nginx's resolver code (1-5: the DNS rcode, 110: timed
 * out) and no addresses. */
typedef void (*swiftginx_dns_answer_cb)(void *arg, int code, const void *addresses, int count, int ttl);

/* NULL on failure. `servers`: "127.0.0.1:53,[::1]:5353". */
swiftginx_dns *swiftginx_dns_new(const char *servers, int try_timeout_ms, int tries,
                                 swiftginx_dns_socket_cb socket_cb, void *data);
/* Pending queries are answered with code 2 before it returns. */
void swiftginx_dns_free(swiftginx_dns *dns);
/* family: 0 both, 4 IPv4 only, 6 IPv6 only. */
void swiftginx_dns_resolve(swiftginx_dns *dns, const char *name, int family,
                           swiftginx_dns_answer_cb cb, void *arg);
/* One SRV record. */
typedef struct swiftginx_srv {
    int priority;
    int weight;
    int port;
    char target[256];
} swiftginx_srv;

/* An SRV answer: `code` 0 and `count` records valid for `ttl` seconds, or nginx's
 * resolver code and no records. */
typedef void (*swiftginx_dns_srv_cb)(void *arg, int code, const swiftginx_srv *records, int count, int ttl);

/* Asks for the SRV records of `name` ("_http._tcp.example.net"). */
void swiftginx_dns_resolve_srv(swiftginx_dns *dns, const char *name, swiftginx_dns_srv_cb cb, void *arg);

/* Readiness of a socket (-1 for none); with both -1, the retries and timeouts due. */
void swiftginx_dns_process(swiftginx_dns *dns, int read_fd, int write_fd);
/* Milliseconds until a retry or timeout is due; -1 when nothing is pending. */
int swiftginx_dns_timeout_ms(swiftginx_dns *dns);

#endif
