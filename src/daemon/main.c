/* stubresd: a local caching DNS stub resolver.
 *
 * Start-up order, each step finished before the next begins: read and
 * check the whole configuration (a bad one stops here, naming file, line
 * and key: never a half-started daemon) -> bind every socket (DNS,
 * control, metrics) -> drop root -> detach -> start the worker threads ->
 * tell systemd READY. Signals are libevent events on the main thread:
 * SIGHUP reloads, SIGTERM/SIGINT drain and exit 0. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "daemon.h"
#include "log.h"
#include "priv.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: stubresd [-f] [-t] [-c FILE]\n"
            "  -c FILE  configuration file (default %s/stubresd.conf)\n"
            "  -f       stay in the foreground and log to stderr\n"
            "  -t       check the configuration and exit\n"
            "  -h       this help\n"
            "  -V       version\n",
            SYSCONFDIR);
}

static void notify(const char *what)
{
#ifdef HAVE_LIBSYSTEMD
    sd_notify(0, what);
#else
    (void)what;
#endif
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    daemon_t *d = arg;
    char err[2048];

    (void)sig;
    (void)what;
    notify("RELOADING=1");
    if (daemon_reload(d, err, sizeof(err)) != 0)
        log_err("reload failed, keeping the running configuration: %s", err);
    /* Reopen the query log too (logrotate). */
    if (d->cfg->query_log[0] != '\0' && log_query_open(d->cfg->query_log, err, sizeof(err)) != 0)
        log_err("%s", err);
    notify("READY=1");
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
    daemon_t *d = arg;

    (void)what;
    if (d->stopping)
        return;
    d->stopping = true;
    log_notice("signal %d: finishing the queries in flight, then exiting", (int)sig);
    notify("STOPPING=1");
    event_base_loopexit(d->base, NULL);
}

/* Fork into the background, unless systemd watches us (it wants the
 * process it started, and Type=notify). */
static int detach(void)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -1;
    if (chdir("/") != 0)
        return -1;
    fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    return 0;
}

/* The directory of the state file must be the daemon user's to write. */
static void prepare_state_dir(const cfg_t *c, uid_t uid, gid_t gid, bool chown_it)
{
    char *copy;
    const char *dir;

    if (c->state_file[0] == '\0')
        return;
    copy = strdup(c->state_file);
    if (copy == NULL)
        return;
    dir = dirname(copy);
    if (priv_mkdir(dir, 0750, chown_it ? uid : (uid_t)-1, chown_it ? gid : (gid_t)-1) != 0)
        log_warn("state_file: cannot create or hand over %s", dir);
    free(copy);
}

int main(int argc, char **argv)
{
    const char *path = SYSCONFDIR "/stubresd.conf";
    bool foreground = false, test_only = false;
    cfg_errors_t errs = {0};
    daemon_t d;
    state_t *st = NULL;
    char err[2048];
    int ch, rc = 1;
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1, cgid = (gid_t)-1;
    struct event *ev_hup = NULL, *ev_term = NULL, *ev_int = NULL;

    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"foreground", no_argument, NULL, 'f'},
        {"test", no_argument, NULL, 't'},         {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
    };
    while ((ch = getopt_long(argc, argv, "c:fthV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': path = optarg; break;
        case 'f': foreground = true; break;
        case 't': test_only = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("stubresd %s\n%s\n", PACKAGE_VERSION, cfg_build_info()); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    memset(&d, 0, sizeof(d));
    log_init("stubresd", true, LOG_LEVEL_NOTICE);

    /* 1. The whole configuration, checked, before anything else. */
    size_t dropped = 0;
    d.cfg = daemon_load(path, &d.file_cfg, &st, &dropped, &errs);
    if (d.cfg == NULL) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "stubresd: %s\n", errs.msg[i]);
        if (errs.dropped)
            fprintf(stderr, "stubresd: ... and %zu more errors\n", errs.dropped);
        cfg_errors_clear(&errs);
        if (test_only)
            fprintf(stderr, "stubresd: %s: config has errors\n", path);
        return 1;
    }
    d.state = st;
    d.config_path = strdup(path);
    if (d.cfg->user[0] != '\0' && priv_lookup(d.cfg->user, &uid, &gid, err, sizeof(err)) != 0)
        goto fatal;
    if (d.cfg->control_group[0] != '\0' &&
        priv_group(d.cfg->control_group, &cgid, err, sizeof(err)) != 0)
        goto fatal;
    if (test_only) {
        /* The transport's own checks too (CA file, DoH URL). */
        evthread_use_pthreads();
        struct event_base *b = event_base_new();
        pool_t *p = pool_new(d.cfg, NULL, err, sizeof(err));
        int ok = p != NULL && b != NULL && pool_validate(p, b, err, sizeof(err)) == 0;
        pool_unref(p);
        if (b != NULL)
            event_base_free(b);
        if (!ok)
            goto fatal;
        printf("config OK\n");
        rc = 0;
        goto out;
    }
    log_set_level(d.cfg->log_level);

    /* libevent's global parts (signals, debug map) safe for threads. The
     * worker bases opt out of locking (worker.c): only their own thread
     * touches them. */
    if (evthread_use_pthreads() != 0) {
        snprintf(err, sizeof(err), "libevent: no thread support");
        goto fatal;
    }
    signal(SIGPIPE, SIG_IGN);

    /* 2. Every socket, while we may still bind port 53. */
    if (listener_open(d.cfg, &d.listeners, err, sizeof(err)) != 0)
        goto fatal;
    if (d.cfg->control[0] != '\0') {
        d.control = control_open(d.cfg->control, uid, cgid, err, sizeof(err));
        if (d.control == NULL)
            goto fatal;
    }
    if (d.cfg->metrics[0] != '\0') {
        d.metrics = metrics_open(d.cfg->metrics, err, sizeof(err));
        if (d.metrics == NULL)
            goto fatal;
    }
    /* A query log root creates is the daemon user's, to reopen later. */
    if (uid != (uid_t)-1 && geteuid() == 0)
        log_query_owner(uid, gid);
    if (log_query_open(d.cfg->query_log, err, sizeof(err)) != 0)
        goto fatal;
    prepare_state_dir(d.cfg, uid, gid, uid != (uid_t)-1 && geteuid() == 0);

    /* 3. Root is not needed any more. */
    if (priv_drop(d.cfg->user, err, sizeof(err)) != 0)
        goto fatal;
    if (d.state != NULL && state_path(d.state)[0] != '\0') {
        char *copy = strdup(state_path(d.state));
        if (copy != NULL && access(dirname(copy), W_OK) != 0)
            log_warnx("state_file: %s is not writable: changes made at run time will not "
                      "survive a restart",
                      state_path(d.state));
        else if (dropped > 0)
            daemon_save_state(&d); /* the changes the config file overruled */
        free(copy);
    }

    /* 4. Into the background (not under systemd, which wants us here). */
    if (!foreground && getenv("NOTIFY_SOCKET") == NULL && detach() != 0) {
        snprintf(err, sizeof(err), "cannot detach: %s", strerror(errno));
        goto fatal;
    }
    log_init("stubresd", foreground, d.cfg->log_level);
    if (geteuid() == 0)
        log_notice("running as root (set user = to drop privileges)");

    /* 5. The loops. */
    d.start_us = pool_now_us();
    d.base = event_base_new();
    if (d.base == NULL) {
        snprintf(err, sizeof(err), "libevent: cannot create an event base");
        goto fatal;
    }
    cache_cfg_t cc = daemon_cache_cfg(d.cfg);
    d.cache = cache_new(&cc);
    if (d.cache == NULL) {
        snprintf(err, sizeof(err), "cache: out of memory");
        goto fatal;
    }
    d.pool = pool_new(d.cfg, NULL, err, sizeof(err));
    if (d.pool == NULL)
        goto fatal;
    d.workers = calloc(d.cfg->threads, sizeof(*d.workers));
    if (d.workers == NULL) {
        snprintf(err, sizeof(err), "out of memory");
        goto fatal;
    }
    for (unsigned i = 0; i < d.cfg->threads; i++) {
        d.workers[i] = worker_new(i, d.cfg->threads, d.cache, d.cfg, d.pool, d.listeners.socks[i],
                                  d.listeners.n);
        if (d.workers[i] == NULL) {
            snprintf(err, sizeof(err), "thread %u: cannot set up", i);
            goto fatal;
        }
        d.nworkers++;
    }
    if (d.control != NULL && control_start(d.control, d.base, daemon_command, &d) != 0) {
        snprintf(err, sizeof(err), "control: cannot listen");
        goto fatal;
    }
    if (d.metrics != NULL &&
        metrics_start(d.metrics, d.base, daemon_metrics_collect, daemon_metrics_release,
                      daemon_metrics_allowed, &d) != 0) {
        snprintf(err, sizeof(err), "metrics: cannot serve");
        goto fatal;
    }
    ev_hup = evsignal_new(d.base, SIGHUP, on_hup, &d);
    ev_term = evsignal_new(d.base, SIGTERM, on_term, &d);
    ev_int = evsignal_new(d.base, SIGINT, on_term, &d);
    if (ev_hup == NULL || ev_term == NULL || ev_int == NULL || evsignal_add(ev_hup, NULL) ||
        evsignal_add(ev_term, NULL) || evsignal_add(ev_int, NULL)) {
        snprintf(err, sizeof(err), "cannot catch signals");
        goto fatal;
    }
    for (unsigned i = 0; i < d.nworkers; i++) {
        if (worker_start(d.workers[i]) != 0) {
            snprintf(err, sizeof(err), "thread %u: cannot start", i);
            goto fatal;
        }
    }
    log_notice("stubresd %s ready: %zu sockets, %u thread(s), %zu upstream(s), first %s",
               PACKAGE_VERSION, d.listeners.n, d.nworkers, d.pool->n,
               d.pool->n ? d.pool->servers[0]->spec.name : "-");
    notify("READY=1\nSTATUS=answering queries");

    event_base_dispatch(d.base);

    /* Drain: no new queries; the ones in flight get their answers. */
    control_free(d.control);
    d.control = NULL;
    for (unsigned i = 0; i < d.nworkers; i++)
        worker_stop(d.workers[i], daemon_drain_ms(d.cfg));
    rc = 0;
    goto out;

fatal:
    log_err("%s", err);
    if (test_only)
        fprintf(stderr, "stubresd: %s: config has errors\n", path);
    rc = 1;
out:
    for (unsigned i = 0; i < d.nworkers; i++)
        worker_join_free(d.workers[i]);
    free(d.workers);
    if (ev_hup != NULL)
        event_free(ev_hup);
    if (ev_term != NULL)
        event_free(ev_term);
    if (ev_int != NULL)
        event_free(ev_int);
    control_free(d.control);
    metrics_free(d.metrics);
    listener_close(&d.listeners);
    pool_unref(d.pool);
    cache_free(d.cache);
    state_free(d.state);
    cfg_unref(d.file_cfg);
    cfg_unref(d.cfg);
    free(d.config_path);
    if (d.base != NULL)
        event_base_free(d.base);
    log_shutdown();
    libevent_global_shutdown();
    return rc;
}
