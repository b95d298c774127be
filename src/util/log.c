#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"

int log_min_level = LOG_INFO;
static int log_json;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

int log_set_level(const char *name)
{
    for (int i = 0; i <= LOG_OFF; i++)
        if (strcmp(name, level_names[i]) == 0) {
            log_min_level = i;
            return 0;
        }
    return RS_EINVAL;
}

int log_set_format(const char *name)
{
    if (strcmp(name, "text") == 0) log_json = 0;
    else if (strcmp(name, "json") == 0) log_json = 1;
    else return RS_EINVAL;
    return 0;
}

/* Escape a message for a JSON string value. */
static size_t json_escape(char *out, size_t cap, const char *in)
{
    size_t o = 0;
    for (; *in && o + 7 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return o;
}

void log_write(int level, const char *component, const char *fmt, ...)
{
    char msg[1024], line[2304], ts[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000);
    int len;
    if (log_json) {
        char esc[2048];
        json_escape(esc, sizeof esc, msg);
        len = snprintf(line, sizeof line, "{\"time\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",\"msg\":\"%s\"}\n",
                       ts, level_names[level], component, esc);
    } else {
        len = snprintf(line, sizeof line, "%s %-5s %s: %s\n", ts, level_names[level], component, msg);
    }
    if (len > (int)sizeof line - 1) len = (int)sizeof line - 1;
    ssize_t w = write(STDERR_FILENO, line, (size_t)len);
    (void)w;
}
