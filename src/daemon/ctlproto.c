/* stubresd: the control protocol (see ctlproto.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ctlproto.h"

typedef struct ctl_def {
    const char *word; /* first word */
    const char *sub;  /* second word, or NULL */
    ctl_cmd_t cmd;
    int min_args, max_args;
    const char *usage;
} ctl_def_t;

static const ctl_def_t cmds[] = {
    {"stats", NULL, CTL_STATS, 0, 0, "stats                      counters"},
    {"status", NULL, CTL_STATUS, 0, 0, "status                     version, uptime, upstreams"},
    {"config", NULL, CTL_CONFIG, 0, 1,
     "config [NAME[=VALUE]]      read or change a setting (all, with origin: no NAME)\n"
     "  config reset [NAME]        back to the config file's value (all: no NAME)"},
    {"server", NULL, CTL_SERVER, 1, CTL_MAX_ARGS,
     "server SPEC [SPEC...]      replace the upstream list"},
    {"cache", "flush", CTL_CACHE_FLUSH, 0, 2,
     "cache flush [NAME [--subtree]]  drop all, one name, or NAME and all below it"},
    {"cache", "dump", CTL_CACHE_DUMP, 0, 0, "cache dump                 list the entries"},
    {"cache", "save", CTL_CACHE_SAVE, 0, 0, "cache save                 write cache_file now"},
    {"reload", NULL, CTL_RELOAD, 0, 0, "reload                     re-read the config file"},
    {"local", NULL, CTL_LOCAL, 0, 2,
     "local                      list the local records\n"
     "  local add RECORD           add one: NAME [TTL] [IN] TYPE RDATA\n"
     "  local remove NAME [TYPE]   remove the records of NAME (of TYPE)"},
    {"forward", NULL, CTL_FORWARD, 0, 0,
     "forward                    the forward rules (split DNS)"},
    {"forward", "add", CTL_FORWARD_ADD, 2, CTL_MAX_ARGS,
     "forward add DOMAIN SPEC... add or replace the rule for DOMAIN"},
    {"forward", "remove", CTL_FORWARD_REMOVE, 1, 1,
     "forward remove DOMAIN      drop the rule for DOMAIN"},
    {"network", "changed", CTL_NETWORK_CHANGED, 0, 0,
     "network changed            reconnect to the upstreams now (as after a network change)"},
    {"block", NULL, CTL_BLOCK, 0, 2,
     "block                      the block lists in force\n"
     "  block add|remove NAME      block a name, or undo a block add\n"
     "  block check NAME           is NAME blocked, and by which list line"},
    {"portal", NULL, CTL_PORTAL, 0, 0,
     "portal                     is a captive-portal pass open, for how long"},
    {"portal", "allow", CTL_PORTAL_ALLOW, 0, 1,
     "portal allow [SECONDS]     open a pass (300 s): failed queries may ask the\n"
     "                             network's own nameservers (portal_resolv_conf)"},
    {"portal", "close", CTL_PORTAL_CLOSE, 0, 0, "portal close               close the pass"},
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

const char *ctl_usage(void)
{
    static char buf[4096];
    size_t off = 0;

    if (buf[0] != '\0')
        return buf;
    for (size_t i = 0; i < NCMDS && off < sizeof(buf); i++) {
        int n = snprintf(buf + off, sizeof(buf) - off, "  %s\n", cmds[i].usage);
        if (n < 0)
            break;
        off += (size_t)n;
    }
    return buf;
}

/* Match word against the distinct values of field (first or second word)
 * among the candidates: exact first, else a unique prefix. Returns the
 * matched full word or NULL with err. */
static const char *match_word(const char *word, const char *const *choices, size_t n,
                              const char *what, char *err, size_t errcap)
{
    const char *found = NULL;
    size_t wl = strlen(word), matches = 0;
    char list[256] = "";

    for (size_t i = 0; i < n; i++)
        if (strcmp(word, choices[i]) == 0)
            return choices[i];
    for (size_t i = 0; i < n; i++) {
        if (strncmp(word, choices[i], wl) != 0)
            continue;
        if (found != NULL && strcmp(found, choices[i]) == 0)
            continue;
        size_t ll = strlen(list);
        snprintf(list + ll, sizeof(list) - ll, "%s%s", matches ? ", " : "", choices[i]);
        found = choices[i];
        matches++;
    }
    if (matches == 1)
        return found;
    if (matches == 0)
        snprintf(err, errcap, "unknown %s '%.64s'", what, word);
    else
        snprintf(err, errcap, "ambiguous %s '%.64s': %s", what, word, list);
    return NULL;
}

static char *next_word(char **p)
{
    char *s = *p, *start;

    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0') {
        *p = s;
        return NULL;
    }
    start = s;
    while (*s != '\0' && *s != ' ' && *s != '\t')
        s++;
    if (*s != '\0')
        *s++ = '\0';
    *p = s;
    return start;
}

/* The rest of a `config` line: NAME or NAME=VALUE (blanks around the '='
 * and at the ends do not count), or `reset [NAME]`. 1 to go on checking
 * the arguments, 0 when req is complete, -1 with err. */
static int config_argument(char *p, ctl_request_t *req, char *err, size_t errcap)
{
    while (*p == ' ' || *p == '\t')
        p++;
    char *end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    if (*p == '\0')
        return 1;
    char *eq = strchr(p, '=');
    if (eq != NULL) {
        char *ne = eq, *vs = eq + 1;
        while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
            ne--;
        while (*vs == ' ' || *vs == '\t')
            vs++;
        /* Rebuild as NAME=VALUE in place. */
        size_t vl = strlen(vs);
        *ne = '=';
        memmove(ne + 1, vs, vl + 1);
        req->argv[req->argc++] = p;
        return 1;
    }
    req->argv[req->argc++] = p;
    /* `config reset [NAME]`: no key is called reset, and a name has no
     * blanks, so "reset" first cannot be anything else. */
    if (strncmp(p, "reset", 5) != 0 || (p[5] != '\0' && p[5] != ' ' && p[5] != '\t'))
        return 1;
    char *q = p + 5;
    while (*q == ' ' || *q == '\t')
        q++;
    req->cmd = CTL_CONFIG_RESET;
    req->name = "config reset";
    req->argc = 0;
    if (*q == '\0')
        return 0;
    if (strpbrk(q, " \t") != NULL) {
        snprintf(err, errcap, "usage: config reset [NAME]");
        return -1;
    }
    req->argv[req->argc++] = q;
    return 0;
}

/* The rest of a `local` line: nothing (the list), `add RECORD` (the rest
 * of the line, blanks kept: RDATA may hold quoted blanks) or `remove NAME
 * [TYPE]`. 0 when req is complete, -1 with err. */
static int local_argument(char *p, ctl_request_t *req, char *err, size_t errcap)
{
    static const char *const subs[] = {"add", "remove"};
    char *w = next_word(&p);
    const char *sub;

    if (w == NULL)
        return 0;
    sub = match_word(w, subs, 2, "local subcommand", err, errcap);
    if (sub == NULL)
        return -1;
    if (strcmp(sub, "add") == 0) {
        char *end;
        while (*p == ' ' || *p == '\t')
            p++;
        end = p + strlen(p);
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        req->cmd = CTL_LOCAL_ADD;
        req->name = "local add";
        if (*p == '\0') {
            snprintf(err, errcap, "usage: local add NAME [TTL] [IN] TYPE RDATA");
            return -1;
        }
        req->argv[req->argc++] = p;
        return 0;
    }
    req->cmd = CTL_LOCAL_REMOVE;
    req->name = "local remove";
    while ((w = next_word(&p)) != NULL && req->argc < 3)
        req->argv[req->argc++] = w;
    if (req->argc < 1 || req->argc > 2) {
        snprintf(err, errcap, "usage: local remove NAME [TYPE]");
        return -1;
    }
    return 0;
}

/* "cache flush", "forward add", ...: the words of a command. */
static const char *full_name(const ctl_def_t *def)
{
    switch (def->cmd) {
    case CTL_CACHE_FLUSH: return "cache flush";
    case CTL_CACHE_DUMP: return "cache dump";
    case CTL_CACHE_SAVE: return "cache save";
    case CTL_FORWARD_ADD: return "forward add";
    case CTL_FORWARD_REMOVE: return "forward remove";
    case CTL_PORTAL_ALLOW: return "portal allow";
    case CTL_PORTAL_CLOSE: return "portal close";
    default: return def->word;
    }
}

int ctl_parse(const char *line, ctl_request_t *req, char *err, size_t errcap)
{
    const char *words[NCMDS];
    const ctl_def_t *def = NULL;
    char *p, *w1;
    size_t len = strlen(line);

    memset(req, 0, sizeof(*req));
    if (len > CTL_LINE_MAX) {
        snprintf(err, errcap, "command longer than %d bytes", CTL_LINE_MAX);
        return -1;
    }
    if (len > 0 && line[len - 1] == '\r')
        len--; /* tolerate CRLF from a human with a socket tool */
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)line[i];
        if ((ch < 0x20 && ch != '\t') || ch >= 0x7f) {
            snprintf(err, errcap, "bad character (0x%02x) in command", ch);
            return -1;
        }
    }
    memcpy(req->buf, line, len);
    req->buf[len] = '\0';
    p = req->buf;

    w1 = next_word(&p);
    if (w1 == NULL) {
        snprintf(err, errcap, "empty command");
        return -1;
    }
    for (size_t i = 0; i < NCMDS; i++)
        words[i] = cmds[i].word;
    const char *first = match_word(w1, words, NCMDS, "command", err, errcap);
    if (first == NULL)
        return -1;

    /* Commands with a second word (cache flush, forward add, ...). */
    size_t nsub = 0;
    const char *subs[NCMDS];
    for (size_t i = 0; i < NCMDS; i++)
        if (strcmp(cmds[i].word, first) == 0 && cmds[i].sub != NULL)
            subs[nsub++] = cmds[i].sub;
    if (nsub > 0) {
        char *w2 = next_word(&p);
        char what[64];
        /* `forward` alone is a command of its own: the list. */
        for (size_t i = 0; w2 == NULL && i < NCMDS; i++)
            if (strcmp(cmds[i].word, first) == 0 && cmds[i].sub == NULL)
                def = &cmds[i];
        if (w2 == NULL && def == NULL) {
            snprintf(err, errcap, "'%s' needs one of: %s%s%s", first, subs[0], nsub > 1 ? ", " : "",
                     nsub > 1 ? subs[1] : "");
            return -1;
        }
        if (w2 != NULL) {
            snprintf(what, sizeof(what), "%s subcommand", first);
            const char *second = match_word(w2, subs, nsub, what, err, errcap);
            if (second == NULL)
                return -1;
            for (size_t i = 0; i < NCMDS; i++)
                if (strcmp(cmds[i].word, first) == 0 && cmds[i].sub != NULL &&
                    strcmp(cmds[i].sub, second) == 0)
                    def = &cmds[i];
        }
    } else {
        for (size_t i = 0; i < NCMDS; i++)
            if (strcmp(cmds[i].word, first) == 0)
                def = &cmds[i];
    }
    if (def == NULL) {
        snprintf(err, errcap, "unknown command");
        return -1;
    }
    req->cmd = def->cmd;
    req->name = full_name(def);

    if (def->cmd == CTL_CONFIG) {
        int rc = config_argument(p, req, err, errcap);
        if (rc <= 0)
            return rc;
    } else if (def->cmd == CTL_LOCAL) {
        return local_argument(p, req, err, errcap);
    } else {
        char *w;
        while ((w = next_word(&p)) != NULL) {
            if (req->argc >= CTL_MAX_ARGS) {
                snprintf(err, errcap, "%s: too many arguments (at most %d)", req->name,
                         CTL_MAX_ARGS);
                return -1;
            }
            req->argv[req->argc++] = w;
        }
    }
    if (req->argc < def->min_args || req->argc > def->max_args) {
        snprintf(err, errcap, "usage: %s", def->usage);
        /* Trim the description: keep "cmd ARGS". */
        char *dbl = strstr(err, "  ");
        if (dbl != NULL)
            *dbl = '\0';
        return -1;
    }
    if (def->cmd == CTL_CONFIG && req->argc > 0 && req->argv[0][0] == '=') {
        snprintf(err, errcap, "usage: config [NAME[=VALUE]]");
        return -1;
    }
    return 0;
}
