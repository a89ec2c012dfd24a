/* stubresd: the control socket.
 *
 * A Unix stream socket (mode 0660, group control_group) on the main
 * thread. A client sends one command per line and gets one JSON object
 * per line back. Everything a client sends is bounded: the line length
 * (CTL_LINE_MAX), the number of clients at once, how long one may sit
 * idle. The commands themselves are carried out by a handler (daemon.c). */
#ifndef STUBRESD_CONTROL_H
#define STUBRESD_CONTROL_H

#include <jansson.h>
#include <sys/types.h>

#include "ctlproto.h"

struct event_base;

/* Clients connected at once; more are turned away. */
#define CONTROL_MAX_CLIENTS 16
/* Seconds a control client may be silent. */
#define CONTROL_IDLE_S 60

typedef struct control control_t;

/* Carry out req; return the reply object (new reference), never NULL
 * except when out of memory. */
typedef json_t *(*control_handler_fn)(void *arg, const ctl_request_t *req);

/* Create and bind the socket at path (before privileges are dropped):
 * mode 0660, group gid (or -1 to leave it), owner uid (-1: leave). A
 * stale socket left by a dead daemon is replaced; a live one is an error.
 * Returns NULL with err. */
control_t *control_open(const char *path, uid_t uid, gid_t gid, char *err, size_t errcap);
/* Start serving on base with handler. Returns 0 or -1. */
int control_start(control_t *c, struct event_base *base, control_handler_fn fn, void *arg);
/* Close every client and the socket, and remove the socket file. */
void control_free(control_t *c);

/* Handle one line as a client's command would be (for tests): the reply
 * as a JSON string (free() it). */
char *control_handle_line(control_handler_fn fn, void *arg, const char *line);

#endif
