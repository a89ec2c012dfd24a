/* The bootstrap resolver of upstream host names (bootstrap.c; not
 * installed). */
#ifndef STUBRES_BOOTSTRAP_INTERNAL_H
#define STUBRES_BOOTSTRAP_INTERNAL_H

#include "upstream-internal.h"

/* Resolve up->host into up->addr (a literal at once; a name through the
 * bootstrap server); calls done(up, status, arg) from the event loop.
 * upstream.c resolves before it calls ops->send, so modules always find
 * up->addr valid. One lookup at a time per upstream (SR_E_ALREADY). */
sr_status_t sr_upstream_resolve(sr_upstream_t *up, sr_resolve_cb done, void *arg);

#endif
