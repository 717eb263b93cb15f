/* progress.c - progress bars on a terminal: one row per file and a total row with
 * bytes, speed and ETA, redrawn in place at most five times a second.
 *
 * Layout: every row is laid out to the terminal's width, read with TIOCGWINSZ at each
 * redraw (and after SIGWINCH, which also clears what a resized terminal may have
 * reflowed). A row never reaches the last column, so the terminal never wraps it and
 * the cursor-up of the next redraw lands where it should. When the width is short the
 * ETA, then the byte counts, then the speed go, and the bar shrinks, before the name is
 * cut; the name is measured in display columns (wcwidth under the user's LC_CTYPE) and
 * cut in the middle, since the end of a name often tells files apart. Bytes of a name
 * that are control characters or not valid in the locale's encoding are shown escaped
 * (\n, \x1b), so a file name can never move the cursor or clear the screen.
 *
 * Speed: bytes acknowledged over a sliding window of a few seconds, not an average of
 * instantaneous samples: acknowledgements arrive a whole part at a time, and sampling
 * them every 200 ms shows bursts several times the real rate. With --limit-rate the
 * shown speed is also capped at the limit, which the client enforces over time.
 *
 * libvodup reports progress from its worker thread; the main thread draws. A mutex
 * keeps the two apart, and the drawing itself happens outside any callback so that a
 * slow terminal never stalls the uploads. */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "cli.h"

#define DRAW_INTERVAL 0.2  /* seconds between redraws */
#define SPEED_WINDOW 5.0   /* seconds of history the speed is measured over */
#define SPEED_SAMPLES 32   /* ring of (time, bytes) samples; > SPEED_WINDOW / DRAW_INTERVAL */
#define BAR_MAX 24         /* bar cells when there is room */
#define BAR_MIN 8          /* below this the bar goes */
#define NAME_MAX_COLS 40   /* a name column wider than this only pushes the numbers away */
#define NAME_WANT_COLS 20  /* the name keeps this much before the numbers give way */
#define DEFAULT_COLS 80    /* when the terminal does not say */
#define DEFAULT_ROWS 24

typedef struct sample {
    double t;
    uint64_t bytes;
} sample;

typedef struct speedo {
    sample s[SPEED_SAMPLES];
    int n, head; /* count and index of the oldest */
} speedo;

typedef struct pfile {
    char *name; /* escaped for display */
    uint64_t size, done;
    uint64_t sent; /* bytes this run sent (acknowledged): what the speed counts */
    double t_start; /* when the file started, 0 before */
    int seen;   /* a progress report arrived (done is meaningful) */
    int ended;
    char word[16];
    speedo sp;
    double speed;
} pfile;

struct cli_progress {
    pthread_mutex_t mu;
    FILE *out;
    int tty;
    int n;
    pfile *f;
    double last_draw;
    speedo total_sp;
    double total_speed, t_first_start;
    uint64_t limit_rate;
    int lines_drawn;
    int *row_w;     /* display width of each row drawn last time (trailing blanks left out) */
    int drawn_cols; /* the terminal's width then */
};

static volatile sig_atomic_t winch;

static void on_winch(int sig)
{
    (void)sig;
    winch = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *cli_human_bytes(char *buf, size_t n, double bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    /* Switch units at 1000 so that a number never takes more than 5 characters. */
    while (bytes >= 1000 && u < 4) {
        bytes /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%.0f B", bytes);
    else
        snprintf(buf, n, "%.1f %s", bytes, units[u]);
    return buf;
}

/* ---- display text: escaping and measuring ------------------------------------------ */

/* One glyph of a display string: its bytes and the columns it takes. */
typedef struct glyph {
    char b[16];
    int len, w;
} glyph;

static void glyph_set(glyph *g, const char *s, int len, int w)
{
    if (len > (int)sizeof g->b - 1)
        len = (int)sizeof g->b - 1;
    memcpy(g->b, s, (size_t)len);
    g->b[len] = '\0';
    g->len = len;
    g->w = w;
}

static void glyph_escape(glyph *g, unsigned char c)
{
    char e[8];
    switch (c) {
    case '\n': snprintf(e, sizeof e, "\\n"); break;
    case '\r': snprintf(e, sizeof e, "\\r"); break;
    case '\t': snprintf(e, sizeof e, "\\t"); break;
    default: snprintf(e, sizeof e, "\\x%02x", c);
    }
    glyph_set(g, e, (int)strlen(e), (int)strlen(e));
}

/* Splits s into glyphs (caller frees *out); returns their count. Control characters and
 * bytes that are not a character of the locale's encoding become escapes; zero-width
 * characters join the glyph before them. */
static int glyphs_of(const char *s, glyph **out)
{
    size_t len = strlen(s);
    glyph *g = calloc(len + 1, sizeof *g);
    *out = g;
    if (!g)
        return 0;
    int n = 0;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    const char *p = s, *end = s + len;
    while (p < end) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, p, (size_t)(end - p), &st);
        if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
            glyph_escape(&g[n++], (unsigned char)*p);
            memset(&st, 0, sizeof st);
            p++;
            continue;
        }
        int w = wcwidth(wc);
        if (wc < 0x20 || wc == 0x7f || (wc >= 0x80 && wc < 0xa0) || (MB_CUR_MAX == 1 && (unsigned char)*p >= 0x80)) {
            for (size_t i = 0; i < k; i++)
                glyph_escape(&g[n++], (unsigned char)p[i]);
        } else if (w < 0) {
            glyph_set(&g[n++], "?", 1, 1);
        } else if (w == 0) {
            /* A combining mark: with its base, or dropped if it has none or no room. */
            if (n > 0 && g[n - 1].len + (int)k < (int)sizeof g[n - 1].b) {
                memcpy(g[n - 1].b + g[n - 1].len, p, k);
                g[n - 1].len += (int)k;
                g[n - 1].b[g[n - 1].len] = '\0';
            }
        } else {
            glyph_set(&g[n++], p, (int)k, w);
        }
        p += k;
    }
    return n;
}

char *cli_display_text(const char *s)
{
    glyph *g;
    int n = glyphs_of(s ? s : "", &g);
    if (!g)
        return NULL;
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += (size_t)g[i].len;
    char *r = malloc(len);
    if (r) {
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            memcpy(r + off, g[i].b, (size_t)g[i].len);
            off += (size_t)g[i].len;
        }
        r[off] = '\0';
    }
    free(g);
    return r;
}

int cli_display_width(const char *s)
{
    glyph *g;
    int n = glyphs_of(s ? s : "", &g), w = 0;
    for (int i = 0; i < n; i++)
        w += g[i].w;
    free(g);
    return w;
}

/* Writes s padded or cut to exactly cols columns; a cut keeps the start and the end
 * with "..." between. */
static void put_fit(FILE *out, const char *s, int cols)
{
    glyph *g;
    int n = glyphs_of(s, &g), total = 0;
    if (!g)
        return;
    for (int i = 0; i < n; i++)
        total += g[i].w;
    int used = 0;
    if (total <= cols) {
        for (int i = 0; i < n; i++)
            fwrite(g[i].b, 1, (size_t)g[i].len, out);
        used = total;
    } else if (cols <= 3) {
        for (int i = 0; i < n && used + g[i].w <= cols; i++) {
            fwrite(g[i].b, 1, (size_t)g[i].len, out);
            used += g[i].w;
        }
    } else {
        int room = cols - 3, head_room = room / 2, tail_room = room - head_room;
        int head = 0, hw = 0;
        while (head < n && hw + g[head].w <= head_room)
            hw += g[head++].w;
        int tail = n, tw = 0;
        while (tail > head && tw + g[tail - 1].w <= tail_room + (head_room - hw))
            tw += g[--tail].w;
        for (int i = 0; i < head; i++)
            fwrite(g[i].b, 1, (size_t)g[i].len, out);
        fputs("...", out);
        for (int i = tail; i < n; i++)
            fwrite(g[i].b, 1, (size_t)g[i].len, out);
        used = hw + 3 + tw;
    }
    for (; used < cols; used++)
        fputc(' ', out);
    free(g);
}

/* ---- the model --------------------------------------------------------------------- */

cli_progress *cli_progress_new(int nfiles, FILE *out, int tty)
{
    cli_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->f = calloc((size_t)(nfiles > 0 ? nfiles : 1), sizeof *p->f);
    if (!p->f) {
        free(p);
        return NULL;
    }
    p->row_w = calloc((size_t)(nfiles > 0 ? nfiles : 1) + 1, sizeof *p->row_w);
    if (!p->row_w) {
        free(p->f);
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    p->n = nfiles;
    p->out = out;
    p->tty = tty;
    if (tty) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_winch;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGWINCH, &sa, NULL);
    }
    return p;
}

void cli_progress_set_limit(cli_progress *p, uint64_t bytes_per_second)
{
    if (p)
        p->limit_rate = bytes_per_second;
}

void cli_progress_file(cli_progress *p, int i, const char *name, uint64_t size)
{
    if (!p || i < 0 || i >= p->n)
        return;
    const char *base = strrchr(name, '/');
    char *disp = cli_display_text(base && base[1] ? base + 1 : name);
    pthread_mutex_lock(&p->mu);
    free(p->f[i].name);
    p->f[i].name = disp;
    p->f[i].size = size;
    pthread_mutex_unlock(&p->mu);
}

void cli_progress_start(cli_progress *p, int i)
{
    if (!p || i < 0 || i >= p->n)
        return;
    double t = now_s();
    pthread_mutex_lock(&p->mu);
    if (!p->f[i].t_start)
        p->f[i].t_start = t;
    if (!p->t_first_start)
        p->t_first_start = t;
    pthread_mutex_unlock(&p->mu);
}

void cli_progress_update(cli_progress *p, int i, uint64_t done, uint64_t total, uint64_t sent)
{
    if (!p || i < 0 || i >= p->n)
        return;
    pthread_mutex_lock(&p->mu);
    pfile *f = &p->f[i];
    f->seen = 1;
    f->done = done;
    f->sent = sent;
    if (total)
        f->size = total;
    pthread_mutex_unlock(&p->mu);
}

void cli_progress_end(cli_progress *p, int i, const char *word)
{
    if (!p || i < 0 || i >= p->n)
        return;
    pthread_mutex_lock(&p->mu);
    pfile *f = &p->f[i];
    f->ended = 1;
    snprintf(f->word, sizeof f->word, "%s", word);
    if (strcmp(word, "done") == 0)
        f->done = f->size;
    pthread_mutex_unlock(&p->mu);
}

/* Adds a sample and answers the rate over the window. Bytes are those sent by this run
 * (a resumed file's stored parts are not speed), and the window starts at 0 bytes when the
 * file started. */
static double speedo_add(speedo *s, double t, uint64_t bytes)
{
    if (s->n == SPEED_SAMPLES) {
        s->head = (s->head + 1) % SPEED_SAMPLES;
        s->n--;
    }
    s->s[(s->head + s->n) % SPEED_SAMPLES] = (sample){t, bytes};
    s->n++;
    /* Keep one sample at least SPEED_WINDOW old, and none older than that one. */
    while (s->n > 2 && t - s->s[(s->head + 1) % SPEED_SAMPLES].t >= SPEED_WINDOW) {
        s->head = (s->head + 1) % SPEED_SAMPLES;
        s->n--;
    }
    const sample *old = &s->s[s->head];
    double dt = t - old->t;
    if (s->n < 2 || dt < DRAW_INTERVAL / 2)
        return 0;
    return bytes >= old->bytes ? (double)(bytes - old->bytes) / dt : 0;
}

static void fmt_eta(char *buf, size_t n, double secs)
{
    if (secs < 0 || secs > 99 * 3600) {
        snprintf(buf, n, "ETA --:--");
        return;
    }
    long s = (long)(secs + 0.5);
    if (s >= 3600)
        snprintf(buf, n, "ETA %ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, n, "ETA %ld:%02ld", s / 60, s % 60);
}

/* ---- layout ------------------------------------------------------------------------- */

/* Columns after the name, each preceded by one space. A column of width 0 is left out. */
typedef struct layout {
    int name, bar, pct, bytes, state, eta;
} layout;

#define PCT_COLS 4    /* "100%" */
#define BYTES_COLS 19 /* "999.9 MiB/999.9 MiB" */
#define STATE_COLS 11 /* "999.9 KiB/s", or the word: "finished", "paused" */
#define ETA_COLS 12   /* "ETA 99:59:59" */

static int layout_width(const layout *l)
{
    int w = l->name;
    if (l->bar)
        w += 1 + l->bar + 2;
    if (l->pct)
        w += 1 + l->pct;
    if (l->bytes)
        w += 1 + l->bytes;
    if (l->state)
        w += 1 + l->state;
    if (l->eta)
        w += 1 + l->eta;
    return w;
}

/* Fits the columns into width (the terminal's columns less one: the last column is
 * never written, so no terminal wraps). name_cols is the widest name. */
static layout fit(int width, int name_cols)
{
    layout l = {0, BAR_MAX, PCT_COLS, BYTES_COLS, STATE_COLS, ETA_COLS};
    int full = name_cols < NAME_MAX_COLS ? name_cols : NAME_MAX_COLS;
    int want = name_cols < NAME_WANT_COLS ? name_cols : NAME_WANT_COLS;
    if (want < 1)
        want = full = 1;
    /* Give way in this order until the name has what it wants: first the bar shrinks for
     * the whole name, then columns go for a name of NAME_WANT_COLS. */
    for (int step = 0;; step++) {
        int rest = width - layout_width(&l);
        if (rest >= (step == 0 ? full : want))
            break;
        if (step == 0) {
            int shrink = full - rest;
            l.bar = l.bar - shrink > BAR_MIN + 4 ? l.bar - shrink : BAR_MIN + 4;
        } else if (step == 1) {
            l.eta = 0;
        } else if (step == 2) {
            l.bytes = 0;
        } else if (step == 3) {
            int shrink = want - rest;
            l.bar = l.bar - shrink > BAR_MIN ? l.bar - shrink : BAR_MIN;
        } else if (step == 4) {
            l.bar = 0;
        } else if (step == 5) {
            l.state = 0;
        } else {
            break;
        }
    }
    int rest = width - layout_width(&l);
    int max = name_cols > NAME_MAX_COLS ? NAME_MAX_COLS : name_cols;
    l.name = rest < max ? rest : max;
    if (l.name < 1)
        l.name = 1;
    /* A wider terminal lengthens the bar rather than leaving a gap at the right. */
    if (l.bar && l.bar < BAR_MAX) {
        int spare = width - layout_width(&l);
        l.bar += spare > 0 ? (spare < BAR_MAX - l.bar ? spare : BAR_MAX - l.bar) : 0;
    }
    return l;
}

/* Draws one row into frame and returns its display width. Trailing blanks are not sent
 * (the erase after the row clears the rest), so the width is what a terminal holds. */
static int row(FILE *frame, const layout *l, const char *name, uint64_t done, uint64_t size, double speed,
               const char *word)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&buf, &len);
    if (!o) {
        fputs("\r\033[K\n", frame); /* keep the row count right, even out of memory */
        return 0;
    }
    put_fit(o, name, l->name);
    if (l->bar) {
        int fill = size ? (int)((double)(done < size ? done : size) / (double)size * l->bar) : 0;
        if (!size && word && strcmp(word, "done") == 0)
            fill = l->bar;
        fputs(" [", o);
        for (int k = 0; k < l->bar; k++)
            fputc(k < fill ? '#' : '.', o);
        fputc(']', o);
    }
    if (l->pct) {
        int pct = size ? (int)((double)(done < size ? done : size) * 100.0 / (double)size)
                       : (word && strcmp(word, "done") == 0 ? 100 : 0);
        fprintf(o, " %3d%%", pct);
    }
    if (l->bytes) {
        char d[32], s[32], both[80];
        snprintf(both, sizeof both, "%s/%s", cli_human_bytes(d, sizeof d, (double)done),
                 cli_human_bytes(s, sizeof s, (double)size));
        fprintf(o, " %*s", l->bytes, both);
    }
    if (l->state) {
        if (word) {
            fprintf(o, " %-*.*s", l->state, l->state, word);
        } else {
            char rate[32], both[48];
            snprintf(both, sizeof both, "%s/s", cli_human_bytes(rate, sizeof rate, speed));
            fprintf(o, " %*.*s", l->state, l->state, both);
        }
    }
    if (l->eta) {
        char eta[32] = "";
        if (!word)
            fmt_eta(eta, sizeof eta, speed > 1 ? (double)(size - (done < size ? done : size)) / speed : -1);
        fprintf(o, " %-*.*s", l->eta, l->eta, eta);
    }
    fclose(o);
    size_t end = len;
    while (end > 0 && buf[end - 1] == ' ')
        end--;
    fputc('\r', frame);
    fwrite(buf, 1, end, frame);
    /* Erase what a longer row left, without writing into the last column. */
    fputs("\033[K\n", frame);
    free(buf);
    return layout_width(l) - (int)(len - end);
}

void cli_progress_draw(cli_progress *p, int force)
{
    if (!p || !p->tty)
        return;
    double t = now_s();
    if (!force && t - p->last_draw < DRAW_INTERVAL)
        return;
    p->last_draw = t;
    struct winsize ws;
    int width = DEFAULT_COLS, rows = DEFAULT_ROWS;
    if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        width = ws.ws_col;
        rows = ws.ws_row > 0 ? ws.ws_row : rows;
    }
    width -= 1;

    pthread_mutex_lock(&p->mu);
    uint64_t tdone = 0, tsize = 0, tsent = 0;
    int ended = 0, paused = 0, failed = 0, name_cols = 0;
    for (int i = 0; i < p->n; i++) {
        pfile *f = &p->f[i];
        if (f->seen && !f->ended) {
            if (f->sp.n == 0 && f->t_start > 0 && f->t_start < t)
                speedo_add(&f->sp, f->t_start, 0);
            f->speed = speedo_add(&f->sp, t, f->sent);
            if (p->limit_rate && f->speed > (double)p->limit_rate)
                f->speed = (double)p->limit_rate;
        }
        tdone += f->done;
        tsize += f->size;
        tsent += f->sent;
        ended += f->ended;
        paused += f->ended && strcmp(f->word, "paused") == 0;
        failed += f->ended && strcmp(f->word, "failed") == 0;
        int w = cli_display_width(f->name ? f->name : "?");
        name_cols = w > name_cols ? w : name_cols;
    }
    int any_seen = 0;
    for (int i = 0; i < p->n; i++)
        any_seen |= p->f[i].seen;
    if (any_seen) {
        if (p->total_sp.n == 0 && p->t_first_start > 0 && p->t_first_start < t)
            speedo_add(&p->total_sp, p->t_first_start, 0);
        p->total_speed = speedo_add(&p->total_sp, t, tsent);
        if (p->limit_rate && p->total_speed > (double)p->limit_rate)
            p->total_speed = (double)p->limit_rate;
    }
    char label[48];
    snprintf(label, sizeof label, "total (%d/%d)", ended, p->n);
    int lw = (int)strlen(label);
    layout l = fit(width, name_cols > lw ? name_cols : lw);

    /* The frame goes out in one write: no half-drawn frame on a slow terminal, and no
     * other output can land inside it. */
    char *fbuf = NULL;
    size_t flen = 0;
    FILE *frame = open_memstream(&fbuf, &flen);
    if (!frame)
        frame = p->out;
    int up = p->lines_drawn;
    if (winch) {
        winch = 0;
        /* Resized. A terminal that reflows (most do) has wrapped each row wider than the
         * new width onto several lines: go up over all of them, then clear to the end. */
        if (width + 1 < p->drawn_cols) {
            up = 0;
            for (int k = 0; k < p->lines_drawn; k++)
                up += p->row_w[k] > width + 1 ? (p->row_w[k] + width) / (width + 1) : 1;
            if (up > rows - 1)
                up = rows - 1;
        }
        if (up)
            fprintf(frame, "\r\033[%dA", up);
        fputs("\r\033[J", frame);
    } else if (up) {
        fprintf(frame, "\r\033[%dA", up);
    }
    /* More files than the screen holds: show only the ones moving, or the cursor-up
     * above would scroll past the top and smear the display. */
    int all = p->n + 1 < rows - 1;
    int drawn = 0;
    for (int i = 0; i < p->n; i++) {
        pfile *f = &p->f[i];
        if (!all && (f->ended || !f->seen))
            continue;
        if (!all && drawn >= rows - 3)
            break;
        p->row_w[drawn] = row(frame, &l, f->name ? f->name : "?", f->done, f->size, f->speed,
                              f->ended ? f->word : (f->seen ? NULL : "waiting"));
        drawn++;
    }
    const char *total_word = NULL;
    if (ended == p->n)
        total_word = paused ? "paused" : failed ? "failed" : "finished";
    p->row_w[drawn] = row(frame, &l, label, tdone, tsize, p->total_speed, total_word);
    drawn++;
    /* Rows drawn last time but not now: blank them so nothing stale remains. */
    for (int k = drawn; k < p->lines_drawn; k++)
        fputs("\r\033[K\n", frame);
    if (p->lines_drawn > drawn)
        fprintf(frame, "\033[%dA", p->lines_drawn - drawn);
    p->lines_drawn = drawn;
    p->drawn_cols = width + 1;
    pthread_mutex_unlock(&p->mu);
    if (frame != p->out) {
        fclose(frame);
        fwrite(fbuf, 1, flen, p->out);
        free(fbuf);
    }
    fflush(p->out);
}

void cli_progress_finish(cli_progress *p)
{
    if (!p || !p->tty)
        return;
    cli_progress_draw(p, 1);
    p->lines_drawn = 0;
}

void cli_progress_free(cli_progress *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++)
        free(p->f[i].name);
    free(p->f);
    free(p->row_w);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
