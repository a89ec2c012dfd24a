/* stubresctl: send one command to stubresd's control socket and print the
 * reply, for a person (tables with aligned numbers) or raw (--json).
 * Exits 0 on {"ok": true}, 1 on {"ok": false} (the error on stderr), 2 on
 * usage errors and 3 when the daemon cannot be reached. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctlproto.h"

#define DEFAULT_SOCKET "/run/stubresd/control.sock"
/* Replies can be big (cache dump); anything beyond this is refused. */
#define REPLY_MAX (256u * 1024 * 1024)
/* How long to wait for the daemon. */
#define TIMEOUT_MS 30000

static void usage(FILE *f)
{
    fprintf(f,
            "usage: stubresctl [-s SOCKET] [--json] COMMAND [ARG...]\n"
            "  -s, --socket PATH  control socket (default %s)\n"
            "  -j, --json         print the daemon's JSON reply as it is\n"
            "  -h, --help         this text\n"
            "  -V, --version      version\n"
            "commands (any unique prefix will do):\n%s",
            DEFAULT_SOCKET, ctl_usage());
}

static int connect_to(const char *path)
{
    struct sockaddr_un sun;
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "stubresctl: %s: path too long\n", path);
        return -1;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        fprintf(stderr, "stubresctl: cannot connect to %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read one line (the reply). NULL on error or timeout. */
static char *read_line(int fd)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);

    if (buf == NULL)
        return NULL;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, TIMEOUT_MS);
        if (r == 0) {
            fprintf(stderr, "stubresctl: no reply within %d s\n", TIMEOUT_MS / 1000);
            break;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (len + 1 >= cap) {
            if (cap >= REPLY_MAX) {
                fprintf(stderr, "stubresctl: reply too large\n");
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL)
                break;
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (len > 0) {
                buf[len] = '\0';
                return buf;
            }
            fprintf(stderr, "stubresctl: the daemon closed the connection\n");
            break;
        }
        char *nl = memchr(buf + len, '\n', (size_t)n);
        len += (size_t)n;
        if (nl != NULL) {
            *nl = '\0';
            return buf;
        }
    }
    free(buf);
    return NULL;
}

/* ---- human-readable output ---- */

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

static long long num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long long)json_integer_value(v) : (long long)json_number_value(v);
}

static void duration(long long s, char *out, size_t cap)
{
    if (s >= 86400)
        snprintf(out, cap, "%lldd %02lldh%02lldm", s / 86400, s % 86400 / 3600, s % 3600 / 60);
    else if (s >= 3600)
        snprintf(out, cap, "%lldh%02lldm%02llds", s / 3600, s % 3600 / 60, s % 60);
    else
        snprintf(out, cap, "%llds", s);
}

/* Key/value pairs of an object of numbers, aligned. */
/* Width of the name column of every counter table, so that the numbers of
 * all sections stand in one column. */
#define KEY_WIDTH 18

static void print_counters(const char *title, json_t *o)
{
    const char *k;
    json_t *v;
    int w = KEY_WIDTH;

    if (!json_is_object(o))
        return;
    json_object_foreach(o, k, v)
    {
        if ((int)strlen(k) > w)
            w = (int)strlen(k);
    }
    printf("%s:\n", title);
    json_object_foreach(o, k, v)
    {
        if (json_is_integer(v))
            printf("  %-*s %14lld\n", w, k, (long long)json_integer_value(v));
        else if (json_is_real(v))
            printf("  %-*s %14.3f\n", w, k, json_real_value(v));
        else if (json_is_boolean(v))
            printf("  %-*s %14s\n", w, k, json_is_true(v) ? "yes" : "no");
    }
}

static void print_upstreams(json_t *ups, bool counters)
{
    size_t i, w = 6;
    json_t *u;

    if (!json_is_array(ups) || json_array_size(ups) == 0) {
        printf("upstreams: none\n");
        return;
    }
    json_array_foreach(ups, i, u)
    {
        if (strlen(str(u, "server")) > w)
            w = strlen(str(u, "server"));
    }
    printf("upstreams:\n");
    /* stats and status name the same columns alike, in the same order, as
     * the JSON keys: queries, responses (ANSWERS), servfails, ... */
    if (counters)
        printf("  %-*s %-7s %10s %10s %10s %10s %10s %8s\n", (int)w, "SERVER", "HEALTH", "QUERIES",
               "ANSWERS", "ERRORS", "TIMEOUTS", "SERVFAILS", "RTT ms");
    else
        printf("  %-*s %-7s %10s %14s %8s\n", (int)w, "SERVER", "HEALTH", "QUERIES",
               "FAILS IN A ROW", "RTT ms");
    json_array_foreach(ups, i, u)
    {
        const char *h = json_is_true(json_object_get(u, "healthy")) ? "up" : "down";
        double rtt = json_number_value(json_object_get(u, "avg_rtt_ms"));
        if (counters)
            printf("  %-*s %-7s %10lld %10lld %10lld %10lld %10lld %8.1f\n", (int)w,
                   str(u, "server"), h, num(u, "queries"), num(u, "responses"), num(u, "errors"),
                   num(u, "timeouts"), num(u, "servfails"), rtt);
        else
            printf("  %-*s %-7s %10lld %14lld %8.1f\n", (int)w, str(u, "server"), h,
                   num(u, "queries"), num(u, "consecutive_failures"), rtt);
    }
}

static void print_stats(json_t *r)
{
    char up[64];
    json_t *q = json_object_get(r, "queries"), *inf = json_object_get(r, "inflight");
    long long hits = num(json_object_get(r, "cache"), "hits");
    long long misses = num(json_object_get(r, "cache"), "misses");

    duration(num(r, "uptime_s"), up, sizeof(up));
    printf("uptime: %s, %lld thread(s)\n", up, num(r, "threads"));
    printf("%-*s %14lld  (udp %lld, tcp %lld, tls %lld, https %lld)\n", KEY_WIDTH + 2,
           "queries:", num(q, "total"), num(q, "udp"), num(q, "tcp"), num(q, "tls"),
           num(q, "https"));
    printf("%-*s %13.1f%%\n", KEY_WIDTH + 2, "cache hit rate:",
           hits + misses > 0 ? 100.0 * (double)hits / (double)(hits + misses) : 0.0);
    printf("%-*s %14lld  upstream queries, %lld clients waiting\n", KEY_WIDTH + 2,
           "in flight:", num(inf, "upstream"), num(inf, "clients"));
    print_counters("responses", json_object_get(r, "responses"));
    print_counters("cache", json_object_get(r, "cache"));
    print_counters("tcp", json_object_get(r, "tcp"));
    if (json_object_get(r, "tls") != NULL)
        print_counters("tls", json_object_get(r, "tls"));
    print_counters("local", json_object_get(r, "local"));
    printf("other:\n");
    static const char *const more[] = {"coalesced", "upstream_queries", "local_errors", "dropped",
                                       "malformed", "refused_acl",      "truncated"};
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
        printf("  %-*s %14lld\n", KEY_WIDTH, more[i], num(r, more[i]));
    json_t *fw = json_object_get(r, "forward"), *v;
    size_t i;
    if (json_array_size(fw) > 0)
        printf("forward rules (cache misses sent):\n");
    json_array_foreach(fw, i, v)
    {
        printf("  %-*s %14lld\n", KEY_WIDTH, str(v, "domain"), num(v, "queries"));
    }
    print_upstreams(json_object_get(r, "upstreams"), true);
}

/* The forward rules: "DOMAIN -> SPEC, SPEC". */
static void print_forward(json_t *rules)
{
    size_t i, k;
    json_t *v, *sv;

    if (json_array_size(rules) == 0)
        printf("no forward rules: every name goes to the servers\n");
    json_array_foreach(rules, i, v)
    {
        printf("%s ->", str(v, "domain"));
        json_array_foreach(json_object_get(v, "servers"), k, sv)
        {
            printf("%s %s", k ? "," : "", json_string_value(sv));
        }
        if (json_array_size(json_object_get(v, "servers")) == 0)
            printf(" (none: resolv_conf names no nameserver; SERVFAIL)");
        printf("%s\n", json_is_true(json_object_get(v, "resolvconf")) ? " (resolvconf)" : "");
    }
}

static void print_status(json_t *r)
{
    char up[64];
    size_t i;
    json_t *v;

    duration(num(r, "uptime_s"), up, sizeof(up));
    printf("stubresd %s, pid %lld, up %s, %lld thread(s)\n", str(r, "version"), num(r, "pid"), up,
           num(r, "threads"));
    printf("config:     %s\n", str(r, "config"));
    printf("state file: %s\n", str(r, "state_file")[0] ? str(r, "state_file") : "(none)");
    printf("listening:  ");
    json_array_foreach(json_object_get(r, "listen"), i, v)
    {
        printf("%s%s", i ? ", " : "", json_string_value(v));
    }
    printf("\nstrategy:   %s%s\n", str(r, "strategy"),
           json_is_true(json_object_get(r, "encrypted")) ? " (encrypted upstreams only)" : "");
    json_t *c = json_object_get(r, "cache");
    printf("cache:      %lld entries, %lld of %lld bytes\n", num(c, "entries"), num(c, "bytes"),
           num(c, "max_bytes"));
    printf("in flight:  %lld\n", num(r, "inflight"));
    json_t *ov = json_object_get(r, "overrides");
    if (json_array_size(ov) == 0) {
        printf("overrides:  none (the config file's settings are in force)\n");
    } else {
        printf("overrides:  changed at run time, over the config file (config reset NAME drops "
               "one):\n");
        json_array_foreach(ov, i, v)
        {
            printf("  %s = %s\n      since %s; the config file has: %s\n", str(v, "key"),
                   str(v, "value"), str(v, "since")[0] ? str(v, "since") : "(unknown)",
                   str(v, "file_value")[0] ? str(v, "file_value") : "(empty)");
        }
    }
    json_t *fw = json_object_get(r, "forward");
    if (json_array_size(fw) > 0) {
        printf("forward:    rules (split DNS):\n");
        json_array_foreach(fw, i, v)
        {
            size_t k;
            json_t *sv;
            printf("  %s ->", str(v, "domain"));
            json_array_foreach(json_object_get(v, "servers"), k, sv)
            {
                printf("%s %s", k ? "," : "", json_string_value(sv));
            }
            printf("%s\n", !json_is_true(json_object_get(v, "encrypted")) &&
                                   json_is_true(json_object_get(r, "encrypted"))
                               ? "  (plaintext, beside encrypted servers)"
                               : "");
        }
    }
    print_upstreams(json_object_get(r, "upstreams"), false);
}

/* `config` alone: NAME = VALUE, then where the value comes from. */
static void print_config(json_t *keys)
{
    size_t i, w = 0;
    json_t *k;

    json_array_foreach(keys, i, k)
    {
        if (strlen(str(k, "name")) > w)
            w = strlen(str(k, "name"));
    }
    json_array_foreach(keys, i, k)
    {
        const char *origin = str(k, "origin");
        printf("%-*s = %s  ; ", (int)w, str(k, "name"), str(k, "value"));
        if (strcmp(origin, "file") == 0)
            printf("%s\n", str(k, "where"));
        else if (strcmp(origin, "runtime") == 0)
            printf("run-time change since %s\n", str(k, "since")[0] ? str(k, "since") : "?");
        else
            printf("default\n");
    }
}

static void print_block(const ctl_request_t *req, json_t *r)
{
    size_t i;
    json_t *v;

    if (req->argc > 0 && strcmp(req->argv[0], "check") == 0) {
        if (json_is_true(json_object_get(r, "blocked")))
            printf("%s is blocked by %s\n", req->argv[1], str(r, "by"));
        else
            printf("%s is not blocked\n", req->argv[1]);
        return;
    }
    json_array_foreach(json_object_get(r, "lists"), i, v)
    {
        printf("%s: %lld names\n", str(v, "file"), num(v, "names"));
    }
    printf("added: ");
    json_array_foreach(json_object_get(r, "added"), i, v)
    {
        printf("%s%s", i ? ", " : "", json_string_value(v));
    }
    printf("%s\n", json_array_size(json_object_get(r, "added")) == 0 ? "none" : "");
    if (req->argc == 0)
        printf("queries blocked: %lld\n", num(r, "blocked"));
}

static void print_human(const ctl_request_t *req, json_t *r)
{
    size_t i;
    json_t *v;

    switch (req->cmd) {
    case CTL_STATS: print_stats(r); break;
    case CTL_STATUS: print_status(r); break;
    case CTL_CONFIG_RESET:
        if (json_array_size(json_object_get(r, "reset")) == 0)
            printf("%s\n", req->argc > 0 ? "no run-time change of that setting is in force"
                                          : "no run-time changes are in force");
        json_array_foreach(json_object_get(r, "reset"), i, v)
        {
            printf("%s: back to the config file's value\n", json_string_value(v));
        }
        break;
    case CTL_CONFIG:
        if (req->argc == 0) {
            print_config(json_object_get(r, "config"));
            break;
        }
        if (strchr(req->argv[0], '=') != NULL && json_object_get(r, "configured") != NULL)
            printf("%s set to %s (in force: %s)\n", str(r, "name"), str(r, "configured"),
                   str(r, "value"));
        else if (strchr(req->argv[0], '=') != NULL)
            printf("%s set to %s\n", str(r, "name"), str(r, "value"));
        else
            printf("%s\n", str(r, "value"));
        break;
    case CTL_SERVER:
        printf("upstreams now:\n");
        json_array_foreach(json_object_get(r, "servers"), i, v)
        {
            printf("  %s\n", json_string_value(v));
        }
        break;
    case CTL_CACHE_FLUSH: printf("%lld entries flushed\n", num(r, "flushed")); break;
    case CTL_CACHE_SAVE: printf("%lld entries saved to %s\n", num(r, "saved"), str(r, "path")); break;
    case CTL_CACHE_DUMP:
        json_array_foreach(json_object_get(r, "zone"), i, v)
        {
            printf("%s\n", json_string_value(v));
        }
        break;
    case CTL_RELOAD: printf("reloaded\n"); break;
    case CTL_NETWORK_CHANGED:
        printf("reconnecting (%lld network changes)\n", num(r, "network_changes"));
        break;
    case CTL_LOCAL:
    case CTL_LOCAL_ADD:
    case CTL_LOCAL_REMOVE:
        json_array_foreach(json_object_get(r, "records"), i, v)
        {
            printf("%s\n", json_string_value(v));
        }
        break;
    case CTL_FORWARD:
    case CTL_FORWARD_ADD:
    case CTL_FORWARD_REMOVE: print_forward(json_object_get(r, "rules")); break;
    case CTL_BLOCK: print_block(req, r); break;
    case CTL_PORTAL:
    case CTL_PORTAL_ALLOW:
    case CTL_PORTAL_CLOSE:
        if (json_is_true(json_object_get(r, "open")))
            printf("portal pass open: %lld s left, %lld names asked of the network's nameservers\n",
                   num(r, "remaining_s"), num(r, "names"));
        else
            printf("portal pass closed (%lld names asked during the last one)\n", num(r, "names"));
        break;
    }
}

int main(int argc, char **argv)
{
    const char *sock = getenv("STUBRESCTL_SOCKET");
    bool raw = false;
    int ch, fd, rc = 1;
    char line[CTL_LINE_MAX + 2], err[512];
    size_t off = 0;
    ctl_request_t *req;
    json_t *reply;
    json_error_t jerr;
    char *text;

    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    if (sock == NULL)
        sock = DEFAULT_SOCKET;
    /* '+': options end at the command (config values may start with -). */
    while ((ch = getopt_long(argc, argv, "+s:jhV", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': sock = optarg; break;
        case 'j': raw = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("stubresctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    line[0] = '\0';
    for (int i = optind; i < argc; i++) {
        int n = snprintf(line + off, sizeof(line) - off, "%s%s", i > optind ? " " : "", argv[i]);
        if (n < 0 || (size_t)n >= sizeof(line) - off) {
            fprintf(stderr, "stubresctl: command longer than %d bytes\n", CTL_LINE_MAX);
            return 2;
        }
        off += (size_t)n;
    }
    /* Parsed here too: a typo is reported without bothering the daemon,
     * and the reply is printed the way its command wants. */
    req = malloc(sizeof(*req));
    if (req == NULL)
        return 1;
    if (ctl_parse(line, req, err, sizeof(err)) != 0) {
        fprintf(stderr, "stubresctl: %s\n", err);
        /* a typo: show what would have been understood */
        if (strncmp(err, "unknown ", 8) == 0)
            fprintf(stderr, "commands (any unique prefix will do):\n%s", ctl_usage());
        free(req);
        return 2;
    }
    fd = connect_to(sock);
    if (fd < 0) {
        free(req);
        return 3;
    }
    line[off++] = '\n';
    if (send_all(fd, line, off) != 0) {
        fprintf(stderr, "stubresctl: send: %s\n", strerror(errno));
        close(fd);
        free(req);
        return 3;
    }
    text = read_line(fd);
    close(fd);
    if (text == NULL) {
        free(req);
        return 3;
    }
    reply = json_loads(text, 0, &jerr);
    if (!json_is_object(reply)) {
        fprintf(stderr, "stubresctl: unreadable reply: %s\n", jerr.text);
        json_decref(reply);
        free(text);
        free(req);
        return 1;
    }
    bool ok = json_is_true(json_object_get(reply, "ok"));
    if (raw) {
        printf("%s\n", text);
    } else if (ok) {
        print_human(req, reply);
    }
    if (ok && json_is_false(json_object_get(reply, "persisted"))) {
        const char *w = json_string_value(json_object_get(reply, "warning"));
        fprintf(stderr, "stubresctl: warning: not kept for the next start: %s\n",
                w != NULL ? w : "the state file cannot be written");
    }
    if (!ok) {
        const char *e = json_string_value(json_object_get(reply, "error"));
        fprintf(stderr, "stubresctl: %s\n", e != NULL ? e : "error");
    } else {
        rc = 0;
    }
    json_decref(reply);
    free(text);
    free(req);
    return rc;
}
