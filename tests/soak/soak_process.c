/* The soak's processes: starting a role (this program re-executed) and
 * measuring what this process holds (file descriptors, resident memory). */
#define _GNU_SOURCE
#include <dirent.h>
#include <spawn.h>
#include <stdio.h>
#include <unistd.h>

#include "soak.h"

extern char **environ;

int soak_spawn(pid_t *pid, char *const argv[])
{
    return posix_spawn(pid, argv[0], NULL, NULL, argv, environ);
}

int soak_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (NULL == d)
    {
        return -1;
    }
    while (readdir(d))
    {
        n++;
    }
    closedir(d);
    return n;
}

long soak_rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f)
    {
        if (2 != fscanf(f, "%ld %ld", &pages, &resident))
        {
            resident = 0;
        }
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}
