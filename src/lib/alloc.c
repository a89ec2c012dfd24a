/* The one allocation wrapper of the library (see lib-internal.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib-internal.h"

/* < 0: never fail. Tests only, so a plain static is enough. */
static long fail_after = -1;

void sr_alloc_fail_after(long n)
{
    fail_after = n;
}

static bool alloc_should_fail(void)
{
    if (fail_after < 0)
        return false;
    if (fail_after == 0)
        return true;
    fail_after--;
    return false;
}

void *sr_malloc(size_t n)
{
    return alloc_should_fail() ? NULL : malloc(n ? n : 1);
}

void *sr_calloc(size_t nmemb, size_t size)
{
    return alloc_should_fail() ? NULL : calloc(nmemb ? nmemb : 1, size ? size : 1);
}

void *sr_realloc(void *p, size_t n)
{
    return alloc_should_fail() ? NULL : realloc(p, n ? n : 1);
}

char *sr_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = sr_malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

void sr_free(void *p)
{
    free(p);
}
