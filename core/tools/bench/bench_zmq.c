/*
 * shoal-bench's ZeroMQ peer: the sockets of the zmq-* scenarios (PUSH/PULL for
 * throughput, PAIR for round trips) over inproc://, ipc:// or tcp://127.0.0.1.
 * The send and receive calls themselves sit in the loops of
 * bench_throughput.c and bench_rtt.c, beside shoal's, so both are timed alike.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "bench.h"

static void *zsock(void *zctx, int type, int bind, const char *endpoint, char *bound, size_t bound_len, size_t size)
{
    void *s = zmq_socket(zctx, type);
    int hwm = (int)(ZMQ_HWM_BYTES / size < ZMQ_HWM ? ZMQ_HWM_BYTES / size : ZMQ_HWM), linger = 0, timeo = 1000;
    if (!s || zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm)) || zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm)) ||
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) ||
        zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeo, sizeof(timeo)) ||
        zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeo, sizeof(timeo)) ||
        (bind ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint)))
    {
        if (s)
            zmq_close(s);
        return NULL;
    }
    if (bound)
        zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, bound, &bound_len);
    return s;
}

int bench_zmq_open(bench_zmq_t *z, const scenario_t *sc, size_t size, int endpoint_number, char *err, size_t err_len)
{
    memset(z, 0, sizeof(*z));
    if (Z_INPROC == sc->mode)
        snprintf(z->endpoint, sizeof(z->endpoint), "inproc://shoal-bench-%d", endpoint_number);
    else if (Z_IPC == sc->mode)
        snprintf(z->endpoint, sizeof(z->endpoint), "ipc:///tmp/shoal-bench-%ld-%d.ipc", (long)getpid(),
            endpoint_number);
    else
        snprintf(z->endpoint, sizeof(z->endpoint), "tcp://127.0.0.1:*");
    int kt = K_TPUT == sc->kind;
    z->ctx = zmq_ctx_new();
    if (!z->ctx ||
        !(z->socket[1] = zsock(z->ctx, kt ? ZMQ_PULL : ZMQ_PAIR, 1, z->endpoint, z->bound, sizeof(z->bound), size)) ||
        !(z->socket[0] = zsock(z->ctx, kt ? ZMQ_PUSH : ZMQ_PAIR, 0, z->bound, NULL, 0, size)))
    {
        snprintf(err, err_len, "zmq set-up on %s: %s", z->endpoint, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

void bench_zmq_close(bench_zmq_t *z, const scenario_t *sc)
{
    for (int i = 0; i < 2; i++)
    {
        if (z->socket[i])
            zmq_close(z->socket[i]);
    }
    if (z->ctx)
        zmq_ctx_term(z->ctx);
    if (Z_IPC == sc->mode && strlen(z->endpoint) > 6)
        unlink(z->endpoint + 6);
}

void bench_zmq_version(int *major, int *minor, int *patch)
{
    zmq_version(major, minor, patch);
}
