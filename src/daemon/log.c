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

#ifdef HAVE_LIBSYSTEMD
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#endif

#include "log.h"
#include "priv.h"

static atomic_int log_level_cur = LOG_LEVEL_NOTICE;
static bool log_to_stderr = true;
static bool log_syslog_open;
/* Started by systemd with the journal on stderr (JOURNAL_STREAM): messages
 * go to the journal with fields (QUERY, UPSTREAM, RCODE) besides the text. */
static bool log_journal;

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
#ifdef HAVE_LIBSYSTEMD
    log_journal = !foreground && getenv("JOURNAL_STREAM") != NULL;
#endif
    if (!foreground && !log_journal && !log_syslog_open) {
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

/* "2026-12-07T02:30:00.123Z": UTC, milliseconds (the query log's form). */
static void timestamp(char *out, size_t cap)
{
    struct timespec now;
    struct tm tm;
    size_t k;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    k = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, cap - k, ".%03dZ", (int)(now.tv_nsec / 1000000L));
}

/* One message to the journal: MESSAGE, PRIORITY and the fields that are
 * not NULL (fields[i] is "KEY=", values[i] its value). */
static void journal_send(int prio, const char *msg, const char *const *fields,
                         const char *const *values, size_t n)
{
#ifdef HAVE_LIBSYSTEMD
    char buf[8][1100];
    struct iovec iov[8];
    size_t k = 0;

    snprintf(buf[k], sizeof(buf[k]), "MESSAGE=%s", msg);
    k++;
    snprintf(buf[k], sizeof(buf[k]), "PRIORITY=%d", prio);
    k++;
    snprintf(buf[k], sizeof(buf[k]), "SYSLOG_IDENTIFIER=stubresd");
    k++;
    for (size_t i = 0; i < n && k < 8; i++)
        if (values[i] != NULL) {
            snprintf(buf[k], sizeof(buf[k]), "%s%s", fields[i], values[i]);
            k++;
        }
    for (size_t i = 0; i < k; i++) {
        iov[i].iov_base = buf[i];
        iov[i].iov_len = strlen(buf[i]);
    }
    sd_journal_sendv(iov, (int)k);
#else
    (void)prio;
    (void)msg;
    (void)fields;
    (void)values;
    (void)n;
#endif
}

/* The format attribute lets clang's -Wformat-nonliteral (in -Wformat=2)
 * see that fmt is the callers' checked format string. */
static void log_vwrite(int level, const log_fields_t *f, const char *fmt, va_list ap, int err)
    __attribute__((format(printf, 3, 0)));

static void log_vwrite(int level, const log_fields_t *f, const char *fmt, va_list ap, int err)
{
    char msg[1024], ts[40];
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
        timestamp(ts, sizeof(ts));
        fprintf(stderr, "%s stubresd[%s]: %s\n", ts, level_tag[level], msg);
    } else if (log_journal) {
        static const char *const keys[] = {"QUERY=", "UPSTREAM=", "RCODE="};
        const char *vals[] = {f ? f->query : NULL, f ? f->upstream : NULL, f ? f->rcode : NULL};
        journal_send(syslog_prio[level], msg, keys, vals, 3);
    } else {
        syslog(syslog_prio[level], "%s", msg);
    }
}

void log_event(int level, const log_fields_t *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, f, fmt, ap, 0);
    va_end(ap);
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
        log_vwrite(level, NULL, fmt, ap, (with_errno) ? err : 0);                                        \
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

void log_query(const log_fields_t *f, const char *fmt, ...)
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
    case QLOG_SYSLOG:
        if (log_journal) {
            static const char *const keys[] = {"QUERY=", "UPSTREAM=", "RCODE="};
            const char *vals[] = {f->query, f->upstream, f->rcode};
            char msg[1100];
            snprintf(msg, sizeof(msg), "query: %s", line);
            journal_send(LOG_INFO, msg, keys, vals, 3);
        } else {
            syslog(LOG_INFO, "query: %s", line);
        }
        break;
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
