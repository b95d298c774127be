#include "http/static.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/mime.h"
#include "util/err.h"
#include "util/log.h"

#define STATIC_MAX_FILE (32u << 20)
#define STATIC_MAX_PATH 1024

struct http_static {
    int rootfd;
    int spa_fallback;
};

http_static_t *http_static_new(const char *root, int spa_fallback)
{
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        LOG_WARN("static", "web root %s: %s (static files disabled)", root, strerror(errno));
        return NULL;
    }
    http_static_t *st = calloc(1, sizeof *st);
    if (!st) {
        close(fd);
        return NULL;
    }
    st->rootfd = fd;
    st->spa_fallback = spa_fallback;
    return st;
}

void http_static_free(http_static_t *st)
{
    if (!st) return;
    close(st->rootfd);
    free(st);
}

int http_static_path_safe(const char *path, size_t len)
{
    if (!len || path[0] != '/') return RS_EPERM;
    size_t i = 1;
    while (i <= len) {
        size_t j = i;
        while (j < len && path[j] != '/') j++;
        size_t seg = j - i;
        const char *s = path + i;
        /* An empty final segment ("/dir/") is fine; empty middle ones ("//") are not. */
        if (seg == 0 && j < len) return RS_EPERM;
        if ((seg == 1 && s[0] == '.') || (seg == 2 && s[0] == '.' && s[1] == '.')) return RS_EPERM;
        for (size_t k = 0; k < seg; k++)
            if (s[k] == '\\' || s[k] == '\0' || (unsigned char)s[k] < 0x20) return RS_EPERM;
        i = j + 1;
    }
    return 0;
}

static int open_file(http_static_t *st, const char *rel, struct stat *sb, int *was_dir)
{
    *was_dir = 0;
    int fd = openat(st->rootfd, rel[0] ? rel : ".", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -1;
    if (fstat(fd, sb) < 0) {
        close(fd);
        return -1;
    }
    if (S_ISDIR(sb->st_mode)) {
        *was_dir = 1;
        int f2 = openat(fd, "index.html", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        close(fd);
        if (f2 < 0) return -1;
        if (fstat(f2, sb) < 0 || !S_ISREG(sb->st_mode)) {
            close(f2);
            return -1;
        }
        return f2;
    }
    if (!S_ISREG(sb->st_mode)) {
        close(fd);
        errno = ENOENT;
        return -1;
    }
    return fd;
}

void http_static_handle(http_req_t *r, void *arg)
{
    http_static_t *st = arg;
    const http_request_head_t *h = http_req_head(r);
    if (!span_eq_cstr(h->method, "GET") && !span_eq_cstr(h->method, "HEAD")) {
        http_req_add_header(r, "Allow", "GET, HEAD");
        http_respond_error(r, 405, "Method Not Allowed");
        return;
    }
    char path[STATIC_MAX_PATH + 1];
    int n = http_percent_decode(h->path, path, STATIC_MAX_PATH);
    if (n < 0) {
        http_respond_error(r, n == RS_ETOOBIG ? 414 : 400, "Bad Request: malformed path");
        return;
    }
    path[n] = '\0';
    if (http_static_path_safe(path, (size_t)n)) {
        http_respond_error(r, 400, "Bad Request: path not allowed");
        return;
    }
    if (!st) {
        http_respond_error(r, 404, "Not Found");
        return;
    }
    struct stat sb;
    const char *rel = path + 1;
    int was_dir = 0;
    int fd = open_file(st, rel, &sb, &was_dir);
    int fallback = 0;
    if (fd < 0) {
        const char *last = strrchr(path, '/');
        if (st->spa_fallback && !strchr(last, '.')) {
            fd = open_file(st, "index.html", &sb, &was_dir);
            fallback = 1;
            rel = "index.html";
        }
        if (fd < 0) {
            http_respond_error(r, 404, "Not Found");
            return;
        }
    }
    if ((uint64_t)sb.st_size > STATIC_MAX_FILE) {
        close(fd);
        http_respond_error(r, 500, "File too large to serve");
        return;
    }
    char etag[64];
    snprintf(etag, sizeof etag, "W/\"%llx-%llx\"", (unsigned long long)sb.st_size,
             (unsigned long long)sb.st_mtim.tv_sec * 1000000000ull + (unsigned long long)sb.st_mtim.tv_nsec);
    http_req_add_header(r, "ETag", etag);
    /* Vite's hashed assets never change under one name; everything else is revalidated. */
    int immutable = !fallback && strncmp(rel, "assets/", 7) == 0;
    http_req_add_header(r, "Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
    http_req_add_header(r, "X-Content-Type-Options", "nosniff");
    span_t inm = http_req_header(r, "if-none-match");
    if (inm.base && span_eq_cstr(inm, etag)) {
        close(fd);
        http_respond(r, 304, NULL, NULL, 0);
        return;
    }
    const char *ctype = http_mime_type(span_cstr(was_dir ? "index.html" : rel));
    if (span_eq_cstr(h->method, "HEAD")) {
        close(fd);
        http_respond(r, 200, ctype, NULL, (size_t)sb.st_size); /* head only: length, no body */
        return;
    }
    rbuf_t *body = rbuf_alloc((size_t)sb.st_size);
    if (!body) {
        close(fd);
        http_respond_error(r, 503, "Service Unavailable");
        return;
    }
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t k = pread(fd, body->data + got, (size_t)sb.st_size - got, (off_t)got);
        if (k <= 0) {
            if (k < 0 && errno == EINTR) continue;
            break;
        }
        got += (size_t)k;
    }
    close(fd);
    if (got != (size_t)sb.st_size) {
        rbuf_unref(body);
        http_respond_error(r, 500, "Read error");
        return;
    }
    http_respond_rbuf(r, 200, ctype, body);
    rbuf_unref(body);
}
