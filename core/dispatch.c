/* dispatch.c - from a public matmul call to the backend's, written once for host and device
 * pointers: AUTO resolved to the tuner's recorded choice or the documented default, named
 * parameters mapped onto the backend's list (a uw_call), the pipeline's resident form checked.
 * Nothing here writes to the device: per-call parameters travel with the call. */
#include <stdio.h>

#include "backend.h"
#include "tune_cache.h"

_Static_assert(UW_PARAM_MAX == UW_TUNE_MAX_PARAMS, "a cache entry holds every parameter a backend offers");

static const char *resident_name(unsigned r) {
    return r == UW_RESIDENT_HUFFMAN ? "Huffman" : r == UW_RESIDENT_PALETTE ? "palette IR" : "BF16";
}

static int param_index(const uw_device *d, const char *name) {
    for (int i = 0; i < d->nparams; i++)
        if (!strcmp(d->params[i].name, name)) return i;
    return -1;
}

static int param_offers(const uw_param_desc *pd, int value) {
    for (int v = 0; v < pd->nvalues; v++)
        if (pd->values[v] == value) return 1;
    return 0;
}

/* c's parameters, given by name, as the backend's list of values; those not named take their
 * default. Only names and values the backend offers are accepted. */
static uw_status call_from_choice(const uw_device *d, const uw_choice *c, uw_call *call) {
    UW_RETURN_ERROR_IF(c->nparams < 0 || c->nparams > UW_CHOICE_MAX_PARAMS, UW_ERR_INVALID_ARG, "a choice holds 0 to %d parameters, not %d",
                       UW_CHOICE_MAX_PARAMS, c->nparams);
    call->pipeline = c->pipeline;
    call->nparams = d->nparams;
    for (int i = 0; i < d->nparams; i++) call->values[i] = d->params[i].values[0];
    for (int k = 0; k < c->nparams; k++) {
        const char *name = c->param_names[k];
        UW_RETURN_ERROR_IF(!memchr(name, 0, sizeof c->param_names[k]), UW_ERR_INVALID_ARG, "choice parameter %d: name not terminated", k);
        int i = param_index(d, name);
        UW_RETURN_ERROR_IF(i < 0, UW_ERR_INVALID_ARG, "%s has no per-call parameter '%s'", d->name, name);
        if (!param_offers(&d->params[i], c->param_values[k])) {
            char list[96] = "";
            for (int v = 0, L = 0; v < d->params[i].nvalues && L < (int)sizeof list; v++)
                L += snprintf(list + L, sizeof list - (size_t)L, "%s%d", v ? ", " : "", d->params[i].values[v]);
            return uw_error_set(UW_ERR_INVALID_ARG, "%s: %s=%d is not offered (values: %s)", d->name, name, c->param_values[k], list);
        }
        call->values[i] = c->param_values[k];
    }
    return UW_OK;
}

/* an entry is trusted only if its pipeline's resident form is there and every parameter and
 * value is one the backend offers now */
static int entry_usable(const uw_tune_entry *e, const uw_weights *w) {
    unsigned need;
    if (uw_pipeline_needs(e->pipeline, w->rows, w->cols, &need, NULL) != UW_OK || !(w->resident & need)) return 0;
    for (int k = 0; k < e->nparams; k++) {
        int i = param_index(w->dev, e->names[k]);
        if (i < 0 || !param_offers(&w->dev->params[i], e->values[k])) return 0;
    }
    return 1;
}

uw_status uw_tuner_choice(uw_tuner *t, uw_weights *w, uint64_t batch, uw_choice *c) {
    UW_RETURN_ERROR_IF(!w || !c || !batch, UW_ERR_INVALID_ARG, "uw_tuner_choice: bad argument");
    memset(c, 0, sizeof *c);
    const uw_device *d = w->dev;
    uw_tune_key key;
    uw_tune_key_make(&key, d->be->name, d->name, uw_device_driver(d), w->rows, w->cols, uw_batch_bucket(batch, NULL));
    uw_tune_entry e;
    if (uw_tune_cache_find(t, &key, &e)) {
        if (entry_usable(&e, w)) {
            c->pipeline = e.pipeline;
            c->tuned = 1;
            c->nparams = e.nparams;
            for (int k = 0; k < e.nparams; k++) {
                memcpy(c->param_names[k], e.names[k], sizeof c->param_names[k]);
                c->param_values[k] = e.values[k];
            }
            c->time_us = e.time_us;
            return UW_OK;
        }
        uw_tune_cache_warn(t, "ignoring tuning entry for %s: its pipeline or parameters are not available", d->name);
    }
    /* the documented default: the smallest resident form's direct pipeline (palette-direct
     * first on a backend that says it is the faster, when both forms are there), parameters at
     * their defaults (each one's first value) */
    unsigned both = UW_RESIDENT_HUFFMAN | UW_RESIDENT_PALETTE;
    c->pipeline = (w->resident & both) == both && d->be->default_palette ? UW_PIPELINE_PALETTE_DIRECT
                : (w->resident & UW_RESIDENT_HUFFMAN)                    ? UW_PIPELINE_FUSED_HUFFMAN
                : (w->resident & UW_RESIDENT_PALETTE)                    ? UW_PIPELINE_PALETTE_DIRECT
                                                                         : UW_PIPELINE_PLAIN_BF16;
    c->nparams = d->nparams;
    for (int i = 0; i < d->nparams; i++) {
        snprintf(c->param_names[i], sizeof c->param_names[i], "%s", d->params[i].name);
        c->param_values[i] = d->params[i].values[0];
    }
    return UW_OK;
}

uw_status uw_weights_choice(uw_weights *w, uint64_t batch, uw_choice *c) {
    UW_RETURN_ERROR_IF(!w || !c || !batch, UW_ERR_INVALID_ARG, "uw_weights_choice: bad argument");
    return uw_tuner_choice(w->dev->tuner, w, batch, c);
}

/* The one path from a public call to a uw_call: AUTO (with no explicit choice) looked up once,
 * an explicit choice's parameters mapped, the resident form checked (one message for every
 * backend). */
static uw_status make_call(uw_weights *w, uw_pipeline p, const uw_choice *c, uint64_t batch, uw_call *call) {
    uw_choice looked_up;
    memset(call, 0, sizeof *call);
    if (!c && p == UW_PIPELINE_AUTO) {
        UW_FORWARD_IF_ERROR(uw_weights_choice(w, batch, &looked_up));
        c = &looked_up;
    }
    if (c) UW_FORWARD_IF_ERROR(call_from_choice(w->dev, c, call));
    else call->pipeline = p; /* every parameter at its default */
    unsigned need;
    UW_RETURN_ERROR_IF(uw_pipeline_needs(call->pipeline, w->rows, w->cols, &need, NULL) != UW_OK, UW_ERR_INVALID_ARG,
                       "%s is not a pipeline to run (a choice names a concrete one)", uw_pipeline_name(call->pipeline));
    UW_RETURN_ERROR_IF(!(w->resident & need), UW_ERR_UNSUPPORTED, "pipeline %s needs the %s form resident",
                       uw_pipeline_name(call->pipeline), resident_name(need));
    return UW_OK;
}

static uw_status run(const char *fn, uw_weights *w, uw_pipeline p, const uw_choice *c, const void *x, void *y, uint64_t batch,
                     int device_pointers, void *stream) {
    UW_RETURN_ERROR_IF(!w || !x || !y || !batch, UW_ERR_INVALID_ARG, "%s: NULL or empty argument", fn);
    const uw_backend *be = w->dev->be;
    UW_RETURN_ERROR_IF(device_pointers && !be->matmul_dev, UW_ERR_UNSUPPORTED, "the %s backend takes no device pointers", be->name);
    uw_call call;
    UW_FORWARD_IF_ERROR(make_call(w, p, c, batch, &call));
    if (device_pointers) return be->matmul_dev(w->dev->ctx, w->wh, &call, x, y, batch, stream);
    return be->matmul(w->dev->ctx, w->wh, &call, x, y, batch);
}

uw_status uw_weights_matmul(uw_weights *w, uw_pipeline p, const uint16_t *x, float *y, uint64_t batch) {
    return run("uw_weights_matmul", w, p, NULL, x, y, batch, 0, NULL);
}

uw_status uw_weights_matmul_async(uw_weights *w, uw_pipeline p, const void *x_dev, void *y_dev, uint64_t batch, void *stream) {
    return run("uw_weights_matmul_async", w, p, NULL, x_dev, y_dev, batch, 1, stream);
}

uw_status uw_weights_matmul_choice(uw_weights *w, const uw_choice *c, const uint16_t *x, float *y, uint64_t batch) {
    UW_RETURN_ERROR_IF(!c, UW_ERR_INVALID_ARG, "uw_weights_matmul_choice: NULL choice");
    return run("uw_weights_matmul_choice", w, c->pipeline, c, x, y, batch, 0, NULL);
}

uw_status uw_weights_matmul_choice_async(uw_weights *w, const uw_choice *c, const void *x_dev, void *y_dev, uint64_t batch,
                                         void *stream) {
    UW_RETURN_ERROR_IF(!c, UW_ERR_INVALID_ARG, "uw_weights_matmul_choice_async: NULL choice");
    return run("uw_weights_matmul_choice_async", w, c->pipeline, c, x_dev, y_dev, batch, 1, stream);
}
