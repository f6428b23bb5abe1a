#include "logbuffer/shoal_term_gap_scanner.h"

int32_t shoal_term_scan_for_gap(const uint8_t *term, int32_t from, int32_t limit)
{
    int32_t offset = from;
    while (offset < limit)
    {
        const int32_t frame_length = shoal_load_acquire((const int32_t *)(term + offset));
        if (frame_length <= 0)
        {
            break;
        }
        if (frame_length > limit - offset)
        {
            return limit; /* reaches the limit (also keeps a corrupt length from overflowing) */
        }
        offset += SHOAL_ALIGN(frame_length, SHOAL_FRAME_ALIGNMENT);
    }
    return offset < limit ? offset : limit;
}
