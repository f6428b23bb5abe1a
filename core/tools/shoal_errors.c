/*
 * shoal-errors: prints a driver's distinct errors (count, first and last
 * time, code, text) from the CnC error log, through the public monitoring
 * API (shoal_cnc_errors_foreach).
 *   shoal-errors [-d dir] [--json]
 */
#include <stdio.h>
#include <string.h>

#include "shoal/shoal.h"
#include "tool_cnc_list.h"
#include "tool_json.h"
#include "tool_text.h"

static void on_error(void *clientd, int32_t observation_count, int64_t first_ms, int64_t last_ms, int32_t error_code,
    const char *text, size_t text_length)
{
    tool_list_out_t *o = clientd;
    tool_time_span_t span = tool_time_span(first_ms, last_ms);
    if (o->json)
    {
        printf("%s\n  {\"count\": %d, \"first\": \"%s\", \"last\": \"%s\", \"code\": %d, \"message\": ",
            o->count ? "," : "", observation_count, span.first, span.last, error_code);
        tool_json_string(text, text_length);
        putchar('}');
    }
    else
    {
        printf("%d observations from %s to %s, code %d:\n    ", observation_count, span.first, span.last, error_code);
        tool_text(text, text_length);
        putchar('\n');
    }
    o->count++;
}

static int list(shoal_cnc_t *cnc, tool_list_out_t *out)
{
    return shoal_cnc_errors_foreach(cnc, on_error, out);
}

int main(int argc, char **argv)
{
    return tool_list_main(argc, argv, "shoal-errors", "Prints the driver's distinct errors with counts.", "errors",
        "distinct errors", list);
}
