/* The driver directory is a trust boundary: another local user can pre-create
 * /dev/shm/shoal-$USER, or plant symlinks in it. Clients refuse a directory
 * or cnc.dat that is not theirs or that others may write; the driver refuses
 * a symlinked directory or lock file and never follows a symlink when it
 * cleans up. Every refusal names the path and says how to fix it.
 *
 * Ownership cases chown to another uid, which needs root (CI runs as root);
 * they print why and skip otherwise. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "../shoal_test_main.h"
#include "../shoal_test_support.h"

#define OTHER_UID 12345

static shoal_context_t *context_for(const char *dir)
{
    static const char *const settings[] = { "DIR_DELETE_ON_SHUTDOWN", "1", "IPC_TERM_LENGTH", "64k", NULL };
    shoal_context_t *ctx = shoal_test_context(dir, settings);
    assert_non_null(ctx);
    return ctx;
}

static bool can_chown(void)
{
    if (0 != geteuid())
    {
        print_message("skipped: chown to uid %d needs root (this runs as uid %u)\n", OTHER_UID, (unsigned)geteuid());
        return false;
    }
    return true;
}

/* The call failed with SHOAL_EIO and a message holding every fragment. */
static void assert_refused(int result, const char *fragment1, const char *fragment2)
{
    assert_int_equal(-1, result);
    assert_int_equal(SHOAL_EIO, shoal_errcode());
    print_message("refused: %s\n", shoal_errmsg());
    assert_non_null(strstr(shoal_errmsg(), fragment1));
    assert_non_null(strstr(shoal_errmsg(), fragment2));
}

static void assert_connect_refused(shoal_context_t *ctx, const char *fragment1, const char *fragment2)
{
    shoal_client_t *client = NULL;
    assert_refused(shoal_client_connect(&client, ctx), fragment1, fragment2);
}

static void assert_driver_refused(shoal_context_t *ctx, const char *fragment1, const char *fragment2)
{
    shoal_driver_t *driver = NULL;
    assert_refused(shoal_driver_start(&driver, ctx), fragment1, fragment2);
}

static void assert_connects(shoal_context_t *ctx)
{
    shoal_client_t *client = NULL;
    assert_int_equal(0, shoal_client_connect(&client, ctx));
    assert_int_equal(0, shoal_client_close(client));
}

/* A driver running on a fresh directory, for the checks clients make. */
typedef struct
{
    char dir[128];
    char cnc[192];
    shoal_context_t *ctx;
    shoal_driver_t *driver;
} running_driver_t;

static void start_driver(running_driver_t *d, const char *name)
{
    shoal_test_dir_name(d->dir, sizeof(d->dir), name);
    snprintf(d->cnc, sizeof(d->cnc), "%s/cnc.dat", d->dir);
    d->ctx = context_for(d->dir);
    assert_int_equal(0, shoal_driver_start(&d->driver, d->ctx));
}

/* Once the directory is put right a client connects again; then all stops. */
static void stop_driver_after_connecting(running_driver_t *d)
{
    assert_connects(d->ctx);
    assert_int_equal(0, shoal_driver_close(d->driver));
    shoal_context_close(d->ctx);
}

static void test_client_refuses_dir_writable_by_others(void **state)
{
    (void)state;
    running_driver_t d;
    start_driver(&d, "dirmode");
    assert_connects(d.ctx);

    const mode_t modes[] = { 0777, 0757, 0770, 0702 };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
    {
        assert_int_equal(0, chmod(d.dir, modes[i]));
        char mode[16];
        snprintf(mode, sizeof(mode), "mode %04o", (unsigned)modes[i]);
        assert_connect_refused(d.ctx, d.dir, mode);
        assert_non_null(strstr(shoal_errmsg(), "writable by"));
        assert_non_null(strstr(shoal_errmsg(), "chmod 700"));
    }
    /* Read access for others is the user's choice, not a way in. */
    assert_int_equal(0, chmod(d.dir, 0755));
    assert_connects(d.ctx);
    assert_int_equal(0, chmod(d.dir, 0700));
    stop_driver_after_connecting(&d);
}

static void test_client_refuses_cnc_writable_by_others(void **state)
{
    (void)state;
    running_driver_t d;
    start_driver(&d, "cncmode");

    assert_int_equal(0, chmod(d.cnc, 0666));
    assert_connect_refused(d.ctx, d.cnc, "mode 0666");
    assert_non_null(strstr(shoal_errmsg(), "chmod 600"));
    assert_int_equal(0, chmod(d.cnc, 0620));
    assert_connect_refused(d.ctx, d.cnc, "mode 0620");
    assert_int_equal(0, chmod(d.cnc, 0600));
    stop_driver_after_connecting(&d);
}

static void test_client_refuses_dir_and_cnc_of_another_user(void **state)
{
    (void)state;
    if (!can_chown())
    {
        skip();
    }
    char expected[64];
    snprintf(expected, sizeof(expected), "owned by uid %d, not %u", OTHER_UID, (unsigned)geteuid());
    running_driver_t d;
    start_driver(&d, "owner");

    assert_int_equal(0, chown(d.dir, OTHER_UID, (gid_t)-1));
    assert_connect_refused(d.ctx, d.dir, expected);
    assert_non_null(strstr(shoal_errmsg(), "remove it or set SHOAL_DIR"));
    assert_int_equal(0, chown(d.dir, geteuid(), (gid_t)-1));

    assert_int_equal(0, chown(d.cnc, OTHER_UID, (gid_t)-1));
    assert_connect_refused(d.ctx, d.cnc, expected);
    assert_int_equal(0, chown(d.cnc, geteuid(), (gid_t)-1));
    stop_driver_after_connecting(&d);
}

static void test_client_refuses_symlinked_cnc(void **state)
{
    (void)state;
    running_driver_t d;
    start_driver(&d, "cnclink");
    char real[192];
    snprintf(real, sizeof(real), "%s/cnc.real", d.dir);

    assert_int_equal(0, rename(d.cnc, real));
    assert_int_equal(0, symlink(real, d.cnc));
    assert_connect_refused(d.ctx, d.cnc, "symbolic link");
    assert_int_equal(0, unlink(d.cnc));
    assert_int_equal(0, rename(real, d.cnc));
    stop_driver_after_connecting(&d);
}

static void test_driver_refuses_symlinked_dir(void **state)
{
    (void)state;
    char real[128], link[128];
    shoal_test_dir_name(real, sizeof(real), "realdir");
    shoal_test_dir_name(link, sizeof(link), "dirlink");
    assert_int_equal(0, mkdir(real, 0700));
    assert_int_equal(0, symlink(real, link));
    shoal_context_t *ctx = context_for(link);
    assert_driver_refused(ctx, link, "symbolic link");
    /* Nothing was created behind the link. */
    char lock[192];
    snprintf(lock, sizeof(lock), "%s/driver.lock", real);
    assert_int_equal(-1, access(lock, F_OK));
    assert_int_equal(0, unlink(link));
    assert_int_equal(0, rmdir(real));
    shoal_context_close(ctx);
}

/* The lock file is truncated and rewritten with the pid: through a symlink
 * that would overwrite any file the driver's user can write. */
static void test_driver_refuses_symlinked_lock_file(void **state)
{
    (void)state;
    char dir[128], lock[192], victim[192];
    shoal_test_dir_name(dir, sizeof(dir), "locklink");
    snprintf(lock, sizeof(lock), "%s/driver.lock", dir);
    snprintf(victim, sizeof(victim), "/dev/shm/shoal-test-%ld-victim", (long)getpid());
    assert_int_equal(0, mkdir(dir, 0700));
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    assert_int_equal(8, fwrite("precious", 1, 8, f));
    assert_int_equal(0, fclose(f));
    assert_int_equal(0, symlink(victim, lock));

    shoal_context_t *ctx = context_for(dir);
    assert_driver_refused(ctx, lock, "symbolic link");
    char content[16] = { 0 };
    f = fopen(victim, "r");
    assert_non_null(f);
    assert_int_equal(8, fread(content, 1, sizeof(content), f));
    fclose(f);
    assert_string_equal("precious", content);

    /* Once the link is gone the directory is fine. */
    assert_int_equal(0, unlink(lock));
    shoal_driver_t *driver = NULL;
    assert_int_equal(0, shoal_driver_start(&driver, ctx));
    assert_int_equal(0, shoal_driver_close(driver));
    assert_int_equal(0, unlink(victim));
    shoal_context_close(ctx);
}

static void test_driver_refuses_dir_writable_by_others(void **state)
{
    (void)state;
    char dir[128];
    shoal_test_dir_name(dir, sizeof(dir), "drvmode");
    assert_int_equal(0, mkdir(dir, 0700));
    assert_int_equal(0, chmod(dir, 0777));
    shoal_context_t *ctx = context_for(dir);
    assert_driver_refused(ctx, dir, "mode 0777");
    assert_non_null(strstr(shoal_errmsg(), "chmod 700"));
    assert_int_equal(0, chmod(dir, 0700));
    shoal_driver_t *driver = NULL;
    assert_int_equal(0, shoal_driver_start(&driver, ctx));
    assert_int_equal(0, shoal_driver_close(driver));
    shoal_context_close(ctx);
}

static void test_driver_refuses_dir_of_another_user(void **state)
{
    (void)state;
    if (!can_chown())
    {
        skip();
    }
    char dir[128];
    shoal_test_dir_name(dir, sizeof(dir), "drvowner");
    assert_int_equal(0, mkdir(dir, 0700));
    assert_int_equal(0, chown(dir, OTHER_UID, (gid_t)-1));
    shoal_context_t *ctx = context_for(dir);
    assert_driver_refused(ctx, dir, "owned by uid 12345");
    assert_non_null(strstr(shoal_errmsg(), "remove it or set SHOAL_DIR"));
    assert_int_equal(0, rmdir(dir));
    shoal_context_close(ctx);
}

/* A stale publications entry that is a symlink is removed as a link: the
 * directory it points at keeps its files. */
static void test_driver_cleanup_does_not_follow_symlinks(void **state)
{
    (void)state;
    char dir[128], pubs[192], elsewhere[128], kept[192];
    shoal_test_dir_name(dir, sizeof(dir), "stalelink");
    shoal_test_dir_name(elsewhere, sizeof(elsewhere), "elsewhere");
    snprintf(pubs, sizeof(pubs), "%s/publications", dir);
    snprintf(kept, sizeof(kept), "%s/keep.me", elsewhere);
    assert_int_equal(0, mkdir(dir, 0700));
    assert_int_equal(0, mkdir(elsewhere, 0700));
    int fd = open(kept, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(0, symlink(elsewhere, pubs));

    shoal_context_t *ctx = context_for(dir);
    shoal_driver_t *driver = NULL;
    assert_int_equal(0, shoal_driver_start(&driver, ctx));
    assert_int_equal(0, access(kept, F_OK));
    struct stat st;
    assert_true(0 != lstat(pubs, &st) || !S_ISLNK(st.st_mode));
    /* And the driver still works: its publications go in a real directory. */
    shoal_client_t *client;
    shoal_publication_t *pub;
    assert_int_equal(0, shoal_client_connect(&client, ctx));
    assert_int_equal(0, shoal_add_publication(client, "aeron:ipc", 1, &pub));
    assert_int_equal(0, lstat(pubs, &st));
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(0, shoal_client_close(client));
    assert_int_equal(0, shoal_driver_close(driver));
    assert_int_equal(0, access(kept, F_OK));
    assert_int_equal(0, unlink(kept));
    assert_int_equal(0, rmdir(elsewhere));
    shoal_context_close(ctx);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_client_refuses_dir_writable_by_others),
    cmocka_unit_test(test_client_refuses_cnc_writable_by_others),
    cmocka_unit_test(test_client_refuses_dir_and_cnc_of_another_user),
    cmocka_unit_test(test_client_refuses_symlinked_cnc),
    cmocka_unit_test(test_driver_refuses_symlinked_dir),
    cmocka_unit_test(test_driver_refuses_symlinked_lock_file),
    cmocka_unit_test(test_driver_refuses_dir_writable_by_others),
    cmocka_unit_test(test_driver_refuses_dir_of_another_user),
    cmocka_unit_test(test_driver_cleanup_does_not_follow_symlinks),
})
