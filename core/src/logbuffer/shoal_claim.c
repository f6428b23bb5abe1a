/*
 * Commit and abort of a frame claimed with shoal_*term_appender_claim. The
 * claim's frame header already holds -frame_length; commit publishes the
 * frame by storing the positive length with release, abort first turns it
 * into a PAD frame so readers skip it. The public shoal_claim_commit/abort
 * wrap these.
 */
#include <stdbool.h>
#include <stddef.h>

#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_logbuffer_tsan.h"
#include "logbuffer/shoal_term_appender.h"
#include "protocol/shoal_frames.h"
#include "util/shoal_error.h"

static int claim_check(const shoal_claim_t *claim)
{
    if (NULL == claim)
    {
        return shoal_set_err(SHOAL_EINVAL, "claim is NULL");
    }
    if (NULL == claim->frame_)
    {
        return shoal_set_err(SHOAL_ESTATE, "claim was already committed or aborted (or never claimed)");
    }
    return 0;
}

/* The claimed length as stored in the frame (negative while claimed), so a
 * caller editing claim->length cannot corrupt the log. 0 if the frame was
 * already committed, aborted, or padded by the driver's unblocker. */
static int32_t claimed_frame_length(shoal_data_header_t *hdr)
{
    int32_t frame_length = shoal_load_relaxed(&hdr->frame_header.frame_length);
    return frame_length < 0 ? -frame_length : 0;
}

static void claim_clear(shoal_claim_t *claim)
{
    claim->data = NULL;
    claim->length = 0;
    claim->frame_ = NULL;
}

/* Commits the claimed frame; as a PAD frame (readers step over it) to abort. */
static inline int claim_finish(shoal_claim_t *claim, bool as_padding)
{
    if (claim_check(claim) < 0)
    {
        return -1;
    }
    shoal_data_header_t *hdr = (shoal_data_header_t *)claim->frame_;
    const int32_t frame_length = claimed_frame_length(hdr);
    if (0 == frame_length)
    {
        claim_clear(claim);
        return shoal_set_err(SHOAL_ESTATE, "claimed frame is no longer pending (unblocked by the driver?)");
    }
    if (as_padding)
    {
        hdr->frame_header.type = SHOAL_HDR_TYPE_PAD;
    }
    shoal_logbuffer_frame_commit(hdr, frame_length);
    claim_clear(claim);
    return 0;
}

int shoal_term_claim_commit(shoal_claim_t *claim)
{
    return claim_finish(claim, false);
}

int shoal_term_claim_abort(shoal_claim_t *claim)
{
    return claim_finish(claim, true);
}
