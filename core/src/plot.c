/* SVG scaling plots (parkit/plot.h). The x axis places the distinct pool sizes
 * at even steps (a sweep is usually 1, 2, 4, 8: even steps read as a log
 * scale), labelled with the pool; the y axes start at 0 and end at a round
 * number. Coordinates are printed with one decimal, text is XML-escaped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parkit/error.h"
#include "parkit/plot.h"

enum { MAX_SERIES = 8 };

/* One panel's frame inside the picture. */
typedef struct frame {
    double x, y, w, h; /* the plotting area */
    double ymax;
} frame;

typedef struct plot {
    FILE *out;
    const pk_stats *rows;
    int n;
    int pools[64]; /* distinct pool sizes, increasing */
    int npools;
    int keys[MAX_SERIES]; /* threads per rank of each series (-1: one series) */
    int nseries;
} plot;

static const char *const colors[MAX_SERIES] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                               "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

static void put_escaped(FILE *out, const char *s) {
    for (; s != NULL && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                fputc(*s, out);
        }
    }
}

/* The smallest of steps[] times a power of ten at or above v. */
static double round_up(double v, const double *steps, int nsteps) {
    if (!(v > 0) || !isfinite(v))
        return 1;
    double p = pow(10, floor(log10(v)));
    for (int i = 0; i < nsteps; i++)
        if (steps[i] * p >= v * (1 - 1e-12))
            return steps[i] * p;
    return 10 * p;
}

/* A round number at or above v, for the top of an axis. */
static double nice_ceiling(double v) {
    static const double steps[] = {1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10};
    return round_up(v, steps, (int)(sizeof steps / sizeof steps[0]));
}

/* A round step between an axis's ticks: 1, 2, 2.5 or 5 times a power of ten. */
static double nice_step(double v) {
    static const double steps[] = {1, 2, 2.5, 5, 10};
    return round_up(v, steps, (int)(sizeof steps / sizeof steps[0]));
}

static int pool_index(const plot *pl, int pool) {
    for (int i = 0; i < pl->npools; i++)
        if (pl->pools[i] == pool)
            return i;
    return 0;
}

static double xpos(const plot *pl, const frame *f, int pool) {
    if (pl->npools == 1)
        return f->x + f->w / 2;
    return f->x + f->w * (0.05 + 0.9 * pool_index(pl, pool) / (pl->npools - 1));
}

static double ypos(const frame *f, double v) {
    if (!isfinite(v) || v < 0)
        v = 0;
    if (v > f->ymax)
        v = f->ymax;
    return f->y + f->h - f->h * v / f->ymax;
}

/* Which series a row belongs to. */
static int series_of(const plot *pl, const pk_stats *r) {
    if (pl->nseries == 1 && pl->keys[0] < 0)
        return 0;
    for (int s = 0; s < pl->nseries; s++)
        if (pl->keys[s] == r->threads_got)
            return s;
    return 0;
}

static void setup(plot *pl) {
    int ranks0 = pl->rows[0].ranks, threads0 = pl->rows[0].threads_got;
    int vary_ranks = 0, vary_threads = 0;
    for (int i = 0; i < pl->n; i++) {
        const pk_stats *r = &pl->rows[i];
        vary_ranks |= r->ranks != ranks0;
        vary_threads |= r->threads_got != threads0;
        int k = 0;
        while (k < pl->npools && pl->pools[k] < r->pool)
            k++;
        if ((k < pl->npools && pl->pools[k] == r->pool) || pl->npools == 64)
            continue;
        memmove(pl->pools + k + 1, pl->pools + k, (size_t)(pl->npools - k) * sizeof pl->pools[0]);
        pl->pools[k] = r->pool;
        pl->npools++;
    }
    pl->nseries = 1;
    pl->keys[0] = -1;
    if (!(vary_ranks && vary_threads))
        return;
    pl->nseries = 0; /* a grid: one line per threads-per-rank value */
    for (int i = 0; i < pl->n; i++) {
        int t = pl->rows[i].threads_got, seen = 0;
        for (int s = 0; s < pl->nseries; s++)
            seen |= pl->keys[s] == t;
        if (!seen && pl->nseries < MAX_SERIES)
            pl->keys[pl->nseries++] = t;
    }
}

/* Raises the frame's top to a whole number of round steps. */
static void fit_axis(frame *f) {
    double step = nice_step(f->ymax / 5);
    f->ymax = ceil(f->ymax / step - 1e-9) * step;
}

static void axes(const plot *pl, const frame *f, const char *name, const char *unit) {
    FILE *o = pl->out;
    fprintf(o, "<g class=\"panel\">\n");
    fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-weight=\"bold\">",
            f->x + f->w / 2, f->y - 10);
    put_escaped(o, name);
    fprintf(o, "</text>\n");
    fprintf(o,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#888\"/>\n",
            f->x, f->y, f->w, f->h);
    double step = nice_step(f->ymax / 5); /* round steps, up to ymax (fit_axis) */
    int steps = (int)floor(f->ymax / step + 0.5);
    for (int k = 0; k <= steps; k++) { /* y grid and labels */
        double v = step * k, y = ypos(f, v);
        fprintf(o,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%g%s</text>\n",
                f->x, y, f->x + f->w, y, f->x - 4, y + 4, v, unit);
    }
    for (int i = 0; i < pl->npools; i++) { /* x labels: the pool sizes */
        double x = xpos(pl, f, pl->pools[i]);
        fprintf(o,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\">%d</text>\n",
                x, f->y + f->h + 14, pl->pools[i]);
    }
    fprintf(o,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\">pool "
            "(workers)</text>\n</g>\n",
            f->x + f->w / 2, f->y + f->h + 30);
}

/* One series' line through the rows' values (what: 0 time, 1 speedup, 2 efficiency). */
static void line(const plot *pl, const frame *f, int s, int what) {
    FILE *o = pl->out;
    fprintf(o,
            "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
            colors[s]);
    int first = 1;
    for (int p = 0; p < pl->npools; p++) {
        for (int i = 0; i < pl->n; i++) {
            const pk_stats *r = &pl->rows[i];
            if (r->pool != pl->pools[p] || series_of(pl, r) != s)
                continue;
            double v = what == 0 ? r->median : what == 1 ? r->speedup : 100 * r->efficiency;
            fprintf(o, "%s%.1f,%.1f", first ? "" : " ", xpos(pl, f, r->pool), ypos(f, v));
            first = 0;
            break; /* one point per pool size and series */
        }
    }
    fprintf(o, "\"/>\n");
    for (int i = 0; i < pl->n; i++) { /* the points; for time, the min..max range */
        const pk_stats *r = &pl->rows[i];
        if (series_of(pl, r) != s)
            continue;
        double x = xpos(pl, f, r->pool);
        double v = what == 0 ? r->median : what == 1 ? r->speedup : 100 * r->efficiency;
        if (what == 0)
            fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", x,
                    ypos(f, r->min), x, ypos(f, r->max), colors[s]);
        fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x, ypos(f, v),
                colors[s]);
    }
}

/* The ideal: speedup pool / pool of the first row, efficiency 100%. */
static void ideal(const plot *pl, const frame *f, int speedup) {
    FILE *o = pl->out;
    fprintf(o, "<polyline class=\"ideal\" fill=\"none\" stroke=\"#555\" stroke-dasharray=\"5,4\" "
               "points=\"");
    double p0 = pl->rows[0].pool > 0 ? pl->rows[0].pool : 1;
    for (int p = 0; p < pl->npools; p++) {
        double v = speedup ? pl->pools[p] / p0 : 100;
        fprintf(o, "%s%.1f,%.1f", p ? " " : "", xpos(pl, f, pl->pools[p]), ypos(f, v));
    }
    fprintf(o, "\"/>\n");
}

int pk_plot_svg(FILE *out, const char *title, const pk_stats *rows, int n) {
    if (out == NULL || rows == NULL || n < 1)
        return PK_EINVAL;
    plot pl;
    memset(&pl, 0, sizeof pl);
    pl.out = out;
    pl.rows = rows;
    pl.n = n;
    setup(&pl);
    double tmax = 0, smax = 0, emax = 100;
    double p0 = rows[0].pool > 0 ? rows[0].pool : 1;
    for (int i = 0; i < n; i++) {
        tmax = fmax(tmax, isfinite(rows[i].max) ? rows[i].max : 0);
        smax = fmax(smax, isfinite(rows[i].speedup) ? rows[i].speedup : 0);
        smax = fmax(smax, rows[i].pool / p0);
        emax = fmax(emax, isfinite(rows[i].efficiency) ? 100 * rows[i].efficiency : 0);
    }
    const double W = 1020, H = 360, pw = 270, ph = 220, top = 70, left = 70, gap = 340;
    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"13\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H, W, H);
    fprintf(out, "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", W / 2);
    put_escaped(out, title != NULL ? title : "scaling");
    fprintf(out, "</text>\n");
    frame ft = {left, top, pw, ph, nice_ceiling(tmax)};
    frame fs = {left + gap, top, pw, ph, nice_ceiling(smax * 1.05)};
    /* room above the 100% line, which would lie on the frame */
    frame fe = {left + 2 * gap, top, pw, ph, emax <= 120 ? 125 : nice_ceiling(emax * 1.05)};
    fit_axis(&ft);
    fit_axis(&fs);
    fit_axis(&fe);
    axes(&pl, &ft, "median time (s), runs min..max", "");
    axes(&pl, &fs, "speedup (dashed: ideal)", "");
    axes(&pl, &fe, "efficiency (dashed: 100%)", "%");
    ideal(&pl, &fs, 1);
    ideal(&pl, &fe, 0);
    for (int s = 0; s < pl.nseries; s++) {
        line(&pl, &ft, s, 0);
        line(&pl, &fs, s, 1);
        line(&pl, &fe, s, 2);
    }
    if (pl.nseries > 1 || pl.keys[0] >= 0) { /* the legend of a grid */
        for (int s = 0; s < pl.nseries; s++) {
            double x = left + 130.0 * s, y = H - 18;
            fprintf(out,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                    "stroke-width=\"3\"/><text x=\"%.1f\" y=\"%.1f\">%d thread%s/rank</text>\n",
                    x, y - 4, x + 20, y - 4, colors[s], x + 26, y, pl.keys[s],
                    pl.keys[s] == 1 ? "" : "s");
        }
    }
    fprintf(out, "</svg>\n");
    return ferror(out) ? PK_EIO : 0;
}
