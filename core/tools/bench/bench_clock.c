#include "bench_clock.h"

#include <stdio.h>
#include <string.h>

bench_clock_t bench_clock;

/* The kernel's clocksource: "tsc" only once it has checked the TSC is
 * invariant and synchronised across CPUs (it falls back otherwise). */
static int kernel_uses_tsc(char *name, size_t len)
{
    snprintf(name, len, "unknown");
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (NULL == f)
        return 0;
    if (NULL != fgets(name, (int)len, f))
        name[strcspn(name, "\n")] = '\0';
    fclose(f);
    return 0 == strcmp(name, "tsc");
}

/* Mean cost of a reading, and the smallest non-zero step between two. */
static void measure(double *cost_ns, int64_t *step_ns)
{
    enum
    {
        READS = 200000
    };
    int64_t prev = bench_now_ns(), step = INT64_MAX;
    const int64_t begin = prev;
    for (int i = 0; i < READS; i++)
    {
        const int64_t t = bench_now_ns();
        if (t > prev && t - prev < step)
            step = t - prev;
        prev = t;
    }
    *cost_ns = (double)(prev - begin) / READS;
    *step_ns = step;
}

void bench_clock_init(int want_tsc, char *desc, size_t desc_len)
{
    char source[64];
    const int usable = BENCH_HAVE_TSC && kernel_uses_tsc(source, sizeof(source));
    bench_clock.tsc = 0;
#if BENCH_HAVE_TSC
    if (want_tsc && usable)
    {
        /* 50 ms against CLOCK_MONOTONIC: an error of ~50 ns in 50 ms is 1 ppm. */
        unsigned aux;
        const int64_t ns0 = bench_monotonic_ns();
        const uint64_t tick0 = __rdtscp(&aux);
        int64_t ns1;
        uint64_t tick1;
        do
        {
            tick1 = __rdtscp(&aux);
            ns1 = bench_monotonic_ns();
        }
        while (ns1 - ns0 < 50000000);
        bench_clock.ns_per_tick = (double)(ns1 - ns0) / (double)(tick1 - tick0);
        bench_clock.base_tick = tick1;
        bench_clock.base_ns = ns1;
        bench_clock.tsc = 1;
    }
#endif
    double cost;
    int64_t step;
    measure(&cost, &step);
    if (bench_clock.tsc)
        snprintf(desc, desc_len,
            "TSC (rdtscp) at %.3f GHz, calibrated against CLOCK_MONOTONIC (clocksource tsc); "
            "%.1f ns a reading, readings >= %lld ns apart",
            1.0 / bench_clock.ns_per_tick, cost, (long long)step);
    else
        snprintf(desc, desc_len, "CLOCK_MONOTONIC (clocksource %s%s); %.1f ns a reading, readings >= %lld ns apart",
            source, want_tsc ? (usable ? "" : ": the TSC is not the kernel's clock") : ": --clock monotonic", cost,
            (long long)step);
}
