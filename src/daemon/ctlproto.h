/* stubresd: the control protocol, shared by the daemon and stubresctl.
 *
 * One command per line, words separated by blanks; the first word (and
 * for `cache` and `forward` the second) may be abbreviated to any unique prefix, as
 * unwindctl allows. `config` takes the rest of the line as one argument
 * (NAME or NAME=VALUE, the value may contain blanks). The reply is one
 * JSON object on one line (stubresctl(8), PROTOCOL). */
#ifndef STUBRESD_CTLPROTO_H
#define STUBRESD_CTLPROTO_H

#include <stddef.h>

/* Longest command line, newline excluded; longer lines are refused. */
#define CTL_LINE_MAX 4096
/* Most words after the command (server specs). */
#define CTL_MAX_ARGS 64

typedef enum ctl_cmd {
    CTL_STATS,
    CTL_STATUS,
    CTL_CONFIG,
    CTL_CONFIG_RESET, /* `config reset [NAME]` */
    CTL_SERVER,
    CTL_CACHE_FLUSH,
    CTL_CACHE_DUMP,
    CTL_CACHE_SAVE,
    CTL_RELOAD,
    CTL_LOCAL,        /* `local`: list the local records */
    CTL_LOCAL_ADD,    /* `local add RECORD` (the rest of the line) */
    CTL_LOCAL_REMOVE, /* `local remove NAME [TYPE]` */
    CTL_FORWARD,        /* `forward`: the rules */
    CTL_FORWARD_ADD,    /* `forward add DOMAIN SPEC...` */
    CTL_FORWARD_REMOVE, /* `forward remove DOMAIN` */
    CTL_BLOCK, /* `block [add|remove|check NAME]` */
    CTL_PORTAL,       /* `portal`: the captive-portal pass */
    CTL_PORTAL_ALLOW, /* `portal allow [SECONDS]` */
    CTL_PORTAL_CLOSE, /* `portal close` */
    CTL_NETWORK_CHANGED, /* `network changed` */
} ctl_cmd_t;

typedef struct ctl_request {
    ctl_cmd_t cmd;
    const char *name; /* full name: "stats", "cache flush", ... */
    int argc;
    char *argv[CTL_MAX_ARGS]; /* point into buf */
    char buf[CTL_LINE_MAX + 1];
} ctl_request_t;

/* Parse one line (without its newline). Returns 0, or -1 with err saying
 * what is wrong (unknown or ambiguous command, wrong arguments, bad
 * characters, too long). */
int ctl_parse(const char *line, ctl_request_t *req, char *err, size_t errcap);

/* The usage text: one line per command. */
const char *ctl_usage(void);

#endif
