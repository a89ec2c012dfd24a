/* Unit tests: the control protocol (src/daemon/ctlproto.c) and socket
 * (src/daemon/control.c): command parsing, unique-prefix matching, size
 * limits, the 0660 socket, one JSON reply per line. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>

#include "control.h"
#include "ctlproto.h"
#include "portal.h"
#include "check-main.h"

static ctl_request_t req;
static char err[512];

static int parse(const char *line)
{
    return ctl_parse(line, &req, err, sizeof(err));
}

/* One command line and what ctl_parse makes of it; -1 and NULL: not
 * checked. */
struct parse_case {
    const char *line;
    int rc;
    int cmd;
    int argc;
    int argi; /* which argument arg is */
    const char *arg;
    const char *name; /* the command's name */
    const char *err;
};

static const struct parse_case PARSE_CASES[] = {
    /* line, rc, cmd, argc, argi, arg, name, err */
    {"stats", 0, CTL_STATS, 0, 0, NULL, NULL, NULL},
    {"status", 0, CTL_STATUS, -1, 0, NULL, NULL, NULL},
    {"reload", 0, CTL_RELOAD, -1, 0, NULL, NULL, NULL},
    {"cache flush", 0, CTL_CACHE_FLUSH, -1, 0, NULL, "cache flush", NULL},
    {"cache flush www.example.test", 0, -1, 1, 0, "www.example.test", NULL, NULL},
    {"cache dump", 0, CTL_CACHE_DUMP, -1, 0, NULL, NULL, NULL},
    {"block", 0, CTL_BLOCK, 0, 0, NULL, "block", NULL},
    {"bl check ads.example", 0, CTL_BLOCK, 2, 1, "ads.example", "block", NULL},
    {"block add a b c", -1, -1, -1, 0, NULL, NULL, "usage: block"},
    {"server udp://127.0.0.1 tcp://127.0.0.2:5353  tls://[::1]#a.test", 0, CTL_SERVER, 3, 2,
     "tls://[::1]#a.test", NULL, NULL},
    /* blanks and a CR are fine */
    {"  \tstats\r", 0, -1, -1, 0, NULL, NULL, NULL},
    {"config timeout", 0, CTL_CONFIG, 1, 0, "timeout", NULL, NULL},
    {"config timeout=5", 0, -1, -1, 0, "timeout=5", NULL, NULL},
    /* Blanks around '=' go; blanks inside the value stay. */
    {"config servers =  udp://127.0.0.1 udp://127.0.0.2 ", 0, -1, -1, 0,
     "servers=udp://127.0.0.1 udp://127.0.0.2", NULL, NULL},
    {"config FirewallData=", 0, -1, -1, 0, "FirewallData=", NULL, NULL},
    {"config", 0, CTL_CONFIG, 0, 0, NULL, NULL, NULL},
    {"config =5", -1, -1, -1, 0, NULL, NULL, NULL},
    /* config reset [NAME]: its own command. */
    {"config reset", 0, CTL_CONFIG_RESET, 0, 0, NULL, NULL, NULL},
    {"config  reset   timeout ", 0, CTL_CONFIG_RESET, 1, 0, "timeout", NULL, NULL},
    {"config reset timeout min_ttl", -1, -1, -1, 0, NULL, NULL, "usage: config reset [NAME]"},
    /* Not a reset: a key read, or a key set. */
    {"config resetx", 0, CTL_CONFIG, -1, 0, NULL, NULL, NULL},
    {"config reset=1", 0, CTL_CONFIG, -1, 0, NULL, NULL, NULL},
    {"sta", -1, -1, -1, 0, NULL, NULL, "ambiguous command 'sta': stats, status"},
    {"s", -1, -1, -1, 0, NULL, NULL, "ambiguous command 's': stats, status, server"},
    {"statu", 0, CTL_STATUS, -1, 0, NULL, NULL, NULL},
    /* exact beats prefix */
    {"stats", 0, CTL_STATS, -1, 0, NULL, NULL, NULL},
    {"se udp://127.0.0.1", 0, CTL_SERVER, -1, 0, NULL, NULL, NULL},
    {"con timeout", 0, CTL_CONFIG, -1, 0, NULL, NULL, NULL},
    {"c f", -1, -1, -1, 0, NULL, NULL, "ambiguous command 'c': config, cache"},
    {"ca f", 0, CTL_CACHE_FLUSH, -1, 0, NULL, NULL, NULL},
    {"ca d", 0, CTL_CACHE_DUMP, -1, 0, NULL, NULL, NULL},
    {"r", 0, CTL_RELOAD, -1, 0, NULL, NULL, NULL},
    {"x", -1, -1, -1, 0, NULL, NULL, "unknown command 'x'"},
    {"cache x", -1, -1, -1, 0, NULL, NULL, "unknown cache subcommand 'x'"},
    {"cache", -1, -1, -1, 0, NULL, NULL, "'cache' needs one of: flush, dump"},
    {"statsx", -1, -1, -1, 0, NULL, NULL, NULL},
    /* forward alone lists; add and remove are its subcommands */
    {"cache flush corp.example --subtree", 0, CTL_CACHE_FLUSH, 2, 1, "--subtree", NULL, NULL},
    {"forward", 0, CTL_FORWARD, 0, 0, NULL, "forward", NULL},
    {"fo", 0, CTL_FORWARD, 0, 0, NULL, NULL, NULL},
    {"forward add corp.example udp://10.8.0.1 resolvconf", 0, CTL_FORWARD_ADD, 3, 2, "resolvconf",
     "forward add", NULL},
    {"fo a corp.example 10.8.0.1", 0, CTL_FORWARD_ADD, 2, 0, "corp.example", NULL, NULL},
    {"forward add corp.example", -1, -1, -1, 0, NULL, NULL, NULL},
    {"forward remove corp.example", 0, CTL_FORWARD_REMOVE, 1, 0, "corp.example", "forward remove",
     NULL},
    {"forward remove a b", -1, -1, -1, 0, NULL, NULL, NULL},
    {"forward x", -1, -1, -1, 0, NULL, NULL, "unknown forward subcommand 'x'"},
    /* portal alone shows the pass; allow [SECONDS] and close change it */
    {"portal", 0, CTL_PORTAL, 0, 0, NULL, "portal", NULL},
    {"portal allow", 0, CTL_PORTAL_ALLOW, 0, 0, NULL, "portal allow", NULL},
    {"po al 60", 0, CTL_PORTAL_ALLOW, 1, 0, "60", NULL, NULL},
    {"portal allow 60 70", -1, -1, -1, 0, NULL, NULL, NULL},
    {"portal close", 0, CTL_PORTAL_CLOSE, 0, 0, NULL, "portal close", NULL},
    {"portal close now", -1, -1, -1, 0, NULL, NULL, NULL},
    {"portal open", -1, -1, -1, 0, NULL, NULL, "unknown portal subcommand 'open'"},
};

/* The commands, their arguments and unique-prefix matching. */
START_TEST(test_parse)
{
    const struct parse_case *c = &PARSE_CASES[_i];

    ck_assert_msg(parse(c->line) == c->rc, "\"%s\": rc, want %d (%s)", c->line, c->rc, err);
    if (c->cmd >= 0)
        ck_assert_msg((int)req.cmd == c->cmd, "\"%s\": cmd %d, want %d", c->line, (int)req.cmd,
                      c->cmd);
    if (c->argc >= 0)
        ck_assert_msg(req.argc == c->argc, "\"%s\": argc %d, want %d", c->line, (int)req.argc,
                      c->argc);
    if (c->arg != NULL)
        ck_assert_msg(strcmp(req.argv[c->argi], c->arg) == 0, "\"%s\": argv[%d] \"%s\"", c->line,
                      c->argi, req.argv[c->argi]);
    if (c->name != NULL)
        ck_assert_msg(strcmp(req.name, c->name) == 0, "\"%s\": name \"%s\"", c->line, req.name);
    if (c->err != NULL)
        ck_assert_msg(strcmp(err, c->err) == 0, "\"%s\": error \"%s\", want \"%s\"", c->line, err,
                      c->err);
}
END_TEST

START_TEST(test_limits)
{
    char line[CTL_LINE_MAX + 64];

    ck_assert_int_eq(parse(""), -1);
    ck_assert_str_eq(err, "empty command");
    ck_assert_int_eq(parse("stats extra"), -1);
    ck_assert_str_eq(err, "usage: stats");
    ck_assert_int_eq(parse("cache dump x"), -1);
    ck_assert_int_eq(parse("cache flush a b c"), -1);
    ck_assert_int_eq(parse("server"), -1);
    ck_assert_int_eq(parse("stats\x01"), -1);
    ck_assert_str_eq(err, "bad character (0x01) in command");
    ck_assert_int_eq(parse("stats \xc3\xa9"), -1);
    /* Too long: refused, never truncated. */
    memset(line, 'a', sizeof(line));
    memcpy(line, "config FirewallData=", 20);
    line[CTL_LINE_MAX + 1] = '\0';
    ck_assert_int_eq(parse(line), -1);
    ck_assert_str_eq(err, "command longer than 4096 bytes");
    line[CTL_LINE_MAX] = '\0';
    ck_assert_int_eq(parse(line), 0);
    /* Too many specs. */
    size_t off = (size_t)snprintf(line, sizeof(line), "server");
    for (int i = 0; i < CTL_MAX_ARGS + 1; i++)
        off += (size_t)snprintf(line + off, sizeof(line) - off, " 127.0.0.%d", i % 250 + 1);
    ck_assert_int_eq(parse(line), -1);
    ck_assert_msg(strstr(err, "too many arguments") != NULL, "%s", err);
}
END_TEST

/* ---- the socket ---- */

static json_t *echo_handler(void *arg, const ctl_request_t *r)
{
    (*(int *)arg)++;
    return json_pack("{s:b, s:s, s:i}", "ok", 1, "command", r->name, "argc", r->argc);
}

START_TEST(test_handle_line)
{
    int calls = 0;
    char *t = control_handle_line(echo_handler, &calls, "ca f www.example.test");
    ck_assert_str_eq(t, "{\"ok\":true,\"command\":\"cache flush\",\"argc\":1}");
    free(t);
    t = control_handle_line(echo_handler, &calls, "bogus");
    ck_assert_str_eq(t, "{\"ok\":false,\"error\":\"unknown command 'bogus'\"}");
    free(t);
    ck_assert_int_eq(calls, 1);
}
END_TEST

struct srv {
    struct event_base *base;
    control_t *ctl;
    int calls;
};

static void *serve(void *arg)
{
    struct srv *s = arg;
    event_base_dispatch(s->base);
    return NULL;
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Send text, read one line back (or "" on EOF). */
static char *roundtrip(const char *path, const char *text, size_t len)
{
    struct sockaddr_un sun;
    static char buf[8192];
    size_t got = 0;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the daemon hung up on an oversize line */
        off += (size_t)n;
    }
    while (got < sizeof(buf) - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ck_assert_int_gt(poll(&p, 1, 5000), 0);
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (memchr(buf, '\n', got) != NULL)
            break;
    }
    buf[got] = '\0';
    close(fd);
    return buf;
}

START_TEST(test_socket)
{
    char path[256], err2[512];
    struct srv s = {0};
    pthread_t th;
    struct stat sb;
    char *r;

    ck_assert_int_eq(evthread_use_pthreads(), 0);
    snprintf(path, sizeof(path), "%s/check_control.%d.sock",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    s.base = event_base_new();
    s.ctl = control_open(path, (uid_t)-1, (gid_t)-1, err2, sizeof(err2));
    ck_assert_msg(s.ctl != NULL, "%s", err2);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert(S_ISSOCK(sb.st_mode));
    ck_assert_int_eq(sb.st_mode & 0777, 0660);
    /* A second daemon on the same socket is refused. */
    ck_assert_ptr_null(control_open(path, (uid_t)-1, (gid_t)-1, err2, sizeof(err2)));
    ck_assert_msg(strstr(err2, "in use") != NULL, "%s", err2);
    ck_assert_int_eq(control_start(s.ctl, s.base, echo_handler, &s.calls), 0);
    struct event *keep = event_new(s.base, -1, EV_PERSIST, stop_cb, s.base);
    struct timeval ten = {10, 0};
    event_add(keep, &ten); /* stops the loop if the test hangs */
    pthread_create(&th, NULL, serve, &s);

    r = roundtrip(path, "status\n", 7);
    ck_assert_str_eq(r, "{\"ok\":true,\"command\":\"status\",\"argc\":0}\n");
    r = roundtrip(path, "nope\n", 5);
    ck_assert_str_eq(r, "{\"ok\":false,\"error\":\"unknown command 'nope'\"}\n");
    /* A line without end: refused and the connection closed. */
    char *big = malloc(20000);
    memset(big, 'x', 20000);
    r = roundtrip(path, big, 20000);
    ck_assert_str_eq(r, "{\"ok\":false,\"error\":\"command longer than 4096 bytes\"}\n");
    free(big);

    event_active(keep, EV_TIMEOUT, 0);
    pthread_join(th, NULL);
    event_free(keep);
    control_free(s.ctl);
    ck_assert_int_ne(stat(path, &sb), 0); /* the socket file is gone */
    event_base_free(s.base);
}
END_TEST

/* The SECONDS of `portal allow`: 1..PORTAL_MAX_S, digits only. */
START_TEST(test_portal_seconds)
{
    unsigned v = 0;

    ck_assert_int_eq(portal_parse_seconds(NULL, &v), 0);
    ck_assert_uint_eq(v, PORTAL_DEFAULT_S);
    ck_assert_int_eq(portal_parse_seconds("60", &v), 0);
    ck_assert_uint_eq(v, 60);
    ck_assert_int_eq(portal_parse_seconds("86400", &v), 0);
    ck_assert_uint_eq(v, 86400);
    static const char *const bad[] = {"0", "", "-1", "+5", " 5", "5s", "86401", "99999999999999999999",
                                      "1e3", "0x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(portal_parse_seconds(bad[i], &v) == -1, "\"%s\" accepted", bad[i]);
}
END_TEST

/* TTLs above the cap are lowered; OPT's TTL field (flags) is not; a
 * truncated message is left as far as it parsed, never read past. */
START_TEST(test_portal_cap_ttls)
{
    static const uint8_t img[] = {
        0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 1,             /* header */
        1, 'a', 0, 0, 1, 0, 1,                                     /* question */
        0xc0, 12, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4, 10, 0, 0, 1, /* TTL 300 */
        0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 2,       /* TTL 5 */
        0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0,                    /* OPT, DO */
    };
    uint8_t m[sizeof(img)];

    memcpy(m, img, sizeof(img));
    ck_assert_uint_eq(portal_cap_ttls(m, sizeof(m), 30), 1);
    ck_assert_int_eq(memcmp(m + 25, "\0\0\0\x1e", 4), 0); /* 300 -> 30 */
    ck_assert_int_eq(memcmp(m + 41, img + 41, 4), 0);       /* the short one kept */
    ck_assert_int_eq(memcmp(m + 51, img + 51, 11), 0);      /* OPT untouched */
    for (size_t len = 0; len < sizeof(img); len++) {
        uint8_t *t = malloc(len > 0 ? len : 1);
        ck_assert_ptr_nonnull(t);
        memcpy(t, img, len);
        ck_assert_uint_le(portal_cap_ttls(t, len, 30), 1);
        free(t);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("control");
    TCase *tc = add_tcase(s, "protocol", NULL, NULL, TESTS(test_limits, test_handle_line));
    tcase_add_loop_test(tc, test_parse, 0, (int)(sizeof(PARSE_CASES) / sizeof(PARSE_CASES[0])));
    add_tcase(s, "socket", NULL, NULL, TESTS(test_socket));
    add_tcase(s, "portal", NULL, NULL, TESTS(test_portal_seconds, test_portal_cap_ttls));
    return run_suite(s);
}
