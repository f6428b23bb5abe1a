/*
 * Single-writer bias: tokens and the slow path (see shoal_writer_bias.h).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "logbuffer/shoal_writer_bias.h"
#include "util/shoal_error.h"

__thread uint64_t shoal_writer_bias_tls __attribute__((tls_model("initial-exec")));

static uint32_t token_sequence;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* The child runs on a copy of the forking thread: a token of its own. */
static void child_after_fork(void)
{
    shoal_writer_bias_tls = 0;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, child_after_fork);
}

uint64_t shoal_writer_bias_token(void)
{
    if (0 == shoal_writer_bias_tls)
    {
        pthread_once(&atfork_once, register_atfork);
        uint32_t seq = __atomic_add_fetch(&token_sequence, 1, __ATOMIC_RELAXED);
        if (0 == seq)
        {
            seq = __atomic_add_fetch(&token_sequence, 1, __ATOMIC_RELAXED);
        }
        /* pid < 2^22, so token << 8 stays a positive int64 */
        shoal_writer_bias_tls = ((uint64_t)(uint32_t)getpid() << 32) | seq;
    }
    return shoal_writer_bias_tls;
}

static bool owner_process_gone(int64_t bias)
{
    const pid_t pid = (pid_t)((uint64_t)bias >> (SHOAL_WRITER_BIAS_TOKEN_SHIFT + 32));
    return pid > 0 && pid != getpid() && -1 == kill(pid, 0) && ESRCH == errno;
}

static int64_t owned_by_me(int64_t handovers)
{
    return (int64_t)((shoal_writer_bias_token() << SHOAL_WRITER_BIAS_TOKEN_SHIFT) |
        ((uint64_t)handovers << SHOAL_WRITER_BIAS_HANDOVER_SHIFT) | SHOAL_WRITER_BIAS_OWNED);
}

shoal_writer_bias_path_t shoal_writer_bias_arbitrate(shoal_logbuffer_metadata_t *meta, int64_t bias)
{
    const int64_t shared = SHOAL_WRITER_BIAS_SHARED;
    for (;;)
    {
        const int64_t rest = bias & ~(int64_t)7; /* token and hand-overs */
        const int64_t handovers = (bias >> SHOAL_WRITER_BIAS_HANDOVER_SHIFT) & 0x1F;
        switch (SHOAL_WRITER_BIAS_STATE(bias))
        {
            case SHOAL_WRITER_BIAS_FREE:
            {
                /* Owning needs this process fenced by a revoker's membarrier. */
                const int64_t next = 0 == bias && shoal_membarrier_register() ? owned_by_me(0) : shared;
                if (shoal_cas(&meta->writer_bias, &bias, next))
                {
                    return shared == next ? SHOAL_WRITER_BIAS_PATH_SHARED : SHOAL_WRITER_BIAS_PATH_OWNED;
                }
                break;
            }
            case SHOAL_WRITER_BIAS_OWNED:
            {
                const int64_t next = rest | SHOAL_WRITER_BIAS_REVOKING;
                if (shoal_cas(&meta->writer_bias, &bias, next))
                {
                    bias = next;
                }
                break;
            }
            case SHOAL_WRITER_BIAS_REVOKING:
            {
                /* Any writer may run the fence (the one that set REVOKING
                 * may have died before it); FENCED saves the others theirs. */
                if (!shoal_membarrier_global())
                {
                    /* The owner's process registered, so the kernel has the
                     * call: this process is not allowed it (a seccomp filter). */
                    shoal_set_err(SHOAL_ESTATE,
                        "cannot take over the concurrent publication's tail from the thread writing it: "
                        "membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) failed: %s",
                        strerror(errno));
                    return SHOAL_WRITER_BIAS_PATH_ERROR;
                }
                const int64_t next = rest | SHOAL_WRITER_BIAS_FENCED;
                if (shoal_cas(&meta->writer_bias, &bias, next))
                {
                    bias = next;
                }
                break;
            }
            case SHOAL_WRITER_BIAS_FENCED:
            {
                if (0 != shoal_load_acquire(shoal_writer_bias_busy(meta, bias)) && !owner_process_gone(bias))
                {
                    return SHOAL_WRITER_BIAS_PATH_WAIT;
                }
                const int64_t next = handovers + 1 < SHOAL_WRITER_BIAS_HANDOVERS && shoal_membarrier_register()
                    ? owned_by_me(handovers + 1)
                    : shared;
                if (shoal_cas(&meta->writer_bias, &bias, next))
                {
                    return shared == next ? SHOAL_WRITER_BIAS_PATH_SHARED : SHOAL_WRITER_BIAS_PATH_OWNED;
                }
                break;
            }
            case SHOAL_WRITER_BIAS_SHARED: return SHOAL_WRITER_BIAS_PATH_SHARED;
            default:
            {
                /* Not a state this library writes (a hostile or corrupt
                 * log): share, as logs did before the bias. */
                if (shoal_cas(&meta->writer_bias, &bias, shared))
                {
                    return SHOAL_WRITER_BIAS_PATH_SHARED;
                }
                break;
            }
        }
    }
}
