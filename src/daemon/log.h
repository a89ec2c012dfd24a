/* stubresd: logging.
 *
 * With -f everything goes to stderr, each line with a UTC timestamp;
 * otherwise to syslog, or, under systemd with the journal on stderr
 * (JOURNAL_STREAM), to the journal with fields (log_event). The level
 * filter is the log_level setting. log_warn appends the errno text the
 * way OpenBSD's log.c does; log_warnx does not. The query log is separate:
 * one line per answered query, only when query_log is set, so the hot
 * path costs nothing when it is off. */
#ifndef STUBRESD_LOG_H
#define STUBRESD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Levels, ordered; the names are the values of the log_level key. */
enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARNING = 1,
    LOG_LEVEL_NOTICE = 2,
    LOG_LEVEL_INFO = 3,
    LOG_LEVEL_DEBUG = 4,
};

/* Start logging: to stderr when foreground, else to syslog as ident. */
void log_init(const char *ident, bool foreground, int level);
/* Change the level at run time (thread-safe: a relaxed atomic). */
void log_set_level(int level);
int log_get_level(void);
/* True when messages of level would be written; lets callers skip
 * formatting work. */
bool log_enabled(int level);

/* Structured fields of a message, for the journal (sd_journal_send); NULL
 * leaves one out. On stderr and syslog only the text is written. */
typedef struct log_fields {
    const char *query;    /* QUERY: "www.example.com A" */
    const char *upstream; /* UPSTREAM: the spec, "udp://192.0.2.1:53" */
    const char *rcode;    /* RCODE: "SERVFAIL" */
} log_fields_t;

/* A message with fields (log_fields_t) at level. */
void log_event(int level, const log_fields_t *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* errno text appended: "msg: Permission denied". */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log at error level (errno appended / not) and exit(1). */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- query log ---- */

/* Who gets a query log file created from now on (see priv_open_log):
 * set by root before it drops privileges. */
void log_query_owner(uid_t uid, gid_t gid);
/* Open the query log: "" turns it off, "syslog" and "stderr" name those
 * sinks, anything else is a file opened for appending (priv_open_log: no
 * symbolic link, a regular file only). Returns 0, or -1 with err, which
 * starts "query_log: " (the previous log stays in use). Called from the main thread
 * only; workers may be writing meanwhile, so the old sink is kept open
 * until the next call (a FILE* swap is not atomic with a write). */
int log_query_open(const char *where, char *err, size_t errcap);
/* True when query logging is on (cheap: one relaxed load). */
bool log_query_enabled(void);
/* One line of the query log; f goes to the journal with query_log = syslog
 * under systemd. */
void log_query(const log_fields_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Close everything (at exit). */
void log_shutdown(void);

#endif
