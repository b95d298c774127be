/* recovery.h - Socket.IO connection-state recovery: the broadcasts a disconnected client may
 * have missed, and the sessions it may come back to.
 *
 * Process-wide and thread-safe (one mutex; touched once per broadcast and per disconnect or
 * reconnect). Broadcasts are kept for max_disconnection ms (and at most RECOVERY_MAX_PACKETS);
 * a session persisted at disconnect can be restored once within that window, by its private
 * id (pid) and the offset of the last packet the client saw. */
#ifndef ROOST_SIO_RECOVERY_H
#define ROOST_SIO_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "eio/server.h"
#include "sio/packet.h"

#define RECOVERY_MAX_PACKETS 100000

typedef struct sio_recovery sio_recovery_t;

typedef struct sio_recovered_packet {
    eio_prepared_t text;
    eio_prepared_t bins[SIO_MAX_ATTACHMENTS];
    int nbins;
} sio_recovered_packet_t;

typedef struct sio_recovered {
    char *pid;
    char sid[32];
    char **rooms;
    size_t nrooms;
    sio_recovered_packet_t *packets;
    size_t npackets;
} sio_recovered_t;

sio_recovery_t *sio_recovery_new(uint32_t max_disconnection_ms);
void sio_recovery_free(sio_recovery_t *r);
/* Write the next offset (a short, increasing string) into out. */
void sio_recovery_next_offset(sio_recovery_t *r, char *out, size_t cap);
/* Remember a broadcast under offset (takes its own references). */
void sio_recovery_store(sio_recovery_t *r, const char *offset, const eio_prepared_t *text,
                        const char *const *rooms, size_t nrooms, const char *const *except,
                        size_t nexcept, const eio_prepared_t *bins, int nbins);
/* Remember a disconnected session. */
void sio_recovery_persist(sio_recovery_t *r, const char *pid, const char *sid,
                          const char *const *rooms, size_t nrooms);
/* Take a session back: 0 with *out filled (release it with sio_recovered_release), or
 * RS_ENOTFOUND when the pid is unknown or expired or the offset is no longer known. */
int sio_recovery_restore(sio_recovery_t *r, const char *pid, const char *offset, sio_recovered_t *out);
void sio_recovered_release(sio_recovered_t *rec);

#endif
