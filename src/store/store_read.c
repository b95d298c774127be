/* store_read.c - the synchronous reads, on a reader's own connection. Written once for
 * both backends. Each function finishes its statements before returning, so a SQLite
 * reader never holds a WAL snapshot between calls. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/err.h"

#define BE (r->store->be)
#define C  (r->conn)

void store_user_page_free(struct store_user_page *p)
{
    free(p->items);
    memset(p, 0, sizeof *p);
}

void store_chatroom_page_free(struct store_chatroom_page *p)
{
    free(p->items);
    memset(p, 0, sizeof *p);
}

void store_message_clear(struct store_message *m)
{
    free(m->text);
    memset(m, 0, sizeof *m);
}

void store_message_page_free(struct store_message_page *p)
{
    for (size_t i = 0; i < p->n; i++) free(p->items[i].text);
    free(p->items);
    memset(p, 0, sizeof *p);
}

static int page_size(int first)
{
    return first >= 1 && first <= STORE_PAGE_MAX ? 0 : RS_EINVAL;
}

static int one_user(store_reader_t *r, enum store_stmt st, struct store_arg arg,
                    struct store_user *out)
{
    int rc = store_q_row(BE, C, st, &arg, 1);
    if (rc != 1) return rc == 0 ? RS_ENOTFOUND : rc;
    store_row_user(BE, C, 0, out);
    BE->finish(C);
    return 0;
}

int store_user_get(store_reader_t *r, int64_t id, struct store_user *out)
{
    return one_user(r, ST_USER_BY_ID, SARG_INT(id), out);
}

int store_user_get_by_username(store_reader_t *r, const char *username, size_t len,
                               struct store_user *out)
{
    char norm[STORE_USERNAME_MAX + 1];
    if (!username || len == 0 || len > STORE_USERNAME_MAX) return RS_ENOTFOUND;
    for (size_t i = 0; i < len; i++) {
        char c = username[i];
        if (c == '\0') return RS_ENOTFOUND;
        norm[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    norm[len] = '\0';
    if (store_text_check(norm, len) != 0) return RS_ENOTFOUND;
    return one_user(r, ST_USER_BY_NORM, SARG_TEXTN(norm, len), out);
}

int store_user_password_hash(store_reader_t *r, int64_t id, char *out)
{
    struct store_arg a[] = {SARG_INT(id)};
    int rc = store_q_row(BE, C, ST_USER_PWHASH, a, 1);
    if (rc != 1) return rc == 0 ? RS_ENOTFOUND : rc;
    store_col_copy(BE, C, 0, out, STORE_PWHASH_MAX + 1);
    BE->finish(C);
    return 0;
}

/* Run a user-list statement asking for first + 1 rows (the extra one only says whether
 * another page exists). cursor_col >= 0: that column is the row's pagination cursor. */
static int user_page(store_reader_t *r, enum store_stmt st, const struct store_arg *a, int n,
                     int first, int cursor_col, struct store_user_page *out)
{
    memset(out, 0, sizeof *out);
    out->items = calloc((size_t)first, sizeof *out->items);
    if (!out->items) return RS_ENOMEM;
    int rc = BE->query(C, st, a, n);
    if (rc < 0) goto fail;
    while ((rc = BE->step(C)) == 1) {
        if (out->n == (size_t)first) {
            out->has_more = true;
            break;
        }
        store_row_user(BE, C, 0, &out->items[out->n]);
        if (cursor_col >= 0) out->end_cursor = BE->col_int(C, cursor_col);
        out->n++;
    }
    BE->finish(C);
    if (rc < 0) goto fail;
    return 0;
fail:
    store_user_page_free(out);
    return rc;
}

int store_user_search(store_reader_t *r, const char *search, size_t search_len, const char *after,
                      int first, struct store_user_page *out)
{
    memset(out, 0, sizeof *out);
    if (page_size(first)) return RS_EINVAL;
    if (!search) search = "", search_len = 0;
    if (!after) after = "";
    if (search_len > STORE_DISPLAY_NAME_MAX || strlen(after) > STORE_USERNAME_MAX)
        return RS_ETOOBIG;
    int rc = store_text_check(search, search_len);
    if (rc || (rc = store_text_check(after, strlen(after)))) return rc;
    char *term = malloc(search_len + 1); /* NUL-terminated for libpq */
    if (!term) return RS_ENOMEM;
    memcpy(term, search, search_len);
    term[search_len] = '\0';
    struct store_arg a[] = {SARG_TEXTN(term, search_len), SARG_TEXT(after), SARG_INT(first + 1)};
    rc = user_page(r, ST_USER_SEARCH, a, 3, first, -1, out);
    free(term);
    return rc;
}

int store_session_get(store_reader_t *r, int64_t session_id, struct store_session *out)
{
    struct store_arg a[] = {SARG_INT(session_id)};
    int rc = store_q_row(BE, C, ST_SESSION_GET, a, 1);
    if (rc != 1) return rc == 0 ? RS_ENOTFOUND : rc;
    memset(out, 0, sizeof *out);
    out->id = BE->col_int(C, 0);
    out->user_id = BE->col_int(C, 1);
    out->created_ms = BE->col_int(C, 2);
    store_col_copy(BE, C, 3, out->secret_hash, sizeof out->secret_hash);
    BE->finish(C);
    return 0;
}

int store_follow_is_following(store_reader_t *r, int64_t follower, int64_t followee, bool *out)
{
    struct store_arg a[] = {SARG_INT(follower), SARG_INT(followee)};
    int rc = store_q_row(BE, C, ST_FOLLOW_EXISTS, a, 2);
    if (rc < 0) return rc;
    if (rc == 1) BE->finish(C);
    *out = rc == 1;
    return 0;
}

static int follow_page(store_reader_t *r, enum store_stmt st, int64_t user_id, int64_t after,
                       int first, struct store_user_page *out)
{
    memset(out, 0, sizeof *out);
    if (page_size(first) || after < 0) return RS_EINVAL;
    struct store_arg a[] = {SARG_INT(user_id), SARG_INT(after ? after : INT64_MAX),
                            SARG_INT(first + 1)};
    return user_page(r, st, a, 3, first, 9, out);
}

int store_follow_followers(store_reader_t *r, int64_t user_id, int64_t after, int first,
                           struct store_user_page *out)
{
    return follow_page(r, ST_FOLLOWERS, user_id, after, first, out);
}

int store_follow_following(store_reader_t *r, int64_t user_id, int64_t after, int first,
                           struct store_user_page *out)
{
    return follow_page(r, ST_FOLLOWING, user_id, after, first, out);
}

int store_chatroom_get(store_reader_t *r, int64_t chatroom_id, int64_t viewer_id,
                       struct store_chatroom *out)
{
    return store_chatroom_view(BE, C, chatroom_id, viewer_id, out);
}

int store_chatroom_list(store_reader_t *r, int64_t user_id, int64_t after_activity,
                        int64_t after_id, int first, struct store_chatroom_page *out)
{
    memset(out, 0, sizeof *out);
    if (page_size(first) || after_activity < 0 || after_id < 0) return RS_EINVAL;
    if (after_id == 0) after_activity = after_id = INT64_MAX;
    out->items = calloc((size_t)first, sizeof *out->items);
    if (!out->items) return RS_ENOMEM;
    struct store_arg a[] = {SARG_INT(user_id), SARG_INT(after_activity), SARG_INT(after_id),
                            SARG_INT(first + 1)};
    int rc = BE->query(C, ST_CHATROOM_LIST, a, 4);
    if (rc < 0) goto fail;
    while ((rc = BE->step(C)) == 1) {
        if (out->n == (size_t)first) {
            out->has_more = true;
            break;
        }
        store_row_chatroom(BE, C, 0, &out->items[out->n++]);
    }
    BE->finish(C);
    if (rc < 0) goto fail;
    return 0;
fail:
    store_chatroom_page_free(out);
    return rc;
}

static int chatroom_exists(store_reader_t *r, int64_t chatroom_id)
{
    struct store_arg a[] = {SARG_INT(chatroom_id)};
    int rc = store_q_row(BE, C, ST_CHATROOM_EXISTS, a, 1);
    if (rc == 1) BE->finish(C);
    return rc == 1 ? 0 : rc == 0 ? RS_ENOTFOUND : rc;
}

int store_chatroom_members(store_reader_t *r, int64_t chatroom_id, struct store_user_page *out)
{
    memset(out, 0, sizeof *out);
    int rc = chatroom_exists(r, chatroom_id);
    if (rc) return rc;
    int cap = r->store->cfg.group_max;
    struct store_arg a[] = {SARG_INT(chatroom_id), SARG_INT(cap + 1)};
    return user_page(r, ST_MEMBERS, a, 2, cap, -1, out);
}

int store_chatroom_unread(store_reader_t *r, int64_t chatroom_id, int64_t user_id, int64_t *out)
{
    struct store_arg a[] = {SARG_INT(chatroom_id), SARG_INT(user_id)};
    int rc = store_q_int(BE, C, ST_MEMBER_UNREAD, a, 2, out);
    if (rc != RS_ENOTFOUND) return rc;
    rc = store_membership(BE, C, chatroom_id, user_id);
    return rc ? rc : RS_EIO;
}

/* Copy the message columns (id, chatroom_id, sender_id, created_at, text). */
static int row_message(store_reader_t *r, struct store_message *m)
{
    size_t len = 0;
    const char *t = BE->col_text(C, 4, &len);
    m->text = malloc(len + 1);
    if (!m->text) return RS_ENOMEM;
    if (len) memcpy(m->text, t, len);
    m->text[len] = '\0';
    m->text_len = len;
    m->id = BE->col_int(C, 0);
    m->chatroom_id = BE->col_int(C, 1);
    m->sender_id = BE->col_int(C, 2);
    m->created_ms = BE->col_int(C, 3);
    return 0;
}

int store_message_history(store_reader_t *r, int64_t chatroom_id, int64_t viewer_id, int64_t before,
                          int last, struct store_message_page *out)
{
    memset(out, 0, sizeof *out);
    if (page_size(last) || before < 0) return RS_EINVAL;
    int rc = store_membership(BE, C, chatroom_id, viewer_id);
    if (rc) return rc;

    out->items = calloc((size_t)last, sizeof *out->items);
    if (!out->items) return RS_ENOMEM;
    struct store_arg a[] = {SARG_INT(chatroom_id), SARG_INT(before ? before : INT64_MAX),
                            SARG_INT(last + 1)};
    if ((rc = BE->query(C, ST_MESSAGE_HISTORY, a, 3)) < 0) goto fail;
    while ((rc = BE->step(C)) == 1) {
        if (out->n == (size_t)last) {
            out->has_more = true;
            break;
        }
        if ((rc = row_message(r, &out->items[out->n])) < 0) break;
        out->n++;
    }
    BE->finish(C);
    if (rc < 0) goto fail;
    for (size_t i = 0, j = out->n ? out->n - 1 : 0; i < j; i++, j--) { /* newest-first -> oldest */
        struct store_message t = out->items[i];
        out->items[i] = out->items[j];
        out->items[j] = t;
    }
    return 0;
fail:
    store_message_page_free(out);
    return rc;
}

int store_message_last(store_reader_t *r, int64_t chatroom_id, struct store_message *out)
{
    memset(out, 0, sizeof *out);
    struct store_arg a[] = {SARG_INT(chatroom_id)};
    int rc = store_q_row(BE, C, ST_MESSAGE_LAST, a, 1);
    if (rc != 1) return rc == 0 ? RS_ENOTFOUND : rc;
    rc = row_message(r, out);
    BE->finish(C);
    return rc;
}

int store_presence_online(store_reader_t *r, int64_t user_id, const char *except_node, bool *out)
{
    const char *node = except_node ? except_node : "";
    size_t len = strlen(node);
    if (len > STORE_NODE_ID_MAX || store_text_check(node, len)) return RS_EINVAL;
    int64_t n = 0;
    struct store_arg a[] = {SARG_INT(user_id), SARG_TEXTN(node, len)};
    int rc = store_q_int(BE, C, ST_PRESENCE_ONLINE, a, 2, &n);
    if (rc) return rc;
    *out = n > 0;
    return 0;
}
