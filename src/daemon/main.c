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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void print_errors(const cfg_errors_t *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        fprintf(stderr, "stubresd: %s\n", errs->msg[i]);
    if (errs->dropped)
        fprintf(stderr, "stubresd: ... and %zu more errors\n", errs->dropped);
}

/* SIGHUP reloads, SIGTERM and SIGINT stop: events of the main loop. */
static int catch_signals(daemon_t *d, struct event *ev[3])
{
    ev[0] = evsignal_new(d->base, SIGHUP, on_hup, d);
    ev[1] = evsignal_new(d->base, SIGTERM, on_term, d);
    ev[2] = evsignal_new(d->base, SIGINT, on_term, d);
    for (int i = 0; i < 3; i++)
        if (ev[i] == NULL || evsignal_add(ev[i], NULL) != 0)
            return -1;
    return 0;
}

/* Everything after the configuration was read: sockets, root dropped,
 * background, threads, the loop, the drain. 0 or 1 (the exit status). */
static int run(daemon_t *d, bool foreground, char *err, size_t errcap)
{
    struct event *ev[3] = {NULL, NULL, NULL};
    int rc = 1;

    log_set_level(d->cfg->log_level);
    /* libevent's global parts (signals, debug map) safe for threads. The
     * worker bases opt out of locking (worker.c): only their own thread
     * touches them. */
    if (evthread_use_pthreads() != 0) {
        snprintf(err, errcap, "libevent: no thread support");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (daemon_bind(d, err, errcap) != 0 || daemon_drop_root(d, err, errcap) != 0)
        return 1;
    /* Into the background (not under systemd, which wants us here). */
    if (!foreground && getenv("NOTIFY_SOCKET") == NULL && detach() != 0) {
        snprintf(err, errcap, "cannot detach: %s", strerror(errno));
        return 1;
    }
    log_init("stubresd", foreground, d->cfg->log_level);
    if (geteuid() == 0)
        log_notice("running as root (set user = to drop privileges)");
    if (daemon_start(d, err, errcap) != 0)
        goto done;
    if (catch_signals(d, ev) != 0) {
        snprintf(err, errcap, "cannot catch signals");
        goto done;
    }
    log_notice("stubresd %s ready: %zu sockets, %u thread(s), %zu upstream(s), first %s",
               PACKAGE_VERSION, d->listeners.n, d->nworkers, d->pool->n,
               d->pool->n ? d->pool->servers[0]->spec.name : "-");
    notify("READY=1\nSTATUS=answering queries");
    event_base_dispatch(d->base);
    daemon_drain(d);
    rc = 0;
done:
    for (int i = 0; i < 3; i++)
        if (ev[i] != NULL)
            event_free(ev[i]);
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = SYSCONFDIR "/stubresd.conf";
    bool foreground = false, test_only = false;
    cfg_errors_t errs = {0};
    daemon_t *d;
    char err[2048] = "";
    int ch, rc = 1;

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
    log_init("stubresd", true, LOG_LEVEL_NOTICE);

    /* The whole configuration, checked, before anything else. */
    d = daemon_new(path, &errs);
    if (d == NULL) {
        print_errors(&errs);
        cfg_errors_clear(&errs);
        if (test_only)
            fprintf(stderr, "stubresd: %s: config has errors\n", path);
        log_shutdown();
        return 1;
    }
    d->check_transport = test_only;
    /* -t: the paths too (a start meets them when it binds), and every
     * error, not only the first. */
    if (test_only && cfg_check_paths(d->cfg, &errs) != 0) {
        print_errors(&errs);
        cfg_errors_clear(&errs);
        if (daemon_check(d, err, sizeof(err)) != 0)
            log_err("%s", err);
        fprintf(stderr, "stubresd: %s: config has errors\n", path);
    } else if (daemon_check(d, err, sizeof(err)) != 0) {
        log_err("%s", err);
        if (test_only)
            fprintf(stderr, "stubresd: %s: config has errors\n", path);
    } else if (test_only) {
        printf("config OK\n");
        rc = 0;
    } else {
        rc = run(d, foreground, err, sizeof(err));
        if (rc != 0)
            log_err("%s", err);
    }
    daemon_free(d);
    log_shutdown();
    libevent_global_shutdown();
    return rc;
}
