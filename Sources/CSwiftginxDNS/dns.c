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
    /* An error answer (SERVFAIL, REFUSED...) is the answer, as for nginx, not a reason to
     * ask the next server; successive queries go to the servers in turn. */
    o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_NOCHECKRESP;
    o.timeout = try_timeout_ms > 0 ? try_timeout_ms : 1;
    o.tries = tries > 0 ? tries : 1;
    o.sock_state_cb = (ares_sock_state_cb)socket_cb;
    o.sock_state_cb_data = data;
    o.lookups = (char *)"b";
    int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS
               | ARES_OPT_ROTATE;
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
    int family;
    int depth;
};

static int is_error(int status) { return status >= 0 && status != ARES_SUCCESS && status != ARES_ENODATA; }

static void finish(struct query *q) {
    /* Any failed query fails the name (the A query's failure is reported first). */
    if (is_error(q->status4) || is_error(q->status6)) {
        q->cb(q->arg, nginx_code(is_error(q->status4) ? q->status4 : q->status6), NULL, 0, 0);
    } else if (q->count4 + q->count6 == 0) {
        q->cb(q->arg, 3, NULL, 0, 0);
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


/* The target of the last CNAME in an answer section (a chain ends there), or NULL;
 * `ttl` gets the smallest TTL of the CNAMEs. Free with ares_free_string. */
static char *cname_target(const unsigned char *abuf, int alen, int *ttl) {
    if (alen < 12) return NULL;
    int qd = (abuf[4] << 8) | abuf[5];
    int an = (abuf[6] << 8) | abuf[7];
    const unsigned char *p = abuf + 12;
    const unsigned char *end = abuf + alen;
    char *name = NULL;
    long len = 0;
    for (int i = 0; i < qd; i++) {
        if (ares_expand_name(p, abuf, alen, &name, &len) != ARES_SUCCESS) return NULL;
        ares_free_string(name);
        p += len + 4;
        if (p > end) return NULL;
    }
    char *target = NULL;
    for (int i = 0; i < an; i++) {
        if (ares_expand_name(p, abuf, alen, &name, &len) != ARES_SUCCESS) break;
        ares_free_string(name);
        p += len;
        if (p + 10 > end) break;
        int type = (p[0] << 8) | p[1];
        int rttl = (int)(((unsigned)p[4] << 24) | (p[5] << 16) | (p[6] << 8) | p[7]);
        int rdlen = (p[8] << 8) | p[9];
        p += 10;
        if (p + rdlen > end) break;
        if (type == 5 /* CNAME */) {
            char *t = NULL;
            if (ares_expand_name(p, abuf, alen, &t, &len) == ARES_SUCCESS) {
                if (target) ares_free_string(target);
                target = t;
                if (rttl < 0) rttl = 0;
                if (*ttl < 0 || rttl < *ttl) *ttl = rttl;
            }
        }
        p += rdlen;
    }
    return target;
}


static void ask(struct query *q, const char *name);

/* One query's answer is in. An answer that is only a CNAME counts as nothing while the
 * other query is still out, or when the other found addresses; when it is the last
 * answer and nothing was found, the CNAME's target is asked for instead (both
 * families, a chain of at most 8) — nginx's resolver decides the same way. */
static void answered(struct query *q, int type, int status, const unsigned char *abuf, int alen, int n) {
    int last = q->outstanding == 1;
    int nodata = status == ARES_ENODATA || (status == ARES_SUCCESS && n == 0);
    if (nodata && last && q->count4 + q->count6 == 0 && !is_error(type == 1 ? q->status6 : q->status4)
        && q->depth < 8) {
        char *target = cname_target(abuf, alen, &q->ttl);
        if (target != NULL) {
            q->depth++;
            q->count4 = q->count6 = 0;
            q->status4 = q->status6 = -1;
            ask(q, target);
            ares_free_string(target);
            return;
        }
    }
    if (type == 1) q->status4 = nodata ? ARES_ENODATA : status;
    else q->status6 = nodata ? ARES_ENODATA : status;
    if (--q->outstanding == 0) finish(q);
}

/* Adds one address of an answer (IPv4 ones first in q->addrs, IPv6 ones after MAX_ADDRS). */
static void add_address(struct query *q, int family, const void *addr, int ttl) {
    struct sockaddr_storage *ss = family == AF_INET ? &q->addrs[q->count4++] : &q->addrs[MAX_ADDRS + q->count6++];
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, addr, sizeof sin->sin_addr);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, addr, sizeof sin6->sin6_addr);
    }
    note_ttl(q, ttl);
}

/* An A (type 1) or AAAA (type 28) answer: its addresses, then the query's bookkeeping. */
static void answered_addresses(struct query *q, int type, int status, unsigned char *abuf, int alen) {
    q->dns->pending--;
    int n = 0;
    if (status == ARES_SUCCESS) {
        union {
            struct ares_addrttl v4[MAX_ADDRS];
            struct ares_addr6ttl v6[MAX_ADDRS];
        } list;
        n = MAX_ADDRS;
        status = type == 1 ? ares_parse_a_reply(abuf, alen, NULL, list.v4, &n)
                           : ares_parse_aaaa_reply(abuf, alen, NULL, list.v6, &n);
        if (status != ARES_SUCCESS) n = 0;
        for (int i = 0; i < n; i++) {
            if (type == 1) add_address(q, AF_INET, &list.v4[i].ipaddr, list.v4[i].ttl);
            else add_address(q, AF_INET6, &list.v6[i].ip6addr, list.v6[i].ttl);
        }
    }
    answered(q, type, status, abuf, alen, n);
}

static void answered_a(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
    (void)timeouts;
    answered_addresses(arg, 1, status, abuf, alen);
}

static void answered_aaaa(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
    (void)timeouts;
    answered_addresses(arg, 28, status, abuf, alen);
}

/* Sends the A and/or AAAA queries for `name` (A first, as nginx). */
static void ask(struct query *q, const char *name) {
    q->outstanding = q->family == 0 ? 2 : 1;
    /* Plain queries (no search list, no /etc/hosts, "localhost" asked like any name),
     * as nginx's resolver sends them. */
    if (q->family != 6) {
        q->dns->pending++;
        ares_query(q->dns->channel, name, 1 /* C_IN */, 1 /* T_A */, answered_a, q);
    }
    if (q->family != 4) {
        q->dns->pending++;
        ares_query(q->dns->channel, name, 1 /* C_IN */, 28 /* T_AAAA */, answered_aaaa, q);
    }
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
    q->family = family;
    q->ttl = -1;
    q->status4 = -1;
    q->status6 = -1;
    ask(q, name);
}

/* The smallest TTL of the answer records of `type`, or -1. */
static int answer_ttl(const unsigned char *abuf, int alen, int type) {
    if (alen < 12) return -1;
    int qd = (abuf[4] << 8) | abuf[5];
    int an = (abuf[6] << 8) | abuf[7];
    const unsigned char *p = abuf + 12;
    const unsigned char *end = abuf + alen;
    char *name = NULL;
    long len = 0;
    for (int i = 0; i < qd; i++) {
        if (ares_expand_name(p, abuf, alen, &name, &len) != ARES_SUCCESS) return -1;
        ares_free_string(name);
        p += len + 4;
        if (p > end) return -1;
    }
    int ttl = -1;
    for (int i = 0; i < an; i++) {
        if (ares_expand_name(p, abuf, alen, &name, &len) != ARES_SUCCESS) break;
        ares_free_string(name);
        p += len;
        if (p + 10 > end) break;
        int rtype = (p[0] << 8) | p[1];
        int rttl = (int)(((unsigned)p[4] << 24) | (p[5] << 16) | (p[6] << 8) | p[7]);
        int rdlen = (p[8] << 8) | p[9];
        if (rtype == type || rtype == 5 /* CNAME */) {
            if (rttl < 0) rttl = 0;
            if (ttl < 0 || rttl < ttl) ttl = rttl;
        }
        p += 10 + rdlen;
        if (p > end) break;
    }
    return ttl;
}

struct srv_query {
    swiftginx_dns *dns;
    swiftginx_dns_srv_cb cb;
    void *arg;
    int depth;
    int cname_ttl;
};

#define MAX_SRV 64

static void answered_srv(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
    (void)timeouts;
    struct srv_query *q = arg;
    q->dns->pending--;
    struct ares_srv_reply *reply = NULL;
    if (status == ARES_SUCCESS) status = ares_parse_srv_reply(abuf, alen, &reply);
    if ((status == ARES_ENODATA || (status == ARES_SUCCESS && reply == NULL)) && q->depth < 8) {
        /* A CNAME without the records: ask for the target's. */
        char *target = cname_target(abuf, alen, &q->cname_ttl);
        if (target != NULL) {
            if (reply) ares_free_data(reply);
            q->depth++;
            q->dns->pending++;
            ares_query(q->dns->channel, target, 1, 33, answered_srv, q);
            ares_free_string(target);
            return;
        }
    }
    if (status != ARES_SUCCESS) {
        q->cb(q->arg, status == ARES_ENODATA ? 3 : nginx_code(status), NULL, 0, 0);
        free(q);
        return;
    }
    swiftginx_srv out[MAX_SRV];
    int k = 0;
    for (struct ares_srv_reply *r = reply; r != NULL && k < MAX_SRV; r = r->next) {
        out[k].priority = r->priority;
        out[k].weight = r->weight;
        out[k].port = r->port;
        strncpy(out[k].target, r->host ? r->host : "", sizeof(out[k].target) - 1);
        out[k].target[sizeof(out[k].target) - 1] = 0;
        k++;
    }
    ares_free_data(reply);
    int ttl = answer_ttl(abuf, alen, 33);
    if (q->cname_ttl >= 0 && (ttl < 0 || q->cname_ttl < ttl)) ttl = q->cname_ttl;
    if (k == 0) q->cb(q->arg, 3, NULL, 0, 0);
    else q->cb(q->arg, 0, out, k, ttl < 0 ? 0 : ttl);
    free(q);
}

void swiftginx_dns_resolve_srv(swiftginx_dns *dns, const char *name, swiftginx_dns_srv_cb cb, void *arg) {
    struct srv_query *q = malloc(sizeof(*q));
    if (q == NULL) {
        cb(arg, 2, NULL, 0, 0);
        return;
    }
    q->dns = dns;
    q->cb = cb;
    q->arg = arg;
    q->depth = 0;
    q->cname_ttl = -1;
    dns->pending++;
    ares_query(dns->channel, name, 1 /* C_IN */, 33 /* T_SRV */, answered_srv, q);
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
