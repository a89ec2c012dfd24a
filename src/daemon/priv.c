/* stubresd: giving up root (see priv.h). */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "priv.h"

int priv_lookup(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errcap)
{
    struct passwd *pw;

    errno = 0;
    pw = getpwnam(user);
    if (pw == NULL) {
        snprintf(err, errcap, "user: no such user '%s'", user);
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

int priv_group(const char *group, gid_t *gid, char *err, size_t errcap)
{
    struct group *gr = getgrnam(group);

    if (gr == NULL) {
        snprintf(err, errcap, "control_group: no such group '%s'", group);
        return -1;
    }
    *gid = gr->gr_gid;
    return 0;
}

int priv_drop(const char *user, char *err, size_t errcap)
{
    uid_t uid, ru, eu, su;
    gid_t gid, rg, eg, sg;

    if (user == NULL || user[0] == '\0')
        return 0;
    if (priv_lookup(user, &uid, &gid, err, errcap) != 0)
        return -1;
    if (geteuid() != 0) {
        if (geteuid() == uid && getuid() == uid)
            return 0; /* already that user (systemd User=, DynamicUser=) */
        snprintf(err, errcap, "user: cannot become '%s': not running as root", user);
        return -1;
    }
    /* Groups first: once the uid is gone, so is the right to change them. */
    if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) {
        snprintf(err, errcap, "user: cannot become '%s': %s", user, strerror(errno));
        return -1;
    }
    /* Check rather than trust: every id changed, and root is out of reach. */
    if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != uid || eu != uid ||
        su != uid || rg != gid || eg != gid || sg != gid || (uid != 0 && setuid(0) != -1)) {
        snprintf(err, errcap, "user: switching to '%s' did not take", user);
        return -1;
    }
    /* Nothing run from here may gain privileges (setuid binaries). */
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return 0;
}
