#include "util/shoal_random.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/shoal_clock.h"
#include "util/shoal_error.h"

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int read_urandom(uint8_t *p, size_t length)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
    {
        return -1;
    }
    size_t done = 0;
    while (done < length)
    {
        ssize_t n = read(fd, p + done, length - done);
        if (n < 0 && EINTR == errno)
        {
            continue;
        }
        if (n <= 0)
        {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    close(fd);
    return 0;
}

int shoal_random_fill(void *buf, size_t length)
{
    uint8_t *p = buf;
    size_t done = 0;
    int getrandom_errno = 0;
    while (done < length)
    {
        ssize_t n = getrandom(p + done, length - done, GRND_NONBLOCK);
        if (n < 0 && EINTR == errno)
        {
            continue;
        }
        if (n <= 0)
        {
            getrandom_errno = n < 0 ? errno : EIO;
            break;
        }
        done += (size_t)n;
    }
    if (done == length)
    {
        return 0;
    }
    if (0 == read_urandom(p + done, length - done))
    {
        return shoal_set_err(SHOAL_EIO, "getrandom failed (%s): random ids read from /dev/urandom",
            strerror(getrandom_errno));
    }
    static volatile uint64_t calls;
    uint64_t state = (uint64_t)shoal_nano_time() ^ ((uint64_t)shoal_epoch_ns() << 17) ^ ((uint64_t)getpid() << 32) ^
        (uint64_t)(uintptr_t)buf ^ __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
    for (; done < length; done++)
    {
        p[done] = (uint8_t)splitmix64(&state);
    }
    return shoal_set_err(SHOAL_EIO,
        "getrandom failed (%s) and /dev/urandom is unreadable: random ids derived "
        "from the clocks (guessable)",
        strerror(getrandom_errno));
}

int32_t shoal_random_int32(int *fallback)
{
    int32_t v = 0;
    int rc = shoal_random_fill(&v, sizeof(v));
    if (NULL != fallback)
    {
        *fallback = rc < 0;
    }
    return v;
}
