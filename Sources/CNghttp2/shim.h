/* libnghttp2 for Swift: HTTP/2 framing, HPACK and flow control for client connections
 * (Debian's libnghttp2-dev). The server never parses frames or header blocks itself. */
#include <nghttp2/nghttp2.h>
