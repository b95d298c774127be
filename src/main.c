/* main.c - roost: parse the configuration, start one event loop per worker thread, wait for
 * SIGINT/SIGTERM, drain, exit 0. Everything else lives in the layers under src/. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/roost.h"
#include "util/config.h"
#include "util/log.h"

int main(int argc, char **argv)
{
    config_t cfg;
    int rc = config_parse(&cfg, argc, argv);
    if (rc == 1) return 0;
    if (rc) return 2;
    /* Block the stop signals in every thread; the main thread waits for them. SIGPIPE is
     * ignored: a peer that went away is an EPIPE on write, handled per connection. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (strcmp(cfg.command, "serve") != 0) return roost_command(&cfg);

    roost_t *r = NULL;
    rc = roost_start(&cfg, &r);
    if (rc) return 2;
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {}
    LOG_INFO("main", "%s received: stopping (grace %d ms)", sig == SIGINT ? "SIGINT" : "SIGTERM",
             cfg.shutdown_grace_ms);
    roost_stop(r);
    LOG_INFO("main", "stopped");
    return 0;
}
