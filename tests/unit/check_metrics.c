/* Unit tests: the metrics endpoint (src/daemon/metrics.c): what a request
 * line asks for, and the files root makes for the daemon's user
 * (src/daemon/priv.c): no symbolic link, no hard link, no file of another
 * user, mode 0640. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "priv.h"
#include "check-main.h"

static metrics_route_t route(const char *line)
{
    metrics_route_t r;
    metrics_route(line, &r);
    return r;
}

START_TEST(test_route)
{
    ck_assert_int_eq(route("GET /metrics HTTP/1.1").code, 200);
    ck_assert(!route("GET /metrics HTTP/1.1").head);
    ck_assert_int_eq(route("GET / HTTP/1.0").code, 200);
    ck_assert_int_eq(route("GET /metrics?name[]=x HTTP/1.1").code, 200);
    ck_assert_int_eq(route("HEAD /metrics HTTP/1.1").code, 200);
    ck_assert(route("HEAD /metrics HTTP/1.1").head);
    ck_assert_int_eq(route("GET /other HTTP/1.1").code, 404);
    ck_assert_int_eq(route("GET /metricsx HTTP/1.1").code, 404);
    ck_assert_int_eq(route("POST /metrics HTTP/1.1").code, 405);
    ck_assert_int_eq(route("DELETE /metrics HTTP/1.1").code, 405);
}
END_TEST

START_TEST(test_route_malformed)
{
    static const char *const bad[] = {
        "",
        "GET",
        "GET /metrics",                   /* HTTP/0.9 */
        "GET /metrics HTTP/2",            /* not over this socket */
        "GET metrics HTTP/1.1",           /* not an origin-form target */
        "GET /metrics HTTP/1.1 extra",    /* four words */
        "GETGETGETGET /metrics HTTP/1.1", /* method longer than any we know */
        "GET http://x/metrics HTTP/1.1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(route(bad[i]).code == 400, "'%s' is not a good request line", bad[i]);
    /* A target longer than the buffer is cut, never overflows. */
    char *big = malloc(10000);
    ck_assert_ptr_nonnull(big);
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', 9000);
    strcpy(big + 9005, " HTTP/1.1");
    ck_assert_int_eq(route(big).code, 400);
    free(big);
}
END_TEST

static char dir[64];
static char path[128], other[128];
static char err[512];

static void files_setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/check_metrics.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/query.log", dir);
    snprintf(other, sizeof(other), "%s/victim", dir);
}

static void files_teardown(void)
{
    unlink(path);
    unlink(other);
    rmdir(dir);
}

static void write_victim(void)
{
    FILE *f = fopen(other, "w");
    ck_assert_ptr_nonnull(f);
    fputs("secret\n", f);
    fclose(f);
    chmod(other, 0600);
}

START_TEST(test_log_new)
{
    struct stat sb;
    mode_t old = umask(0);
    int fd = priv_open_log(path, (uid_t)-1, (gid_t)-1, err, sizeof(err));
    umask(old);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 07777, 0640);
    ck_assert_int_eq(write(fd, "x\n", 2), 2);
    close(fd);
    /* Opened again: appended to, not truncated. */
    fd = priv_open_log(path, (uid_t)-1, (gid_t)-1, err, sizeof(err));
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "y\n", 2), 2);
    close(fd);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 4);
}
END_TEST

/* priv_open_log refuses path, saying why. */
static void expect_refused(const char *why)
{
    ck_assert_int_eq(priv_open_log(path, (uid_t)-1, (gid_t)-1, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, why) != NULL, "\"%s\" does not say \"%s\"", err, why);
}

START_TEST(test_log_symlink)
{
    struct stat sb;
    write_victim();
    ck_assert_int_eq(symlink(other, path), 0);
    expect_refused("is a symbolic link");
    /* A dangling one is no better: O_CREAT would make its target. */
    unlink(other);
    ck_assert_int_eq(priv_open_log(path, (uid_t)-1, (gid_t)-1, err, sizeof(err)), -1);
    ck_assert_int_ne(stat(other, &sb), 0);
}
END_TEST

START_TEST(test_log_hardlink)
{
    struct stat sb;
    write_victim();
    ck_assert_int_eq(link(other, path), 0);
    expect_refused("has 2 hard links");
    ck_assert_int_eq(stat(other, &sb), 0);
    ck_assert_int_eq(sb.st_size, 7);
}
END_TEST

START_TEST(test_log_not_regular)
{
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    expect_refused("not a regular file");
}
END_TEST

START_TEST(test_log_other_owner)
{
    struct stat sb;
    write_victim();
    ck_assert_int_eq(rename(other, path), 0);
    ck_assert_int_eq(stat(path, &sb), 0);
    /* Not the owner the daemon's user would have: refused. */
    ck_assert_int_eq(priv_open_log(path, sb.st_uid + 1, sb.st_gid, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "belongs to uid"));
    int fd = priv_open_log(path, sb.st_uid, sb.st_gid, err, sizeof(err));
    ck_assert_int_ge(fd, 0);
    close(fd);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    add_tcase(s, "route", NULL, NULL, TESTS(test_route, test_route_malformed));
    add_tcase(s, "files", files_setup, files_teardown,
              TESTS(test_log_new, test_log_symlink, test_log_hardlink, test_log_not_regular,
                    test_log_other_owner));
    return run_suite(s);
}
