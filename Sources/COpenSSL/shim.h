/* OpenSSL headers for Swift; macro wrappers live in CSwiftginxShims. */
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/opensslv.h>
#include <openssl/store.h>
#include <openssl/ui.h>
