/*
 * shoal — low-latency messaging over shared memory and UDP.
 *
 * This header is the whole public ABI of libshoal. It compiles as C99
 * (-std=c99 -pedantic) and as C++. Every function below has a one-line
 * contract: what it returns, what it needs, and which thread may call it.
 *
 * Conventions
 *  - Results: int functions return 0 (or a count >= 0) on success and -1 on
 *    error; shoal_errcode() and shoal_errmsg() then say why. Both are
 *    thread-local (the last failure on the calling thread) and a success does
 *    not clear them. Every function checks its arguments: NULL handles and
 *    out-parameters fail with SHOAL_EINVAL, never crash.
 *  - The offer family (offer, offerv, try_claim) returns a new stream position
 *    (> 0) or one of SHOAL_NOT_CONNECTED .. SHOAL_ERROR below; never blocks.
 *  - Getters never fail on a valid handle. Given NULL they set SHOAL_EINVAL
 *    and return what no valid handle gives where there is such a value:
 *    SHOAL_ERROR for publication positions (the offer family's code), -1 for
 *    client and correlation ids, counts and image positions, 0 for lengths,
 *    NULL for strings, false for predicates, true for is_closed (a NULL handle
 *    is as good as closed). Session and stream ids take every int32 value, so
 *    shoal_publication_session_id(NULL) returns -1, which is also a valid id:
 *    a caller that may hold NULL checks it before calling.
 *  - A handle is valid from the call that made it until its close (or its
 *    client's close); using it after that is undefined, like free'd memory.
 *  - All handles are opaque. The only structs whose layout is part of the ABI
 *    are the POD views shoal_header_t, shoal_fragment_t, shoal_claim_t and
 *    shoal_iovec_t; they only grow at the end, guarded by the SONAME.
 *
 * Threading (who may call what from which thread)
 *  - A context is configured by one thread, then only read; it must outlive
 *    the clients connected with it (shoal_context_close refuses otherwise).
 *  - shoal_client_t: add_* and close calls are thread-safe. Its conductor
 *    (image and error handlers) runs on a thread of its own, or, in
 *    conductor-invoker mode, in shoal_client_do_work on the caller's thread.
 *  - Concurrent publications: offer/offerv/try_claim from any number of threads.
 *    Exclusive publications: one thread at a time (faster: no atomic add).
 *  - Subscriptions: poll/controlled_poll/poll_batch from one thread at a time.
 *    A handler's buf and hdr are valid until the handler returns; poll_batch
 *    views until the next poll on that subscription (or its close): never
 *    unmapped before, however long that takes (no linger time involved).
 *    Hence an image that went away stays mapped until its subscription polls
 *    again or closes. Valid means mapped: the publisher may overwrite a term
 *    once every subscriber is past it, so copy what you keep.
 *  - Getters and predicates: any thread, as long as the handle is valid.
 *  - close functions must not race with other calls on the same handle,
 *    except the waits (shoal_subscription_wait, shoal_publication_wait_available):
 *    a close from another thread ends them (-1, SHOAL_ECLOSED) and returns
 *    once they have left.
 */
#ifndef SHOAL_H
#define SHOAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SHOAL_API __attribute__((visibility("default")))
#else
#define SHOAL_API
#endif

#define SHOAL_VERSION_MAJOR 0
#define SHOAL_VERSION_MINOR 1
#define SHOAL_VERSION_PATCH 0

/* ---- Result codes of the offer family (also returned by try_claim) ---- */
#define SHOAL_NOT_CONNECTED         (-1) /* no subscriber is connected */
#define SHOAL_BACK_PRESSURED        (-2) /* the slowest subscriber is too far behind: retry */
#define SHOAL_ADMIN_ACTION          (-3) /* the log rotated to a new term: retry at once */
#define SHOAL_CLOSED                (-4) /* the publication (or its client) is closed */
#define SHOAL_MAX_POSITION_EXCEEDED (-5) /* the stream reached its maximum position */
#define SHOAL_ERROR                 (-6) /* bad argument or fault: see shoal_errmsg() */

/* ---- Error codes returned by shoal_errcode() ---- */
typedef enum shoal_errcode_en
{
    SHOAL_OK = 0,
    SHOAL_EINVAL = 1,     /* invalid argument (NULL, range, type) */
    SHOAL_EURI = 2,       /* malformed channel URI, unknown key or bad value */
    SHOAL_ENOMEM = 3,     /* allocation failed */
    SHOAL_EIO = 4,        /* file or mapping failure in the driver directory */
    SHOAL_ETIMEDOUT = 5,  /* the driver did not answer within the driver timeout */
    SHOAL_EDRIVER = 6,    /* the driver rejected the request (message names why) */
    SHOAL_ECLOSED = 7,    /* the handle or its client is closed */
    SHOAL_ECLASH = 8,     /* stream/session clash with an existing publication */
    SHOAL_EMSGSIZE = 9,   /* message longer than the maximum message length */
    SHOAL_EACTIVE = 10,   /* another driver is active on this directory */
    SHOAL_ENODRIVER = 11, /* no driver is running on this directory */
    SHOAL_ESTATE = 12     /* call not valid in the current state */
} shoal_errcode_t;

/* The code (shoal_errcode_t) of the last failure on the calling thread. Any thread. */
SHOAL_API int shoal_errcode(void);
/* Its message, never NULL ("" before any failure); valid until the next failure
 * on this thread. Any thread. */
SHOAL_API const char *shoal_errmsg(void);

/* Library version as "major.minor.patch"; also as an integer (major<<16|minor<<8|patch).
 * Static string; any thread. */
SHOAL_API const char *shoal_version(void);
SHOAL_API int shoal_version_number(void);

/* ---- Opaque handles ---- */
typedef struct shoal_context_stct shoal_context_t;
typedef struct shoal_driver_stct shoal_driver_t;
typedef struct shoal_client_stct shoal_client_t;
typedef struct shoal_publication_stct shoal_publication_t;
typedef struct shoal_subscription_stct shoal_subscription_t;
typedef struct shoal_image_stct shoal_image_t;
typedef struct shoal_mapping_stct shoal_mapping_t;

/* ---- POD views ---- */

/* Frame flags seen in shoal_header_t.flags. A whole message has BEGIN|END. */
#define SHOAL_FLAG_BEGIN 0x80
#define SHOAL_FLAG_END   0x40
#define SHOAL_FLAG_EOS   0x20

/* Describes one delivered message. For a message that was fragmented on the
 * wire, term_offset is that of its first fragment and position is the stream
 * position just after its last fragment. */
typedef struct shoal_header_stct
{
    int32_t session_id;
    int32_t stream_id;
    int32_t term_id;
    int32_t term_offset;
    int32_t frame_length; /* length of the (first) frame including its 32-byte header */
    uint8_t flags;        /* SHOAL_FLAG_* */
    uint8_t reserved_pad[3];
    int64_t reserved_value; /* user value set by the publisher (0 by default) */
    int64_t position;       /* stream position after this message */
} shoal_header_t;

/* One message handed out by shoal_subscription_poll_batch(). data points into
 * the log buffer (or the subscription's reassembly buffer for a fragmented
 * message) and stays valid until the next poll on the same subscription. */
typedef struct shoal_fragment_stct
{
    const uint8_t *data;
    size_t length;
    shoal_header_t header;
} shoal_fragment_t;

/* A zero-copy claim: fill data[0..length) then commit or abort. */
typedef struct shoal_claim_stct
{
    uint8_t *data;
    size_t length;
    void *frame_; /* internal: the claimed frame header */
} shoal_claim_t;

typedef struct shoal_iovec_stct
{
    const uint8_t *base;
    size_t length;
} shoal_iovec_t;

/* ---- Context: settings shared by a driver and/or a client ----
 * Defaults come from SHOAL_* environment variables when set, else built-ins:
 *  SHOAL_DIR                          driver directory        (/dev/shm/shoal-$USER)
 *  SHOAL_DRIVER_TIMEOUT_MS            client's driver timeout (10000)
 *  SHOAL_CLIENT_LIVENESS_TIMEOUT_MS   driver's client timeout (10000)
 *  SHOAL_PUBLICATION_UNBLOCK_TIMEOUT_MS  stuck claim unblock  (15000)
 *  SHOAL_IPC_TERM_LENGTH              default IPC term length (64 MiB)
 *  SHOAL_TERM_LENGTH                  default UDP term length (16 MiB)
 *  SHOAL_MTU                          default mtu            (1408)
 *  SHOAL_TO_DRIVER_BUFFER_LENGTH      command ring bytes     (1 MiB)
 *  SHOAL_TO_CLIENTS_BUFFER_LENGTH     broadcast bytes        (1 MiB)
 *  SHOAL_COUNTERS_BUFFER_LENGTH       counter values bytes   (1 MiB)
 *  SHOAL_ERROR_BUFFER_LENGTH          error log bytes        (1 MiB)
 *  SHOAL_LOSS_REPORT_BUFFER_LENGTH    loss report bytes      (1 MiB)
 *  SHOAL_IDLE_STRATEGY                busy-spin|yield|sleep|backoff (backoff)
 *  SHOAL_DIR_DELETE_ON_START          1: wipe a stale directory (1)
 *  SHOAL_DIR_DELETE_ON_SHUTDOWN       1: remove directory on clean close (0)
 *  SHOAL_PRE_TOUCH                    1: a client reads (image) or writes (publication, value
 *                                     kept) every page of a log when it maps it, so the stream's
 *                                     first pass through each page takes no fault or hypervisor
 *                                     trap; costs that much more at add / image time (1)
 * UDP (driver side):
 *  SHOAL_RCV_WINDOW                   receiver window bytes  (128 KiB; raised to hold a max message)
 *  SHOAL_IMAGE_LIVENESS_TIMEOUT_MS    image gone without frames (10000)
 *  SHOAL_PUBLICATION_CONNECTION_TIMEOUT_MS  not connected without SMs (5000)
 *  SHOAL_FLOW_CONTROL_RECEIVER_TIMEOUT_MS   multicast/MDC receiver dropped (5000)
 *  SHOAL_NAK_RETRY_DELAY_US           NAK retry floor (1000; else 2 x RTT)
 *  SHOAL_RETRANSMIT_LINGER_US         repeat NAKs ignored for (500)
 *  SHOAL_SOCKET_RCVBUF, SHOAL_SOCKET_SNDBUF  socket buffers asked for (2 MiB)
 *  SHOAL_MAX_IMAGES_PER_ENDPOINT      images one subscription channel builds from SETUPs (256)
 *  SHOAL_MAX_IMAGES                   images in the whole driver (1024)
 *  SHOAL_MAX_SETUP_TERM_LENGTH        SETUPs with longer terms are refused (128 MiB)
 *  SHOAL_RETRANSMIT_BUDGET            bytes one publication resends per interval (2 MiB)
 *  SHOAL_RETRANSMIT_BUDGET_INTERVAL_US  that interval (10000)
 *  SHOAL_RCV_LOSS_RATE, SHOAL_SEND_LOSS_RATE  test loss 0..1 of datagrams in/out (0)
 *  SHOAL_LOSS_SEED                    loss generator seed (0: from the clock)
 *  SHOAL_THREADING_MODE               shared (one driver thread) or dedicated
 *                                     (conductor, UDP sender, UDP receiver)
 * Subscribers reading a log in place (IPC subscriptions, aeron-spy: spies):
 *  SHOAL_TETHER_SUBSCRIPTIONS         default of the tether URI key (1)
 *  SHOAL_SPIES_SIMULATE_CONNECTION    default of the ssc URI key (0)
 *  SHOAL_UNTETHERED_WINDOW_LIMIT_TIMEOUT_MS  an untethered one this long behind is dropped (5000)
 *  SHOAL_UNTETHERED_RESTING_TIMEOUT_MS       ... and rejoins at the live position after (10000)
 */
typedef enum shoal_idle_strategy_en
{
    SHOAL_IDLE_BACKOFF = 0,   /* spin, yield (not for a while after a late one), then park longer */
    SHOAL_IDLE_BUSY_SPIN = 1, /* never gives the core away: lowest latency */
    SHOAL_IDLE_YIELD = 2,
    SHOAL_IDLE_SLEEP = 3 /* 1 ms sleeps: lowest CPU */
} shoal_idle_strategy_t;

/* Makes a context with the defaults above, then the SHOAL_* environment
 * applied; -1 with SHOAL_EINVAL (NULL, or a bad environment value: the message
 * names the variable) or SHOAL_ENOMEM. Any thread. */
SHOAL_API int shoal_context_init(shoal_context_t **ctx);
/* Frees the context. -1 with SHOAL_ESTATE (the message says how many) while a
 * client connected with it is not closed yet: clients read their context
 * until shoal_client_close. A driver works on its own copy of the context,
 * so closing the context under a running driver is fine. */
SHOAL_API int shoal_context_close(shoal_context_t *ctx);
/* Setters: 0, or -1 with SHOAL_EINVAL naming the setting and its valid range
 * (the context is unchanged then). The thread configuring the context, before
 * a driver or client uses it (they read it at start / connect). */
/* Driver directory; 1..191 bytes, trailing slashes dropped. */
SHOAL_API int shoal_context_set_dir(shoal_context_t *ctx, const char *dir);
/* The directory; valid until the context is closed or its dir set again. */
SHOAL_API const char *shoal_context_get_dir(const shoal_context_t *ctx);
/* Timeouts in ms, 1 ms .. 24 h (see the environment table above). */
SHOAL_API int shoal_context_set_driver_timeout_ms(shoal_context_t *ctx, uint64_t ms);
SHOAL_API int shoal_context_set_client_liveness_timeout_ms(shoal_context_t *ctx, uint64_t ms);
SHOAL_API int shoal_context_set_publication_unblock_timeout_ms(shoal_context_t *ctx, uint64_t ms);
/* A power of two, 64 KiB .. 1 GiB. */
SHOAL_API int shoal_context_set_ipc_term_length(shoal_context_t *ctx, uint32_t length);
SHOAL_API int shoal_context_set_idle_strategy(shoal_context_t *ctx, shoal_idle_strategy_t idle);
/* Set any setting by its environment-variable name without the SHOAL_ prefix,
 * e.g. ("IPC_TERM_LENGTH", "65536"): used by shoald for --set and by bindings.
 * Unknown keys fail with SHOAL_EINVAL naming the key. */
SHOAL_API int shoal_context_set(shoal_context_t *ctx, const char *key, const char *value);

/* Error callback for asynchronous errors seen by a client's conductor thread
 * (driver timeout, publication or image lost). Called on that thread.
 * A client whose conductor misses driver events (it fell a whole
 * SHOAL_TO_CLIENTS_BUFFER_LENGTH behind the driver, or the buffer held a
 * corrupt record) closes itself rather than keep images that may be stale:
 * the handler gets SHOAL_ECLOSED with a message starting "missed driver
 * events", and every later call fails as for a lost driver (ECLOSED, offers
 * SHOAL_CLOSED). Connect a new client to carry on. */
typedef void (*shoal_error_handler_t)(void *clientd, int errcode, const char *message);
/* h NULL: no handler. message is valid during the call. */
SHOAL_API int shoal_context_set_error_handler(shoal_context_t *ctx, shoal_error_handler_t h, void *clientd);

/* Conductor-invoker mode, as Aeron's use_conductor_agent_invoker (default
 * false). A client connected with it starts no conductor thread: its duty
 * (keepalives, the driver liveness check, image events and the image and
 * error handlers, freeing what polls left behind) runs on the threads that
 * call shoal_client_do_work, and inside add_* and close calls while they wait
 * for the driver. Call do_work often (well within the client liveness
 * timeout, 10 s by default): a client without it is timed out by the driver
 * and its handles then fail with SHOAL_ECLOSED / SHOAL_CLOSED. Use it to run
 * image handlers on a thread of your choosing (a Lua state, an event loop)
 * or to keep a client's work off other cores. Read at shoal_client_connect. */
SHOAL_API int shoal_context_set_use_conductor_invoker(shoal_context_t *ctx, bool use_invoker);
/* The setting above; false (and SHOAL_EINVAL) for a NULL ctx. */
SHOAL_API bool shoal_context_get_use_conductor_invoker(const shoal_context_t *ctx);

/* ---- Media driver (embedded: runs on its own thread) ---- */
/* Fails with SHOAL_EACTIVE if another live driver owns the directory; a stale
 * directory left by a dead driver is cleaned. Fails with SHOAL_EIO if the
 * directory or its lock file is a symlink, or the directory is not owned by
 * the effective user or is writable by group or others. */
SHOAL_API int shoal_driver_start(shoal_driver_t **driver, shoal_context_t *ctx);
/* Stops the driver thread(s) and frees the driver (clients of it see the
 * driver timeout); 0, or -1 with SHOAL_EINVAL. Any thread, once. */
SHOAL_API int shoal_driver_close(shoal_driver_t *driver);
/* Runs the driver on the calling thread until *stop_flag becomes non-zero
 * (set it from a signal handler); used by shoald. 0 after a clean stop, -1 as
 * shoal_driver_start when it cannot start. */
SHOAL_API int shoal_driver_run(shoal_context_t *ctx, volatile int *stop_flag);
/* Whether a live driver owns dir (heartbeat within timeout_ms); false with
 * SHOAL_EINVAL for NULL. Any thread; maps cnc.dat read-only for the check. */
SHOAL_API bool shoal_driver_is_active(const char *dir, uint64_t timeout_ms);

/* ---- Client ---- */
/* Connects to the driver of ctx's directory. Fails with SHOAL_ENODRIVER if no
 * live driver runs there, and with SHOAL_EIO if the directory or its cnc.dat
 * is not owned by the effective user or is writable by group or others, or
 * if cnc.dat is a symlink (another local user could have planted them; the
 * message names the path and the fix). The context must outlive the client. */
SHOAL_API int shoal_client_connect(shoal_client_t **client, shoal_context_t *ctx);
/* Closes the client and every publication and subscription it created: their
 * handles become invalid. Close them first if other threads still use them. */
SHOAL_API int shoal_client_close(shoal_client_t *client);
/* Driver-assigned client id (>= 0). */
SHOAL_API int64_t shoal_client_id(const shoal_client_t *client);
/* True once the client lost its driver (timeout), missed driver events (see
 * shoal_context_set_error_handler) or was closed. */
SHOAL_API bool shoal_client_is_closed(const shoal_client_t *client);
/* Conductor-invoker mode only: runs one duty cycle of the client's conductor
 * on the calling thread (image handlers included) and returns the work done
 * (>= 0: driver events handled). -1 with SHOAL_ESTATE on a client that runs
 * its own conductor thread or when called from one of its image handlers,
 * SHOAL_ECLOSED once the client is closed (driver lost or timed out: the
 * message says which), SHOAL_EINVAL for NULL. Never waits for the driver.
 * Any thread: concurrent calls are serialized, and the handlers run on the
 * thread that calls it. */
SHOAL_API int shoal_client_do_work(shoal_client_t *client);
/* Whether the client was connected in conductor-invoker mode (false and
 * SHOAL_EINVAL for NULL). */
SHOAL_API bool shoal_client_is_conductor_invoker(const shoal_client_t *client);

/* Channel URIs: "aeron:ipc[?key=value|...]" with keys term-length, mtu,
 * session-id, linger, sparse, reliable, control-mode=response and
 * response-correlation-id (request/response: docs/response-channels.md;
 * others belong to UDP). Unknown keys
 * and bad values are errors naming the key. The log buffer is allocated in
 * full when created: without room for it in the driver directory, add fails
 * with SHOAL_EIO naming the directory, file and bytes needed. sparse=true
 * skips that reservation (a full filesystem then means SIGBUS on write).
 * Subscriptions: tether=false lets a subscriber that stays behind be dropped
 * (image unavailable), rest and rejoin at the live position (image available
 * again, with its join position); untethered-window-limit-timeout and
 * untethered-resting-timeout (durations: 5s, 200ms, ...; on the publication
 * or the subscription) say when. "aeron-spy:aeron:udp?..." subscribes to the
 * driver's own UDP publication of that channel by reading its log (no
 * network); ssc=true on that publication makes spies count as connected. */
/* Each waits for the driver's answer (up to the driver timeout): 0 and *pub,
 * or -1 with SHOAL_EINVAL, SHOAL_EURI, SHOAL_EIO, SHOAL_ECLASH, SHOAL_EDRIVER,
 * SHOAL_ECLOSED (client closed), SHOAL_ETIMEDOUT, or SHOAL_ESTATE from an image
 * handler of the same client. Any thread. */
SHOAL_API int shoal_add_publication(shoal_client_t *c, const char *uri, int32_t stream_id, shoal_publication_t **pub);
SHOAL_API int shoal_add_exclusive_publication(shoal_client_t *c, const char *uri, int32_t stream_id,
    shoal_publication_t **pub);
SHOAL_API int shoal_add_subscription(shoal_client_t *c, const char *uri, int32_t stream_id, shoal_subscription_t **sub);

/* Image events of a subscription: a publication (one session) became
 * visible to it, or went away (closed and drained, end of stream, or, for
 * UDP, silent for the image liveness timeout). Called on the client's
 * conductor thread, one event at a time, possibly before
 * shoal_add_subscription_with_handlers returns (hence the sub argument).
 * Every on_available is matched by exactly one on_unavailable: for images
 * still present when the subscription (or its client) is closed it is
 * called by the closing thread, before close returns. The image handle is
 * valid from on_available until on_unavailable returns. A handler must be
 * short and must not add or close publications, subscriptions or the
 * client (the conductor would wait for itself); polling is fine. */
typedef void (*shoal_image_handler_t)(void *clientd, shoal_subscription_t *sub, shoal_image_t *image);
/* As shoal_add_subscription, with image handlers (either may be NULL). In
 * conductor-invoker mode the handlers run in shoal_client_do_work (and in
 * add_* / close calls of the client) on the calling thread; they can then
 * also fire before this call returns. */
SHOAL_API int shoal_add_subscription_with_handlers(shoal_client_t *c, const char *uri, int32_t stream_id,
    shoal_image_handler_t on_available, shoal_image_handler_t on_unavailable, void *clientd,
    shoal_subscription_t **sub);

/* ---- Publication ---- */
/* Copies buf[0..len) into the log as one message (fragmented when longer than
 * the max payload length): the new stream position, or SHOAL_NOT_CONNECTED,
 * SHOAL_BACK_PRESSURED, SHOAL_ADMIN_ACTION (retry), SHOAL_CLOSED,
 * SHOAL_MAX_POSITION_EXCEEDED, SHOAL_ERROR (SHOAL_EINVAL, SHOAL_EMSGSIZE over
 * the max message length). Never blocks, never allocates. Thread: see above
 * (concurrent: any; exclusive: one at a time). */
SHOAL_API int64_t shoal_publication_offer(shoal_publication_t *p, const uint8_t *buf, size_t len);
/* As offer, gathering iov[0..iovcnt) into one message. */
SHOAL_API int64_t shoal_publication_offerv(shoal_publication_t *p, const shoal_iovec_t *iov, size_t iovcnt);
/* Claims len bytes (len <= max payload length, i.e. unfragmented) in the log.
 * Returns the position the message will end at (claim->data[0..length) is
 * then writable), or a negative code as offer. The claim blocks readers of
 * the stream until committed or aborted: do it soon (the driver unblocks a
 * claim left longer than the publication unblock timeout). */
SHOAL_API int64_t shoal_publication_try_claim(shoal_publication_t *p, size_t len, shoal_claim_t *claim);
/* Exclusive publications only (Aeron's offerBlock; what a replay uses):
 * appends buf[0..len), whole DATA/PAD frames with their 32-byte
 * headers as they lie in a log or a recording, in one step. The first frame
 * must sit at the publication's position (its term id and term offset), each
 * next one right after it, all in the current term (a block never crosses
 * a term end; after one that fills the term, the next goes into the next
 * term). Session and stream ids are rewritten to the publication's; flags,
 * reserved values and padding are kept. Returns the new position, or a
 * negative code as offer; SHOAL_ERROR with SHOAL_EINVAL for a concurrent
 * publication or a malformed block (the message names the frame), nothing
 * written then. */
SHOAL_API int64_t shoal_publication_offer_block(shoal_publication_t *p, const uint8_t *buf, size_t len);
/* Publishes (commit) or drops (abort: readers skip it) a claimed message; 0,
 * or -1 with SHOAL_EINVAL (NULL) or SHOAL_ESTATE: a second commit or abort of
 * the same claim, or one after the driver unblocked it, changes nothing in
 * the log. The thread that claimed it (or any one, handing it over), before
 * the publication is closed. */
SHOAL_API int shoal_claim_commit(shoal_claim_t *claim);
SHOAL_API int shoal_claim_abort(shoal_claim_t *claim);
/* Whether a subscriber is connected (IPC: one is; UDP: status messages come). */
SHOAL_API bool shoal_publication_is_connected(const shoal_publication_t *p);
/* True once the publication or its client is closed (driver lost included). */
SHOAL_API bool shoal_publication_is_closed(const shoal_publication_t *p);
/* The stream position the next message starts at; SHOAL_CLOSED once closed. */
SHOAL_API int64_t shoal_publication_position(const shoal_publication_t *p);
/* The position offers may reach before they are back-pressured. */
SHOAL_API int64_t shoal_publication_position_limit(const shoal_publication_t *p);
SHOAL_API int32_t shoal_publication_session_id(const shoal_publication_t *p);
SHOAL_API int32_t shoal_publication_stream_id(const shoal_publication_t *p);
/* The driver's id of this add_publication (what a response channel's
 * response-correlation-id names); -1 with SHOAL_EINVAL for NULL. */
SHOAL_API int64_t shoal_publication_registration_id(const shoal_publication_t *p);
/* Longest message offer takes (term length / 8, at most 16 MiB), and longest
 * unfragmented payload (mtu - 32: what try_claim takes). */
SHOAL_API size_t shoal_publication_max_message_length(const shoal_publication_t *p);
SHOAL_API size_t shoal_publication_max_payload_length(const shoal_publication_t *p);
/* Tells the driver and frees the handle (finish a pending claim first); 0,
 * or -1: SHOAL_EINVAL; SHOAL_ETIMEDOUT (freed all the same); SHOAL_ESTATE from
 * an image handler of its client (nothing done). Any thread. */
SHOAL_API int shoal_publication_close(shoal_publication_t *p);
/* Multi-destination-cast with control-mode=manual (channel
 * "aeron:udp?control-mode=manual[|control=host:port]"): the publication sends
 * to every destination added here; endpoint_uri is
 * "aeron:udp?endpoint=host:port" (a subscriber's endpoint). Destinations
 * belong to the channel: publications of one driver on the same channel
 * share them. Waits for the driver's answer; -1 with SHOAL_EINVAL (NULL
 * argument, not a manual MDC publication, destination already added /
 * not there on remove, SHOAL_ENOMEM: 64 destinations at most), SHOAL_EURI
 * (bad URI or unresolvable host), SHOAL_ECLOSED (publication or client
 * closed) or SHOAL_ETIMEDOUT. A removed destination stops counting for
 * flow control at once. */
SHOAL_API int shoal_publication_add_destination(shoal_publication_t *p, const char *endpoint_uri);
SHOAL_API int shoal_publication_remove_destination(shoal_publication_t *p, const char *endpoint_uri);
/* Waits, without spinning, until an offer of at most the max payload length
 * could pass the publication limit (its position is below the limit), for a
 * back-pressured or not yet connected publisher. timeout_ns < 0: no timeout;
 * 0: just check. Returns 1 (room now; the offer may still race with other
 * publishers of a concurrent publication), 0 (timed out), or -1 with
 * SHOAL_ECLOSED (the publication or its client closed, also while waiting:
 * close returns once the wait has left) or SHOAL_EINVAL. The driver wakes it
 * as it moves the limit (once a subscriber consumed enough); it also
 * re-checks every 10 ms. A thread that may offer on p. */
SHOAL_API int shoal_publication_wait_available(shoal_publication_t *p, int64_t timeout_ns);

/* ---- Subscription ---- */
/* A poll handler gets one whole message: buf[0..len) and hdr are valid until
 * the handler returns (buf points into the log, or into the subscription's
 * reassembly buffer for a fragmented message). Copy what you keep, or retain
 * the mapping (shoal_subscription_retain_mapping) inside the handler. */
typedef void (*shoal_fragment_handler_t)(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr);

typedef enum shoal_controlled_action_en
{
    SHOAL_ACTION_ABORT = 1,   /* do not consume this message; stop the poll */
    SHOAL_ACTION_BREAK = 2,   /* consume it and stop the poll */
    SHOAL_ACTION_COMMIT = 3,  /* consume it and commit the position now */
    SHOAL_ACTION_CONTINUE = 4 /* consume it and go on */
} shoal_controlled_action_t;

typedef shoal_controlled_action_t (
    *shoal_controlled_handler_t)(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr);

/* Each returns the number of messages delivered (>= 0) or -1 (SHOAL_EINVAL,
 * SHOAL_ECLOSED once the client is closed). limit/max bound the messages
 * delivered in one call. One polling thread at a time per subscription;
 * handlers run on it, and may poll other subscriptions. poll_batch fills
 * out[0..n): views valid until the next poll of s or its close. */
SHOAL_API int shoal_subscription_poll(shoal_subscription_t *s, shoal_fragment_handler_t h, void *clientd, size_t limit);
SHOAL_API int shoal_subscription_controlled_poll(shoal_subscription_t *s, shoal_controlled_handler_t h, void *clientd,
    size_t limit);
SHOAL_API int shoal_subscription_poll_batch(shoal_subscription_t *s, shoal_fragment_t *out, size_t max);
/* Waits, without spinning (no CPU while idle), until a poll of s would find
 * something: a message (or padding a poll steps over: it may then deliver
 * nothing) at the position of any of its images. timeout_ns < 0: no timeout;
 * 0: just check. Returns 1 (poll now), 0 (timed out), or -1 with
 * SHOAL_ECLOSED (s or its client closed, also while waiting) or SHOAL_EINVAL.
 * A commit wakes it within a futex wake-up (tens of microseconds); so does
 * a new image, an image going away, and shoal_subscription_close from
 * another thread (which returns once the wait has left). Each sleep also
 * ends after 100 ms at most (1 ms where a writer cannot be fenced: see
 * docs/waiting.md) to look again, unseen by the caller. The polling thread, between
 * polls; it does not end the views of the last poll_batch. In
 * conductor-invoker mode it does no conductor duty: bound the timeout and
 * call shoal_client_do_work between waits. */
SHOAL_API int shoal_subscription_wait(shoal_subscription_t *s, int64_t timeout_ns);
/* Whether it has at least one image (a publication it sees). */
SHOAL_API bool shoal_subscription_is_connected(const shoal_subscription_t *s);
SHOAL_API int shoal_subscription_image_count(const shoal_subscription_t *s);
SHOAL_API int32_t shoal_subscription_stream_id(const shoal_subscription_t *s);
/* The driver's id of this subscription: a requester's request publication
 * names it in response-correlation-id; -1 with SHOAL_EINVAL for NULL. */
SHOAL_API int64_t shoal_subscription_registration_id(const shoal_subscription_t *s);
/* Tells the driver, pairs every on_available with on_unavailable (on this
 * thread), frees the handle; as shoal_publication_close. Not during a poll of s. */
SHOAL_API int shoal_subscription_close(shoal_subscription_t *s);

/* Keeping a message's memory mapped beyond its poll. Buffers from poll
 * handlers and poll_batch point into the publication's log, which the client
 * unmaps once its image has gone and no poll of s can still use it. A binding
 * that hands such a buffer to code with a lifetime of its own (a Python
 * memoryview, a numpy array made from it) retains the mapping first: on the
 * polling thread, inside a handler, or after poll_batch and before the next
 * poll of s. On success *mapping holds data[0..length) mapped until
 * shoal_mapping_release (any thread, once per retain); *mapping is NULL when
 * data is not in a log of s (a reassembled message lives in a buffer the next
 * fragmented message overwrites: copy it). Mapped is not unchanged: the
 * publisher reuses a term once every subscriber is past it. */
SHOAL_API int shoal_subscription_retain_mapping(shoal_subscription_t *s, const uint8_t *data, size_t length,
    shoal_mapping_t **mapping);
/* True when data[0..length) lies inside the mapping (to reuse one retain);
 * false (SHOAL_EINVAL) for NULL. */
SHOAL_API bool shoal_mapping_contains(const shoal_mapping_t *m, const uint8_t *data, size_t length);
/* Drops one reference (the last unmaps); -1 with SHOAL_EINVAL for NULL. Any thread. */
SHOAL_API int shoal_mapping_release(shoal_mapping_t *m);

/* ---- Image (one publication session as seen by one subscription) ----
 * Handed to the image handlers above; read-only, any thread, while valid. */
SHOAL_API int32_t shoal_image_session_id(const shoal_image_t *image);
SHOAL_API int32_t shoal_image_stream_id(const shoal_image_t *image);
/* Driver-assigned id of the image (unique in that driver). */
SHOAL_API int64_t shoal_image_correlation_id(const shoal_image_t *image);
/* Where the stream comes from: "aeron:ipc", or the sender's "ip:port" for
 * UDP (e.g. "127.0.0.1:40123"). Stays valid as long as the image. */
SHOAL_API const char *shoal_image_source_identity(const shoal_image_t *image);
/* Stream position at which this subscription joined the stream. */
SHOAL_API int64_t shoal_image_join_position(const shoal_image_t *image);
/* Position of this subscription in the stream (consumed so far). */
SHOAL_API int64_t shoal_image_position(const shoal_image_t *image);
/* True once the image went unavailable (set before on_unavailable runs). */
SHOAL_API bool shoal_image_is_closed(const shoal_image_t *image);

/* ---- Monitoring: a driver's CnC file, read-only ----
 * What shoal-stat, shoal-errors and shoal-loss show, for any program: the
 * file is mapped read-only, the driver is never disturbed and need not be
 * of the same user. Strings passed to the callbacks are NUL-terminated
 * copies valid during the call (length given too). A handle is for one
 * thread at a time; several handles may watch one driver. */
typedef struct shoal_cnc_stct shoal_cnc_t;

/* Maps <dir>/cnc.dat (dir NULL: SHOAL_DIR or the default directory). -1 with
 * SHOAL_EINVAL (cnc NULL), SHOAL_ENODRIVER (no cnc.dat), SHOAL_EIO (not a
 * regular file, unknown CnC major version, corrupt header), SHOAL_ENOMEM. */
SHOAL_API int shoal_cnc_open(shoal_cnc_t **cnc, const char *dir);
/* Counter: id, type id (SHOAL_COUNTER_TYPE_*), label (e.g. "sub-pos: 5 12 1001
 * aeron:ipc"), value. */
typedef void (*shoal_cnc_counter_fn)(void *clientd, int32_t id, int32_t type_id, const char *label, size_t label_length,
    int64_t value);
/* Calls fn for every allocated counter in id order; returns how many, or -1
 * with SHOAL_EINVAL (NULL cnc or fn). */
SHOAL_API int shoal_cnc_counters_foreach(shoal_cnc_t *cnc, shoal_cnc_counter_fn fn, void *clientd);
/* Distinct error: observations, first and last time (epoch ms), error code
 * (shoal_errcode_t), text. */
typedef void (*shoal_cnc_error_fn)(void *clientd, int32_t observation_count, int64_t first_observation_ms,
    int64_t last_observation_ms, int32_t error_code, const char *text, size_t text_length);
/* Calls fn for every distinct error of the driver's error log; returns how
 * many, or -1 with SHOAL_EINVAL (NULL cnc or fn) or SHOAL_ENOMEM. */
SHOAL_API int shoal_cnc_errors_foreach(shoal_cnc_t *cnc, shoal_cnc_error_fn fn, void *clientd);
/* Loss report entry (Aeron's LossStat): one per image (session of a stream
 * from a source on a channel) that saw a gap: gaps observed, bytes they
 * spanned (a gap refilled by a retransmission still counts), first and last
 * observation (epoch ms), the subscribed channel, the sender's "ip:port". */
typedef void (*shoal_cnc_loss_fn)(void *clientd, int64_t observation_count, int64_t total_bytes_lost,
    int64_t first_observation_ms, int64_t last_observation_ms, int32_t session_id, int32_t stream_id,
    const char *channel, size_t channel_length, const char *source, size_t source_length);
/* Calls fn for every loss report entry; returns how many (0 for a driver
 * older than the loss report), or -1 with SHOAL_EINVAL (NULL cnc or fn). */
SHOAL_API int shoal_cnc_loss_foreach(shoal_cnc_t *cnc, shoal_cnc_loss_fn fn, void *clientd);
/* Nanoseconds since the driver last showed it is alive (it does so every
 * conductor cycle, stored with millisecond resolution); -1 with SHOAL_EINVAL.
 * A driver whose age exceeds shoal_cnc_driver_timeout_ns is dead to clients. */
SHOAL_API int64_t shoal_cnc_driver_heartbeat_age_ns(shoal_cnc_t *cnc);
/* The driver's process id and client-facing driver timeout (ns) as written
 * in the CnC header; -1 with SHOAL_EINVAL. */
SHOAL_API int64_t shoal_cnc_driver_pid(shoal_cnc_t *cnc);
SHOAL_API int64_t shoal_cnc_driver_timeout_ns(shoal_cnc_t *cnc);
/* Unmaps and frees; NULL is accepted (returns 0). */
SHOAL_API int shoal_cnc_close(shoal_cnc_t *cnc);

/* Counter type ids passed to shoal_cnc_counter_fn (the values Aeron uses). */
#define SHOAL_COUNTER_TYPE_SYSTEM              0
#define SHOAL_COUNTER_TYPE_PUBLISHER_LIMIT     1
#define SHOAL_COUNTER_TYPE_PUBLISHER_POSITION  2
#define SHOAL_COUNTER_TYPE_RECEIVER_HWM        3
#define SHOAL_COUNTER_TYPE_SUBSCRIBER_POSITION 4
#define SHOAL_COUNTER_TYPE_RECEIVER_POSITION   5
#define SHOAL_COUNTER_TYPE_SEND_CHANNEL        6
#define SHOAL_COUNTER_TYPE_RECEIVE_CHANNEL     7
#define SHOAL_COUNTER_TYPE_SENDER_LIMIT        9
#define SHOAL_COUNTER_TYPE_CLIENT_HEARTBEAT    11
#define SHOAL_COUNTER_TYPE_SENDER_POSITION     12
#define SHOAL_COUNTER_TYPE_SENDER_BPE          13

#ifdef __cplusplus
}
#endif

#endif /* SHOAL_H */
