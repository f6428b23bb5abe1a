/*
 * What shoal-bench says about the machine it ran on (CPU, kernel, load,
 * libzmq version), and --pin: the benchmark threads pinned to the first two
 * CPUs this process may run on, with the outcome counted and reported.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static void pin_driver_start(bench_pin_t *pin, int role)
{
    if (role == BENCH_PIN_DRIVER_END)
    {
        pthread_setaffinity_np(pthread_self(), sizeof(pin->saved), &pin->saved);
        return;
    }
    if (pthread_getaffinity_np(pthread_self(), sizeof(pin->saved), &pin->saved) != 0)
        CPU_ZERO(&pin->saved);
    bench_pin_self(pin, pin->driver_role);
}

void bench_pin_self(bench_pin_t *pin, int role)
{
    if (!pin->enabled || (role >= BENCH_PIN_DRIVER_BEGIN && pin->driver_role < 0))
        return;
    if (role >= BENCH_PIN_DRIVER_BEGIN)
    {
        pin_driver_start(pin, role);
        return;
    }
    __atomic_add_fetch(&pin->attempts, 1, __ATOMIC_RELAXED);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(pin->cpu[role], &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
        __atomic_add_fetch(&pin->failures, 1, __ATOMIC_RELAXED);
}

void bench_read_machine(bench_machine_t *machine, bench_pin_t *pin)
{
    char line[512];
    machine->nproc = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(machine->cpu, sizeof(machine->cpu), "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof(line), f))
    {
        char *colon = strchr(line, ':');
        if (0 == strncmp(line, "model name", 10) && colon)
        {
            colon += 1 + strspn(colon + 1, " \t");
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(machine->cpu, sizeof(machine->cpu), "%s", colon);
            break;
        }
    }
    if (f)
        fclose(f);
    snprintf(machine->loadavg, sizeof(machine->loadavg), "unknown");
    if ((f = fopen("/proc/loadavg", "r")) && fgets(line, sizeof(line), f))
    {
        line[strcspn(line, "\n")] = '\0';
        snprintf(machine->loadavg, sizeof(machine->loadavg), "%.63s", line);
    }
    if (f)
        fclose(f);
    struct utsname u;
    if (0 == uname(&u))
        snprintf(machine->kernel, sizeof(machine->kernel), "%s %s %s", u.sysname, u.release, u.machine);
    time_t now = time(NULL);
    strftime(machine->date, sizeof(machine->date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    bench_zmq_version(&machine->zmaj, &machine->zmin, &machine->zpat);
    snprintf(machine->note, sizeof(machine->note),
        "%ld cores: the publisher(s), subscriber, embedded driver and client conductor threads share them "
        "(zmq ipc/tcp add a zmq I/O thread)",
        machine->nproc);
    /* Pin targets: the first two CPUs this process may run on. */
    cpu_set_t set;
    int found = 0;
    pin->cpu[0] = 0, pin->cpu[1] = 1;
    if (0 == sched_getaffinity(0, sizeof(set), &set))
    {
        for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
            if (CPU_ISSET(c, &set))
                pin->cpu[found++] = c;
    }
    if (found < 2)
        pin->cpu[1] = pin->cpu[0];
}

void bench_describe_pinning(bench_machine_t *machine, const bench_pin_t *pin)
{
    if (!pin->enabled)
        snprintf(machine->pinned, sizeof(machine->pinned), "no (--pin not given)");
    else if (0 == pin->attempts || pin->failures == pin->attempts)
        snprintf(machine->pinned, sizeof(machine->pinned), "no: pthread_setaffinity_np failed (%d of %d calls)",
            pin->failures, pin->attempts);
    else
        snprintf(machine->pinned, sizeof(machine->pinned),
            "%s: publisher(s)/pinger on cpu %d, subscriber/ponger on cpu %d (%d of %d calls failed); %s%d",
            pin->failures ? "partly" : "yes", pin->cpu[0], pin->cpu[1], pin->failures, pin->attempts,
            pin->driver_role < 0 ? "driver not pinned" : "driver and client threads on cpu ",
            pin->driver_role < 0 ? -1 : pin->cpu[pin->driver_role]);
}
