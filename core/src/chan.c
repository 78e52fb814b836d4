/* Channel calls: checks, then the channel's own operations table (threads or
 * ranks). Every open channel is registered in its context so that a failing
 * pool call can wake whoever is blocked in it. */
#include <string.h>

#include "core_internal.h"

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

int pk_chan_open(pk_ctx *ctx, pk_chan **ch, const pk_chan_opts *opts) {
    if (ctx == NULL)
        return PK_EINVAL;
    int rc = 0;
    if (ch == NULL || opts == NULL)
        rc = pk__set_error(ctx, PK_EINVAL, "pk_chan_open needs a channel pointer and options");
    else if (opts->elem_size == 0 || opts->capacity == 0)
        rc = pk__set_error(ctx, PK_EINVAL, "a channel needs an item size and a capacity above 0");
    else if (opts->producers < 1 || opts->consumers < 1)
        rc = pk__set_error(ctx, PK_EINVAL, "a channel needs at least one producer and consumer");
    else if (ctx->nchans == (int)(sizeof ctx->chans / sizeof ctx->chans[0]))
        rc = pk__set_error(ctx, PK_EAGAIN, "too many open channels on this context");
    else if (opts->capacity > (SIZE_MAX / 2) / opts->elem_size)
        rc = pk__set_error(ctx, PK_ENOMEM, "channel of %zu items of %zu bytes is too large",
                           opts->capacity, opts->elem_size);
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

int pk_chan_put(pk_chan *ch, const void *item) {
    return ch == NULL || item == NULL ? PK_EINVAL : ch->ops->put(ch, item, 1, 1);
}

int pk_chan_try_put(pk_chan *ch, const void *item) {
    return ch == NULL || item == NULL ? PK_EINVAL : ch->ops->put(ch, item, 1, 0);
}

int pk_chan_put_many(pk_chan *ch, const void *items, size_t count) {
    if (ch == NULL || (items == NULL && count > 0))
        return PK_EINVAL;
    return count == 0 ? 0 : ch->ops->put(ch, items, count, 1);
}

int pk_chan_get(pk_chan *ch, void *item) {
    size_t got;
    return ch == NULL || item == NULL ? PK_EINVAL : ch->ops->get(ch, item, 1, &got, 1);
}

int pk_chan_try_get(pk_chan *ch, void *item) {
    size_t got;
    return ch == NULL || item == NULL ? PK_EINVAL : ch->ops->get(ch, item, 1, &got, 0);
}

int pk_chan_get_many(pk_chan *ch, void *items, size_t max, size_t *got) {
    if (ch == NULL || items == NULL || max == 0 || got == NULL)
        return PK_EINVAL;
    *got = 0;
    return ch->ops->get(ch, items, max, got, 1);
}

int pk_chan_close(pk_chan *ch) {
    return ch == NULL ? PK_EINVAL : ch->ops->close(ch);
}

int pk_chan_abort(pk_chan *ch, int code) {
    if (ch == NULL || code >= 0)
        return PK_EINVAL;
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
