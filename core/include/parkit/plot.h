/* Scaling plots of a sweep's rows, written by parkit itself as SVG (no
 * dependency): three panels against the pool size — the median time (with the
 * min..max range of the runs), the speedup with the ideal line, and the
 * efficiency with the 100% line. Rows that differ in both ranks and threads per
 * rank (a ranks x threads grid) are drawn as one line per threads-per-rank
 * value; otherwise as one line. The programs write it with --plot FILE. */
#ifndef PARKIT_PLOT_H
#define PARKIT_PLOT_H

#include <stdio.h>

#include "parkit/timing.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the plot of rows[0..n) to out; title (may be NULL) heads it. The
 * speedup and efficiency are the rows' own (pk_stats_relative). 0, PK_EINVAL
 * for no rows or a NULL pointer, PK_EIO on a write error. */
int pk_plot_svg(FILE *out, const char *title, const pk_stats *rows, int n);

#ifdef __cplusplus
}
#endif

#endif
