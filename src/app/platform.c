/* platform.c - placeholder being replaced by the platform implementation (branch h-app). */
#include "app/platform.h"

#include <stdlib.h>

struct platform {
    int unused;
};

platform_t *platform_new(const platform_config_t *pc)
{
    return calloc(1, sizeof(platform_t));
}

void platform_free(platform_t *p)
{
    free(p);
}

void platform_metrics(buf_t *out, void *p)
{
}
