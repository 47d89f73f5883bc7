/*
 * OpenSSL macros and constants that Swift cannot import, for SwiftginxTLS.
 * One thin wrapper per macro, named swiftginx_<c_name>; no logic lives here.
 * One piece of state: a thread-local flag, as Swift has no thread-local variables;
 * and one piece of logic: the socket BIO in shims.c.
 */
#ifndef CSWIFTGINX_TLS_SHIMS_H
#define CSWIFTGINX_TLS_SHIMS_H

#include <stdint.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/core_names.h>

static const uint64_t swiftginx_SSL_OP_NO_TICKET = SSL_OP_NO_TICKET;
static const uint64_t swiftginx_SSL_OP_CIPHER_SERVER_PREFERENCE = SSL_OP_CIPHER_SERVER_PREFERENCE;
static const uint64_t swiftginx_SSL_OP_NO_SSLv3 = SSL_OP_NO_SSLv3;
static const uint64_t swiftginx_SSL_OP_NO_TLSv1 = SSL_OP_NO_TLSv1;
static const uint64_t swiftginx_SSL_OP_NO_TLSv1_1 = SSL_OP_NO_TLSv1_1;
static const uint64_t swiftginx_SSL_OP_NO_TLSv1_2 = SSL_OP_NO_TLSv1_2;
static const uint64_t swiftginx_SSL_OP_NO_TLSv1_3 = SSL_OP_NO_TLSv1_3;
static const uint64_t swiftginx_SSL_OP_NO_COMPRESSION = SSL_OP_NO_COMPRESSION;
static const uint64_t swiftginx_SSL_OP_NO_RENEGOTIATION = SSL_OP_NO_RENEGOTIATION;
static const uint64_t swiftginx_SSL_OP_NO_ANTI_REPLAY = SSL_OP_NO_ANTI_REPLAY;

static const long swiftginx_SSL_MODE_ENABLE_PARTIAL_WRITE = SSL_MODE_ENABLE_PARTIAL_WRITE;
static const long swiftginx_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER = SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
static const long swiftginx_SSL_MODE_RELEASE_BUFFERS = SSL_MODE_RELEASE_BUFFERS;

static inline void swiftginx_SSL_CTX_set_read_ahead(SSL_CTX *ctx, int yes) {
    SSL_CTX_set_read_ahead(ctx, yes);
}

static const long swiftginx_SSL_SESS_CACHE_OFF = SSL_SESS_CACHE_OFF;
static const long swiftginx_SSL_SESS_CACHE_CLIENT = SSL_SESS_CACHE_CLIENT;
static const long swiftginx_SSL_SESS_CACHE_SERVER = SSL_SESS_CACHE_SERVER;
static const long swiftginx_SSL_SESS_CACHE_NO_INTERNAL_STORE = SSL_SESS_CACHE_NO_INTERNAL_STORE;
static const long swiftginx_SSL_SESS_CACHE_NO_INTERNAL = SSL_SESS_CACHE_NO_INTERNAL;

/* OSSL_PARAM keeps the key pointer: these must be static strings. */
static const char *const swiftginx_OSSL_MAC_PARAM_KEY = OSSL_MAC_PARAM_KEY;
static const char *const swiftginx_OSSL_MAC_PARAM_DIGEST = OSSL_MAC_PARAM_DIGEST;

static const unsigned long swiftginx_XN_FLAG_RFC2253 = XN_FLAG_RFC2253;

static inline long swiftginx_SSL_set_mode(SSL *ssl, long mode) {
    return SSL_set_mode(ssl, mode);
}
static inline long swiftginx_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

static inline int swiftginx_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline int swiftginx_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}

static inline long swiftginx_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}

static inline long swiftginx_SSL_CTX_sess_set_cache_size(SSL_CTX *ctx, long size) {
    return SSL_CTX_sess_set_cache_size(ctx, size);
}

static inline int swiftginx_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) {
    return (int)SSL_CTX_set1_groups_list(ctx, list);
}

static inline int swiftginx_SSL_CTX_add0_chain_cert(SSL_CTX *ctx, X509 *cert) {
    return (int)SSL_CTX_add0_chain_cert(ctx, cert);
}

static inline int swiftginx_SSL_CTX_clear_chain_certs(SSL_CTX *ctx) {
    return (int)SSL_CTX_clear_chain_certs(ctx);
}

static inline int swiftginx_SSL_add0_chain_cert(SSL *ssl, X509 *cert) {
    return (int)SSL_add0_chain_cert(ssl, cert);
}

static inline long swiftginx_SSL_CTX_set_tlsext_servername_callback(SSL_CTX *ctx,
                                                                    int (*cb)(SSL *, int *, void *)) {
    return SSL_CTX_set_tlsext_servername_callback(ctx, cb);
}

static inline long swiftginx_SSL_CTX_set_tlsext_servername_arg(SSL_CTX *ctx, void *arg) {
    return SSL_CTX_set_tlsext_servername_arg(ctx, arg);
}

static inline long swiftginx_SSL_CTX_set_tlsext_status_cb(SSL_CTX *ctx, int (*cb)(SSL *, void *)) {
    return SSL_CTX_set_tlsext_status_cb(ctx, cb);
}

static inline long swiftginx_SSL_CTX_set_tlsext_status_arg(SSL_CTX *ctx, void *arg) {
    return SSL_CTX_set_tlsext_status_arg(ctx, arg);
}

static inline long swiftginx_SSL_set_tlsext_status_ocsp_resp(SSL *ssl, unsigned char *resp, long len) {
    return SSL_set_tlsext_status_ocsp_resp(ssl, resp, len);
}

static inline int swiftginx_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

static inline int swiftginx_SSL_get_ex_new_index(void) {
    return SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static inline int swiftginx_SSL_CTX_get_ex_new_index(void) {
    return SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static inline int swiftginx_BIO_get_ktls_send(BIO *bio) {
    return BIO_get_ktls_send(bio);
}

static inline int swiftginx_SSL_get0_raw_cipherlist(SSL *ssl, unsigned char **list) {
    return (int)SSL_get0_raw_cipherlist(ssl, list);
}

static inline int swiftginx_SSL_get_negotiated_group(SSL *ssl) {
    return (int)SSL_get_negotiated_group(ssl);
}

static inline int swiftginx_SSL_get1_groups(SSL *ssl, int *groups) {
    return (int)SSL_get1_groups(ssl, groups);
}

static const int swiftginx_TLSEXT_nid_unknown = TLSEXT_nid_unknown;

static inline STACK_OF(X509_NAME) *swiftginx_sk_X509_NAME_new_null(void) {
    return sk_X509_NAME_new_null();
}

static inline int swiftginx_sk_X509_NAME_num(const STACK_OF(X509_NAME) *list) {
    return sk_X509_NAME_num(list);
}

static inline X509_NAME *swiftginx_sk_X509_NAME_value(const STACK_OF(X509_NAME) *list, int i) {
    return sk_X509_NAME_value(list, i);
}

static inline int swiftginx_sk_X509_NAME_push(STACK_OF(X509_NAME) *list, X509_NAME *name) {
    return sk_X509_NAME_push(list, name);
}

static inline void *swiftginx_OPENSSL_malloc(size_t size) {
    return OPENSSL_malloc(size);
}

/* Whether this thread's OpenSSL error queue may hold errors (TLSConnection's
 * clearErrorQueue): set by calls that can leave errors behind, taken (and cleared)
 * before a read or write. */
extern __thread int swiftginx_tls_error_queue_dirty;

static inline int swiftginx_tls_take_error_queue_dirty(void) {
    int dirty = swiftginx_tls_error_queue_dirty;
    swiftginx_tls_error_queue_dirty = 0;
    return dirty;
}

static inline void swiftginx_tls_mark_error_queue_dirty(void) {
    swiftginx_tls_error_queue_dirty = 1;
}

/* A socket BIO for connections without kernel TLS: reads and writes with syscall(2)
 * (glibc's read and write are thread cancellation points, ~100 instructions each in a
 * multi-threaded process) and remembers whether its last read returned fewer bytes than
 * asked (the socket had nothing more then). 1 when set, 0 on failure. */
int swiftginx_SSL_set_socket(SSL *ssl, int fd);
/* Whether the last read of the connection's socket BIO came back short (or would have
 * blocked): 0 for another BIO. */
int swiftginx_SSL_socket_drained(SSL *ssl);

static inline uint64_t swiftginx_SSL_get_options(const SSL *ssl) { return SSL_get_options(ssl); }
static const uint64_t swiftginx_SSL_OP_ENABLE_KTLS = SSL_OP_ENABLE_KTLS;

static inline void swiftginx_OPENSSL_free(void *ptr) {
    OPENSSL_free(ptr);
}

#endif
