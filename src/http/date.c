/* date.c - IMF-fixdate formatting and parsing (see date.h). */
#include "http/date.h"

#include <stdbool.h>
#include <string.h>

#include "util/err.h"

static const char day_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

int http_date_format(time_t t, char *out, size_t cap)
{
    if (cap < HTTP_DATE_SIZE) return RS_ETOOBIG;
    struct tm tm;
    /* Hand-rolled rather than strftime: %a and %b follow the locale. */
    if (!gmtime_r(&t, &tm)) return RS_EINVAL;
    long year = (long)tm.tm_year + 1900;
    if (year < 0 || year > 9999) return RS_EINVAL;
    char *p = out;
    memcpy(p, day_names[tm.tm_wday], 3);
    p[3] = ',';
    p[4] = ' ';
    put2(p + 5, tm.tm_mday);
    p[7] = ' ';
    memcpy(p + 8, month_names[tm.tm_mon], 3);
    p[11] = ' ';
    put2(p + 12, (int)(year / 100));
    put2(p + 14, (int)(year % 100));
    p[16] = ' ';
    put2(p + 17, tm.tm_hour);
    p[19] = ':';
    put2(p + 20, tm.tm_min);
    p[22] = ':';
    put2(p + 23, tm.tm_sec);
    memcpy(p + 25, " GMT", 5);
    return HTTP_DATE_LEN;
}

static _Thread_local time_t date_cache_sec;
static _Thread_local bool date_cache_valid;
static _Thread_local char date_cache[HTTP_DATE_SIZE];

int http_date_now(char *out, size_t cap)
{
    if (cap < HTTP_DATE_SIZE) return RS_ETOOBIG;
    time_t now = time(NULL);
    if (!date_cache_valid || now != date_cache_sec) {
        if (http_date_format(now, date_cache, sizeof date_cache) < 0) return RS_EINVAL;
        date_cache_sec = now;
        date_cache_valid = true;
    }
    memcpy(out, date_cache, HTTP_DATE_SIZE);
    return HTTP_DATE_LEN;
}

static int get_num(const char *p, int digits)
{
    int v = 0;
    for (int i = 0; i < digits; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

int http_date_parse(span_t s, time_t *t)
{
    /* "Sun, 06 Nov 1994 08:49:37 GMT": fixed columns. */
    if (s.len != HTTP_DATE_LEN) return RS_EPROTO;
    const char *p = s.base;
    int mon = -1;
    for (int i = 0; i < 12; i++)
        if (memcmp(p + 8, month_names[i], 3) == 0) mon = i;
    int mday = get_num(p + 5, 2), year = get_num(p + 12, 4);
    int hour = get_num(p + 17, 2), min = get_num(p + 20, 2), sec = get_num(p + 23, 2);
    if (mon < 0 || mday < 1 || year < 0 || hour < 0 || min < 0 || sec < 0) return RS_EPROTO;
    if (mday > 31 || hour > 23 || min > 59 || sec > 60) return RS_EPROTO;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = mon,
                    .tm_mday = mday,
                    .tm_hour = hour,
                    .tm_min = min,
                    .tm_sec = sec};
    time_t v = timegm(&tm);
    /* Formatting the result back must give the input: this rejects 31 Feb, a wrong weekday
     * and any punctuation out of place in one comparison. A leap second (:60) normalises
     * to the next minute and is refused too, which is harmless for caching. */
    char again[HTTP_DATE_SIZE];
    if (http_date_format(v, again, sizeof again) != HTTP_DATE_LEN) return RS_EPROTO;
    if (memcmp(again, p, HTTP_DATE_LEN) != 0) return RS_EPROTO;
    *t = v;
    return 0;
}
