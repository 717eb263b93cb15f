/* progress.c - progress bars on a terminal: one line per file and a total line with
 * bytes, speed and ETA, redrawn in place at most five times a second.
 *
 * libvodup reports progress from its worker thread; the main thread draws. A mutex
 * keeps the two apart, and the drawing itself happens outside any callback so that a
 * slow terminal never stalls the uploads. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define DRAW_INTERVAL 0.2   /* seconds between redraws */
#define SPEED_SMOOTHING 0.3 /* weight of the newest sample in the moving average */
#define BAR_WIDTH 24

typedef struct pfile {
    char *name;
    uint64_t size, done;
    uint64_t prev_done; /* at the last speed sample */
    int seen;           /* a progress report arrived (done is meaningful) */
    int ended;
    char word[16];
    double speed;
} pfile;

struct cli_progress {
    pthread_mutex_t mu;
    FILE *out;
    int tty;
    int n;
    pfile *f;
    double last_draw, last_sample;
    uint64_t total_prev;
    int total_seen;
    double total_speed;
    int lines_drawn;
};

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
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%.0f B", bytes);
    else
        snprintf(buf, n, "%.1f %s", bytes, units[u]);
    return buf;
}

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
    pthread_mutex_init(&p->mu, NULL);
    p->n = nfiles;
    p->out = out;
    p->tty = tty;
    p->last_sample = now_s();
    return p;
}

void cli_progress_file(cli_progress *p, int i, const char *name, uint64_t size)
{
    if (!p || i < 0 || i >= p->n)
        return;
    const char *base = strrchr(name, '/');
    pthread_mutex_lock(&p->mu);
    free(p->f[i].name);
    p->f[i].name = strdup(base && base[1] ? base + 1 : name);
    p->f[i].size = size;
    pthread_mutex_unlock(&p->mu);
}

void cli_progress_update(cli_progress *p, int i, uint64_t done, uint64_t total)
{
    if (!p || i < 0 || i >= p->n)
        return;
    pthread_mutex_lock(&p->mu);
    pfile *f = &p->f[i];
    if (!f->seen) {
        /* Bytes stored by an earlier run are not this run's speed. */
        f->prev_done = done;
        f->seen = 1;
    }
    f->done = done;
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

static void fmt_eta(char *buf, size_t n, double secs)
{
    if (secs < 0 || secs > 99 * 3600) {
        snprintf(buf, n, "--:--");
        return;
    }
    long s = (long)(secs + 0.5);
    if (s >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, n, "%ld:%02ld", s / 60, s % 60);
}

static void bar(char *buf, uint64_t done, uint64_t size)
{
    int fill = size ? (int)((double)done / (double)size * BAR_WIDTH) : 0;
    if (fill > BAR_WIDTH)
        fill = BAR_WIDTH;
    for (int k = 0; k < BAR_WIDTH; k++)
        buf[k] = k < fill ? '#' : '.';
    buf[BAR_WIDTH] = '\0';
}

/* One line: NAME [#####.....] 42% 10.0 MiB / 24.0 MiB 3.1 MiB/s ETA 0:04
 * Every column has a fixed width, so the bars of all lines stay aligned as the numbers
 * change; the name gets what is left, up to NAME_MAX_COLS. */
#define NAME_MAX_COLS 32
static void line(cli_progress *p, int width, const char *name, uint64_t done, uint64_t size, double speed,
                 const char *word)
{
    char b[BAR_WIDTH + 1], d[32], s[32], sp[40], eta[32], tail[256];
    bar(b, done, size);
    cli_human_bytes(d, sizeof d, (double)done);
    cli_human_bytes(s, sizeof s, (double)size);
    int pct = size ? (int)((double)done * 100.0 / (double)size) : (word && strcmp(word, "done") == 0 ? 100 : 0);
    if (word) {
        snprintf(tail, sizeof tail, " [%s] %3d%%  %10s / %-10s  %-24s", b, pct, d, s, word);
    } else {
        char rate[32];
        cli_human_bytes(rate, sizeof rate, speed);
        snprintf(sp, sizeof sp, "%s/s", rate);
        fmt_eta(eta, sizeof eta, speed > 1 ? (double)(size - (done < size ? done : size)) / speed : -1);
        snprintf(tail, sizeof tail, " [%s] %3d%%  %10s / %-10s  %12s  ETA %-7s", b, pct, d, s, sp, eta);
    }
    int room = width - (int)strlen(tail) - 1;
    if (room > NAME_MAX_COLS)
        room = NAME_MAX_COLS;
    if (room < 8)
        room = 8;
    int nlen = (int)strlen(name);
    fputs("\r\033[K", p->out);
    if (nlen <= room)
        fprintf(p->out, "%-*s%s\n", room, name, tail);
    else /* the start and the end of a long name: the end tells files apart */
        fprintf(p->out, "%.*s...%s%s\n", room / 2 - 2, name, name + nlen - (room - room / 2 - 1), tail);
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
    int width = 100, rows = 40;
    if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) {
        width = ws.ws_col;
        rows = ws.ws_row > 4 ? ws.ws_row : rows;
    }

    pthread_mutex_lock(&p->mu);
    double dt = t - p->last_sample;
    int sample = dt >= DRAW_INTERVAL;
    uint64_t tdone = 0, tsize = 0;
    int ended = 0;
    for (int i = 0; i < p->n; i++) {
        pfile *f = &p->f[i];
        if (sample && f->seen) {
            double inst = (double)(f->done - (f->done >= f->prev_done ? f->prev_done : f->done)) / dt;
            f->speed = f->speed == 0 ? inst : SPEED_SMOOTHING * inst + (1 - SPEED_SMOOTHING) * f->speed;
            f->prev_done = f->done;
        }
        tdone += f->done;
        tsize += f->size;
        ended += f->ended;
    }
    if (sample) {
        if (p->total_seen) {
            double inst = (double)(tdone >= p->total_prev ? tdone - p->total_prev : 0) / dt;
            p->total_speed = p->total_speed == 0 ? inst : SPEED_SMOOTHING * inst + (1 - SPEED_SMOOTHING) * p->total_speed;
        }
        p->total_prev = tdone;
        p->total_seen = 1;
        p->last_sample = t;
    }

    if (p->lines_drawn)
        fprintf(p->out, "\033[%dA", p->lines_drawn);
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
        line(p, width, f->name ? f->name : "?", f->done, f->size, f->speed,
             f->ended ? f->word : (f->seen ? NULL : "waiting"));
        drawn++;
    }
    char label[48];
    snprintf(label, sizeof label, "total (%d/%d)", ended, p->n);
    line(p, width, label, tdone, tsize, p->total_speed, ended == p->n ? "finished" : NULL);
    drawn++;
    /* Lines drawn last time but not now: blank them so nothing stale remains. */
    for (int k = drawn; k < p->lines_drawn; k++)
        fputs("\r\033[K\n", p->out);
    if (p->lines_drawn > drawn)
        fprintf(p->out, "\033[%dA", p->lines_drawn - drawn);
    p->lines_drawn = drawn;
    pthread_mutex_unlock(&p->mu);
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
    pthread_mutex_destroy(&p->mu);
    free(p);
}
