/* stubresd: a listening socket whose accept errors pause it.
 *
 * libevent's evconnlistener retries a failed accept() at once: out of
 * descriptors (EMFILE, ENFILE) or buffers that is a busy loop logging one
 * line per turn (3.6 M lines in 10 s were seen on the metrics socket).
 * An acceptor logs the error and stops accepting for a second instead.
 * The control socket and the metrics endpoint use it; the DNS TCP
 * listeners pause the same way on their worker's loop (listener.c). */
#ifndef STUBRESD_ACCEPTOR_H
#define STUBRESD_ACCEPTOR_H

#include <event2/listener.h>

typedef struct acceptor acceptor_t;

/* Accept on fd (already listening) in base, cb for each connection.
 * flags as evconnlistener_new's (LEV_OPT_CLOSE_ON_FREE hands fd over);
 * what names the socket in the log. NULL when out of memory. */
acceptor_t *acceptor_new(struct event_base *base, evutil_socket_t fd, unsigned flags,
                         evconnlistener_cb cb, void *arg, const char *what);
/* Stop accepting and free. Accepts NULL. */
void acceptor_free(acceptor_t *a);

#endif
