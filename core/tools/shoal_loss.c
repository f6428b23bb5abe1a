/*
 * shoal-loss: prints a driver's loss report (as Aeron's LossStat): one row
 * per image that saw a gap: how many gaps the receiver detected, the bytes
 * they spanned, first and last observation, session, stream, channel and
 * the sender's address. A gap counts when detected, whether or not a
 * retransmission filled it later. Public monitoring API only.
 *   shoal-loss [-d dir] [--json]
 */
#include <stdio.h>
#include <string.h>

#include "shoal/shoal.h"
#include "tool_cnc_list.h"
#include "tool_json.h"
#include "tool_text.h"

static void on_loss(void *clientd, int64_t observation_count, int64_t total_bytes_lost, int64_t first_ms,
    int64_t last_ms, int32_t session_id, int32_t stream_id, const char *channel, size_t channel_length,
    const char *source, size_t source_length);

static int list(shoal_cnc_t *cnc, tool_list_out_t *out)
{
    return shoal_cnc_loss_foreach(cnc, on_loss, out);
}

static void on_loss(void *clientd, int64_t observation_count, int64_t total_bytes_lost, int64_t first_ms,
    int64_t last_ms, int32_t session_id, int32_t stream_id, const char *channel, size_t channel_length,
    const char *source, size_t source_length)
{
    tool_list_out_t *o = clientd;
    tool_time_span_t span = tool_time_span(first_ms, last_ms);
    if (o->json)
    {
        printf("%s\n  {\"observations\": %lld, \"bytes_lost\": %lld, \"first\": \"%s\", \"last\": \"%s\", "
               "\"first_ms\": %lld, \"last_ms\": %lld, \"session_id\": %d, \"stream_id\": %d, \"channel\": ",
            o->count ? "," : "", (long long)observation_count, (long long)total_bytes_lost, span.first, span.last,
            (long long)first_ms, (long long)last_ms, session_id, stream_id);
        tool_json_string(channel, channel_length);
        printf(", \"source\": ");
        tool_json_string(source, source_length);
        putchar('}');
    }
    else
    {
        if (0 == o->count)
        {
            printf("%12s %14s  %-23s  %-23s %11s %9s  %s\n", "OBSERVATIONS", "TOTAL_BYTES", "FIRST_OBSERVATION",
                "LAST_OBSERVATION", "SESSION", "STREAM", "CHANNEL  SOURCE");
        }
        printf("%12lld %14lld  %s  %s %11d %9d  ", (long long)observation_count, (long long)total_bytes_lost,
            span.first, span.last, session_id, stream_id);
        tool_text(channel, channel_length);
        printf("  ");
        tool_text(source, source_length);
        putchar('\n');
    }
    o->count++;
}

int main(int argc, char **argv)
{
    return tool_list_main(argc, argv, "shoal-loss",
        "Prints the driver's loss report: per image (session, stream, channel, source) the gaps\n"
        "its receiver detected, the bytes they spanned, first and last time.",
        "loss", "loss report entries", list);
}
