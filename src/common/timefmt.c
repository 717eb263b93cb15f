/* timefmt.c - wire date formats, UTC only.
 *
 * strftime/strptime follow the locale (day and month names) and strptime accepts more
 * than it should, so both directions are written out by hand: the formatter prints
 * fixed English names, the parsers read fixed-width fields and range-check them
 * (timegm would silently normalise Feb 30 into March).
 */
#include "common/timefmt.h"

#include <string.h>

static const char *const day_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static void utc(struct tm *tm, time_t t)
{
    if (!gmtime_r(&t, tm))
        memset(tm, 0, sizeof *tm);
}

/* Writes v as exactly width decimal digits (years beyond 9999 wrap; they do not occur
 * on the wire). Hand-rolled so that no format string or locale is involved. */
static char *put_num(char *p, long v, int width)
{
    if (v < 0)
        v = 0;
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* YYYY<ds>MM<ds>DDTHH<ts>MM<ts>SS, NUL-terminated; returns the end. */
static char *put_datetime(char *p, const struct tm *tm, const char *ds, const char *ts)
{
    p = put_num(p, tm->tm_year + 1900L, 4);
    p = put_str(p, ds);
    p = put_num(p, tm->tm_mon + 1, 2);
    p = put_str(p, ds);
    p = put_num(p, tm->tm_mday, 2);
    *p++ = 'T';
    p = put_num(p, tm->tm_hour, 2);
    p = put_str(p, ts);
    p = put_num(p, tm->tm_min, 2);
    p = put_str(p, ts);
    p = put_num(p, tm->tm_sec, 2);
    *p = '\0';
    return p;
}

void vodup_time_http(char out[30], time_t t)
{
    struct tm tm;
    utc(&tm, t);
    char *p = put_str(out, day_names[(unsigned)tm.tm_wday % 7]);
    p = put_str(p, ", ");
    p = put_num(p, tm.tm_mday, 2);
    *p++ = ' ';
    p = put_str(p, month_names[(unsigned)tm.tm_mon % 12]);
    *p++ = ' ';
    p = put_num(p, tm.tm_year + 1900L, 4);
    *p++ = ' ';
    p = put_num(p, tm.tm_hour, 2);
    *p++ = ':';
    p = put_num(p, tm.tm_min, 2);
    *p++ = ':';
    p = put_num(p, tm.tm_sec, 2);
    memcpy(p, " GMT", 5);
}

void vodup_time_iso_ms(char out[25], time_t t)
{
    struct tm tm;
    utc(&tm, t);
    memcpy(put_datetime(out, &tm, "-", ":"), ".000Z", 6);
}

void vodup_time_iso(char out[21], time_t t)
{
    struct tm tm;
    utc(&tm, t);
    memcpy(put_datetime(out, &tm, "-", ":"), "Z", 2);
}

void vodup_time_compact(char out[17], time_t t)
{
    struct tm tm;
    utc(&tm, t);
    memcpy(put_datetime(out, &tm, "", ""), "Z", 2);
}

/* Reads exactly width decimal digits at *s and advances; -1 if any is not a digit. */
static int digits(const char **s, int width)
{
    int v = 0;
    for (int i = 0; i < width; i++) {
        char c = (*s)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *s += width;
    return v;
}

/* Consumes the literal lit at *s, or fails. */
static int lit(const char **s, const char *l)
{
    size_t n = strlen(l);
    if (strncmp(*s, l, n) != 0)
        return -1;
    *s += n;
    return 0;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* The fields as read off the wire, month 1-12. */
struct fields {
    int y, mo, d, h, mi, sec;
};

/* Range-checks the fields and converts. Leap seconds (60) are refused: no client sends
 * them and timegm would move them to the next minute. */
static int make_time(const struct fields *f, time_t *t)
{
    if (f->y < 1970 || f->mo < 1 || f->mo > 12 || f->d < 1 || f->d > days_in_month(f->y, f->mo) ||
        f->h > 23 || f->mi > 59 || f->sec > 59)
        return -1;
    struct tm tm = {0};
    tm.tm_year = f->y - 1900;
    tm.tm_mon = f->mo - 1;
    tm.tm_mday = f->d;
    tm.tm_hour = f->h;
    tm.tm_min = f->mi;
    tm.tm_sec = f->sec;
    time_t r = timegm(&tm);
    if (r == (time_t)-1)
        return -1;
    *t = r;
    return 0;
}

static int lookup(const char **s, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strncmp(*s, names[i], 3) == 0) {
            *s += 3;
            return i;
        }
    return -1;
}

/* Reads width digits into *v, then the literal sep; -1 if either is not there. */
static int field(const char **s, int width, int *v, const char *sep)
{
    *v = digits(s, width);
    return *v < 0 ? -1 : lit(s, sep);
}

/* Reads HH<ts>MM<ts>SS, the clock half of every format. */
static int get_clock(const char **s, const char *ts, struct fields *f)
{
    if (field(s, 2, &f->h, ts) < 0 || field(s, 2, &f->mi, ts) < 0)
        return -1;
    return field(s, 2, &f->sec, "");
}

/* Reads YYYY<ds>MM<ds>DDTHH<ts>MM<ts>SS, the mirror of put_datetime. */
static int get_datetime(const char **s, const char *ds, const char *ts, struct fields *f)
{
    if (field(s, 4, &f->y, ds) < 0 || field(s, 2, &f->mo, ds) < 0 || field(s, 2, &f->d, "T") < 0)
        return -1;
    return get_clock(s, ts, f);
}

int vodup_time_parse_http(const char *s, time_t *t)
{
    struct fields f;
    int wd = lookup(&s, day_names, 7);
    if (wd < 0 || lit(&s, ", ") < 0 || field(&s, 2, &f.d, " ") < 0)
        return -1;
    int mo = lookup(&s, month_names, 12);
    if (mo < 0 || lit(&s, " ") < 0 || field(&s, 4, &f.y, " ") < 0)
        return -1;
    f.mo = mo + 1;
    if (get_clock(&s, ":", &f) < 0 || lit(&s, " GMT") < 0 || *s)
        return -1;
    time_t r;
    if (make_time(&f, &r) < 0)
        return -1;
    /* A wrong weekday means the client built the string wrong; refuse it rather than
     * guess which field is right. */
    struct tm tm;
    utc(&tm, r);
    if (tm.tm_wday != wd)
        return -1;
    *t = r;
    return 0;
}

int vodup_time_parse_iso(const char *s, time_t *t)
{
    struct fields f;
    if (get_datetime(&s, "-", ":", &f) < 0)
        return -1;
    if (*s == '.') {
        s++;
        if (digits(&s, 3) < 0)
            return -1;
    }
    if (lit(&s, "Z") < 0 || *s)
        return -1;
    return make_time(&f, t);
}

int vodup_time_parse_compact(const char *s, time_t *t)
{
    struct fields f;
    if (get_datetime(&s, "", "", &f) < 0 || lit(&s, "Z") < 0 || *s)
        return -1;
    return make_time(&f, t);
}
