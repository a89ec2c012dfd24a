/* stubresd: giving up root.
 *
 * After every socket is bound, the daemon becomes `user` for good: its
 * supplementary groups are cleared, then the group and the user are set
 * (real, effective and saved), and the result is checked, including that
 * root cannot be regained. Nothing is kept: no capability, no saved id. */
#ifndef STUBRESD_PRIV_H
#define STUBRESD_PRIV_H

#include <stddef.h>
#include <sys/types.h>

/* The uid and gid of user; 0 or -1 with err. */
int priv_lookup(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errcap);
/* The gid of group; 0 or -1 with err. */
int priv_group(const char *group, gid_t *gid, char *err, size_t errcap);
/* Become user (no-op when it is empty, or when already running as that
 * user without root). 0, or -1 with err. */
int priv_drop(const char *user, char *err, size_t errcap);

#endif
