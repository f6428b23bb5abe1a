/*
 * shoal-bench: the source of every performance figure quoted for shoal (the
 * method is described in bench.h, the options in bench_options.c and
 * --help). This file starts the embedded driver on a private directory, runs
 * the selected scenarios at every size and prints the report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "bench_clock.h"

/* The embedded driver on dir with the --set settings, and its client. 0, or -1 after saying why. */
static int start_driver(bench_t *b, const char *dir, shoal_context_t **ctx, shoal_driver_t **driver)
{
    const bench_options_t *opt = b->opt;
    if (shoal_context_init(ctx) < 0 || shoal_context_set_dir(*ctx, dir) < 0 ||
        shoal_context_set(*ctx, "DIR_DELETE_ON_SHUTDOWN", "1") < 0)
    {
        fprintf(stderr, "shoal-bench: %s\n", shoal_errmsg());
        return -1;
    }
    for (int i = 0; i < opt->nsettings; i++)
    {
        char key[64];
        snprintf(key, sizeof(key), "%.*s", (int)(strchr(opt->settings[i], '=') - opt->settings[i]), opt->settings[i]);
        if (shoal_context_set(*ctx, key, strchr(opt->settings[i], '=') + 1) < 0)
            bench_bad("--set %s: %s", opt->settings[i], shoal_errmsg());
    }
    bench_pin_self(&b->pin, BENCH_PIN_DRIVER_BEGIN);
    int rc = shoal_driver_start(driver, *ctx) < 0 || shoal_client_connect(&b->client, *ctx) < 0 ? -1 : 0;
    bench_pin_self(&b->pin, BENCH_PIN_DRIVER_END);
    if (rc < 0)
    {
        fprintf(stderr, "shoal-bench: cannot start the embedded driver in %s: %s\n", dir, shoal_errmsg());
        return -1;
    }
    return 0;
}

/* The selected aeron-* scenario that runs shoal scenario i's loops, or N_SCENARIOS. */
static size_t mirror_of(const bench_options_t *opt, size_t i)
{
    for (size_t m = 0; m < N_SCENARIOS; m++)
        if (opt->selected[m] && SCENARIOS[m].mirror && 0 == strcmp(SCENARIOS[m].mirror, SCENARIOS[i].name))
            return m;
    return N_SCENARIOS;
}

int main(int argc, char **argv)
{
    bench_options_t opt;
    if (bench_parse_options(&opt, argc, argv))
        return 0; /* --help */
    bench_t b = { .opt = &opt, .pin.enabled = opt.pin, .pin.driver_role = opt.pin_driver, .next_stream = 7001 };
    bench_read_machine(&b.machine, &b.pin);
    bench_clock_init(opt.clock_tsc, b.machine.clock, sizeof(b.machine.clock));

    char dir[128];
    snprintf(dir, sizeof(dir), "/dev/shm/shoal-bench-%ld", (long)getpid());
    shoal_context_t *ctx;
    shoal_driver_t *driver;
    if (start_driver(&b, dir, &ctx, &driver) < 0)
        return 1;
    b.ctx = ctx;

    b.results = calloc(N_SCENARIOS * MAX_SIZES, sizeof(result_t));
    int failed = 0, progress = isatty(2);
    for (int z = 0; z < opt.nsizes; z++)
    {
        int done[MAX_SCENARIOS] = { 0 }; /* aeron-* scenarios already run with their pair at this size */
        for (size_t i = 0; i < N_SCENARIOS; i++)
        {
            if (!opt.selected[i] || done[i])
                continue;
            result_t *r = &b.results[b.nresults++];
            r->sc = &SCENARIOS[i];
            r->size = opt.sizes[z];
            size_t m = opt.sequential || !bench_pairable(r->sc) ? N_SCENARIOS : mirror_of(&opt, i);
            if (progress)
                fprintf(stderr, "shoal-bench: %s%s%s, %zu B ...\n", r->sc->name, m < N_SCENARIOS ? " with " : "",
                    m < N_SCENARIOS ? SCENARIOS[m].name : "", r->size);
            if (m < N_SCENARIOS)
            {
                result_t *a = &b.results[b.nresults++];
                a->sc = &SCENARIOS[m];
                a->size = r->size;
                done[m] = 1;
                bench_run_pair(&b, r, a);
                failed |= !bench_result_ok(a) && !a->skipped;
            }
            else
            {
                bench_run_scenario(&b, r);
            }
            failed |= !bench_result_ok(r) && !r->skipped;
        }
    }
    bench_describe_pinning(&b.machine, &b.pin);
    opt.json ? bench_print_json(&b) : opt.csv ? bench_print_csv(&b) : bench_print_table(&b);
    fflush(stdout);

    shoal_client_close(b.client);
    shoal_driver_close(driver);
    shoal_context_close(ctx);
    free(b.results);
    return failed ? 1 : 0;
}
