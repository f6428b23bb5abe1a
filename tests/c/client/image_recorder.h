/* Records image handler calls (shoal_add_subscription_with_handlers) for the
 * client tests: written by whichever thread runs the handlers, read by the
 * test thread, hence the lock. */
#ifndef IMAGE_RECORDER_H
#define IMAGE_RECORDER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "../shoal_test_checks.h"

#define MAX_IMAGE_EVENTS 32

typedef struct
{
    bool available;
    shoal_subscription_t *sub;
    shoal_image_t *image;
    int32_t session_id;
    int32_t stream_id;
    int64_t correlation_id;
    int64_t join_position;
    int64_t position;
    bool closed;
    char source[80];
    int64_t at_ms;
    pthread_t thread;
} image_event_t;

typedef struct
{
    pthread_mutex_t lock;
    int count;
    image_event_t events[MAX_IMAGE_EVENTS];
    /* what a handler got when it tried to re-enter its client */
    shoal_client_t *reenter;
    int reenter_rc;
    int reenter_code;
    int reenter_do_work_rc;
} image_recorder_t;

static inline image_recorder_t *image_recorder_new(void)
{
    image_recorder_t *r = calloc(1, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

static inline void image_recorder_free(image_recorder_t *r)
{
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static inline void image_recorder_record(image_recorder_t *r, bool available, shoal_subscription_t *sub,
    shoal_image_t *image)
{
    pthread_mutex_lock(&r->lock);
    if (r->count < MAX_IMAGE_EVENTS)
    {
        image_event_t *e = &r->events[r->count++];
        e->available = available;
        e->sub = sub;
        e->image = image;
        e->session_id = shoal_image_session_id(image);
        e->stream_id = shoal_image_stream_id(image);
        e->correlation_id = shoal_image_correlation_id(image);
        e->join_position = shoal_image_join_position(image);
        e->position = shoal_image_position(image);
        e->closed = shoal_image_is_closed(image);
        snprintf(e->source, sizeof(e->source), "%s", shoal_image_source_identity(image));
        e->at_ms = shoal_test_now_ms();
        e->thread = pthread_self();
    }
    pthread_mutex_unlock(&r->lock);
}

/* The handlers, clientd: the recorder. */
static inline void image_recorder_on_available(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    image_recorder_record(clientd, true, sub, image);
}

static inline void image_recorder_on_unavailable(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    image_recorder_record(clientd, false, sub, image);
}

/* A subscription whose image handlers record into r; adding it must succeed
 * (a cmocka check, so every caller stops at the failure). */
static inline shoal_subscription_t *image_recorder_subscribe(image_recorder_t *r, shoal_client_t *client,
    const char *channel, int32_t stream_id)
{
    shoal_subscription_t *sub = NULL;
    const int rc = shoal_add_subscription_with_handlers(client, channel, stream_id, image_recorder_on_available,
        image_recorder_on_unavailable, r, &sub);
    if (rc < 0)
    {
        fprintf(stderr, "image_recorder_subscribe: %s\n", shoal_errmsg());
    }
    assert_int_equal(0, rc);
    assert_non_null(sub);
    return sub;
}

/* How many events so far. */
static inline int image_recorder_count(image_recorder_t *r)
{
    pthread_mutex_lock(&r->lock);
    int n = r->count;
    pthread_mutex_unlock(&r->lock);
    return n;
}

static inline image_event_t image_recorder_at(image_recorder_t *r, int i)
{
    pthread_mutex_lock(&r->lock);
    image_event_t e = r->events[i];
    pthread_mutex_unlock(&r->lock);
    return e;
}

#endif
