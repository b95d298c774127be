/* roost.h - the assembled server: configuration in, worker loops with every layer wired. */
#ifndef ROOST_APP_ROOST_H
#define ROOST_APP_ROOST_H

#include "util/config.h"

typedef struct roost roost_t;

/* Open storage, build the routes, bind the listeners and start the workers. On failure a
 * one-line reason is logged and a non-zero code returned (the process should exit 2). */
int roost_start(const config_t *cfg, roost_t **out);
/* Stop accepting, let in-flight work finish within the grace period, join the workers,
 * release everything. */
void roost_stop(roost_t *r);
/* The non-serving commands: "migrate", "check". Returns the process exit code. */
int roost_command(const config_t *cfg);

#endif
