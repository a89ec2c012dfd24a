/* stubresd: cache_file in the daemon's life (cache.h has the format).
 * Read back before the workers start; saved at exit after the drain, on
 * `stubresctl cache save`, and every cache_save_interval seconds.
 *
 * The snapshot is taken on the main thread, one shard lock at a time for
 * a memcpy per entry, so answering pauses no longer than a shard's copy.
 * The timed save writes the snapshot from a thread of its own (the main
 * loop also runs the control socket and the resolv.conf timer, which must
 * not wait for an fsync); `cache save` and the save at exit write on the
 * main thread, after the thread of a timed save has finished, so that
 * they can tell whether it worked. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "daemon.h"
#include "lib-internal.h" /* sr_free */
#include "log.h"
#include "util.h"         /* clocks */

typedef struct save_job {
    char *path;
    uint8_t *buf;
    size_t len, entries;
} save_job_t;

static void job_free(save_job_t *j)
{
    if (j == NULL)
        return;
    free(j->path);
    sr_free(j->buf);
    free(j);
}

static void *save_thread(void *arg)
{
    save_job_t *j = arg;
    char err[1024];
    if (cache_file_write(j->path, j->buf, j->len, err, sizeof(err)) != 0)
        log_warnx("%s", err);
    else
        log_info("cache_file %s: %zu entries saved", j->path, j->entries);
    job_free(j);
    return NULL;
}

static void join_saver(daemon_t *d)
{
    if (d->cf_thread_on) {
        pthread_join(d->cf_thread, NULL);
        d->cf_thread_on = false;
    }
}

/* This thread's CPU time in microseconds: the load's cost whatever else
 * runs on the machine. */
static uint64_t thread_cpu_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void daemon_cache_load(daemon_t *d)
{
    char err[512];
    size_t n = 0;
    const char *path = d->cfg->cache_file;

    if (path[0] == '\0' || d->cache == NULL)
        return;
    uint64_t t0 = sr_now_us(), c0 = thread_cpu_us();
    int rc = cache_file_load(d->cache, path, sr_now_coarse_s(), (int64_t)time(NULL), &n, err,
                             sizeof(err));
    uint64_t ms = (sr_now_us() - t0) / 1000, cpu_ms = (thread_cpu_us() - c0) / 1000;
    d->cf_loaded = n;
    if (rc == 1)
        log_info("cache_file %s: none yet; starting with an empty cache", path);
    else if (rc != 0)
        log_warnx("cache_file %s: %s; starting with %s", path, err,
                  n != 0 ? "the entries before it" : "an empty cache");
    else
        log_notice("cache_file %s: %zu entries read back in %llu ms (%llu ms CPU)", path, n,
                   (unsigned long long)ms, (unsigned long long)cpu_ms);
}

int daemon_cache_save(daemon_t *d, bool background, size_t *entries, char *err, size_t errcap)
{
    save_job_t *j;

    *entries = 0;
    if (d->cfg->cache_file[0] == '\0' || d->cache == NULL) {
        snprintf(err, errcap, "cache_file is not set");
        return -1;
    }
    join_saver(d);
    j = calloc(1, sizeof(*j));
    if (j == NULL || (j->path = strdup(d->cfg->cache_file)) == NULL ||
        (j->buf = cache_file_snapshot(d->cache, sr_now_coarse_s(), (int64_t)time(NULL), &j->len,
                                      &j->entries)) == NULL) {
        job_free(j);
        snprintf(err, errcap, "cache_file: out of memory");
        return -1;
    }
    *entries = j->entries;
    d->cf_saved = j->entries;
    if (background && pthread_create(&d->cf_thread, NULL, save_thread, j) == 0) {
        d->cf_thread_on = true;
        return 0;
    }
    int rc = cache_file_write(j->path, j->buf, j->len, err, errcap);
    job_free(j);
    return rc;
}

static void save_tick(evutil_socket_t fd, short what, void *arg)
{
    daemon_t *d = arg;
    char err[512];
    size_t n;
    (void)fd;
    (void)what;
    if (daemon_cache_save(d, true, &n, err, sizeof(err)) != 0)
        log_warnx("%s", err);
}

int daemon_cache_timer(daemon_t *d)
{
    struct timeval tv = {(time_t)d->cfg->cache_save_interval, 0};

    if (d->cfg->cache_file[0] == '\0' || d->cfg->cache_save_interval == 0)
        return 0;
    d->cf_timer = event_new(d->base, -1, EV_PERSIST, save_tick, d);
    return d->cf_timer != NULL && event_add(d->cf_timer, &tv) == 0 ? 0 : -1;
}

void daemon_cache_stop(daemon_t *d)
{
    if (d->cf_timer != NULL)
        event_free(d->cf_timer);
    d->cf_timer = NULL;
    join_saver(d);
}
