/* stubresd: a listening socket whose accept errors pause it (see
 * acceptor.h). */
#include "config.h"

#include <stdlib.h>

#include <event2/event.h>

#include "acceptor.h"
#include "log.h"

/* How long accepting pauses after an error. */
#define ACCEPT_PAUSE_S 1

struct acceptor {
    struct evconnlistener *lev;
    struct event *resume; /* re-enables accepting after the pause */
    const char *what;
};

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    acceptor_t *a = arg;
    (void)fd;
    (void)what;
    evconnlistener_enable(a->lev);
}

static void on_error(struct evconnlistener *lev, void *arg)
{
    acceptor_t *a = arg;
    struct timeval pause = {ACCEPT_PAUSE_S, 0};

    log_warn("%s: accept", a->what);
    evconnlistener_disable(lev);
    evtimer_add(a->resume, &pause);
}

acceptor_t *acceptor_new(struct event_base *base, evutil_socket_t fd, unsigned flags,
                         evconnlistener_cb cb, void *arg, const char *what)
{
    acceptor_t *a = calloc(1, sizeof(*a));

    if (a == NULL)
        return NULL;
    a->what = what;
    a->resume = evtimer_new(base, on_resume, a);
    if (a->resume != NULL)
        a->lev = evconnlistener_new(base, cb, arg, flags, 0, fd);
    if (a->lev == NULL) {
        acceptor_free(a);
        return NULL;
    }
    evconnlistener_set_error_cb(a->lev, on_error);
    return a;
}

void acceptor_free(acceptor_t *a)
{
    if (a == NULL)
        return;
    if (a->lev != NULL)
        evconnlistener_free(a->lev);
    if (a->resume != NULL)
        event_free(a->resume);
    free(a);
}
