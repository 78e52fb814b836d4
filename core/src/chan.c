/* Channel calls: checks, then the channel's own operations table (threads or
 * ranks). The checks of open are the same on every backend (sizes, the role
 * lists, the team), so a program refused on ranks is refused on threads too.
 * Every refusal names its reason in the context's error. Every open channel
 * is registered in its context so that a failing pool call can wake whoever
 * is blocked in it. */
#include <pthread.h>
#include <string.h>

#include "core_internal.h"

/* Refusals may come from several threads of one process at once: their
 * messages go into the context one at a time (pk__ctx_note). */
int pk__chan_refuse(pk_chan *ch, int code, const char *fmt, ...) {
    if (ch == NULL || ch->ctx == NULL)
        return code;
    va_list ap;
    va_start(ap, fmt);
    pk__ctx_notev(ch->ctx, code, fmt, ap);
    va_end(ap);
    return code;
}

void pk__ctx_add_chan(pk_ctx *ctx, pk_chan *ch) {
    ctx->chans[ctx->nchans++] = ch;
}

void pk__ctx_remove_chan(pk_ctx *ctx, pk_chan *ch) {
    for (int i = 0; i < ctx->nchans; i++) {
        if (ctx->chans[i] == ch) {
            ctx->chans[i] = ctx->chans[--ctx->nchans];
            return;
        }
    }
}

void pk__ctx_abort_chans(pk_ctx *ctx, int code) {
    for (int i = 0; i < ctx->nchans; i++)
        ctx->chans[i]->ops->abort_with(ctx->chans[i], code);
}

void pk__ctx_flush_chans(pk_ctx *ctx) {
    for (int i = 0; ctx != NULL && i < ctx->nchans; i++)
        if (ctx->chans[i]->ops->flush != NULL)
            ctx->chans[i]->ops->flush(ctx->chans[i]);
}

/* The sizes and counts; 0 or the refusal. */
static int check_sizes(pk_ctx *ctx, pk_chan **ch, const pk_chan_opts *o) {
    if (ch == NULL || o == NULL)
        return pk__set_error(ctx, PK_EINVAL, "pk_chan_open needs a channel pointer and options");
    if (o->elem_size == 0 || o->capacity == 0)
        return pk__set_error(ctx, PK_EINVAL, "a channel needs an item size and a capacity above 0");
    if (o->producers < 1 || o->consumers < 1)
        return pk__set_error(ctx, PK_EINVAL, "a channel needs at least one putter and one getter");
    if (ctx->nchans == (int)(sizeof ctx->chans / sizeof ctx->chans[0]))
        return pk__set_error(ctx, PK_EAGAIN, "too many open channels on this context");
    if (o->capacity > (SIZE_MAX / 2) / o->elem_size)
        return pk__set_error(ctx, PK_ENOMEM, "channel of %zu items of %zu bytes is too large",
                             o->capacity, o->elem_size);
    return 0;
}

static int on_ranks(const pk_ctx *ctx) {
    return (ctx->backend->caps & PK__CAP_RANKS) != 0;
}

/* The team the ids must lie in: opts->workers, else the ranks across ranks;
 * -1 when there is no bound (threads). 0 or the refusal in *rc. */
static int team_of(pk_ctx *ctx, const pk_chan_opts *o, int *rc) {
    *rc = 0;
    if (o->workers < 0)
        *rc = pk__set_error(ctx, PK_EINVAL, "a team of %d workers is impossible", o->workers);
    else if (on_ranks(ctx) && o->workers > ctx->nranks)
        *rc = pk__set_error(ctx, PK_EINVAL,
                            "a team of %d workers needs %d ranks, one each; this pool has %d",
                            o->workers, o->workers, ctx->nranks);
    if (o->workers > 0)
        return o->workers;
    return on_ranks(ctx) ? ctx->nranks : -1;
}

/* One role list: every id inside the team, none named twice. */
static int check_list(pk_ctx *ctx, const int *ids, int n, const char *role, int team) {
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || (team >= 0 && ids[i] >= team)) {
            if (team < 0)
                return pk__set_error(ctx, PK_EINVAL, "%s id %d is not a worker id", role, ids[i]);
            return pk__set_error(ctx, PK_EINVAL, "%s id %d is outside the team of %d workers", role,
                                 ids[i], team);
        }
        for (int j = 0; j < i; j++)
            if (ids[j] == ids[i])
                return pk__set_error(ctx, PK_EINVAL, "worker %d is named twice as a %s", ids[i],
                                     role);
    }
    return 0;
}

/* The default roles, 0..P+C-1, must fit the team. */
static int check_default_roles(pk_ctx *ctx, const pk_chan_opts *o, int team) {
    int need = o->producers + o->consumers;
    if (team < 0 || need <= team)
        return 0;
    if (on_ranks(ctx) && o->workers == 0)
        return pk__set_error(ctx, PK_EINVAL,
                             "a channel between %d putters and %d getters needs %d ranks; "
                             "this pool has %d",
                             o->producers, o->consumers, need, ctx->nranks);
    return pk__set_error(ctx, PK_EINVAL,
                         "a channel between %d putters and %d getters needs a team of %d "
                         "workers; the team has %d",
                         o->producers, o->consumers, need, team);
}

/* The default ids first..first+n-1 of one role, when only the other role has
 * a list. */
static int check_default_ids(pk_ctx *ctx, const char *role, int first, int n, int team) {
    if (team < 0 || first + n <= team)
        return 0;
    return pk__set_error(ctx, PK_EINVAL,
                         "the default %s ids %d..%d are outside the team of %d "
                         "workers",
                         role, first, first + n - 1, team);
}

/* The roles: the lists (or the default ids) inside the team, no repeats. */
static int check_roles(pk_ctx *ctx, const pk_chan_opts *o) {
    int rc, team = team_of(ctx, o, &rc);
    if (rc != 0)
        return rc;
    if (o->putters == NULL && o->getters == NULL)
        return check_default_roles(ctx, o, team);
    rc = o->putters != NULL ? check_list(ctx, o->putters, o->producers, "putter", team)
                            : check_default_ids(ctx, "putter", 0, o->producers, team);
    if (rc == 0)
        rc = o->getters != NULL
                 ? check_list(ctx, o->getters, o->consumers, "getter", team)
                 : check_default_ids(ctx, "getter", o->producers, o->consumers, team);
    return rc;
}

int pk_chan_open(pk_ctx *ctx, pk_chan **ch, const pk_chan_opts *opts) {
    if (ctx == NULL)
        return PK_EINVAL;
    int rc = check_sizes(ctx, ch, opts);
    if (rc == 0)
        rc = check_roles(ctx, opts);
    if (ch != NULL)
        *ch = NULL;
    if (rc == 0)
        rc = ctx->backend->chan_open(ctx, ch, opts);
    rc = ctx->backend->agree(ctx, rc);
    if (rc != 0) {
        if (ch != NULL && *ch != NULL) {
            (*ch)->ops->free(*ch);
            *ch = NULL;
        }
        return rc;
    }
    (*ch)->ctx = ctx;
    (*ch)->elem_size = opts->elem_size;
    (*ch)->producers = opts->producers;
    (*ch)->consumers = opts->consumers;
    pk__ctx_add_chan(ctx, *ch);
    return 0;
}

/* A call without its buffer: refused, with the call named. */
static int no_buffer(pk_chan *ch, const char *call) {
    return pk__chan_refuse(ch, PK_EINVAL, "%s needs a buffer for the items", call);
}

int pk_chan_put(pk_chan *ch, const void *item) {
    if (ch == NULL)
        return PK_EINVAL;
    return item == NULL ? no_buffer(ch, "pk_chan_put") : ch->ops->put(ch, item, 1, 1);
}

int pk_chan_try_put(pk_chan *ch, const void *item) {
    if (ch == NULL)
        return PK_EINVAL;
    return item == NULL ? no_buffer(ch, "pk_chan_try_put") : ch->ops->put(ch, item, 1, 0);
}

int pk_chan_put_many(pk_chan *ch, const void *items, size_t count) {
    if (ch == NULL)
        return PK_EINVAL;
    if (items == NULL && count > 0)
        return no_buffer(ch, "pk_chan_put_many");
    return count == 0 ? 0 : ch->ops->put(ch, items, count, 1);
}

int pk_chan_get(pk_chan *ch, void *item) {
    size_t got;
    if (ch == NULL)
        return PK_EINVAL;
    return item == NULL ? no_buffer(ch, "pk_chan_get") : ch->ops->get(ch, item, 1, &got, 1);
}

int pk_chan_try_get(pk_chan *ch, void *item) {
    size_t got;
    if (ch == NULL)
        return PK_EINVAL;
    return item == NULL ? no_buffer(ch, "pk_chan_try_get") : ch->ops->get(ch, item, 1, &got, 0);
}

int pk_chan_get_many(pk_chan *ch, void *items, size_t max, size_t *got) {
    if (ch == NULL)
        return PK_EINVAL;
    if (items == NULL || max == 0 || got == NULL)
        return pk__chan_refuse(ch, PK_EINVAL,
                               "pk_chan_get_many needs a buffer of at least one item and a count");
    *got = 0;
    return ch->ops->get(ch, items, max, got, 1);
}

int pk_chan_close(pk_chan *ch) {
    return ch == NULL ? PK_EINVAL : ch->ops->close(ch);
}

int pk_chan_abort(pk_chan *ch, int code) {
    if (ch == NULL)
        return PK_EINVAL;
    if (code >= 0)
        return pk__chan_refuse(ch, PK_EINVAL, "pk_chan_abort needs a negative error code, not %d",
                               code);
    return ch->ops->abort_with(ch, code);
}

size_t pk_chan_peek(const pk_chan *ch, void *items, size_t max) {
    return ch == NULL || ch->ops->peek == NULL ? 0 : ch->ops->peek(ch, items, max);
}

size_t pk_chan_max_depth(const pk_chan *ch) {
    return ch == NULL ? 0 : ch->ops->max_depth(ch);
}

void pk_chan_free(pk_chan *ch) {
    if (ch == NULL)
        return;
    pk__ctx_remove_chan(ch->ctx, ch);
    ch->ops->free(ch);
}
