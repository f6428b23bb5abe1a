/* Waiting without the GIL: the signal-aware wait loop, sleeping in the library's waits or backing off. */
#include "wait.h"

#include <math.h>
#include <sched.h>
#include <time.h>

#include "errors.h"

#if defined(__x86_64__) || defined(__i386__)
#define CPU_PAUSE() __builtin_ia32_pause()
#else
#define CPU_PAUSE() ((void)0)
#endif

#define SIGNAL_CHECK_NS (50 * 1000 * 1000LL)

int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int parse_timeout(PyObject *obj, int64_t *wait_ns)
{
    if (NULL == obj || Py_None == obj)
    {
        *wait_ns = -1;
        return 0;
    }
    double t = PyFloat_AsDouble(obj);
    if (-1.0 == t && PyErr_Occurred())
    {
        return -1;
    }
    if (isnan(t) || t < 0)
    {
        raise_invalid("timeout must be None or a number of seconds >= 0");
        return -1;
    }
    *wait_ns = t > 1e9 ? INT64_MAX : (int64_t)(t * 1e9);
    return 0;
}

int64_t deadline_after(int64_t wait_ns)
{
    if (wait_ns == INT64_MAX)
    {
        return INT64_MAX;
    }
    return mono_ns() + wait_ns;
}

/* Spin, then yield, then sleep doubling up to 1 ms: a long wait costs little
 * CPU, a short one little latency. */
typedef struct
{
    uint32_t spins;
    long sleep_ns;
} backoff_t;

static void backoff_idle(backoff_t *b)
{
    if (b->spins < 50)
    {
        b->spins++;
        CPU_PAUSE();
        return;
    }
    if (b->spins < 100)
    {
        b->spins++;
        sched_yield();
        return;
    }
    struct timespec ts = { 0, b->sleep_ns };
    nanosleep(&ts, NULL);
    if (b->sleep_ns < 1000000)
    {
        b->sleep_ns *= 2;
    }
}

int wait_released(attempt_fn attempt, void *arg, const int *closing, int64_t deadline)
{
    return wait_released_sleeping(attempt, NULL, arg, closing, deadline);
}

int wait_released_sleeping(attempt_fn attempt, sleep_fn sleep, void *arg, const int *closing, int64_t deadline)
{
    backoff_t b = { 0, 1000 };
    int64_t next_check = mono_ns() + SIGNAL_CHECK_NS;
    int result;
    PyThreadState *ts = PyEval_SaveThread();
    for (;;)
    {
        if (attempt(arg))
        {
            result = WAIT_DONE;
            break;
        }
        if (NULL != closing && LOAD_ACQ(closing))
        {
            result = WAIT_CLOSING;
            break;
        }
        int64_t now = mono_ns();
        if (now >= deadline)
        {
            result = WAIT_TIMEOUT;
            break;
        }
        if (now >= next_check)
        {
            PyEval_RestoreThread(ts);
            int sig = PyErr_CheckSignals();
            ts = PyEval_SaveThread();
            if (sig < 0)
            {
                result = WAIT_SIGNAL;
                break;
            }
            next_check = now + SIGNAL_CHECK_NS;
        }
        if (NULL == sleep)
        {
            backoff_idle(&b);
        }
        else
        {
            /* Never past the next signal check: Ctrl-C stays prompt. */
            int64_t until = deadline < next_check ? deadline : next_check;
            sleep(arg, until - now);
        }
    }
    PyEval_RestoreThread(ts);
    return result;
}

int wait_released_or_raise(attempt_fn attempt, void *arg, HandleObject *handle, int64_t deadline)
{
    int w = wait_released(attempt, arg, &handle->closing, deadline);
    if (WAIT_CLOSING == w)
    {
        raise_closed(handle_name(handle));
    }
    return WAIT_SIGNAL == w || WAIT_CLOSING == w ? -1 : w;
}
