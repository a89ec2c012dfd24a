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

/* Files made as root by a configured path, in directories the daemon's
 * user may own: none of these follows a symbolic link or acts on a name
 * twice, so a name swapped for a link (to /etc/shadow, say) meanwhile
 * gains nothing. uid/gid -1: no owner to give. */

/* Create the directory path with mode when missing and, when this call
 * made it, give it to uid:gid. 0 (also when it existed), or -1 with errno. */
int priv_mkdir(const char *path, mode_t mode, uid_t uid, gid_t gid);
/* Open path for appending (a log): a regular file with one link, never
 * through a symbolic link. A new file gets mode 0640 and the owner
 * uid:gid; an existing one is taken only when it already belongs to uid
 * (or uid is -1). The descriptor (O_CLOEXEC), or -1 with err saying what
 * to do. */
int priv_open_log(const char *path, uid_t uid, gid_t gid, char *err, size_t errcap);
/* Bind the Unix stream socket fd to path with mode 0660, owned by uid:gid.
 * The node is made in a fresh directory beside path that only root may
 * change, handed over there and renamed into place. 0, or -1 with err. */
int priv_bind_unix(int fd, const char *path, uid_t uid, gid_t gid, char *err, size_t errcap);

#endif
