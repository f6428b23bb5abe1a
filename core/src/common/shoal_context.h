/*
 * Settings shared by an embedded driver and its clients. A context is filled
 * once (environment first, then setters) and only read afterwards, so the
 * driver and client threads can read it without locks. The one field written
 * later is the count of clients using it (atomic), so that
 * shoal_context_close can refuse to free it under them. Drivers are not
 * counted: a driver works on its own copy of the context.
 */
#ifndef SHOAL_CONTEXT_H
#define SHOAL_CONTEXT_H

#include <limits.h>
#include <stdint.h>
#include <stdbool.h>
#include "protocol/shoal_cnc_descriptor.h"
#include "shoal/shoal.h"

#define SHOAL_DIR_MAX 256
/* Channel settings (the archive's control channels), NUL included. */
#define SHOAL_CONTEXT_CHANNEL_MAX 512

/* How the driver spreads its duties over threads (SHOAL_THREADING_MODE). */
typedef enum shoal_threading_mode_en
{
    SHOAL_THREADING_SHARED = 0,   /* conductor, sender and receiver on one thread */
    SHOAL_THREADING_DEDICATED = 1 /* one thread each */
} shoal_threading_mode_t;

struct shoal_context_stct
{
    char dir[SHOAL_DIR_MAX];
    uint64_t driver_timeout_ms;
    uint64_t client_liveness_timeout_ms;
    uint64_t publication_unblock_timeout_ms;
    uint64_t publication_linger_ms;
    uint64_t keepalive_interval_ms;
    uint32_t ipc_term_length;
    uint32_t term_length;
    uint32_t mtu;
    uint32_t to_driver_buffer_length;
    uint32_t to_clients_buffer_length;
    uint32_t counters_buffer_length;
    uint32_t error_buffer_length;
    uint32_t loss_report_buffer_length;
    shoal_idle_strategy_t idle_strategy;
    bool dir_delete_on_start;
    bool dir_delete_on_shutdown;
    shoal_error_handler_t error_handler;
    void *error_handler_clientd;
    bool use_conductor_invoker; /* clients: no conductor thread, shoal_client_do_work */
    bool pre_touch;        /* clients: go through each page of a log when mapping it (shoal_log_buffer_pre_touch) */
    int32_t clients_using; /* atomic: connected clients not yet closed */

    /* UDP transport (driver side) */
    shoal_threading_mode_t threading_mode;
    double rcv_loss_rate;                       /* fraction of received datagrams dropped (tests) */
    double send_loss_rate;                      /* fraction of datagrams dropped instead of sent (tests) */
    uint64_t loss_seed;                         /* 0: seeded from the clock */
    uint64_t image_liveness_timeout_ms;         /* image gone after this long without a frame */
    uint64_t publication_connection_timeout_ms; /* no status message for this long: not connected */
    uint64_t flow_control_receiver_timeout_ms;  /* a multicast/MDC receiver silent this long is dropped */
    uint64_t nak_retry_delay_us;                /* floor of the delay before a gap is NAKed again */
    uint64_t retransmit_linger_us;              /* NAKs for a range just resent are ignored this long */
    uint32_t rcv_window;                        /* default receiver window (bytes) */
    uint32_t socket_rcvbuf;                     /* SO_RCVBUF asked for (0: OS default) */
    uint32_t socket_sndbuf;                     /* SO_SNDBUF asked for (0: OS default) */
    /* Hostile peers: bounds on what unauthenticated datagrams can make the driver do. */
    uint32_t max_images_per_endpoint; /* images one receive channel builds from SETUPs */
    uint32_t max_images;              /* images in the whole driver */
    uint32_t max_setup_term_length;   /* SETUPs asking for longer terms are refused */
    uint64_t retransmit_budget;       /* bytes one publication resends per interval */
    uint64_t retransmit_budget_interval_us;

    /* Subscribers that read a log in place (IPC, spies) */
    bool tether_subscriptions;                   /* default of a subscription's tether key */
    bool spies_simulate_connection;              /* default of a UDP publication's ssc key */
    uint64_t untethered_window_limit_timeout_ms; /* an untethered reader this long behind is let go */
    uint64_t untethered_resting_timeout_ms;      /* ... and rejoins after resting this long */

    /* Archive (shoal_archive.h): the server's and its clients' settings */
    char archive_control_channel[SHOAL_CONTEXT_CHANNEL_MAX];
    char archive_control_response_channel[SHOAL_CONTEXT_CHANNEL_MAX];
    uint32_t archive_control_stream_id;
    uint32_t archive_control_response_stream_id;
    uint32_t archive_segment_length;     /* bytes of a segment file: a multiple of the term length */
    int32_t archive_fsync;               /* a shoal_archive_fsync_policy_t */
    uint64_t archive_message_timeout_ms; /* a client's wait for the server's answer */
};

/* Counts a client that reads ctx from its connect until its close. */
void shoal_context_acquire(shoal_context_t *ctx);
void shoal_context_release(shoal_context_t *ctx);
/* The CnC metadata a driver of ctx writes: buffer lengths and timeouts (the
 * rest zero: version, pid and start time are the driver's to set). */
void shoal_context_cnc_metadata(const shoal_context_t *ctx, shoal_cnc_metadata_t *m);

#endif
