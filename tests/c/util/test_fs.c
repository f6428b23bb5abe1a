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
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../shoal_test_main.h"
#include "util/shoal_error.h"
#include "util/shoal_fs.h"

typedef struct fixture_stct
{
    char root[PATH_MAX];
    mode_t old_umask;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    snprintf(f->root, sizeof(f->root), "%s/shoal-test-fs-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->root));
    f->old_umask = umask(022);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    umask(f->old_umask);
    shoal_fs_delete_dir(f->root);
    free(f);
    return 0;
}

static void join(char *out, const char *dir, const char *rel)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, rel);
    assert_true(n > 0 && n < PATH_MAX);
}

static void path_join(char *out, const fixture_t *f, const char *rel)
{
    join(out, f->root, rel);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

/* rc is a failure with SHOAL_EIO whose message names path and says why. */
static void assert_io_error(int rc, const char *path, const char *why)
{
    assert_int_equal(rc, -1);
    assert_int_equal(shoal_errcode(), SHOAL_EIO);
    assert_non_null(strstr(shoal_errmsg(), path));
    assert_non_null(strstr(shoal_errmsg(), why));
}

static void test_mkdir_private(void **state)
{
    fixture_t *f = *state;
    char path[PATH_MAX];
    path_join(path, f, "a/b/c");
    umask(0);
    assert_int_equal(shoal_fs_mkdir_private(path), 0);
    assert_int_equal(mode_of(path), 0700);
    char parent[PATH_MAX];
    path_join(parent, f, "a");
    assert_int_equal(mode_of(parent), 0700);

    /* umask that would strip the owner bits: still 0700 */
    umask(0777);
    path_join(path, f, "strict");
    assert_int_equal(shoal_fs_mkdir_private(path), 0);
    umask(022);
    assert_int_equal(mode_of(path), 0700);

    /* existing directory owned by us: fine, trailing slash fine */
    path_join(path, f, "a/b/c/");
    assert_int_equal(shoal_fs_mkdir_private(path), 0);
    assert_true(shoal_fs_exists(path));
}

static void test_mkdir_private_errors(void **state)
{
    fixture_t *f = *state;
    char path[PATH_MAX];
    void *addr;
    path_join(path, f, "file");
    assert_int_equal(shoal_fs_map_new(path, 4096, false, &addr), 0);
    assert_int_equal(shoal_fs_unmap(addr, 4096), 0);

    shoal_err_clear();
    assert_io_error(shoal_fs_mkdir_private(path), path, "not a directory");

    /* a file in the middle of the path */
    char below[PATH_MAX];
    path_join(below, f, "file/sub");
    assert_int_equal(shoal_fs_mkdir_private(below), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EIO);

    /* an existing directory owned by someone else */
    if (geteuid() != 0)
    {
        assert_int_equal(shoal_fs_mkdir_private("/"), -1);
        assert_non_null(strstr(shoal_errmsg(), "is owned by uid 0"));
    }
    else
    {
        char theirs[PATH_MAX];
        path_join(theirs, f, "theirs");
        assert_int_equal(mkdir(theirs, 0700), 0);
        assert_int_equal(chown(theirs, 65534, 65534), 0);
        shoal_err_clear();
        assert_io_error(shoal_fs_mkdir_private(theirs), theirs, "is owned by uid 65534, not 0");
    }

    /* an existing directory of ours that others may write into */
    char open_dir[PATH_MAX];
    path_join(open_dir, f, "open");
    assert_int_equal(mkdir(open_dir, 0700), 0);
    assert_int_equal(chmod(open_dir, 0775), 0);
    shoal_err_clear();
    assert_io_error(shoal_fs_mkdir_private(open_dir), open_dir, "writable by group or others (mode 0775)");
    assert_int_equal(chmod(open_dir, 0755), 0);
    assert_int_equal(shoal_fs_mkdir_private(open_dir), 0);

    /* a symlink in place of the final directory, even to one of ours */
    char link[PATH_MAX];
    path_join(link, f, "link");
    assert_int_equal(symlink(open_dir, link), 0);
    shoal_err_clear();
    assert_int_equal(shoal_fs_mkdir_private(link), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EIO);
    assert_non_null(strstr(shoal_errmsg(), "symbolic link"));
    /* ... but symlinks above it are the system's business (/var/run -> /run) */
    char below_link[PATH_MAX];
    path_join(below_link, f, "link/sub");
    assert_int_equal(shoal_fs_mkdir_private(below_link), 0);
    assert_int_equal(shoal_fs_mkdir_private(""), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EINVAL);
    assert_int_equal(shoal_fs_mkdir_private(NULL), -1);
}

static void test_map_new_mode_and_contents(void **state)
{
    fixture_t *f = *state;
    char path[PATH_MAX];
    path_join(path, f, "cnc.dat");
    umask(0);
    void *addr = NULL;
    assert_int_equal(shoal_fs_map_new(path, 3 * 4096 + 5, true, &addr), 0);
    umask(022);
    assert_int_equal(mode_of(path), 0600);
    assert_int_equal(shoal_fs_file_length(path), 3 * 4096 + 5);
    uint8_t *p = addr;
    for (size_t i = 0; i < 3 * 4096 + 5; i++)
    {
        assert_int_equal(p[i], 0);
    }
    memcpy(p + 4096, "hello", 5);
    assert_int_equal(shoal_fs_unmap(addr, 3 * 4096 + 5), 0);

    void *ro = NULL;
    size_t length = 0;
    assert_int_equal(shoal_fs_map_existing(path, false, &ro, &length), 0);
    assert_int_equal(length, 3 * 4096 + 5);
    assert_memory_equal((uint8_t *)ro + 4096, "hello", 5);

    /* writes through a writable mapping are seen through the read-only one */
    void *rw = NULL;
    size_t rw_length = 0;
    assert_int_equal(shoal_fs_map_existing(path, true, &rw, &rw_length), 0);
    ((uint8_t *)rw)[0] = 42;
    assert_int_equal(((uint8_t *)ro)[0], 42);
    assert_int_equal(shoal_fs_unmap(rw, rw_length), 0);
    assert_int_equal(shoal_fs_unmap(ro, length), 0);
    assert_int_equal(shoal_fs_unmap(NULL, 0), 0);

    /* umask 077 too */
    umask(077);
    path_join(path, f, "log-1");
    assert_int_equal(shoal_fs_map_new(path, 100, false, &addr), 0);
    umask(022);
    assert_int_equal(mode_of(path), 0600);
    assert_int_equal(shoal_fs_unmap(addr, 100), 0);
}

/* Pages of the mapping that are in memory and mapped, out of all. */
static size_t resident_pages(void *addr, size_t length)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t pages = (length + page - 1) / page;
    unsigned char *vec = malloc(pages);
    assert_non_null(vec);
    assert_int_equal(mincore(addr, length, vec), 0);
    size_t resident = 0;
    for (size_t i = 0; i < pages; i++)
    {
        resident += vec[i] & 1;
    }
    free(vec);
    return resident;
}

/* A reserved file is mapped in whole at once (no page fault on a first
 * write in the publisher or the conductor's cleaning); a sparse one is left
 * sparse: mapping it must not allocate its pages. */
static void test_map_new_populates_reserved_files_only(void **state)
{
    fixture_t *f = *state;
    const size_t length = 4 * 1024 * 1024;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char path[PATH_MAX];
    void *addr = NULL;

    join(path, f->root, "reserved");
    assert_int_equal(shoal_fs_map_new(path, length, true, &addr), 0);
    assert_int_equal(resident_pages(addr, length), length / page);
    assert_int_equal(shoal_fs_unmap(addr, length), 0);

    join(path, f->root, "sparse");
    assert_int_equal(shoal_fs_map_new(path, length, false, &addr), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true((size_t)st.st_blocks * 512 < length / 2);
    assert_true(resident_pages(addr, length) < length / page / 2);
    assert_int_equal(shoal_fs_unmap(addr, length), 0);
}

static void test_map_errors(void **state)
{
    fixture_t *f = *state;
    char path[PATH_MAX];
    void *addr = NULL;
    size_t length = 0;
    path_join(path, f, "exists.dat");
    assert_int_equal(shoal_fs_map_new(path, 64, false, &addr), 0);
    assert_int_equal(shoal_fs_unmap(addr, 64), 0);

    shoal_err_clear();
    assert_io_error(shoal_fs_map_new(path, 64, false, &addr), path, "File exists");
    assert_true(shoal_fs_exists(path)); /* a failed O_EXCL create never deletes the other file */

    assert_int_equal(shoal_fs_map_new(path, 0, false, &addr), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EINVAL);

    path_join(path, f, "no/such/dir/file");
    assert_int_equal(shoal_fs_map_new(path, 64, false, &addr), -1);
    assert_non_null(strstr(shoal_errmsg(), path));

    path_join(path, f, "missing.dat");
    assert_io_error(shoal_fs_map_existing(path, false, &addr, &length), path, "No such file");

    path_join(path, f, "empty.dat");
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(shoal_fs_map_existing(path, false, &addr, &length), -1);
    assert_non_null(strstr(shoal_errmsg(), "empty"));

    assert_int_equal(shoal_fs_map_existing(f->root, false, &addr, &length), -1);
    assert_non_null(strstr(shoal_errmsg(), "not a regular file"));

    char target[PATH_MAX];
    path_join(target, f, "exists.dat");
    path_join(path, f, "link.dat");
    assert_int_equal(symlink(target, path), 0);
    shoal_err_clear();
    assert_io_error(shoal_fs_map_existing(path, true, &addr, &length), path, "symbolic link");
}

static void touch(const char *path)
{
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
}

/* dir/rel made as a private directory, or as a one-byte file; its path in out. */
static void make_dir_at(char *out, const char *dir, const char *rel)
{
    join(out, dir, rel);
    assert_int_equal(shoal_fs_mkdir_private(out), 0);
}

static void touch_at(char *out, const char *dir, const char *rel)
{
    join(out, dir, rel);
    touch(out);
}

static void test_delete_dir_contents(void **state)
{
    fixture_t *f = *state;
    char dir[PATH_MAX];
    char path[PATH_MAX];
    make_dir_at(dir, f->root, "driver");
    touch_at(path, dir, "cnc.dat");
    make_dir_at(path, dir, "publications/deep/er");
    touch_at(path, dir, "publications/1.logbuffer");
    touch_at(path, dir, "publications/deep/er/x");
    /* a symlink to a directory outside: unlinked, target untouched */
    char outside[PATH_MAX];
    char outside_file[PATH_MAX];
    make_dir_at(outside, f->root, "outside");
    touch_at(outside_file, outside, "keep");
    join(path, dir, "link");
    assert_int_equal(symlink(outside, path), 0);

    assert_int_equal(shoal_fs_delete_dir_contents(dir), 0);
    assert_true(shoal_fs_exists(dir));
    assert_int_equal(mode_of(dir), 0700);
    join(path, dir, "cnc.dat");
    assert_false(shoal_fs_exists(path));
    join(path, dir, "publications");
    assert_false(shoal_fs_exists(path));
    assert_true(shoal_fs_exists(outside_file));

    /* empty directory: no-op */
    assert_int_equal(shoal_fs_delete_dir_contents(dir), 0);

    /* the directory itself a symlink: refused, target untouched */
    join(path, dir, "to-outside");
    assert_int_equal(symlink(outside, path), 0);
    shoal_err_clear();
    assert_int_equal(shoal_fs_delete_dir_contents(path), -1);
    assert_non_null(strstr(shoal_errmsg(), "symbolic link"));
    assert_true(shoal_fs_exists(outside_file));

    assert_int_equal(shoal_fs_delete_dir(dir), 0);
    assert_false(shoal_fs_exists(dir));

    shoal_err_clear();
    assert_int_equal(shoal_fs_delete_dir_contents(dir), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EIO);
    assert_non_null(strstr(shoal_errmsg(), dir));
    assert_false(shoal_fs_exists(NULL));
    assert_int_equal(shoal_fs_file_length(dir), -1);
}

/* A test with this file's usual setup and teardown. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

SHOAL_TEST_MAIN({
    T(test_mkdir_private),
    T(test_mkdir_private_errors),
    T(test_map_new_mode_and_contents),
    T(test_map_new_populates_reserved_files_only),
    T(test_map_errors),
    T(test_delete_dir_contents),
})
