/* Single-writer bias of a concurrent log (shoal_writer_bias.h): who owns the
 * tail, how a second writer takes it over (only once the owner is outside
 * an append, or its process is gone), that turns end in sharing for good,
 * and that neither a forked child nor a corrupt word is taken for the
 * owner. The meta lives in MAP_SHARED memory so forked children write it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../shoal_test_main.h"
#include "logbuffer/shoal_writer_bias.h"

static shoal_logbuffer_metadata_t *meta_new(void)
{
    void *m = mmap(NULL, sizeof(shoal_logbuffer_metadata_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(MAP_FAILED != m);
    return m;
}

static void meta_free(shoal_logbuffer_metadata_t *m)
{
    munmap(m, sizeof(*m));
}

static int64_t bias_of(shoal_logbuffer_metadata_t *m)
{
    return shoal_load_acquire(&m->writer_bias);
}

static int64_t handovers_of(int64_t bias)
{
    return (bias >> SHOAL_WRITER_BIAS_HANDOVER_SHIFT) & 0x1F;
}

/* What an offer does before its append: true when it may skip the atomic
 * add (it then holds the owner's bracket until owner_done). */
static bool owner_enter(shoal_logbuffer_metadata_t *m)
{
    const int64_t bias = shoal_load_relaxed(&m->writer_bias);
    return shoal_writer_bias_is_mine(bias) && shoal_writer_bias_enter(m, bias, shoal_writer_bias_busy(m, bias));
}

static void owner_exit(shoal_logbuffer_metadata_t *m)
{
    shoal_writer_bias_exit(shoal_writer_bias_busy(m, bias_of(m)));
}

static int32_t busy_of(shoal_logbuffer_metadata_t *m)
{
    return shoal_load_relaxed(shoal_writer_bias_busy(m, bias_of(m)));
}

typedef struct
{
    shoal_logbuffer_metadata_t *meta;
    shoal_writer_bias_path_t path;
    bool owned_after;
    bool entered_after;
} other_thread_t;

/* Another thread's first offer: arbitrates, then tries the owner's way in. */
static void *other_writer(void *arg)
{
    other_thread_t *t = arg;
    t->path = shoal_writer_bias_arbitrate(t->meta, bias_of(t->meta));
    t->owned_after = shoal_writer_bias_is_mine(bias_of(t->meta));
    t->entered_after = owner_enter(t->meta);
    if (t->entered_after)
    {
        owner_exit(t->meta);
    }
    return NULL;
}

static other_thread_t run_other_writer(shoal_logbuffer_metadata_t *m)
{
    other_thread_t t = { .meta = m };
    pthread_t th;
    assert_int_equal(0, pthread_create(&th, NULL, other_writer, &t));
    assert_int_equal(0, pthread_join(th, NULL));
    return t;
}

/* A forked child's checks: it exits 0 when they held. */
static void expect_child_passed(pid_t child)
{
    int status = 0;
    assert_int_equal(child, waitpid(child, &status, 0));
    assert_true(WIFEXITED(status));
    assert_int_equal(0, WEXITSTATUS(status));
}

/* Only a process the membarrier reaches takes the bias; a kernel without
 * it never biases (a_corrupt_word_is_shared still runs there). */
static void needs_membarrier(void)
{
    if (!shoal_membarrier_register())
    {
        skip();
    }
}

/* A fresh log whose tail the calling thread owns. */
static shoal_logbuffer_metadata_t *meta_owned_by_me(void)
{
    needs_membarrier();
    shoal_logbuffer_metadata_t *m = meta_new();
    assert_int_equal(SHOAL_WRITER_BIAS_PATH_OWNED, shoal_writer_bias_arbitrate(m, bias_of(m)));
    assert_true(shoal_writer_bias_is_mine(bias_of(m)));
    return m;
}

static void first_writer_owns_the_tail(void **state)
{
    (void)state;
    needs_membarrier();
    shoal_logbuffer_metadata_t *m = meta_new();
    assert_false(shoal_writer_bias_is_mine(bias_of(m)));
    /* The offer that took it appends as the owner (bracketed), not with the atomic add. */
    assert_int_equal(SHOAL_WRITER_BIAS_PATH_OWNED, shoal_writer_bias_arbitrate(m, bias_of(m)));
    assert_int_equal(SHOAL_WRITER_BIAS_OWNED, SHOAL_WRITER_BIAS_STATE(bias_of(m)));
    assert_true(shoal_writer_bias_is_mine(bias_of(m)));
    assert_int_equal(0, handovers_of(bias_of(m)));

    assert_true(owner_enter(m));
    assert_int_equal(1, busy_of(m));
    owner_exit(m);
    assert_int_equal(0, busy_of(m));
    meta_free(m);
}

static void another_thread_takes_over_an_idle_owner(void **state)
{
    (void)state;
    shoal_logbuffer_metadata_t *m = meta_owned_by_me();

    other_thread_t t = run_other_writer(m);
    assert_int_equal(SHOAL_WRITER_BIAS_PATH_OWNED, t.path);
    assert_true(t.owned_after);
    assert_true(t.entered_after);
    assert_int_equal(1, handovers_of(bias_of(m)));
    /* The old owner is no longer: its next offer asks for the tail back. */
    assert_false(shoal_writer_bias_is_mine(bias_of(m)));
    assert_false(owner_enter(m));
    assert_int_equal(0, busy_of(m));
    meta_free(m);
}

static void an_owner_inside_an_append_is_waited_for(void **state)
{
    (void)state;
    shoal_logbuffer_metadata_t *m = meta_owned_by_me();
    assert_true(owner_enter(m)); /* mid-append */

    other_thread_t t = run_other_writer(m);
    assert_int_equal(SHOAL_WRITER_BIAS_PATH_WAIT, t.path);
    assert_false(t.owned_after);
    assert_false(t.entered_after);
    assert_int_equal(SHOAL_WRITER_BIAS_FENCED, SHOAL_WRITER_BIAS_STATE(bias_of(m)));
    /* While revoked, the owner's next offer does not come in either. */
    shoal_writer_bias_exit(shoal_writer_bias_busy(m, bias_of(m)));
    assert_false(owner_enter(m));

    t = run_other_writer(m);
    assert_int_equal(SHOAL_WRITER_BIAS_PATH_OWNED, t.path);
    assert_true(t.owned_after);
    assert_int_equal(1, handovers_of(bias_of(m)));
    meta_free(m);
}

/* A former owner that read the word just before it was handed over still
 * stores busy = 1, then 0: into its own ownership's word, so the new owner,
 * inside an append, is still waited for by the next writer that asks. */
static void a_former_owners_late_entry_does_not_clear_the_new_owners_busy(void **state)
{
    (void)state;
    shoal_logbuffer_metadata_t *m = meta_owned_by_me();
    const int64_t former = bias_of(m);
    assert_true(run_other_writer(m).owned_after);
    const int64_t current = bias_of(m);
    assert_true(shoal_writer_bias_busy(m, former) != shoal_writer_bias_busy(m, current));

    /* The new owner is inside an append (entered with its word) ... */
    assert_true(shoal_writer_bias_enter(m, current, shoal_writer_bias_busy(m, current)));
    /* ... when the former owner's late entry fails and clears its busy. */
    assert_false(shoal_writer_bias_enter(m, former, shoal_writer_bias_busy(m, former)));
    assert_int_equal(1, shoal_load_relaxed(shoal_writer_bias_busy(m, current)));

    other_thread_t t = run_other_writer(m);
    assert_int_equal(SHOAL_WRITER_BIAS_PATH_WAIT, t.path);
    assert_false(t.owned_after);
    shoal_writer_bias_exit(shoal_writer_bias_busy(m, current));
    t = run_other_writer(m);
    assert_true(t.owned_after);
    assert_int_equal(2, handovers_of(bias_of(m)));
    meta_free(m);
}

static void threads_taking_turns_end_in_sharing(void **state)
{
    (void)state;
    shoal_logbuffer_metadata_t *m = meta_owned_by_me();
    for (int i = 1; i < SHOAL_WRITER_BIAS_HANDOVERS; i++)
    {
        other_thread_t t = run_other_writer(m);
        assert_true(t.owned_after);
        assert_int_equal(i, handovers_of(bias_of(m)));
    }
    other_thread_t t = run_other_writer(m);
    assert_int_equal(SHOAL_WRITER_BIAS_PATH_SHARED, t.path);
    assert_false(t.owned_after);
    assert_int_equal(SHOAL_WRITER_BIAS_SHARED, bias_of(m));
    /* Shared is for good: nobody owns it again. */
    assert_int_equal(SHOAL_WRITER_BIAS_PATH_SHARED, shoal_writer_bias_arbitrate(m, bias_of(m)));
    assert_int_equal(SHOAL_WRITER_BIAS_SHARED, bias_of(m));
    assert_false(owner_enter(m));
    meta_free(m);
}

static void a_dead_owner_process_does_not_hold_the_tail(void **state)
{
    (void)state;
    needs_membarrier();
    shoal_logbuffer_metadata_t *m = meta_new();
    pid_t child = fork();
    assert_true(child >= 0);
    if (0 == child)
    {
        /* Owns the tail, dies inside an append. */
        shoal_writer_bias_arbitrate(m, bias_of(m));
        _exit(owner_enter(m) ? 0 : 1);
    }
    expect_child_passed(child);
    assert_int_equal(1, busy_of(m));
    assert_int_equal(SHOAL_WRITER_BIAS_OWNED, SHOAL_WRITER_BIAS_STATE(bias_of(m)));

    assert_int_equal(SHOAL_WRITER_BIAS_PATH_OWNED, shoal_writer_bias_arbitrate(m, bias_of(m)));
    assert_true(shoal_writer_bias_is_mine(bias_of(m)));
    meta_free(m);
}

static void a_forked_child_is_not_its_parents_owner(void **state)
{
    (void)state;
    shoal_logbuffer_metadata_t *m = meta_owned_by_me();
    pid_t child = fork();
    assert_true(child >= 0);
    if (0 == child)
    {
        /* The same thread's copy: it must ask for the tail (and the parent
         * is idle, so it gets it). */
        const bool mine_before = shoal_writer_bias_is_mine(bias_of(m));
        const bool entered = owner_enter(m);
        shoal_writer_bias_arbitrate(m, bias_of(m));
        _exit(!mine_before && !entered && shoal_writer_bias_is_mine(bias_of(m)) ? 0 : 1);
    }
    expect_child_passed(child);
    assert_false(shoal_writer_bias_is_mine(bias_of(m)));
    meta_free(m);
}

static void a_corrupt_word_is_shared(void **state)
{
    (void)state;
    shoal_logbuffer_metadata_t *m = meta_new();
    const int64_t corrupt[] = { 5, 6, 7, (int64_t)1 << 40, -1 };
    for (size_t i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++)
    {
        shoal_store_release(&m->writer_bias, corrupt[i]);
        assert_false(owner_enter(m));
        assert_int_equal(SHOAL_WRITER_BIAS_PATH_SHARED, shoal_writer_bias_arbitrate(m, bias_of(m)));
        assert_int_equal(SHOAL_WRITER_BIAS_SHARED, bias_of(m));
    }
    meta_free(m);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(first_writer_owns_the_tail),
    cmocka_unit_test(another_thread_takes_over_an_idle_owner),
    cmocka_unit_test(an_owner_inside_an_append_is_waited_for),
    cmocka_unit_test(a_former_owners_late_entry_does_not_clear_the_new_owners_busy),
    cmocka_unit_test(threads_taking_turns_end_in_sharing),
    cmocka_unit_test(a_dead_owner_process_does_not_hold_the_tail),
    cmocka_unit_test(a_forked_child_is_not_its_parents_owner),
    cmocka_unit_test(a_corrupt_word_is_shared),
})
