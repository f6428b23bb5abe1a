/*
 * Loss detection of one image (receiver duty): finds the gaps between the
 * rebuild position (end of the contiguous frames) and the high-water mark,
 * keeps a table of them, and says when each is to be NAKed (reliable) or
 * padded over (reliable=false), through the handlers its image gives.
 *
 * Timing. A gap seen for the first time is NAKed at once; again after the
 * retry delay: the largest of NAK_RETRY_DELAY, 2 RTT and the repair timeout
 * (smoothed NAK-to-repair time + its mean deviation, estimated as TCP's RTO
 * is, and sampled only from gaps repaired after one NAK, Karn's rule): a
 * busy or parked sender takes longer to answer than the wire RTT says, and
 * a retry before its answer could arrive only doubles the traffic. Retries
 * after the first wait twice the delay; neither beyond
 * SHOAL_LOSS_MAX_RETRY_FLOORS x NAK_RETRY_DELAY, so a gap cannot wait long
 * enough for fc=max to leave its receiver behind. A gap the repair has
 * partly filled keeps its timer. With reliable=false a gap older than the
 * retry delay is padded over instead. The RTT used is the minimum of the
 * last SHOAL_LOSS_RTT_SAMPLES samples.
 *
 * Gaps are runs of zero length words at frame boundaries; the scan uses the
 * gap scanner (logbuffer/shoal_term_gap_scanner.h) and never writes the log
 * itself (fill_gap does, in the image).
 */
#ifndef SHOAL_LOSS_DETECTOR_H
#define SHOAL_LOSS_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "logbuffer/shoal_log_buffer.h"

#define SHOAL_LOSS_MAX_GAPS    64
#define SHOAL_LOSS_RTT_SAMPLES 8
/* Scans after frames arrived are at least this far apart. */
#define SHOAL_LOSS_SCAN_INTERVAL_NS (50 * 1000LL)
/*
 * Longest the repair timeout and the doubled retries may make a retry wait,
 * in multiples of NAK_RETRY_DELAY: while a gap waits, the rest of the stream
 * arrives behind it, and with fc=max a receiver that falls a term buffer
 * behind can never be repaired. A 100 ms cap let that happen under load
 * (netns test, 5 % loss, fc=max); 4 floors keeps the storms away (measured
 * repairs on a loaded box: 2-6 ms) with a bounded worst case.
 */
#define SHOAL_LOSS_MAX_RETRY_FLOORS 4

typedef struct shoal_loss_gap_stct
{
    int32_t term_id;
    int32_t term_offset;
    int32_t length;
    int32_t naks; /* NAKs sent for it */
    int64_t first_seen_ns;
    int64_t first_nak_ns;
    int64_t retry_at_ns;
    bool seen; /* still a gap in the latest scan */
} shoal_loss_gap_t;

/* What the image does about a gap (all on the receiver duty). */
typedef struct shoal_loss_handlers_stct
{
    void (*on_new_gap)(void *clientd, int32_t length);
    void (*send_nak)(void *clientd, int32_t term_id, int32_t term_offset, int32_t length);
    void (*fill_gap)(void *clientd, uint8_t *term, int32_t term_id, int32_t term_offset, int32_t length);
    void *clientd;
} shoal_loss_handlers_t;

typedef struct shoal_loss_detector_stct
{
    bool reliable;
    int64_t nak_retry_delay_ns;
    shoal_loss_handlers_t handlers;
    bool inserted_since_scan; /* set by the image when frames went in */
    int64_t time_of_last_scan_ns;
    int64_t next_retry_ns;
    int32_t gap_count;
    shoal_loss_gap_t gaps[SHOAL_LOSS_MAX_GAPS];
    int64_t rtt_ns; /* min of the last SHOAL_LOSS_RTT_SAMPLES */
    int64_t rtt_samples[SHOAL_LOSS_RTT_SAMPLES];
    int32_t rtt_sample_count;
    int64_t repair_srtt_ns; /* smoothed NAK-to-repair time; 0: no sample yet */
    int64_t repair_rttvar_ns;
} shoal_loss_detector_t;

void shoal_loss_detector_init(shoal_loss_detector_t *d, bool reliable, int64_t nak_retry_delay_ns,
    const shoal_loss_handlers_t *handlers);

/* One receiver cycle: scans [rebuild, hwm) when frames arrived (at most
 * every SHOAL_LOSS_SCAN_INTERVAL_NS), a retry is due, or no gap is known;
 * forgets every gap once nothing is missing. Returns the NAKs and fills done. */
int shoal_loss_detector_do_work(shoal_loss_detector_t *d, const shoal_log_buffer_t *log, int64_t rebuild_position,
    int64_t hwm_position, int64_t now_ns);

/* Walks [rebuild, hwm) once (see the top of this file). */
int shoal_loss_detector_scan(shoal_loss_detector_t *d, const shoal_log_buffer_t *log, int64_t rebuild_position,
    int64_t hwm_position, int64_t now_ns);

/* An RTT measured by the image (RTTM reply): the minimum of the recent
 * samples is used, as queueing in busy or parked drivers inflates single
 * ones and a retry timer built on an inflated RTT stalls recovery. */
void shoal_loss_detector_on_rtt_sample(shoal_loss_detector_t *d, int64_t rtt_ns);

/* The delay before a gap is NAKed again (or padded, unreliable). */
int64_t shoal_loss_detector_retry_delay(const shoal_loss_detector_t *d);

#endif
