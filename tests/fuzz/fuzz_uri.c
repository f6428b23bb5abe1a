/*
 * Channel URIs (util/shoal_uri.c): any text a user, a config file or a
 * remote tool may pass to add_publication/add_subscription. Properties:
 * parse never reads past the input or crashes; what parses prints in
 * canonical form, the canonical form parses again to the same value and
 * prints identically (the driver keys streams by that text).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/shoal_uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > SHOAL_URI_MAX_LENGTH + 16)
    {
        return -1;
    }
    /* Exactly size bytes plus a NUL, so ASan sees any read past the text. */
    char *text = malloc(size + 1);
    if (NULL == text)
    {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';

    shoal_uri_t uri;
    if (0 == shoal_uri_parse(text, &uri))
    {
        char printed[SHOAL_URI_PRINT_MAX_LENGTH];
        int n = shoal_uri_print(&uri, printed, sizeof(printed));
        if (n < 0)
        {
            abort(); /* SHOAL_URI_PRINT_MAX_LENGTH must fit any parsed URI */
        }
        shoal_uri_t again;
        if (0 == shoal_uri_parse(printed, &again))
        {
            char reprinted[SHOAL_URI_PRINT_MAX_LENGTH];
            int m = shoal_uri_print(&again, reprinted, sizeof(reprinted));
            if (m != n || 0 != memcmp(printed, reprinted, (size_t)n))
            {
                abort(); /* canonical form is not stable */
            }
        }
        else if ((size_t)n <= SHOAL_URI_MAX_LENGTH)
        {
            abort(); /* canonical form of a valid URI must parse */
        }
        /* A small buffer must fail cleanly, never overflow. */
        char small[16];
        (void)shoal_uri_print(&uri, small, sizeof(small));
    }
    free(text);
    return 0;
}
