/*
 * CnC header validation (common/shoal_cnc.c): a cnc.dat that any local
 * process may have written is mapped only if its regions fit the file and
 * start 8-aligned (regression input tests/fuzz/corpus/cnc/regress-misaligned-regions).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/shoal_cnc_descriptor.h"
#include "shoal/shoal.h"

static char dir[PATH_MAX];

static int32_t version = SHOAL_CNC_VERSION; /* what write_cnc writes */

static void write_cnc(int32_t to_driver, int32_t to_clients, int32_t counters_metadata, int32_t counters_values,
    int32_t error_log, size_t file_length)
{
    shoal_cnc_metadata_t m;
    memset(&m, 0, sizeof(m));
    m.cnc_version = version;
    m.to_driver_buffer_length = to_driver;
    m.to_clients_buffer_length = to_clients;
    m.counters_metadata_buffer_length = counters_metadata;
    m.counters_values_buffer_length = counters_values;
    m.error_log_buffer_length = error_log;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/%s", dir, SHOAL_CNC_FILE);
    uint8_t *file = calloc(1, file_length);
    memcpy(file, &m, sizeof(m));
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal((ssize_t)file_length, write(fd, file, file_length));
    close(fd);
    free(file);
}

/* The cnc.dat just written is refused, as a file mapping cannot trust. */
static void assert_map_refused(void)
{
    shoal_cnc_view_t view;
    assert_int_equal(-1, shoal_cnc_map(dir, false, 0, &view));
    assert_int_equal(SHOAL_EIO, shoal_errcode());
}

static void valid_layout_maps(void **state)
{
    (void)state;
    write_cnc(704, 448, 1024, 256, 256, 4096 + 704 + 448 + 1024 + 256 + 256);
    shoal_cnc_view_t view;
    assert_int_equal(0, shoal_cnc_map(dir, false, 0, &view));
    assert_ptr_equal(view.base + 4096 + 704, view.to_clients);
    shoal_cnc_unmap(&view);
}

static void misaligned_region_is_refused(void **state)
{
    (void)state;
    write_cnc(705, 447, 1024, 256, 256, 4096 + 705 + 447 + 1024 + 256 + 256);
    assert_map_refused();
    assert_non_null(strstr(shoal_errmsg(), "multiples of 8"));
}

static void regions_past_the_file_are_refused(void **state)
{
    (void)state;
    write_cnc(704, 448, 1024, 256, 0x7ffffff8, 4096 + 704 + 448 + 1024 + 256 + 256);
    assert_map_refused();
}

/* A 1.x driver's IPC logs are zeroed between laps and its exclusive ones
 * are not checked by header (2.0), and a 2.x library appends to a
 * concurrent log without looking at its single-writer bias (3.0:
 * shoal_cnc_descriptor.h): refused, naming both versions. */
static void another_major_version_is_refused(void **state)
{
    (void)state;
    const int32_t others[] = { 0x00010100, 0x00010000, 0x00020000, 0x00040000 };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
    {
        version = others[i];
        write_cnc(704, 448, 1024, 256, 256, 4096 + 704 + 448 + 1024 + 256 + 256);
        version = SHOAL_CNC_VERSION;
        assert_map_refused();
        char expected[96];
        snprintf(expected, sizeof(expected), "version %d.%d.%d does not match this library's 3.0.0", others[i] >> 16,
            (others[i] >> 8) & 0xFF, others[i] & 0xFF);
        assert_non_null(strstr(shoal_errmsg(), expected));
    }
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/shoal-test-cnc-XXXXXX", NULL != tmp && '\0' != tmp[0] ? tmp : "/tmp");
    if (NULL == mkdtemp(dir))
    {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_layout_maps),
        cmocka_unit_test(misaligned_region_is_refused),
        cmocka_unit_test(regions_past_the_file_are_refused),
        cmocka_unit_test(another_major_version_is_refused),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/%s", dir, SHOAL_CNC_FILE);
    unlink(path);
    rmdir(dir);
    return rc;
}
