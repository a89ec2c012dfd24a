/* The fuzz targets' small outside world (see sandbox.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"
#include "sandbox.h"

#define VPREFIX "/fuzz/"

static char g_dir[64];
static bool g_active;

void sandbox_enter(void)
{
    g_active = true;
}

void sandbox_leave(void)
{
    g_active = false;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void sandbox_cleanup(void)
{
    if (g_dir[0] != '\0')
        nftw(g_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

const char *sandbox_dir(void)
{
    static const char resolv[] = "# the fuzz targets' /etc/resolv.conf\n"
                                 "nameserver 192.0.2.53\n"
                                 "nameserver 127.0.0.1\n"
                                 "nameserver ::1\n"
                                 "options edns0\n";
    if (g_dir[0] != '\0')
        return g_dir;
    snprintf(g_dir, sizeof(g_dir), "/dev/shm/stubresd-fuzz.XXXXXX");
    if (mkdtemp(g_dir) == NULL) {
        snprintf(g_dir, sizeof(g_dir), "/tmp/stubresd-fuzz.XXXXXX");
        FUZZ_CHECK(mkdtemp(g_dir) != NULL);
    }
    atexit(sandbox_cleanup);
    sandbox_write("resolv.conf", resolv, sizeof(resolv) - 1);
    return g_dir;
}

const char *sandbox_real(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", sandbox_dir(), name);
    return buf;
}

FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);
int __real_access(const char *path, int how);
int __wrap_access(const char *path, int how);

void sandbox_write(const char *name, const void *data, size_t len)
{
    char path[256];
    FILE *f = __real_fopen(sandbox_real(name, path, sizeof(path)), "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(len == 0 || fwrite(data, 1, len, f) == len);
    FUZZ_CHECK(fclose(f) == 0);
}

/* Where path really is, or NULL when it is outside the sandbox. */
static const char *map(const char *path, char *buf, size_t cap)
{
    const char *dir = sandbox_dir();
    size_t dl = strlen(dir);
    const char *rest;

    if (path == NULL)
        return NULL;
    if (strncmp(path, VPREFIX, sizeof(VPREFIX) - 1) == 0)
        rest = path + sizeof(VPREFIX) - 1;
    else if (strncmp(path, dir, dl) == 0 && path[dl] == '/')
        rest = path + dl + 1;
    else if (strcmp(path, "/etc/resolv.conf") == 0)
        rest = "resolv.conf";
    else
        return NULL;
    if (strstr(rest, "..") != NULL || (size_t)snprintf(buf, cap, "%s/%s", dir, rest) >= cap)
        return NULL;
    return buf;
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
    char buf[512];
    if (!g_active || mode[0] != 'r')
        return __real_fopen(path, mode);
    const char *real = map(path, buf, sizeof(buf));
    if (real == NULL) {
        errno = ENOENT;
        return NULL;
    }
    return __real_fopen(real, mode);
}

int __wrap_access(const char *path, int how)
{
    char buf[512];
    if (!g_active)
        return __real_access(path, how);
    const char *real = map(path, buf, sizeof(buf));
    if (real == NULL) {
        errno = ENOENT;
        return -1;
    }
    return __real_access(real, how);
}

int __real_log_query_open(const char *where, char *err, size_t errcap);
int __wrap_log_query_open(const char *where, char *err, size_t errcap);

/* The query log: its sinks as they are, a file only in the sandbox. */
int __wrap_log_query_open(const char *where, char *err, size_t errcap)
{
    char buf[512];
    if (where == NULL || where[0] != '/')
        return __real_log_query_open(where, err, errcap);
    const char *real = map(where, buf, sizeof(buf));
    if (real == NULL) {
        snprintf(err, errcap, "query_log: cannot open %s: %s", where, strerror(ENOENT));
        return -1;
    }
    return __real_log_query_open(real, err, errcap);
}

struct passwd *__wrap_getpwnam(const char *name);
struct group *__wrap_getgrnam(const char *name);
void __wrap_openlog(const char *ident, int option, int facility);
void __wrap_syslog(int priority, const char *fmt, ...);

struct passwd *__wrap_getpwnam(const char *name)
{
    static char *const names[] = {"root", "daemon", "nobody"};
    static const uid_t ids[] = {0, 1, 65534};
    static struct passwd pw;
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(name, names[i]) == 0) {
            memset(&pw, 0, sizeof(pw));
            pw.pw_name = names[i];
            pw.pw_uid = ids[i];
            pw.pw_gid = ids[i];
            pw.pw_dir = "/";
            pw.pw_shell = "/bin/false";
            return &pw;
        }
    }
    errno = 0;
    return NULL;
}

struct group *__wrap_getgrnam(const char *name)
{
    static char *const names[] = {"root", "daemon", "nogroup"};
    static const gid_t ids[] = {0, 1, 65534};
    static char *no_members[] = {NULL};
    static struct group gr;
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(name, names[i]) == 0) {
            memset(&gr, 0, sizeof(gr));
            gr.gr_name = names[i];
            gr.gr_gid = ids[i];
            gr.gr_mem = no_members;
            return &gr;
        }
    }
    errno = 0;
    return NULL;
}

void __wrap_openlog(const char *ident, int option, int facility)
{
    (void)ident;
    (void)option;
    (void)facility;
}

void __wrap_syslog(int priority, const char *fmt, ...)
{
    (void)priority;
    (void)fmt;
}
