/* listen.h - listening sockets. */
#ifndef ROOST_NET_LISTEN_H
#define ROOST_NET_LISTEN_H

#include <stddef.h>

/* Open a non-blocking TCP listener on host:port with SO_REUSEPORT (so each worker can have its
 * own). Returns the fd, or a negative rs_err with a one-line reason in err. *bound_port gets
 * the actual port (useful with port 0). `first` (the first worker's listener) also checks that
 * no other process serves the port already. */
int net_listen(const char *host, int port, int first, int *bound_port, char *err, size_t errlen);

#endif
