/*
 * Driver -> client broadcasts as the client conductor decodes them
 * (client/shoal_client_conductor.c): responses matched to the request in
 * flight, image available/unavailable events, client timeouts. The
 * broadcast buffer sits in the CnC file, writable by every local process of
 * the driver's user, so the client must take nothing in it on trust.
 *
 * The decoder is static; this file includes the conductor's source to reach
 * it (the library's copy of that object is then never linked: every symbol
 * it defines is defined here). Messages go through a real broadcast
 * transmitter and receiver into a client with one subscription
 * (registration id 100) and a request in flight (correlation id 7).
 * Image log files are looked up by plain file name in the harness's own
 * directory, where fuzz.log is a valid 64 KiB-term log (shoal_log_buffer_map is
 * wrapped to refuse any path with a '/').
 *
 * Input: records of <u8 type selector><u16 length><payload>.
 */
#include "../../core/src/client/shoal_client_conductor.c"

#include <sys/stat.h>
#include <unistd.h>

#include "concurrent/shoal_broadcast_transmitter.h"

#include "fuzz_support.h"
#include "util/shoal_array.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int __real_shoal_log_buffer_map(shoal_log_buffer_t *log, const char *path);
int __wrap_shoal_log_buffer_map(shoal_log_buffer_t *log, const char *path);

#define TERM_LENGTH        (64 * 1024)
#define BROADCAST_CAPACITY (64 * 1024)
#define COUNTERS           8

static const int32_t TYPES[] = {
    SHOAL_RSP_ON_ERROR,
    SHOAL_RSP_ON_PUBLICATION_READY,
    SHOAL_RSP_ON_OPERATION_SUCCESS,
    SHOAL_RSP_ON_AVAILABLE_IMAGE,
    SHOAL_RSP_ON_UNAVAILABLE_IMAGE,
    SHOAL_RSP_ON_EXCLUSIVE_PUBLICATION_READY,
    SHOAL_RSP_ON_SUBSCRIPTION_READY,
    SHOAL_RSP_ON_CLIENT_TIMEOUT,
};

static char dir[256];
static shoal_context_t *ctx;
static shoal_client_t *client;
static shoal_subscription_t *subscription;
static shoal_cnc_metadata_t cnc_meta;
static uint8_t *counters_values;
static uint8_t *broadcast;

int __wrap_shoal_log_buffer_map(shoal_log_buffer_t *log, const char *path)
{
    if (NULL != strchr(path, '/') || 0 == strcmp(path, ".") || 0 == strcmp(path, ".."))
    {
        return shoal_set_err(SHOAL_EIO, "fuzz: log file outside the harness directory refused");
    }
    return __real_shoal_log_buffer_map(log, path);
}

static void cleanup(void)
{
    unlink("fuzz.log");
    rmdir(dir);
}

static void on_error(void *clientd, int code, const char *message)
{
    (void)clientd;
    (void)code;
    (void)strlen(message);
}

static void set_up(void)
{
    fuzz_scratch_dir(dir, sizeof(dir), "client");
    mkdir(dir, 0700);
    if (0 != chdir(dir))
    {
        abort();
    }
    atexit(cleanup);
    size_t log_length = (size_t)shoal_logbuffer_compute_log_length(TERM_LENGTH);
    uint8_t *log = calloc(1, log_length);
    shoal_logbuffer_metadata_t *m = shoal_logbuffer_metadata(log, TERM_LENGTH);
    m->term_length = TERM_LENGTH;
    m->mtu_length = 1408;
    m->page_size = 4096;
    FILE *f = fopen("fuzz.log", "wb");
    if (NULL == f || 1 != fwrite(log, log_length, 1, f))
    {
        abort();
    }
    fclose(f);
    free(log);

    if (shoal_context_init(&ctx) < 0)
    {
        abort();
    }
    ctx->error_handler = on_error;
    ctx->publication_linger_ms = 0;
    client = calloc(1, sizeof(*client));
    client->ctx = ctx;
    counters_values = aligned_alloc(SHOAL_COUNTER_VALUE_LENGTH, COUNTERS * SHOAL_COUNTER_VALUE_LENGTH);
    memset(counters_values, 0, COUNTERS * SHOAL_COUNTER_VALUE_LENGTH);
    cnc_meta.counters_values_buffer_length = COUNTERS * SHOAL_COUNTER_VALUE_LENGTH;
    cnc_meta.counters_metadata_buffer_length = COUNTERS * SHOAL_COUNTER_METADATA_LENGTH;
    client->cnc.meta = &cnc_meta;
    client->cnc.counters_values = counters_values;
    pthread_mutex_init(&client->lock, NULL);
    pthread_mutex_init(&client->api_lock, NULL);
    pthread_cond_init(&client->cond, NULL);
    subscription = calloc(1, sizeof(*subscription));
    subscription->registration_id = 100;
    subscription->stream_id = 1001;
    subscription->client = client;
    subscription->client_closed = &client->closed;
    if (shoal_pointer_list_add((void **)&client->subscriptions, &client->subscriptions_count,
            &client->subscriptions_capacity, subscription) < 0)
    {
        abort();
    }
    broadcast = aligned_alloc(64, BROADCAST_CAPACITY + SHOAL_BROADCAST_TRAILER_LENGTH);
}

/* Everything the input created goes, so each input starts from the same state. */
static void tear_down(void)
{
    shoal_image_list_t *list = subscription->images;
    if (NULL != list)
    {
        for (int32_t i = 0; i < list->count; i++)
        {
            shoal_image_delete(list->images[i]);
        }
        free(list);
        subscription->images = NULL;
    }
    shoal_client_free_lingering(client, true, NULL);
    shoal_client_release_pre_touch(client);
    client->closed = 0;
    client->pending_state = 0;
    client->pending_length = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (NULL == client)
    {
        set_up();
    }
    memset(broadcast, 0, BROADCAST_CAPACITY + SHOAL_BROADCAST_TRAILER_LENGTH);
    shoal_broadcast_transmitter_t tx;
    shoal_broadcast_receiver_t *rx = &client->to_clients;
    if (shoal_broadcast_transmitter_init(&tx, broadcast, BROADCAST_CAPACITY + SHOAL_BROADCAST_TRAILER_LENGTH) < 0 ||
        shoal_broadcast_receiver_init(rx, broadcast, BROADCAST_CAPACITY + SHOAL_BROADCAST_TRAILER_LENGTH) < 0)
    {
        abort();
    }
    client->pending_correlation_id = 7;

    fuzz_record_t r;
    for (size_t at = 0; fuzz_next_record(data, size, &at, &r);)
    {
        int32_t type = r.selector < 0xF0 ? TYPES[r.selector % (sizeof(TYPES) / sizeof(TYPES[0]))] : (int32_t)r.selector;
        if (shoal_broadcast_transmitter_transmit(&tx, type, r.body, r.length) == 0)
        {
            pthread_mutex_lock(&client->lock);
            (void)shoal_broadcast_receiver_receive(rx, on_broadcast, client);
            (void)pre_touch_images(client); /* a slice of the new images' logs, as the duty does */
            pthread_mutex_unlock(&client->lock);
        }
    }
    shoal_broadcast_receiver_close(rx);
    tear_down();
    return 0;
}
