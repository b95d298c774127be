/* ipcount.h - connections per client address, process-wide, for the per-IP cap.
 *
 * Touched only on accept and close (a mutex is fine there). With no limit set, acquire always
 * succeeds and costs nothing. */
#ifndef ROOST_NET_IPCOUNT_H
#define ROOST_NET_IPCOUNT_H

#include <netinet/in.h>
#include <stdbool.h>

/* 0 = unlimited (the default). Call before the loops start. */
void ipcount_set_limit(int max_per_ip);
/* Count one more connection from addr; false (nothing counted) when at the limit. */
bool ipcount_acquire(const struct in6_addr *addr);
/* Forget one connection from addr (no-op for an address never acquired). */
void ipcount_release(const struct in6_addr *addr);
/* Connections currently counted for addr. */
int ipcount_get(const struct in6_addr *addr);

#endif
