#include "shoal/shoal.h"

#define SHOAL_STR2(x) #x
#define SHOAL_STR(x)  SHOAL_STR2(x)

const char *shoal_version(void)
{
    return SHOAL_STR(SHOAL_VERSION_MAJOR) "." SHOAL_STR(SHOAL_VERSION_MINOR) "." SHOAL_STR(SHOAL_VERSION_PATCH);
}

int shoal_version_number(void)
{
    return (SHOAL_VERSION_MAJOR << 16) | (SHOAL_VERSION_MINOR << 8) | SHOAL_VERSION_PATCH;
}
