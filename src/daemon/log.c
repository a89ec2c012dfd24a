/* stubresd: logging (see log.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"

static atomic_int log_level_cur = LOG_LEVEL_NOTICE;
static bool log_to_stderr = true;
static bool log_syslog_open;

/* The query log: a sink chosen by log_query_open(). Writes are rare enough
 * (only when an operator asked for them) that one mutex is fine. */
enum qlog_sink { QLOG_OFF, QLOG_SYSLOG, QLOG_STDERR, QLOG_FILE };
static pthread_mutex_t qlog_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int qlog_sink = QLOG_OFF;
static FILE *qlog_file;
/* Who gets a query log file that root creates (-1: nobody to give it to). */
static uid_t qlog_uid = (uid_t)-1;
static gid_t qlog_gid = (gid_t)-1;

static const int syslog_prio[] = {
    [LOG_LEVEL_ERROR] = LOG_ERR, [LOG_LEVEL_WARNING] = LOG_WARNING, [LOG_LEVEL_NOTICE] = LOG_NOTICE,
    [LOG_LEVEL_INFO] = LOG_INFO, [LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

static const char *const level_tag[] = {
    [LOG_LEVEL_ERROR] = "error", [LOG_LEVEL_WARNING] = "warning", [LOG_LEVEL_NOTICE] = "notice",
    [LOG_LEVEL_INFO] = "info",   [LOG_LEVEL_DEBUG] = "debug",
};

void log_init(const char *ident, bool foreground, int level)
{
    log_to_stderr = foreground;
    log_set_level(level);
    if (!foreground && !log_syslog_open) {
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
        log_syslog_open = true;
    }
}

void log_set_level(int level)
{
    if (level < LOG_LEVEL_ERROR)
        level = LOG_LEVEL_ERROR;
    if (level > LOG_LEVEL_DEBUG)
        level = LOG_LEVEL_DEBUG;
    atomic_store_explicit(&log_level_cur, level, memory_order_relaxed);
}

int log_get_level(void)
{
    return atomic_load_explicit(&log_level_cur, memory_order_relaxed);
}

bool log_enabled(int level)
{
    return level <= log_get_level();
}

/* The format attribute lets clang's -Wformat-nonliteral (in -Wformat=2)
 * see that fmt is the callers' checked format string. */
static void log_vwrite(int level, const char *fmt, va_list ap, int err)
    __attribute__((format(printf, 2, 0)));

static void log_vwrite(int level, const char *fmt, va_list ap, int err)
{
    char msg[1024];
    int n;

    if (!log_enabled(level))
        return;
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0)
        return;
    if (err != 0 && (size_t)n < sizeof(msg))
        snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(err));
    if (log_to_stderr) {
        /* One fprintf per line: stdio locks the stream, so lines from
         * different threads do not interleave. */
        fprintf(stderr, "stubresd[%s]: %s\n", level_tag[level], msg);
    } else {
        syslog(syslog_prio[level], "%s", msg);
    }
}

/* The loggers differ only in their level, whether errno's text follows
 * the message (with_errno, as OpenBSD's log_warn; errno is read on entry)
 * and what happens after: log_warn leaves errno as it found it, fatal and
 * fatalx end the process. */
#define LOGGER(fn, level, with_errno, after)                                                       \
    void fn(const char *fmt, ...)                                                                  \
    {                                                                                              \
        int err = errno;                                                                           \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        log_vwrite(level, fmt, ap, (with_errno) ? err : 0);                                        \
        va_end(ap);                                                                                \
        after;                                                                                     \
    }

LOGGER(log_warn, LOG_LEVEL_WARNING, true, errno = err)
LOGGER(log_warnx, LOG_LEVEL_WARNING, false, (void)err)
LOGGER(log_err, LOG_LEVEL_ERROR, false, (void)err)
LOGGER(log_notice, LOG_LEVEL_NOTICE, false, (void)err)
LOGGER(log_info, LOG_LEVEL_INFO, false, (void)err)
LOGGER(log_debug, LOG_LEVEL_DEBUG, false, (void)err)
LOGGER(fatal, LOG_LEVEL_ERROR, true, exit(1))
LOGGER(fatalx, LOG_LEVEL_ERROR, false, exit(1))

void log_query_owner(uid_t uid, gid_t gid)
{
    qlog_uid = uid;
    qlog_gid = gid;
}

/* Put f (may be NULL) and sink in place of the query log's own, closing
 * the file it had. */
static void qlog_swap(FILE *f, int sink)
{
    pthread_mutex_lock(&qlog_mu);
    if (qlog_file != NULL)
        fclose(qlog_file);
    qlog_file = f;
    atomic_store_explicit(&qlog_sink, sink, memory_order_relaxed);
    pthread_mutex_unlock(&qlog_mu);
}

int log_query_open(const char *where, char *err, size_t errcap)
{
    FILE *f = NULL;
    char why[512];
    int sink, fd;

    if (where == NULL || where[0] == '\0') {
        sink = QLOG_OFF;
    } else if (strcmp(where, "syslog") == 0) {
        sink = QLOG_SYSLOG;
    } else if (strcmp(where, "stderr") == 0) {
        sink = QLOG_STDERR;
    } else {
        fd = priv_open_log(where, qlog_uid, qlog_gid, why, sizeof(why));
        if (fd < 0) {
            snprintf(err, errcap, "query_log: %s", why);
            return -1;
        }
        f = fdopen(fd, "a");
        if (f == NULL) {
            snprintf(err, errcap, "query_log: %s: %s", where, strerror(errno));
            close(fd);
            return -1;
        }
        setvbuf(f, NULL, _IOLBF, 0);
        sink = QLOG_FILE;
    }
    qlog_swap(f, sink);
    if (sink == QLOG_SYSLOG && !log_syslog_open) {
        openlog("stubresd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        log_syslog_open = true;
    }
    return 0;
}

bool log_query_enabled(void)
{
    return atomic_load_explicit(&qlog_sink, memory_order_relaxed) != QLOG_OFF;
}

void log_query(const char *fmt, ...)
{
    char line[1024];
    char ts[32];
    struct timespec now;
    struct tm tm;
    va_list ap;

    if (!log_query_enabled())
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

    pthread_mutex_lock(&qlog_mu);
    switch (atomic_load_explicit(&qlog_sink, memory_order_relaxed)) {
    case QLOG_SYSLOG: syslog(LOG_INFO, "query: %s", line); break;
    case QLOG_STDERR: fprintf(stderr, "%s.%03ldZ %s\n", ts, now.tv_nsec / 1000000L, line); break;
    case QLOG_FILE:
        if (qlog_file != NULL)
            fprintf(qlog_file, "%s.%03ldZ %s\n", ts, now.tv_nsec / 1000000L, line);
        break;
    default: break;
    }
    pthread_mutex_unlock(&qlog_mu);
}

void log_shutdown(void)
{
    qlog_swap(NULL, QLOG_OFF);
    if (log_syslog_open) {
        closelog();
        log_syslog_open = false;
    }
}
