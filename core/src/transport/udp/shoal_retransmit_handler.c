#include "transport/udp/shoal_retransmit_handler.h"

#include <string.h>

void shoal_retransmit_handler_init(shoal_retransmit_handler_t *h, int64_t linger_ns)
{
    memset(h, 0, sizeof(*h));
    h->linger_ns = linger_ns;
}

bool shoal_retransmit_handler_on_nak(shoal_retransmit_handler_t *h, int32_t term_id, int32_t term_offset,
    int64_t now_ns)
{
    for (int32_t i = 0; i < h->count; i++)
    {
        shoal_retransmit_entry_t *e = &h->entries[i];
        if (e->term_id == term_id && e->term_offset == term_offset)
        {
            if (now_ns < e->expiry_ns)
            {
                return false;
            }
            e->expiry_ns = now_ns + h->linger_ns;
            return true;
        }
    }
    if (h->count == SHOAL_RETRANSMIT_MAX)
    {
        shoal_retransmit_handler_process_timeouts(h, now_ns);
        if (h->count == SHOAL_RETRANSMIT_MAX)
        {
            return false;
        }
    }
    shoal_retransmit_entry_t *e = &h->entries[h->count++];
    e->term_id = term_id;
    e->term_offset = term_offset;
    e->expiry_ns = now_ns + h->linger_ns;
    return true;
}

int shoal_retransmit_handler_process_timeouts(shoal_retransmit_handler_t *h, int64_t now_ns)
{
    int expired = 0;
    for (int32_t i = h->count - 1; i >= 0; i--)
    {
        if (now_ns >= h->entries[i].expiry_ns)
        {
            h->entries[i] = h->entries[--h->count];
            expired++;
        }
    }
    return expired;
}
