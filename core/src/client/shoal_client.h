/*
 * Client internals. A client's conductor duty reads the driver's broadcasts
 * (responses, image events), sends keepalives, watches the driver heartbeat
 * and frees what pollers left behind. It runs on the client's own conductor
 * thread, or, in conductor-invoker mode, on whichever thread calls
 * shoal_client_do_work or waits for a response (no thread is started). API
 * threads send commands and wait for the matching response under
 * client->lock; the hot paths (offer, poll) never take that lock.
 *
 * Images reach a subscription through a copy-on-write list: the conductor
 * publishes a new list (one generation newer) and retires the old list and
 * any removed image, tagged with the old list's generation. Reclamation is
 * by quiescence, not time: each poll announces the generation of the list it
 * loaded (poller_generation), and announcing generation G also says "my
 * earlier polls, and the views they handed out, are over". So whatever was
 * retired from a list older than G can no longer be reached by the poller
 * and is freed on the conductor's next duty cycle; a poller stuck in a
 * handler for any length of time keeps its list and images alive. A
 * subscription never polled announces SHOAL_POLLER_IDLE (uses nothing). The
 * one StoreLoad edge, IDLE -> "loading", is seq_cst on both sides; every
 * later announcement is a plain release store, so a poll costs no fence.
 * Image logs are reference-counted mappings (shoal_mapping_t) so a binding
 * can keep memory it exported mapped after the image is freed.
 */
#ifndef SHOAL_CLIENT_INTERNAL_H
#define SHOAL_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/shoal_context.h"
#include "concurrent/shoal_broadcast_receiver.h"
#include "concurrent/shoal_mpsc_rb.h"
#include "logbuffer/shoal_log_buffer.h"
#include "logbuffer/shoal_term_reader.h"
#include "protocol/shoal_cnc_descriptor.h"
#include "protocol/shoal_control_protocol.h"
#include "shoal/shoal.h"
#include "util/shoal_counters.h"

#define SHOAL_CLIENT_RESPONSE_MAX 2048
/* "aeron:ipc" or an "[v6 address]:port": the driver sends at most 64 bytes. */
#define SHOAL_IMAGE_SOURCE_MAX 72

struct shoal_image_stct
{
    /* hot: read by the polling thread */
    uint8_t *terms[SHOAL_LOGBUFFER_PARTITION_COUNT];
    int32_t term_length;
    size_t position_bits_to_shift;
    int64_t position;             /* ours alone: the poller is the only writer */
    int64_t *subscriber_position; /* counter the driver reads for flow control */
    int32_t session_id;
    int32_t stream_id;
    int32_t initial_term_id;
    bool laps_uncleaned; /* the log's meta->laps_uncleaned: check each frame's header */
    /* after the fields every poll reads: only its data pointer is read per
     * message (poll_batch), the rest only for fragmented messages */
    shoal_assembly_buffer_t assembly;
    /* cold */
    int64_t correlation_id;
    int64_t subscription_registration_id;
    int64_t join_position;
    int closed;                       /* set (release) before on_unavailable */
    shoal_mapping_t *mapping;         /* one reference, released by shoal_image_delete */
    shoal_logbuffer_metadata_t *meta; /* the words shoal_subscription_wait sleeps on */
    char source_identity[SHOAL_IMAGE_SOURCE_MAX];
};

typedef struct shoal_image_list_stct
{
    int64_t generation; /* 1, 2, ... per subscription */
    int32_t count;
    shoal_image_t *images[];
} shoal_image_list_t;

struct shoal_subscription_stct
{
    shoal_image_list_t *images; /* loaded by the poller, swapped by the conductor (seq_cst) */
    uint32_t round_robin;
    shoal_image_list_t *polled_list; /* the poller's own: the list its last poll used */
    int64_t poller_generation;       /* written by the poller, read by the conductor */
    int64_t list_generation;         /* conductor: generation of the latest list */
    int32_t image_count;             /* for other threads: lists are only the poller's to read */
    const int *client_closed;
    int32_t stream_id;
    int64_t registration_id;
    shoal_client_t *client;
    /* image events (conductor thread, or the closing thread) */
    shoal_image_handler_t on_available;
    shoal_image_handler_t on_unavailable;
    void *handlers_clientd;
    /* waiting (shoal_wait.c): a private futex bumped on image list swaps
     * and closes; close sets closing and waits for waiting to drop to 0 */
    int32_t wake_word;
    int32_t closing;
    int32_t waiting;
};

struct shoal_publication_stct
{
    /* hot, read-mostly */
    uint8_t *terms[SHOAL_LOGBUFFER_PARTITION_COUNT];
    shoal_logbuffer_metadata_t *meta;
    const shoal_data_header_t *default_header;
    int64_t *position_limit;
    int closed;
    bool exclusive;
    int32_t term_length;
    size_t position_bits_to_shift;
    int32_t initial_term_id;
    size_t max_payload_length;
    size_t max_message_length;
    int64_t max_possible_position;
    /* exclusive publications only: the single writer's own tail */
    int32_t term_offset;
    int32_t term_id;
    int32_t term_count;
    int32_t term_index; /* of term_count, kept: no modulo on the offer's path */
    int64_t term_begin_position;
    /* cold */
    int32_t session_id;
    int32_t stream_id;
    int64_t registration_id;
    shoal_client_t *client;
    shoal_log_buffer_t log; /* the mapping; the hot fields above are copied from it for offer */
    int32_t waiting;        /* threads in shoal_publication_wait_available */
};

/* What a subscription's poller could still be using: freed once the poller
 * announced a list newer than generation (see the top of this file). */
typedef struct shoal_lingering_stct
{
    void *memory;         /* free() it ... */
    shoal_image_t *image; /* ... or delete this image */
    shoal_subscription_t *subscription;
    int64_t generation;
} shoal_lingering_t;

#define SHOAL_POLLER_IDLE INT64_MAX

/* A new image's mapping the conductor reads through ahead of its poller,
 * a slice per duty cycle, with a reference of its own. */
typedef struct shoal_touching_stct
{
    shoal_mapping_t *mapping;
    size_t offset;
} shoal_touching_t;

struct shoal_client_stct
{
    shoal_context_t *ctx;
    shoal_cnc_view_t cnc;
    shoal_mpsc_rb_t to_driver;
    shoal_broadcast_receiver_t to_clients;
    int64_t client_id;
    int closed; /* 1 once closed or the driver is lost */
    char close_reason[512];

    pthread_mutex_t lock;
    pthread_cond_t cond;      /* the conductor answered a request */
    pthread_cond_t wake;      /* CLOCK_MONOTONIC: wakes an idle conductor (a request, a close) */
    pthread_mutex_t api_lock; /* one request in flight at a time */
    pthread_t conductor;      /* not started in conductor-invoker mode */
    bool invoker;             /* conductor-invoker mode: the duty runs in callers */
    int stop;

    /* the request in flight (guarded by lock) */
    int64_t pending_correlation_id;
    int pending_state; /* 0 waiting, 1 answered, -1 error */
    int32_t pending_type;
    int32_t pending_error_code;
    uint8_t pending_response[SHOAL_CLIENT_RESPONSE_MAX];
    size_t pending_length;

    /* registries (guarded by lock) */
    shoal_subscription_t **subscriptions;
    int32_t subscriptions_count, subscriptions_capacity;
    shoal_publication_t **publications;
    int32_t publications_count, publications_capacity;
    shoal_lingering_t *lingering;
    int32_t lingering_count, lingering_capacity;
    shoal_touching_t *touching;
    int32_t touching_count, touching_capacity;

    int64_t last_keepalive_ms;
    int64_t keepalive_interval_ms;
};

/* shoal_client.c */
int shoal_client_check_open(shoal_client_t *c);
/* Sends a command and waits for its response (SHOAL_ETIMEDOUT after the
 * driver timeout). On success the response is in c->pending_response. */
int shoal_client_request(shoal_client_t *c, int32_t type, const void *msg, size_t length, int64_t correlation_id);
/* Asks the driver to remove what registration_id names (type says which
 * kind); a closed client asks nothing: the driver drops all of its own. */
int shoal_client_request_remove(shoal_client_t *c, int32_t type, int64_t registration_id);
/* Retires memory or image, last reachable through s's list of generation;
 * with client->lock held (conductor or closing thread). */
void shoal_client_linger(shoal_client_t *c, shoal_subscription_t *s, int64_t generation, void *memory,
    shoal_image_t *image);

/* Fails with SHOAL_ESTATE when the calling thread is inside an image handler
 * of c (it holds c->lock: adding or closing would wait for itself). */
int shoal_client_check_not_in_handler(const shoal_client_t *c, const char *fn);

/* Encodes an add-publication/subscription command for uri (parsed already,
 * so it fits) into buffer, of sizeof(shoal_channel_command_t) +
 * SHOAL_MAX_CHANNEL_LENGTH bytes. Returns the command's length; the new
 * request's correlation id goes to *correlation_id. */
size_t shoal_client_encode_channel_command(shoal_client_t *c, const char *uri, int32_t stream_id, uint8_t *buffer,
    int64_t *correlation_id);

/* Closes a publication (is_publication) or subscription of client c: the
 * checks (SHOAL_EINVAL for NULL, not from an image handler), its waiters
 * woken, the driver's removal, out of the client's lists, freed. Returns the
 * removal's outcome; the handle is freed whatever it was. */
int shoal_client_close_handle(shoal_client_t *c, void *handle, bool is_publication);

/* shoal_client_conductor.c */
void *shoal_client_conductor_run(void *arg);
/* One conductor duty cycle, with c->lock held: returns the work done (>= 0). */
int shoal_client_conductor_duty(shoal_client_t *c);
/* Drops the conductor's references to image mappings it was still reading
 * through (PRE_TOUCH), at close. */
void shoal_client_release_pre_touch(shoal_client_t *c);
/* Marks the calling thread as inside an image handler of c; returns the
 * previous mark, to restore after the handler (handlers of one client may
 * drive another client). */
const shoal_client_t *shoal_client_set_in_handler(const shoal_client_t *c);
/* Frees what no poller can reach any more; everything when all (the client
 * is closing, nobody polls); only and all of s's when s is not NULL (s is
 * closing). With client->lock held unless the conductor has stopped. */
void shoal_client_free_lingering(shoal_client_t *c, bool all, const shoal_subscription_t *s);

/* shoal_image.c */
/* What the frames of the term at position must hold (shoal_frame_check.h). */
static inline shoal_frame_expect_t shoal_image_frame_expect(const shoal_image_t *image, int64_t position)
{
    return shoal_frame_expect(image->laps_uncleaned, image->stream_id,
        image->initial_term_id + (int32_t)(position >> image->position_bits_to_shift));
}

int shoal_image_create(shoal_image_t **image, const char *log_file, int64_t correlation_id,
    int64_t subscription_registration_id, int32_t session_id, int32_t stream_id, int64_t *subscriber_position,
    const char *source_identity);
void shoal_image_delete(shoal_image_t *image);

/* shoal_log_mapping.c: an existing log buffer file mapped read-write as a
 * reference-counted shoal_mapping_t (one reference to the caller). */
int shoal_mapping_open(const char *path, shoal_mapping_t **mapping);
/* Reads through m's pages from offset, up to max_bytes
 * (shoal_log_buffer_pre_touch); the next offset. Stops early when the
 * caller's reference is the last one. Done at the mapping's length. */
size_t shoal_mapping_pre_touch(shoal_mapping_t *m, size_t offset, size_t max_bytes);
const shoal_log_buffer_t *shoal_mapping_log(const shoal_mapping_t *m);
void shoal_mapping_acquire(shoal_mapping_t *m);

/* shoal_wait.c: wakes the threads waiting on s (its image list changed, or
 * it or its client closes); any thread. */
void shoal_subscription_wake_waiters(shoal_subscription_t *s);
/* Makes waits on s / p return ECLOSED and returns once none is left in
 * them: the closing thread, before freeing the handle. */
void shoal_subscription_stop_waiters(shoal_subscription_t *s);
void shoal_publication_stop_waiters(shoal_publication_t *p);
/* Wakes the threads waiting on p (its client closed); any thread. */
void shoal_publication_wake_waiters(shoal_publication_t *p);
/* Tests only: how long a subscription wait sleeps before it looks again
 * (100 ms), so that a lost wake-up shows as a hang, not as a late recheck. */
void shoal_wait_set_recheck_ns(int64_t ns);

/* The poller's view of s's image list, as a poll starts (see the top of
 * this file). announce: tell the conductor that earlier polls are over
 * (polls do; a wait does not, or it would end the views of the last poll);
 * without it the list is kept alive by the generation announced before. */
static inline shoal_image_list_t *shoal_subscription_load_images(shoal_subscription_t *s, bool announce)
{
    if (SHOAL_UNLIKELY(SHOAL_POLLER_IDLE == shoal_load_relaxed(&s->poller_generation)))
    {
        /* First poll: say "loading" before loading, or the conductor could
         * still read IDLE and free the list we get (StoreLoad: seq_cst). */
        __atomic_store_n(&s->poller_generation, 0, __ATOMIC_SEQ_CST);
    }
    shoal_image_list_t *list = __atomic_load_n(&s->images, __ATOMIC_SEQ_CST);
    if (announce)
    {
        if (s->polled_list != list) /* a store only when it changes: polls leave the line clean */
        {
            s->polled_list = list;
        }
        if (NULL != list && list->generation != shoal_load_relaxed(&s->poller_generation))
        {
            /* Release: our earlier polls (and their views) happen before the
             * conductor frees what only they could reach. */
            shoal_store_release(&s->poller_generation, list->generation);
        }
    }
    return list;
}

/* shoal_publication.c / shoal_subscription.c */
int shoal_publication_create(shoal_publication_t **pub, shoal_client_t *c, const shoal_publication_ready_t *ready,
    const char *log_file, bool exclusive);
void shoal_publication_free(shoal_publication_t *p);
void shoal_subscription_free(shoal_subscription_t *s);
/* Takes s out of c's lists and lets go of its images and lingering memory. */
void shoal_subscription_detach(shoal_client_t *c, shoal_subscription_t *s);
/* Marks every image of s closed and calls on_unavailable for it; with
 * client->lock held, so it never interleaves with the conductor's events. */
void shoal_subscription_release_images(shoal_subscription_t *s);

#endif
