/*
 * Waiting without spinning: a subscriber sleeps until one of its images has
 * a message, a back-pressured publisher until its limit moves. Both sleep on
 * futex words in the logs' metadata pages (protocol in shoal_log_waiters.h),
 * so no CPU is used while idle and the writer's commit wakes the sleeper.
 *
 * A subscription wait sleeps on every image's word at once (futex_waitv)
 * plus the subscription's own private word, which the conductor bumps when
 * the image list changes and close bumps to end the wait. Each sleep is
 * still bounded (SHOAL_WAIT_RECHECK_NS) so a writer that cannot wake us (a
 * library from before these words, a process the kernel cannot fence) costs
 * latency, never a hang; SHOAL_WAIT_UNFENCED_RECHECK_NS when we know of one.
 */
#include <errno.h>
#include <sched.h>
#include <time.h>

#include "client/shoal_client.h"
#include "concurrent/shoal_atomic.h"
#include "concurrent/shoal_futex.h"
#include "logbuffer/shoal_log_waiters.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"

#define SHOAL_WAIT_RECHECK_NS          100000000LL /* 100 ms */
#define SHOAL_WAIT_UNFENCED_RECHECK_NS 1000000LL   /* 1 ms */
/* A publication's limit: a driver older than the publisher wait never wakes. */
#define SHOAL_WAIT_LIMIT_RECHECK_NS 10000000LL /* 10 ms */
/* A claimed frame at the subscriber's position is committed in microseconds:
 * spin a little, then yield, then sleep up to this long between looks. */
#define SHOAL_WAIT_CLAIM_SPINS        200
#define SHOAL_WAIT_CLAIM_YIELDS       200
#define SHOAL_WAIT_CLAIM_MAX_SLEEP_NS 1000000LL

static int64_t recheck_ns = SHOAL_WAIT_RECHECK_NS;

void shoal_wait_set_recheck_ns(int64_t ns)
{
    shoal_store_relaxed(&recheck_ns, ns);
}

typedef enum wait_state_en
{
    WAIT_NOTHING = 0,
    WAIT_DATA = 1,   /* a committed frame (or padding) at some image's position */
    WAIT_CLAIMED = 2 /* a claimed frame, not committed yet */
} wait_state_t;

static int64_t deadline_after(int64_t timeout_ns)
{
    if (timeout_ns < 0)
    {
        return INT64_MAX;
    }
    const int64_t now = shoal_nano_time();
    return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };
    nanosleep(&ts, NULL);
}

/* What the frame at the image's position says; for a fragmented message
 * whose fragments are not all there yet (the poll stops before it), the
 * first missing fragment. The polling thread's own state: a wait runs on
 * the polling thread. */
static wait_state_t image_state(const shoal_image_t *image)
{
    const int64_t position = image->position;
    int32_t term_offset = (int32_t)(position & (image->term_length - 1));
    if (image->assembly.scanning && image->assembly.scan_begin_position == position)
    {
        term_offset = image->assembly.scan_offset;
    }
    const size_t index = shoal_logbuffer_index_by_position(position, image->position_bits_to_shift);
    const int32_t frame_length = shoal_load_acquire((const int32_t *)(image->terms[index] + term_offset));
    return frame_length > 0 ? WAIT_DATA : (frame_length < 0 ? WAIT_CLAIMED : WAIT_NOTHING);
}

static wait_state_t list_state(const shoal_image_list_t *list)
{
    wait_state_t state = WAIT_NOTHING;
    for (int32_t i = 0; NULL != list && i < list->count; i++)
    {
        wait_state_t s = image_state(list->images[i]);
        if (WAIT_DATA == s)
        {
            return WAIT_DATA;
        }
        state = WAIT_CLAIMED == s ? s : state;
    }
    return state;
}

static bool subscription_closed(const shoal_subscription_t *s)
{
    return 0 != __atomic_load_n(&s->closing, __ATOMIC_SEQ_CST) || 0 != shoal_load_acquire(s->client_closed);
}

/* One sleep on every image of list and on s's own word (wake: its value
 * read before the list was loaded). WAIT_DATA if the re-check after
 * registering found some: no sleep then. */
static wait_state_t sleep_on_images(shoal_subscription_t *s, const shoal_image_list_t *list, int32_t wake, int64_t now,
    int64_t deadline)
{
    shoal_futex_word_t words[SHOAL_FUTEX_WAIT_ANY_MAX];
    int32_t count = NULL == list ? 0 : list->count;
    bool bounded = false;
    if (count > SHOAL_FUTEX_WAIT_ANY_MAX - 1)
    {
        count = SHOAL_FUTEX_WAIT_ANY_MAX - 1;
        bounded = true; /* the images beyond are looked at every recheck */
    }
    words[0] = (shoal_futex_word_t){ &s->wake_word, wake, false };
    for (int32_t i = 0; i < count; i++)
    {
        shoal_logbuffer_metadata_t *meta = list->images[i]->meta;
        /* The sequence first, then the flag: a writer that clears our flag
         * bumps the sequence after we read it (shoal_log_waiters.h). */
        words[i + 1] = (shoal_futex_word_t){ &meta->subscriber_wake_seq,
            __atomic_load_n(&meta->subscriber_wake_seq, __ATOMIC_SEQ_CST), true };
        if (0 == shoal_load_relaxed(&meta->subscriber_waiting))
        {
            __atomic_store_n(&meta->subscriber_waiting, 1, __ATOMIC_SEQ_CST);
        }
        bounded |= 0 != shoal_load_relaxed(&meta->unfenced_writers);
    }
    if (count > 0)
    {
        /* The writers' half of the StoreLoad fence (shoal_futex.h). */
        bounded |= !shoal_membarrier_global();
        shoal_store_load_fence();
        wait_state_t state = list_state(list);
        if (WAIT_NOTHING != state)
        {
            return state;
        }
    }
    const int64_t recheck = bounded ? SHOAL_WAIT_UNFENCED_RECHECK_NS : shoal_load_relaxed(&recheck_ns);
    shoal_futex_wait_any(words, count + 1, deadline - now > recheck ? now + recheck : deadline);
    return WAIT_NOTHING;
}

int shoal_subscription_wait(shoal_subscription_t *s, int64_t timeout_ns)
{
    if (NULL == s)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_subscription_wait: sub must not be NULL");
    }
    const int64_t deadline = deadline_after(timeout_ns);
    int claimed_rounds = 0;
    int rc;
    /* Counted before close is looked at: close sets closing, then waits
     * for waiting to drop (seq_cst on both sides). */
    __atomic_fetch_add(&s->waiting, 1, __ATOMIC_SEQ_CST);
    for (;;)
    {
        /* Read before everything it guards: a bump after this read (new
         * list, close) makes the futex sleep return at once. */
        const int32_t wake = __atomic_load_n(&s->wake_word, __ATOMIC_SEQ_CST);
        if (subscription_closed(s))
        {
            rc = shoal_set_err(SHOAL_ECLOSED, "shoal_subscription_wait: subscription or its client is closed");
            break;
        }
        const shoal_image_list_t *list = shoal_subscription_load_images(s, false);
        wait_state_t state = list_state(list);
        const int64_t now = shoal_nano_time();
        if (WAIT_DATA == state)
        {
            rc = 1;
            break;
        }
        if (0 == timeout_ns || now >= deadline)
        {
            rc = 0;
            break;
        }
        if (WAIT_NOTHING == state)
        {
            claimed_rounds = 0;
            state = sleep_on_images(s, list, wake, now, deadline);
        }
        if (WAIT_CLAIMED == state)
        {
            /* Its writer already looked for sleepers: wait for the commit. */
            claimed_rounds++;
            if (claimed_rounds < SHOAL_WAIT_CLAIM_SPINS)
            {
                shoal_cpu_pause();
            }
            else if (claimed_rounds < SHOAL_WAIT_CLAIM_SPINS + SHOAL_WAIT_CLAIM_YIELDS)
            {
                sched_yield();
            }
            else
            {
                const int64_t left = deadline - now;
                sleep_ns(left < SHOAL_WAIT_CLAIM_MAX_SLEEP_NS ? left : SHOAL_WAIT_CLAIM_MAX_SLEEP_NS);
            }
        }
    }
    __atomic_fetch_sub(&s->waiting, 1, __ATOMIC_SEQ_CST);
    return rc;
}

void shoal_subscription_wake_waiters(shoal_subscription_t *s)
{
    __atomic_fetch_add(&s->wake_word, 1, __ATOMIC_SEQ_CST);
    if (0 != __atomic_load_n(&s->waiting, __ATOMIC_SEQ_CST))
    {
        shoal_futex_wake_all(&s->wake_word, false);
    }
}

/* Until the waits counted in *waiting have left (they return within a
 * wake-up: their words were bumped after closing was set). */
static void await_no_waiters(const int32_t *waiting)
{
    while (0 != __atomic_load_n(waiting, __ATOMIC_SEQ_CST))
    {
        sleep_ns(10000);
    }
}

void shoal_subscription_stop_waiters(shoal_subscription_t *s)
{
    __atomic_store_n(&s->closing, 1, __ATOMIC_SEQ_CST);
    shoal_subscription_wake_waiters(s);
    await_no_waiters(&s->waiting);
}

/* ---- back-pressured publishers ---- */

static int64_t publication_position(const shoal_publication_t *p)
{
    if (p->exclusive)
    {
        return p->term_begin_position + p->term_offset;
    }
    const int64_t raw_tail = shoal_logbuffer_active_raw_tail(p->meta);
    return shoal_logbuffer_compute_term_begin_position(shoal_logbuffer_term_id(raw_tail), p->position_bits_to_shift,
               p->initial_term_id) +
        shoal_logbuffer_term_offset(raw_tail, p->term_length);
}

static bool publication_available(const shoal_publication_t *p)
{
    return publication_position(p) < __atomic_load_n(p->position_limit, __ATOMIC_SEQ_CST);
}

int shoal_publication_wait_available(shoal_publication_t *p, int64_t timeout_ns)
{
    if (NULL == p)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_publication_wait_available: pub must not be NULL");
    }
    const int64_t deadline = deadline_after(timeout_ns);
    shoal_logbuffer_metadata_t *meta = p->meta;
    int rc;
    __atomic_fetch_add(&p->waiting, 1, __ATOMIC_SEQ_CST);
    for (;;)
    {
        const int32_t seq = __atomic_load_n(&meta->publisher_wake_seq, __ATOMIC_SEQ_CST);
        if (0 != __atomic_load_n(&p->closed, __ATOMIC_SEQ_CST))
        {
            rc = shoal_set_err(SHOAL_ECLOSED, "shoal_publication_wait_available: publication or its client is closed");
            break;
        }
        if (publication_available(p))
        {
            rc = 1;
            break;
        }
        const int64_t now = shoal_nano_time();
        if (0 == timeout_ns || now >= deadline)
        {
            rc = 0;
            break;
        }
        __atomic_store_n(&meta->publisher_waiting, 1, __ATOMIC_SEQ_CST);
        shoal_store_load_fence();
        if (publication_available(p))
        {
            rc = 1;
            break;
        }
        const shoal_futex_word_t word = { &meta->publisher_wake_seq, seq, true };
        shoal_futex_wait_any(&word, 1,
            deadline - now > SHOAL_WAIT_LIMIT_RECHECK_NS ? now + SHOAL_WAIT_LIMIT_RECHECK_NS : deadline);
    }
    __atomic_fetch_sub(&p->waiting, 1, __ATOMIC_SEQ_CST);
    return rc;
}

void shoal_publication_wake_waiters(shoal_publication_t *p)
{
    if (0 != __atomic_load_n(&p->waiting, __ATOMIC_SEQ_CST))
    {
        /* Other processes' publishers on this log wake too, and re-check. */
        __atomic_fetch_add(&p->meta->publisher_wake_seq, 1, __ATOMIC_SEQ_CST);
        shoal_futex_wake_all(&p->meta->publisher_wake_seq, true);
    }
}

void shoal_publication_stop_waiters(shoal_publication_t *p)
{
    __atomic_store_n(&p->closed, 1, __ATOMIC_SEQ_CST);
    shoal_publication_wake_waiters(p);
    await_no_waiters(&p->waiting);
}
