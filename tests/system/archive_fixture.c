/*
 * Makes an archive directory for the shoal-archive system test, without a
 * driver: recording 0 of `messages` messages, closed cleanly; recording 1
 * left active by a process that exits without closing (as a crash) after
 * writing whole messages, two committed fragments of an unfinished one and a
 * block not committed. Prints the stop position of recording 0, then the end
 * of recording 1's last whole message and how many whole messages it has.
 *
 *   archive_fixture DIR [messages]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../c/archive/archive_test_util.h"

#define TERM    LB_TERM_LENGTH
#define SEGMENT LB_SEGMENT_LENGTH
#define MTU     LB_MTU

static int64_t record(shoal_archive_catalog_t *cat, int64_t messages, bool close_it)
{
    shoal_recording_descriptor_t d = archive_test_descriptor(0, TERM, SEGMENT, MTU);
    shoal_recording_writer_t *w;
    log_builder_t lb;
    const int64_t id = lb_start_recording(cat, &d, SHOAL_ARCHIVE_FSYNC_NONE, &w, &lb);
    if (id < 0)
    {
        fprintf(stderr, "archive_fixture: %s\n", shoal_errmsg());
        exit(1);
    }
    for (int64_t seq = 0; seq < messages; seq++)
    {
        if (lb_append(&lb, seq, lb_length_of(seq, MTU)) < 0)
        {
            fprintf(stderr, "archive_fixture: %s\n", shoal_errmsg());
            exit(1);
        }
    }
    lb_flush(&lb);
    const int64_t end = lb.position;
    if (close_it)
    {
        shoal_recording_writer_close(w);
        lb_free(&lb);
        return end;
    }
    /* Message 45 + 7k is fragmented (lb_length_of): commit two of its frames. */
    int64_t seq = messages;
    while (seq % 7 != 3)
    {
        lb_append(&lb, seq, lb_length_of(seq, MTU));
        seq++;
    }
    lb_flush(&lb);
    const int64_t whole = lb.position;
    lb_append(&lb, seq, lb_length_of(seq, MTU));
    const int64_t chain_end = lb.position;
    lb.max_block = 1;
    lb.position = whole + 2 * MTU;
    lb_flush(&lb);
    lb.position = chain_end;
    lb_append(&lb, seq + 1, 100);
    char path[PATH_MAX];
    shoal_segment_file_name(path, sizeof(path), shoal_archive_catalog_dir(cat), id,
        shoal_segment_base(0, lb.flushed, TERM, SEGMENT));
    FILE *f = fopen(path, "r+b");
    uint8_t *tail = lb.term + (lb.flushed - lb.term_base);
    memset(tail, 0, 4); /* written, never committed */
    fseek(f, (long)(lb.flushed - shoal_segment_base(0, lb.flushed, TERM, SEGMENT)), SEEK_SET);
    fwrite(tail, 1, (size_t)(lb.position - lb.flushed), f);
    fclose(f);
    printf("%lld %lld\n", (long long)whole, (long long)seq);
    fflush(stdout);
    _exit(0); /* no close: as a crash */
}

int main(int argc, char **argv)
{
    if (argc < 2)
    {
        fprintf(stderr, "usage: archive_fixture DIR [messages]\n");
        return 2;
    }
    const int64_t messages = argc > 2 ? atoll(argv[2]) : 500;
    shoal_archive_catalog_t *cat;
    if (shoal_archive_catalog_open(&cat, argv[1], SHOAL_ARCHIVE_FSYNC_NONE) < 0)
    {
        fprintf(stderr, "archive_fixture: %s\n", shoal_errmsg());
        return 1;
    }
    printf("%lld\n", (long long)record(cat, messages, true));
    fflush(stdout);
    record(cat, messages, false);
    return 0;
}
