#include "transport/udp/shoal_loss_detector.h"

#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_term_gap_scanner.h"

void shoal_loss_detector_init(shoal_loss_detector_t *d, bool reliable, int64_t nak_retry_delay_ns,
    const shoal_loss_handlers_t *handlers)
{
    memset(d, 0, sizeof(*d));
    d->reliable = reliable;
    d->nak_retry_delay_ns = nak_retry_delay_ns;
    d->handlers = *handlers;
}

void shoal_loss_detector_on_rtt_sample(shoal_loss_detector_t *d, int64_t rtt_ns)
{
    d->rtt_samples[d->rtt_sample_count++ % SHOAL_LOSS_RTT_SAMPLES] = rtt_ns;
    int32_t n = d->rtt_sample_count < SHOAL_LOSS_RTT_SAMPLES ? d->rtt_sample_count : SHOAL_LOSS_RTT_SAMPLES;
    int64_t min = INT64_MAX;
    for (int32_t i = 0; i < n; i++)
    {
        min = d->rtt_samples[i] < min ? d->rtt_samples[i] : min;
    }
    d->rtt_ns = min;
}

/*
 * The known gap at term_offset, or the one not yet seen in this scan whose
 * range holds term_offset: a repair arriving in pieces leaves the rest of
 * the same gap, already asked for, which must not be NAKed again at once.
 */
static shoal_loss_gap_t *find_gap(shoal_loss_detector_t *d, int32_t term_id, int32_t term_offset)
{
    shoal_loss_gap_t *containing = NULL;
    for (int32_t i = 0; i < d->gap_count; i++)
    {
        shoal_loss_gap_t *gap = &d->gaps[i];
        if (gap->term_id != term_id)
        {
            continue;
        }
        if (gap->term_offset == term_offset)
        {
            return gap;
        }
        if (!gap->seen && NULL == containing && gap->term_offset < term_offset &&
            term_offset < gap->term_offset + gap->length)
        {
            containing = gap;
        }
    }
    return containing;
}

static int64_t retry_cap(const shoal_loss_detector_t *d, int64_t delay)
{
    const int64_t cap = SHOAL_LOSS_MAX_RETRY_FLOORS * d->nak_retry_delay_ns;
    return cap > delay ? cap : delay;
}

int64_t shoal_loss_detector_retry_delay(const shoal_loss_detector_t *d)
{
    int64_t delay = 2 * d->rtt_ns;
    delay = delay > d->nak_retry_delay_ns ? delay : d->nak_retry_delay_ns;
    if (d->repair_srtt_ns > 0)
    {
        /* One deviation, not TCP's four: a spurious NAK costs a control
         * frame here, while waiting too long stalls a stream whose repair
         * was lost; with four, 30 % loss on a loaded box took twice as long. */
        int64_t rto = d->repair_srtt_ns + d->repair_rttvar_ns;
        const int64_t cap = retry_cap(d, delay);
        rto = rto < cap ? rto : cap;
        delay = rto > delay ? rto : delay;
    }
    return delay;
}

/* When a gap NAKed `naks` times (>= 1) is asked for again. Retries after
 * the first wait twice the delay, within the cap: a sender stalled past the
 * timeout (descheduled, parked) gets a few NAKs per gap, not a storm.
 * Doubling further (TCP's backoff) measured slower under 30 % loss. */
static int64_t retry_interval(const shoal_loss_detector_t *d, int64_t delay, int32_t naks)
{
    if (naks <= 1)
    {
        return delay;
    }
    const int64_t cap = retry_cap(d, delay);
    return 2 * delay < cap ? 2 * delay : cap;
}

/* RFC 6298's estimator (gains 1/8 and 1/4) on the NAK-to-repair time. */
static void on_repair_sample(shoal_loss_detector_t *d, int64_t sample_ns)
{
    if (0 == d->repair_srtt_ns)
    {
        d->repair_srtt_ns = sample_ns > 0 ? sample_ns : 1;
        d->repair_rttvar_ns = sample_ns / 2;
        return;
    }
    int64_t error = sample_ns - d->repair_srtt_ns;
    d->repair_rttvar_ns += ((error < 0 ? -error : error) - d->repair_rttvar_ns) / 4;
    d->repair_srtt_ns += error / 8;
    if (d->repair_srtt_ns <= 0)
    {
        d->repair_srtt_ns = 1;
    }
}

/* A gap left the table: filled. Only one NAK means the sample is unambiguous. */
static void on_gap_gone(shoal_loss_detector_t *d, const shoal_loss_gap_t *gap, int64_t now_ns)
{
    if (1 == gap->naks)
    {
        on_repair_sample(d, now_ns - gap->first_nak_ns);
    }
}

/* NAKs or fills a gap whose time has come; returns the work done. */
static int act_on_gap(shoal_loss_detector_t *d, shoal_loss_gap_t *gap, uint8_t *term, int64_t delay, int64_t now_ns)
{
    if (d->reliable)
    {
        if (now_ns < gap->retry_at_ns)
        {
            return 0;
        }
        d->handlers.send_nak(d->handlers.clientd, gap->term_id, gap->term_offset, gap->length);
        if (0 == gap->naks++)
        {
            gap->first_nak_ns = now_ns;
        }
        gap->retry_at_ns = now_ns + retry_interval(d, delay, gap->naks);
        return 1;
    }
    if (now_ns - gap->first_seen_ns < delay)
    {
        return 0;
    }
    d->handlers.fill_gap(d->handlers.clientd, term, gap->term_id, gap->term_offset, gap->length);
    gap->seen = false;
    return 1;
}

int shoal_loss_detector_scan(shoal_loss_detector_t *d, const shoal_log_buffer_t *log, int64_t rebuild_position,
    int64_t hwm_position, int64_t now_ns)
{
    int work = 0;
    for (int32_t i = 0; i < d->gap_count; i++)
    {
        d->gaps[i].seen = false;
    }
    int64_t position = rebuild_position;
    int64_t delay = shoal_loss_detector_retry_delay(d);
    int64_t next_retry = INT64_MAX;
    while (position < hwm_position)
    {
        int32_t offset = (int32_t)(position & (log->term_length - 1));
        int64_t limit = (int64_t)offset + (hwm_position - position);
        int32_t term_limit = limit < log->term_length ? (int32_t)limit : log->term_length;
        uint8_t *term = log->terms[shoal_logbuffer_index_by_position(position, log->position_bits_to_shift)];
        int32_t term_id =
            shoal_logbuffer_compute_term_id_from_position(position, log->position_bits_to_shift, log->initial_term_id);
        int32_t gap_start = shoal_term_scan_for_gap(term, offset, term_limit);
        if (gap_start >= term_limit)
        {
            position += term_limit - offset;
            continue;
        }
        int32_t gap_end = shoal_term_gap_end(term, gap_start, term_limit);
        int32_t gap_length = gap_end - gap_start;
        shoal_loss_gap_t *gap = find_gap(d, term_id, gap_start);
        if (NULL == gap && d->gap_count < SHOAL_LOSS_MAX_GAPS)
        {
            gap = &d->gaps[d->gap_count++];
            gap->term_id = term_id;
            gap->naks = 0;
            gap->first_seen_ns = now_ns;
            gap->retry_at_ns = now_ns;
            d->handlers.on_new_gap(d->handlers.clientd, gap_length);
        }
        if (NULL != gap)
        {
            gap->term_offset = gap_start;
            gap->length = gap_length;
            gap->seen = true;
            work += act_on_gap(d, gap, term, delay, now_ns);
            if (gap->seen && gap->retry_at_ns < next_retry)
            {
                next_retry = gap->retry_at_ns;
            }
            if (!d->reliable && gap->seen && gap->first_seen_ns + delay < next_retry)
            {
                next_retry = gap->first_seen_ns + delay;
            }
        }
        position += gap_end - offset;
    }
    for (int32_t i = d->gap_count - 1; i >= 0; i--)
    {
        if (!d->gaps[i].seen)
        {
            on_gap_gone(d, &d->gaps[i], now_ns);
            d->gaps[i] = d->gaps[--d->gap_count];
        }
    }
    d->next_retry_ns = next_retry;
    d->inserted_since_scan = false;
    d->time_of_last_scan_ns = now_ns;
    return work;
}

int shoal_loss_detector_do_work(shoal_loss_detector_t *d, const shoal_log_buffer_t *log, int64_t rebuild_position,
    int64_t hwm_position, int64_t now_ns)
{
    if (hwm_position > rebuild_position &&
        ((d->inserted_since_scan && now_ns - d->time_of_last_scan_ns >= SHOAL_LOSS_SCAN_INTERVAL_NS) ||
            now_ns >= d->next_retry_ns || 0 == d->gap_count))
    {
        return shoal_loss_detector_scan(d, log, rebuild_position, hwm_position, now_ns);
    }
    if (hwm_position <= rebuild_position && d->gap_count > 0)
    {
        for (int32_t i = 0; i < d->gap_count; i++)
        {
            on_gap_gone(d, &d->gaps[i], now_ns);
        }
        d->gap_count = 0;
    }
    return 0;
}
