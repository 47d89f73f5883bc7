/* The c-ares side of swiftginx_dns.h. A name is asked as nginx's resolver asks it:
 * an A and (unless ipv6=off) an AAAA query straight to the configured servers (no
 * /etc/hosts, no search domains, no special case for "localhost"), the answers
 * combined IPv4 first, with the smallest TTL of the records (CNAMEs followed in the
 * answer). */
#include "swiftginx_dns.h"

#include <ares.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

struct swiftginx_dns {
    ares_channel channel;
    int pending;
};

static int ares_once = -1;

swiftginx_dns *swiftginx_dns_new(const char *servers, int try_timeout_ms, int tries,
                                 swiftginx_dns_socket_cb socket_cb, void *data) {
    if (ares_once < 0) ares_once = ares_library_init(ARES_LIB_INIT_ALL);
    if (ares_once != ARES_SUCCESS) return NULL;
    swiftginx_dns *dns = calloc(1, sizeof(*dns));
    if (dns == NULL) return NULL;
    struct ares_options o;
    memset(&o, 0, sizeof(o));
    o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    o.timeout = try_timeout_ms > 0 ? try_timeout_ms : 1;
    o.tries = tries > 0 ? tries : 1;
    o.sock_state_cb = (ares_sock_state_cb)socket_cb;
    o.sock_state_cb_data = data;
    o.lookups = (char *)"b";
    int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS;
    if (ares_init_options(&dns->channel, &o, mask) != ARES_SUCCESS) {
        free(dns);
        return NULL;
    }
    if (ares_set_servers_ports_csv(dns->channel, servers) != ARES_SUCCESS) {
        ares_destroy(dns->channel);
        free(dns);
        return NULL;
    }
    return dns;
}

void swiftginx_dns_free(swiftginx_dns *dns) {
    if (dns == NULL) return;
    ares_destroy(dns->channel);
    free(dns);
}

static int nginx_code(int status) {
    switch (status) {
    case ARES_EFORMERR: return 1;
    case ARES_ESERVFAIL: return 2;
    case ARES_ENOTFOUND: case ARES_ENODATA: case ARES_ENONAME: return 3;
    case ARES_ENOTIMP: return 4;
    case ARES_EREFUSED: return 5;
    case ARES_ETIMEOUT: case ARES_ECONNREFUSED: return 110;
    default: return 2;
    }
}

#define MAX_ADDRS 32

/* One name: its A and/or AAAA queries, answered together (IPv4 addresses first). */
struct query {
    swiftginx_dns *dns;
    swiftginx_dns_answer_cb cb;
    void *arg;
    int outstanding;
    int status4, status6;
    struct sockaddr_storage addrs[64]; /* MAX_ADDRS of each family */
    int count4, count6;
    int ttl;
};

static void finish(struct query *q) {
    int code = 0;
    if (q->count4 + q->count6 == 0) {
        /* nginx reports the A query's failure first. */
        int status = q->status4 >= 0 ? q->status4 : q->status6;
        if (status == ARES_SUCCESS && q->status6 >= 0 && q->status6 != ARES_SUCCESS) status = q->status6;
        code = status == ARES_SUCCESS ? 3 : nginx_code(status);
        q->cb(q->arg, code, NULL, 0, 0);
    } else {
        /* IPv4 addresses are in addrs[0..count4), IPv6 in addrs[MAX_ADDRS..). */
        struct sockaddr_storage out[2 * MAX_ADDRS];
        int k = 0;
        for (int i = 0; i < q->count4; i++) out[k++] = q->addrs[i];
        for (int i = 0; i < q->count6; i++) out[k++] = q->addrs[MAX_ADDRS + i];
        q->cb(q->arg, 0, out, k, q->ttl < 0 ? 0 : q->ttl);
    }
    free(q);
}

static void note_ttl(struct query *q, int ttl) {
    if (ttl < 0) ttl = 0;
    if (q->ttl < 0 || ttl < q->ttl) q->ttl = ttl;
}

static void answered_a(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
    (void)timeouts;
    struct query *q = arg;
    q->dns->pending--;
    if (status == ARES_SUCCESS) {
        struct ares_addrttl list[MAX_ADDRS];
        int n = MAX_ADDRS;
        status = ares_parse_a_reply(abuf, alen, NULL, list, &n);
        for (int i = 0; status == ARES_SUCCESS && i < n; i++) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&q->addrs[q->count4++];
            memset(sin, 0, sizeof(struct sockaddr_storage));
            sin->sin_family = AF_INET;
            sin->sin_addr = list[i].ipaddr;
            note_ttl(q, list[i].ttl);
        }
    }
    q->status4 = status;
    if (--q->outstanding == 0) finish(q);
}

static void answered_aaaa(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
    (void)timeouts;
    struct query *q = arg;
    q->dns->pending--;
    if (status == ARES_SUCCESS) {
        struct ares_addr6ttl list[MAX_ADDRS];
        int n = MAX_ADDRS;
        status = ares_parse_aaaa_reply(abuf, alen, NULL, list, &n);
        for (int i = 0; status == ARES_SUCCESS && i < n; i++) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&q->addrs[MAX_ADDRS + q->count6++];
            memset(sin6, 0, sizeof(struct sockaddr_storage));
            sin6->sin6_family = AF_INET6;
            memcpy(&sin6->sin6_addr, &list[i].ip6addr, sizeof(sin6->sin6_addr));
            note_ttl(q, list[i].ttl);
        }
    }
    q->status6 = status;
    if (--q->outstanding == 0) finish(q);
}

void swiftginx_dns_resolve(swiftginx_dns *dns, const char *name, int family,
                           swiftginx_dns_answer_cb cb, void *arg) {
    struct query *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        cb(arg, 2, NULL, 0, 0);
        return;
    }
    q->dns = dns;
    q->cb = cb;
    q->arg = arg;
    q->ttl = -1;
    q->status4 = -1;
    q->status6 = -1;
    q->outstanding = family == 0 ? 2 : 1;
    /* Plain queries (no search list, no /etc/hosts, "localhost" asked like any name),
     * as nginx's resolver sends them. */
    if (family != 6) {
        dns->pending++;
        ares_query(dns->channel, name, 1 /* C_IN */, 1 /* T_A */, answered_a, q);
    }
    if (family != 4) {
        dns->pending++;
        ares_query(dns->channel, name, 1 /* C_IN */, 28 /* T_AAAA */, answered_aaaa, q);
    }
}

void swiftginx_dns_process(swiftginx_dns *dns, int read_fd, int write_fd) {
    ares_process_fd(dns->channel, read_fd >= 0 ? read_fd : ARES_SOCKET_BAD,
                    write_fd >= 0 ? write_fd : ARES_SOCKET_BAD);
}

int swiftginx_dns_timeout_ms(swiftginx_dns *dns) {
    if (dns->pending <= 0) return -1;
    struct timeval tv;
    struct timeval *t = ares_timeout(dns->channel, NULL, &tv);
    if (t == NULL) return -1;
    return (int)(t->tv_sec * 1000 + t->tv_usec / 1000);
}
