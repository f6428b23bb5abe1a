/*
 * bench_c.c: the C twin of the loops in bench.lua, so LuaJIT and C are
 * measured on the same publication and subscription in the same run.
 * bench.lua compiles it into a shared object and calls it through the FFI
 * (one call per run: the FFI is not inside the measured loop).
 *
 * One thread, bursts: offer `burst` 32-byte messages (retrying while back
 * pressured or on admin action), then drain them with poll_batch; the time
 * spent in each phase is summed separately. Each message carries its
 * sequence number in its first 8 bytes; the drain checks it.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "shoal/shoal.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Returns the number of sequence errors (0 when all is well), or -1 on a
 * hard failure. *offer_s and *poll_s receive the time spent in each phase. */
int shoal_bench_c_run(shoal_publication_t *pub, shoal_subscription_t *sub, long count, int burst, int msg_len,
    double *offer_s, double *poll_s)
{
    uint8_t msg[256];
    shoal_fragment_t frags[256];
    if (msg_len < 8 || msg_len > (int)sizeof(msg) || burst < 1 || burst > 256)
    {
        return -1;
    }
    memset(msg, 'x', sizeof(msg));
    double t_offer = 0, t_poll = 0;
    long sent = 0, received = 0;
    int errors = 0;
    while (sent < count)
    {
        long n = count - sent < burst ? count - sent : burst;
        double t0 = now_s();
        for (long i = 0; i < n; i++)
        {
            int64_t seq = sent + i;
            memcpy(msg, &seq, sizeof(seq));
            int64_t r;
            while ((r = shoal_publication_offer(pub, msg, (size_t)msg_len)) < 0)
            {
                if (r != SHOAL_BACK_PRESSURED && r != SHOAL_ADMIN_ACTION)
                {
                    return -1;
                }
            }
        }
        sent += n;
        double t1 = now_s();
        while (received < sent)
        {
            int k = shoal_subscription_poll_batch(sub, frags, 256);
            if (k < 0)
            {
                return -1;
            }
            for (int j = 0; j < k; j++)
            {
                int64_t seq;
                memcpy(&seq, frags[j].data, sizeof(seq));
                if (seq != received || frags[j].length != (size_t)msg_len)
                {
                    errors++;
                }
                received++;
            }
        }
        double t2 = now_s();
        t_offer += t1 - t0;
        t_poll += t2 - t1;
    }
    *offer_s = t_offer;
    *poll_s = t_poll;
    return errors;
}
