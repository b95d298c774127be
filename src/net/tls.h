/* tls.h - TLS for the listeners (OpenSSL): HTTPS and WSS on the same port as everything else.
 *
 * The context is built once at start-up and shared read-only by every worker loop; each
 * connection gets its own SSL object from the loop (loop_config_t.tls_ctx). */
#ifndef ROOST_NET_TLS_H
#define ROOST_NET_TLS_H

#include <stddef.h>

/* Load a PEM certificate chain and its private key. Returns the context (an SSL_CTX*), or
 * NULL with a one-line reason in err (unreadable file, key not matching the certificate). */
void *tls_ctx_new(const char *cert_path, const char *key_path, char *err, size_t errlen);
void tls_ctx_free(void *ctx);

#endif
