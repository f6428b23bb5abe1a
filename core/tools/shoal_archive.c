/*
 * shoal-archive: look into an archive directory without a driver.
 *
 *   shoal-archive --archive-dir DIR [--json] list
 *   shoal-archive --archive-dir DIR [--json] describe ID
 *   shoal-archive --archive-dir DIR [--json] verify ID
 *   shoal-archive --archive-dir DIR [--json] migrate
 *
 * list and describe read the catalog (the public offline reader); verify
 * scans a recording's segments frame by frame and its time index; migrate
 * opens the catalog for writing (it must not be in use: an archive server
 * holds it), which recovers recordings a crash left active, and upgrades
 * records of older record versions. Exit status: 0, 1 when the archive
 * cannot be read or verify finds a problem, 2 for a bad command line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive/shoal_archive_catalog.h"
#include "archive/shoal_archive_format.h"
#include "archive/shoal_recording_scan.h"
#include "archive/shoal_segment_file.h"
#include "archive/shoal_time_index.h"
#include "shoal/shoal_archive.h"
#include "tool_json.h"

#define TOOL "shoal-archive"

static const char *usage_text = "usage: " TOOL " --archive-dir DIR [--json] list | describe ID | verify ID | migrate\n";

static void format_time(int64_t ns, char *buf, size_t len)
{
    if (ns < 0)
    {
        snprintf(buf, len, "-");
        return;
    }
    const time_t s = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&s, &tm);
    const size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%09dZ", (int)(ns % 1000000000LL));
}

static void json_field_string(const char *key, const char *value, bool comma)
{
    printf("\"%s\": ", key);
    tool_json_string(value, strlen(value));
    printf(comma ? ", " : "");
}

static void print_descriptor_json(const shoal_recording_descriptor_t *d)
{
    printf("{\"recording_id\": %" PRId64 ", \"start_position\": %" PRId64 ", \"stop_position\": %" PRId64
           ", \"start_timestamp_ns\": %" PRId64 ", \"stop_timestamp_ns\": %" PRId64
           ", \"initial_term_id\": %d, \"term_length\": %d, \"mtu\": %d, \"segment_length\": %d"
           ", \"session_id\": %d, \"stream_id\": %d, ",
        d->recording_id, d->start_position, d->stop_position, d->start_timestamp_ns, d->stop_timestamp_ns,
        d->initial_term_id, d->term_length, d->mtu, d->segment_length, d->session_id, d->stream_id);
    json_field_string("channel", d->channel, true);
    json_field_string("source_identity", d->source_identity, false);
    printf("}");
}

/* List rows, one per descriptor; clientd counts the rows printed. */
static void print_json_row(void *clientd, const shoal_recording_descriptor_t *d)
{
    int *rows = clientd;
    printf("%s\n  ", (*rows)++ > 0 ? "," : "");
    print_descriptor_json(d);
}

static void print_table_row(void *clientd, const shoal_recording_descriptor_t *d)
{
    int *rows = clientd;
    char start[64];
    format_time(d->start_timestamp_ns, start, sizeof(start));
    char stop[32];
    if (d->stop_position < 0)
    {
        snprintf(stop, sizeof(stop), "recording");
    }
    else
    {
        snprintf(stop, sizeof(stop), "%" PRId64, d->stop_position);
    }
    printf("%6" PRId64 " %14" PRId64 " %14s %11d %9d  %s  %s\n", d->recording_id, d->start_position, stop,
        d->session_id, d->stream_id, start, d->channel);
    (*rows)++;
}

static int cmd_list(shoal_archive_reader_t *r, bool json)
{
    int rows = 0;
    if (json)
    {
        printf("{\"recordings\": [");
    }
    else
    {
        printf("%6s %14s %14s %11s %9s  %-30s  %s\n", "id", "start", "stop", "session", "stream", "started (UTC)",
            "channel");
    }
    const int rc = shoal_archive_reader_list(r, 0, INT32_MAX, json ? print_json_row : print_table_row, &rows);
    if (json)
    {
        printf("\n]}\n");
    }
    else
    {
        printf("%d recordings\n", rows);
    }
    return rc < 0 ? -1 : 0;
}

/* The segment files of d that exist, in order: calls f for each. */
static int64_t segment_files(const char *dir, const shoal_recording_descriptor_t *d, bool json)
{
    int64_t count = 0;
    const int64_t first = shoal_segment_base(d->start_position, d->start_position, d->term_length, d->segment_length);
    for (int64_t base = first;; base += d->segment_length)
    {
        char path[PATH_MAX];
        struct stat st;
        if (shoal_segment_file_name(path, sizeof(path), dir, d->recording_id, base) < 0 || stat(path, &st) != 0)
        {
            break;
        }
        if (json)
        {
            printf("%s{\"base\": %" PRId64 ", \"bytes\": %lld, ", count > 0 ? ", " : "", base, (long long)st.st_size);
            json_field_string("file", path, false);
            printf("}");
        }
        else
        {
            printf("  segment %s (base %" PRId64 ", %lld bytes)\n", path, base, (long long)st.st_size);
        }
        count++;
    }
    return count;
}

static int cmd_describe(shoal_archive_reader_t *r, const char *dir, int64_t id, bool json)
{
    shoal_recording_descriptor_t d;
    if (shoal_archive_reader_describe(r, id, &d) < 0)
    {
        return -1;
    }
    shoal_time_index_reader_t index;
    const int64_t entries = shoal_time_index_reader_open(&index, dir, id) == 0 ? index.count : -1;
    shoal_time_index_reader_close(&index);
    if (json)
    {
        printf("{\"recording\": ");
        print_descriptor_json(&d);
        printf(", \"segments\": [");
        segment_files(dir, &d, true);
        printf("], \"time_index_entries\": %" PRId64 "}\n", entries);
        return 0;
    }
    char start[64];
    char stop[64];
    format_time(d.start_timestamp_ns, start, sizeof(start));
    format_time(d.stop_timestamp_ns, stop, sizeof(stop));
    printf("recording %" PRId64 "\n  channel %s\n  stream %d, session %d, source %s\n", d.recording_id, d.channel,
        d.stream_id, d.session_id, d.source_identity[0] != '\0' ? d.source_identity : "-");
    printf("  start position %" PRId64 " at %s\n", d.start_position, start);
    if (d.stop_position < 0)
    {
        printf("  stop position: still recording (or left so by a crash not yet recovered)\n");
    }
    else
    {
        printf("  stop position %" PRId64 " at %s (%" PRId64 " bytes)\n", d.stop_position, stop,
            d.stop_position - d.start_position);
    }
    printf("  initial term id %d, term length %d, mtu %d, segment length %d\n", d.initial_term_id, d.term_length, d.mtu,
        d.segment_length);
    segment_files(dir, &d, false);
    printf("  time index: %" PRId64 " entries\n", entries);
    return 0;
}

typedef struct problems_stct
{
    int count;
    char text[8][320];
} problems_t;

static void problem(problems_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(problems_t *p, const char *fmt, ...)
{
    if (p->count < 8)
    {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->text[p->count], sizeof(p->text[0]), fmt, ap);
        va_end(ap);
    }
    p->count++;
}

static void verify_time_index(const char *dir, const shoal_recording_descriptor_t *d, problems_t *p, int64_t *count)
{
    shoal_time_index_reader_t index;
    if (shoal_time_index_reader_open(&index, dir, d->recording_id) < 0)
    {
        problem(p, "time index: %s", shoal_errmsg());
        *count = -1;
        return;
    }
    *count = index.count;
    for (int64_t i = 0; i < index.count; i++)
    {
        const shoal_time_index_entry_t *e = &index.entries[i];
        if (i > 0 && (e->position < e[-1].position || e->time_ns < e[-1].time_ns))
        {
            problem(p, "time index entry %" PRId64 " goes back (position %" PRId64 ", time %" PRId64 ")", i,
                e->position, e->time_ns);
            break;
        }
        if (e->position < d->start_position || (d->stop_position >= 0 && e->position > d->stop_position))
        {
            problem(p, "time index entry %" PRId64 " at %" PRId64 " is outside the recording", i, e->position);
            break;
        }
    }
    shoal_time_index_reader_close(&index);
}

/* Bytes after the stop in its segment that are not zero, and segment files past it. */
static void verify_tail(const char *dir, const shoal_recording_descriptor_t *d, problems_t *p)
{
    const int64_t base = shoal_segment_base(d->start_position, d->stop_position, d->term_length, d->segment_length);
    char path[PATH_MAX];
    if (shoal_segment_file_name(path, sizeof(path), dir, d->recording_id, base) < 0)
    {
        return;
    }
    bool missing;
    const int fd = shoal_segment_open(path, false, &missing);
    if (fd >= 0)
    {
        uint8_t *buf = malloc(65536);
        int64_t nonzero = 0;
        for (int64_t off = d->stop_position - base; buf != NULL && off < d->segment_length; off += 65536)
        {
            const ssize_t n = shoal_file_pread_full(fd, buf, 65536, off, path);
            for (ssize_t i = 0; i < n; i++)
            {
                nonzero += buf[i] != 0;
            }
            if (n <= 0)
            {
                break;
            }
        }
        free(buf);
        close(fd);
        if (nonzero > 0)
        {
            problem(p, "%" PRId64 " bytes after the stop position are not zero (%s)", nonzero, path);
        }
    }
    if (shoal_segment_file_name(path, sizeof(path), dir, d->recording_id, base + d->segment_length) == 0 &&
        access(path, F_OK) == 0)
    {
        problem(p, "segment file %s lies past the stop position", path);
    }
}

static int cmd_verify(shoal_archive_reader_t *r, const char *dir, int64_t id, bool json)
{
    shoal_recording_descriptor_t d;
    if (shoal_archive_reader_describe(r, id, &d) < 0)
    {
        return -1;
    }
    problems_t p;
    memset(&p, 0, sizeof(p));
    shoal_recording_scan_t scan;
    if (shoal_recording_scan(dir, &d, d.start_position, d.stop_position, &scan) < 0)
    {
        return -1;
    }
    const bool active = d.stop_position < 0;
    if (scan.invalid)
    {
        problem(&p, "corrupt segment: %s", scan.why);
    }
    else if (!active && scan.frames_end != d.stop_position)
    {
        problem(&p, "the frames end at %" PRId64 " before the stop position %" PRId64 " (%s)", scan.frames_end,
            d.stop_position, scan.segment_missing ? "segment file missing" : "frame not written");
    }
    else if (!active && scan.complete_end != d.stop_position)
    {
        problem(&p, "the stop position %" PRId64 " is inside a message (the last whole one ends at %" PRId64 ")",
            d.stop_position, scan.complete_end);
    }
    if (!active)
    {
        verify_tail(dir, &d, &p);
    }
    int64_t entries;
    verify_time_index(dir, &d, &p, &entries);
    const bool ok = p.count == 0;
    if (json)
    {
        printf("{\"recording_id\": %" PRId64 ", \"ok\": %s, \"active\": %s, \"frames\": %" PRId64
               ", \"messages\": %" PRId64 ", \"checked_to\": %" PRId64 ", \"stop_position\": %" PRId64
               ", \"time_index_entries\": %" PRId64 ", \"problems\": [",
            id, ok ? "true" : "false", active ? "true" : "false", scan.frames, scan.messages, scan.complete_end,
            d.stop_position, entries);
        for (int i = 0; i < p.count && i < 8; i++)
        {
            printf(i > 0 ? ", " : "");
            tool_json_string(p.text[i], strlen(p.text[i]));
        }
        printf("]}\n");
    }
    else
    {
        printf("recording %" PRId64 ": %" PRId64 " frames, %" PRId64 " whole messages, checked [%" PRId64 ", %" PRId64
               ")%s; time index %" PRId64 " entries\n",
            id, scan.frames, scan.messages, d.start_position, scan.complete_end,
            active ? " (still recording, or left so by a crash: migrate recovers it)" : "", entries);
        for (int i = 0; i < p.count && i < 8; i++)
        {
            printf("  problem: %s\n", p.text[i]);
        }
        printf("%s\n", ok ? "ok" : "FAILED");
    }
    return ok ? 0 : 1;
}

typedef struct migrate_count_stct
{
    int64_t records;
} migrate_count_t;

static void count_record(void *clientd, const shoal_recording_descriptor_t *d)
{
    (void)d;
    ((migrate_count_t *)clientd)->records++;
}

static int cmd_migrate(const char *dir, bool json)
{
    /* Records of an older record version would be upgraded as they are
     * loaded; version 1 is the only one so far, so the catalog open checks
     * every record, recovers recordings a crash left active, and the header
     * is already current. */
    shoal_archive_catalog_t *cat;
    if (shoal_archive_catalog_open(&cat, dir, SHOAL_ARCHIVE_FSYNC_DATA_AND_CATALOG) < 0)
    {
        return -1;
    }
    migrate_count_t counted = { 0 };
    shoal_archive_catalog_list(cat, 0, INT32_MAX, count_record, &counted);
    const int64_t recovered = shoal_archive_catalog_recovered_count(cat);
    const int64_t ids = shoal_archive_catalog_next_id(cat);
    shoal_archive_catalog_close(cat);
    if (json)
    {
        printf("{\"catalog_version\": \"%d.%d\", \"record_version\": %d, \"records\": %" PRId64 ", \"purged\": %" PRId64
               ", \"migrated\": 0, \"recovered\": %" PRId64 "}\n",
            SHOAL_CATALOG_VERSION_MAJOR, SHOAL_CATALOG_VERSION_MINOR, SHOAL_CATALOG_RECORD_VERSION, counted.records,
            ids - counted.records, recovered);
    }
    else
    {
        printf("catalog format %d.%d, %" PRId64 " recordings (%" PRId64
               " purged), all at record version %d: nothing to migrate; %" PRId64
               " recordings left active by a crash recovered\n",
            SHOAL_CATALOG_VERSION_MAJOR, SHOAL_CATALOG_VERSION_MINOR, counted.records, ids - counted.records,
            SHOAL_CATALOG_RECORD_VERSION, recovered);
    }
    return 0;
}

static int parse_id(const char *text, int64_t *id)
{
    char *end;
    errno = 0;
    const long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 0)
    {
        fprintf(stderr, TOOL ": bad recording id '%s'\n", text);
        return -1;
    }
    *id = v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option options[] = { { "archive-dir", required_argument, NULL, 'a' },
        { "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
    const char *dir = getenv("SHOAL_ARCHIVE_DIR");
    bool json = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "a:jh", options, NULL)) != -1)
    {
        switch (opt)
        {
            case 'a': dir = optarg; break;
            case 'j': json = true; break;
            case 'h': printf("%s", usage_text); return 0;
            default: fprintf(stderr, "%s", usage_text); return 2;
        }
    }
    const int args = argc - optind;
    const char *cmd = args > 0 ? argv[optind] : NULL;
    const bool takes_id = cmd != NULL && (strcmp(cmd, "describe") == 0 || strcmp(cmd, "verify") == 0);
    if (dir == NULL || cmd == NULL || args != (takes_id ? 2 : 1) ||
        (!takes_id && strcmp(cmd, "list") != 0 && strcmp(cmd, "migrate") != 0))
    {
        fprintf(stderr, "%s", usage_text);
        return 2;
    }
    int64_t id = -1;
    if (takes_id && parse_id(argv[optind + 1], &id) < 0)
    {
        return 2;
    }
    if (strcmp(cmd, "migrate") == 0)
    {
        if (cmd_migrate(dir, json) < 0)
        {
            fprintf(stderr, TOOL ": %s\n", shoal_errmsg());
            return 1;
        }
        return 0;
    }
    shoal_archive_reader_t *r;
    if (shoal_archive_reader_open(&r, dir) < 0)
    {
        fprintf(stderr, TOOL ": %s\n", shoal_errmsg());
        return 1;
    }
    int rc;
    if (strcmp(cmd, "list") == 0)
    {
        rc = cmd_list(r, json);
    }
    else if (strcmp(cmd, "describe") == 0)
    {
        rc = cmd_describe(r, dir, id, json);
    }
    else
    {
        rc = cmd_verify(r, dir, id, json);
    }
    if (rc < 0)
    {
        fprintf(stderr, TOOL ": %s\n", shoal_errmsg());
    }
    shoal_archive_reader_close(r);
    return rc == 0 ? 0 : 1;
}
