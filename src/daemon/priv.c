/* stubresd: giving up root (see priv.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h" /* addresses, clocks, randomness */
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

/* A directory component of every path below may belong to the daemon's
 * user (the control socket's and the state file's directories are handed
 * to it), who could swap a name for a link between two calls made by root.
 * So nothing here acts on a name twice: files are checked and handed over
 * through their descriptors, and a link is never followed. */

int priv_mkdir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
    struct stat sb;
    int fd, rc = 0;

    if (mkdir(path, mode) != 0)
        return errno == EEXIST ? 0 : -1;
    if (uid == (uid_t)-1 && gid == (gid_t)-1)
        return 0;
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    /* Ours only if we made it: someone who renamed it away and put their
     * own there gets nothing. */
    if (fstat(fd, &sb) != 0 || sb.st_uid != geteuid() || fchown(fd, uid, gid) != 0)
        rc = -1;
    close(fd);
    return rc;
}

int priv_open_log(const char *path, uid_t uid, gid_t gid, char *err, size_t errcap)
{
    const int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
    struct stat sb;
    bool created = true;
    int fd;

    /* O_CREAT | O_EXCL makes a new file or fails, never following a link. */
    fd = open(path, flags | O_CREAT | O_EXCL, 0640);
    if (fd < 0 && errno == EEXIST) {
        created = false;
        fd = open(path, flags);
    }
    if (fd < 0) {
        if (errno == ELOOP)
            snprintf(err, errcap,
                     "%s is a symbolic link, which stubresd does not follow: name the file "
                     "itself",
                     path);
        else if (errno == ENXIO)
            snprintf(err, errcap, "%s is not a regular file: name a file, syslog or stderr", path);
        else
            snprintf(err, errcap, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &sb) != 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, errcap, "%s is not a regular file: name a file, syslog or stderr", path);
        goto fail;
    }
    if (sb.st_nlink != 1) {
        snprintf(err, errcap, "%s has %ju hard links: name a file of its own", path,
                 (uintmax_t)sb.st_nlink);
        goto fail;
    }
    if (created) {
        /* 0640 whatever the umask; the owner the daemon's user, who must
         * reopen it after a rotation. */
        if (fchmod(fd, 0640) != 0 ||
            ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) != 0)) {
            snprintf(err, errcap, "%s: %s", path, strerror(errno));
            unlink(path);
            goto fail;
        }
    } else if (uid != (uid_t)-1 && sb.st_uid != uid) {
        /* Root appends to, and hands over, only what it made itself. */
        snprintf(err, errcap,
                 "%s belongs to uid %ju, not to the daemon's user (uid %ju): remove it (stubresd "
                 "creates it) or chown it to that user",
                 path, (uintmax_t)sb.st_uid, (uintmax_t)uid);
        goto fail;
    }
    if (fcntl(fd, F_SETFL, O_WRONLY | O_APPEND) != 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

/* Leave the fresh directory of priv_bind_unix: the node's name (if still
 * there), the directory, and the way back to the old working directory.
 * -1 when that way back failed. */
static int bind_cleanup(int tmpfd, int dirfd, const char *tmpname, int cwd)
{
    int rc = 0;

    if (tmpfd >= 0) {
        unlinkat(tmpfd, "s", 0);
        close(tmpfd);
    }
    if (dirfd >= 0 && tmpname != NULL)
        unlinkat(dirfd, tmpname, AT_REMOVEDIR);
    if (cwd >= 0) {
        rc = fchdir(cwd);
        close(cwd);
    }
    return rc;
}

int priv_bind_unix(int fd, const char *path, uid_t uid, gid_t gid, char *err, size_t errcap)
{
    struct sockaddr_un sun;
    char *dircopy = NULL, *basecopy = NULL, tmpname[32];
    const char *dir, *base;
    int dirfd = -1, tmpfd = -1, cwd = -1, rc = -1;
    bool made = false;
    struct stat sb;
    mode_t old;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errcap, "%s: path too long for a Unix socket", path);
        return -1;
    }
    /* Mode 0660 from the start (the node takes the socket's mode less the
     * umask): no moment in which others may connect. */
    if (fchmod(fd, 0660) != 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (uid == (uid_t)-1 && gid == (gid_t)-1) {
        memcpy(sun.sun_path, path, strlen(path));
        old = umask(0117);
        rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
        umask(old);
        if (rc != 0)
            snprintf(err, errcap, "bind %s: %s", path, strerror(errno));
        return rc;
    }
    /* An owner to give: bound in a fresh directory only root can change,
     * handed over there, then renamed into place. A chown by name after
     * a bind in place could follow whatever link the directory's owner
     * (the daemon's user) put there meanwhile. */
    dircopy = strdup(path);
    basecopy = strdup(path);
    if (dircopy == NULL || basecopy == NULL) {
        snprintf(err, errcap, "out of memory");
        goto done;
    }
    dir = dirname(dircopy);
    base = basename(basecopy);
    dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0 || cwd < 0) {
        snprintf(err, errcap, "%s: %s", dirfd < 0 ? dir : ".", strerror(errno));
        goto done;
    }
    for (int i = 0; i < 16 && !made; i++) {
        uint32_t r;
        if (!sr_random_bytes(&r, sizeof(r)))
            r = (uint32_t)getpid() * 2654435761u + (uint32_t)i;
        snprintf(tmpname, sizeof(tmpname), ".stubresd.%08x", r);
        if (mkdirat(dirfd, tmpname, 0700) == 0)
            made = true;
        else if (errno != EEXIST)
            break;
    }
    if (!made) {
        snprintf(err, errcap, "cannot create a directory in %s: %s", dir, strerror(errno));
        goto done;
    }
    tmpfd = openat(dirfd, tmpname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tmpfd < 0 || fstat(tmpfd, &sb) != 0 || sb.st_uid != geteuid() || (sb.st_mode & 077) != 0 ||
        fchdir(tmpfd) != 0) {
        snprintf(err, errcap, "%s/%s: not the directory it made", dir, tmpname);
        goto done;
    }
    memcpy(sun.sun_path, "s", 2);
    old = umask(0117);
    rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (rc != 0) {
        snprintf(err, errcap, "bind %s: %s", path, strerror(errno));
        goto done;
    }
    rc = -1;
    if (fchownat(tmpfd, "s", uid, gid, AT_SYMLINK_NOFOLLOW) != 0 ||
        renameat(tmpfd, "s", dirfd, base) != 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (bind_cleanup(tmpfd, dirfd, made ? tmpname : NULL, cwd) != 0 && rc == 0) {
        /* Relative paths would now mean something else: stop here. */
        snprintf(err, errcap, "%s: cannot return to the working directory: %s", path,
                 strerror(errno));
        rc = -1;
    }
    if (dirfd >= 0)
        close(dirfd);
    free(dircopy);
    free(basecopy);
    return rc;
}
