/* stubresd: the control socket (see control.h). */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "acceptor.h"
#include "control.h"
#include "log.h"
#include "priv.h"
#include "util.h" /* lists */

typedef struct cclient {
    struct control *ctl;
    struct bufferevent *bev;
    bool closing; /* hang up when the output is written */
    struct cclient *next, *prev;
} cclient_t;

struct control {
    char *path;
    int fd;
    acceptor_t *acc;
    struct event_base *base;
    control_handler_fn fn;
    void *arg;
    cclient_t *clients;
    unsigned nclients;
};

static json_t *error_reply(const char *msg)
{
    return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

char *control_handle_line(control_handler_fn fn, void *arg, const char *line)
{
    ctl_request_t *req = malloc(sizeof(*req));
    char err[512];
    json_t *reply;
    char *text;

    if (req == NULL)
        return NULL;
    if (ctl_parse(line, req, err, sizeof(err)) != 0)
        reply = error_reply(err);
    else
        reply = fn(arg, req);
    free(req);
    if (reply == NULL)
        reply = error_reply("out of memory");
    /* One object, one line: compact output escapes every newline. */
    text = json_dumps(reply, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(reply);
    return text;
}

static void client_free(cclient_t *cl)
{
    control_t *c = cl->ctl;
    SR_LIST_UNLINK(c->clients, cl);
    bufferevent_free(cl->bev);
    c->nclients--;
    free(cl);
}

static void client_read(struct bufferevent *bev, void *arg)
{
    cclient_t *cl = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer *out = bufferevent_get_output(bev);

    for (;;) {
        size_t n;
        char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
        if (line == NULL) {
            if (evbuffer_get_length(in) > CTL_LINE_MAX + 1) {
                /* No newline within the limit: refuse, and hang up once
                 * the reply is out (the rest is not worth reading). */
                json_t *r = error_reply("command longer than 4096 bytes");
                char *t = json_dumps(r, JSON_COMPACT);
                json_decref(r);
                if (t != NULL) {
                    evbuffer_add_printf(out, "%s\n", t);
                    free(t);
                }
                evbuffer_drain(in, evbuffer_get_length(in));
                bufferevent_disable(bev, EV_READ);
                cl->closing = true;
            }
            return;
        }
        char *text;
        if (n > CTL_LINE_MAX) {
            json_t *r = error_reply("command longer than 4096 bytes");
            text = json_dumps(r, JSON_COMPACT);
            json_decref(r);
        } else {
            text = control_handle_line(cl->ctl->fn, cl->ctl->arg, line);
        }
        free(line);
        if (text != NULL) {
            evbuffer_add(out, text, strlen(text));
            evbuffer_add(out, "\n", 1);
            free(text);
        }
    }
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
    cclient_t *cl = arg;
    (void)bev;
    (void)what;
    /* EOF, error or idle timeout: the client is gone or silent. */
    client_free(cl);
}

static void client_written(struct bufferevent *bev, void *arg)
{
    cclient_t *cl = arg;
    (void)bev;
    if (cl->closing)
        client_free(cl);
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    control_t *c = arg;
    cclient_t *cl;
    struct timeval idle = {CONTROL_IDLE_S, 0};

    (void)lev;
    (void)sa;
    (void)salen;
    if (c->nclients >= CONTROL_MAX_CLIENTS) {
        close(fd);
        return;
    }
    cl = calloc(1, sizeof(*cl));
    if (cl == NULL) {
        close(fd);
        return;
    }
    cl->ctl = c;
    cl->bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (cl->bev == NULL) {
        close(fd);
        free(cl);
        return;
    }
    bufferevent_setcb(cl->bev, client_read, client_written, client_event, cl);
    /* Never buffer more than one line and a little. */
    bufferevent_setwatermark(cl->bev, EV_READ, 0, CTL_LINE_MAX + 2);
    bufferevent_set_timeouts(cl->bev, &idle, &idle);
    bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
    cl->next = c->clients;
    if (c->clients != NULL)
        c->clients->prev = cl;
    c->clients = cl;
    c->nclients++;
}

control_t *control_open(const char *path, uid_t uid, gid_t gid, char *err, size_t errcap)
{
    struct sockaddr_un sun;
    control_t *c;
    struct stat sb;
    char why[512];

    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errcap, "control: %s: path too long for a Unix socket", path);
        return NULL;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path));

    /* The directory: created when missing (as /run/stubresd usually is
     * when not started by systemd) and handed to the daemon's user, so
     * it can remove its socket when it exits. */
    char *dircopy = strdup(path);
    if (dircopy == NULL) {
        snprintf(err, errcap, "control: out of memory");
        return NULL;
    }
    const char *dir = dirname(dircopy);
    if (priv_mkdir(dir, 0755, uid, (gid_t)-1) != 0) {
        snprintf(err, errcap, "control: cannot create %s: %s", dir, strerror(errno));
        free(dircopy);
        return NULL;
    }
    free(dircopy);

    if (lstat(path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode)) {
            snprintf(err, errcap, "control: %s exists and is not a socket", path);
            return NULL;
        }
        /* Someone listening there? Then another stubresd runs. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
            close(probe);
            snprintf(err, errcap, "control: %s is in use (is another stubresd running?)", path);
            return NULL;
        }
        if (probe >= 0)
            close(probe);
        unlink(path);
    }

    c = calloc(1, sizeof(*c));
    if (c == NULL || (c->path = strdup(path)) == NULL) {
        free(c);
        snprintf(err, errcap, "control: out of memory");
        return NULL;
    }
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        snprintf(err, errcap, "control: socket: %s", strerror(errno));
        goto fail;
    }
    if (priv_bind_unix(c->fd, path, uid, gid, why, sizeof(why)) != 0) {
        snprintf(err, errcap, "control: %s", why);
        goto fail;
    }
    if (listen(c->fd, 16) != 0) {
        snprintf(err, errcap, "control: listen: %s", strerror(errno));
        unlink(path);
        goto fail;
    }
    return c;
fail:
    if (c->fd >= 0)
        close(c->fd);
    free(c->path);
    free(c);
    return NULL;
}

int control_start(control_t *c, struct event_base *base, control_handler_fn fn, void *arg)
{
    c->fn = fn;
    c->arg = arg;
    c->base = base;
    c->acc = acceptor_new(base, c->fd, LEV_OPT_CLOSE_ON_EXEC, on_accept, c, "control");
    return c->acc != NULL ? 0 : -1;
}

void control_free(control_t *c)
{
    if (c == NULL)
        return;
    while (c->clients != NULL)
        client_free(c->clients);
    acceptor_free(c->acc);
    if (c->fd >= 0)
        close(c->fd);
    if (unlink(c->path) != 0 && errno != ENOENT)
        log_warn("control: unlink %s", c->path);
    free(c->path);
    free(c);
}
