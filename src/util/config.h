/* config.h - every setting of roost: a command-line flag with an environment-variable twin.
 *
 * Precedence: flag > environment (ROOST_<NAME>, dashes as underscores) > default. */
#ifndef ROOST_UTIL_CONFIG_H
#define ROOST_UTIL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct config {
    const char *command;     /* "serve" (default), "migrate", "check" */
    char listen_host[256];
    int listen_port;
    int threads;
    const char *store;
    const char *web_root;
    const char *cors_origins; /* comma-separated */
    const char *log_level;
    const char *log_format;
    const char *path;         /* Engine.IO path, "/socket.io/" */
    int ping_interval_ms;
    int ping_timeout_ms;
    bool ping_interval_set, ping_timeout_set;
    uint64_t max_payload;
    int upgrade_timeout_ms;
    int connect_timeout_ms;
    bool conformance;
    bool ws_deflate;
    bool recovery;
    int max_disconnection_ms;
    const char *adapter;
    int presence_ttl_ms;       /* cluster presence: a node silent this long stops counting */
    const char *cookie;        /* Engine.IO "io" cookie name, NULL = off */
    uint64_t max_body;
    int header_timeout_ms, body_timeout_ms, idle_timeout_ms;
    int max_conns_per_ip;
    uint64_t max_output;
    int shutdown_grace_ms;
    const char *tls_cert, *tls_key;
    int group_max;            /* chatroom size cap */
    bool no_group_commit;
    int max_message_rate;
} config_t;

/* Parse argv and the environment into cfg (defaults first). Returns 0; 1 when --help or
 * --version printed something and the caller should exit 0; 2 on a bad flag (one line on
 * stderr already written) and the caller should exit 2. */
int config_parse(config_t *cfg, int argc, char **argv);
void config_usage(FILE *out);

#endif
