/* Address text, the monotonic clock and randomness (see util.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "lib-internal.h"

/* ------------------------------------------------------------ addresses */

int sr_port_parse(const char *s, size_t n, bool allow_zero, uint16_t *port)
{
    unsigned long v = 0;

    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
        if (v > 65535)
            return -1;
    }
    if (v == 0 && !allow_zero)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

int sr_hostport_scan(const char *text, const char *stop, sr_hostport_t *hp)
{
    memset(hp, 0, sizeof(*hp));
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL)
            return -1;
        hp->host = text + 1;
        hp->host_len = (size_t)(close - text - 1);
        hp->end = close + 1;
    } else {
        size_t n = strcspn(text, stop);
        const char *c1 = memchr(text, ':', n);
        hp->host = text;
        if (c1 != NULL && memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - text)) != NULL)
            hp->host_len = n; /* bare IPv6 */
        else
            hp->host_len = c1 != NULL ? (size_t)(c1 - text) : n;
        hp->end = text + hp->host_len;
    }
    if (*hp->end == ':') {
        hp->port = hp->end + 1;
        hp->port_len = strcspn(hp->port, stop);
        hp->end = hp->port + hp->port_len;
    }
    return 0;
}

int sr_ip_parse(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        *len = sizeof(*sin);
        return 0;
    }
    if (strchr(host, '.') == NULL || strchr(host, ':') != NULL) {
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons(port);
            *len = sizeof(*sin6);
            return 0;
        }
    }
    return -1;
}

int sr_ipport_parse(const char *text, uint16_t default_port, bool allow_zero,
                    struct sockaddr_storage *ss, socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + 1];
    uint16_t port = default_port;
    sr_hostport_t hp;

    memset(ss, 0, sizeof(*ss));
    if (text == NULL || sr_hostport_scan(text, "", &hp) != 0)
        return -1;
    if (hp.host_len == 0 || hp.host_len >= sizeof(host) || *hp.end != '\0')
        return -1;
    memcpy(host, hp.host, hp.host_len);
    host[hp.host_len] = '\0';
    if (hp.port != NULL && sr_port_parse(hp.port, hp.port_len, allow_zero, &port) != 0)
        return -1;
    return sr_ip_parse(host, port, ss, len);
}

sr_status_t sr_addr_parse(const char *host, uint16_t port, struct sockaddr_storage *ss,
                          socklen_t *len)
{
    struct addrinfo hints, *res = NULL;
    char portstr[8];
    sr_status_t status = SR_E_BAD_ADDRESS;

    if (host == NULL || *host == '\0')
        return SR_E_BAD_ADDRESS;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    /* Numeric only: this never asks a resolver (which may be ourselves).
     * getaddrinfo is used because it understands IPv6 zone ids. */
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0 || res == NULL)
        goto done;
    if (res->ai_addrlen > sizeof(*ss))
        goto done;
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = (socklen_t)res->ai_addrlen;
    status = SR_OK;
done:
    if (res != NULL)
        freeaddrinfo(res);
    return status;
}

const char *sr_ip_format(const struct sockaddr *sa, char *out, size_t cap)
{
    if (cap == 0)
        return out;
    out[0] = '\0';
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
    else
        snprintf(out, cap, "?");
    return out;
}

uint16_t sr_sockaddr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

/* --------------------------------------------------------------- clocks */

uint64_t sr_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint32_t sr_now_coarse_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)ts.tv_sec;
}

/* ----------------------------------------------------------- randomness */

bool sr_random_bytes(void *p, size_t n)
{
    return n <= (size_t)INT32_MAX && RAND_bytes((unsigned char *)p, (int)n) == 1;
}

/* A per-thread pool of random bytes: one RAND_bytes call per 1024 IDs (or
 * 0x20 draws: a call costs about 30k instructions, most of it per call). */
static _Thread_local uint8_t rand_pool[2048];
static _Thread_local size_t rand_left;

/* At least n bytes left in the pool. */
static void rand_need(size_t n)
{
    if (rand_left < n) {
        if (!sr_random_bytes(rand_pool, sizeof(rand_pool)) &&
            getrandom(rand_pool, sizeof(rand_pool), 0) != (ssize_t)sizeof(rand_pool)) {
            /* Both CSPRNGs failed; degrade rather than stop resolving.
             * Never seen on Linux with a working kernel. */
            uint64_t t = sr_now_us();
            for (size_t i = 0; i < sizeof(rand_pool); i++)
                rand_pool[i] ^= (uint8_t)(t >> ((i % 8) * 8)) + (uint8_t)i;
        }
        rand_left = sizeof(rand_pool);
    }
}

uint16_t sr_random16(void)
{
    rand_need(2);
    rand_left -= 2;
    return sr_get16(rand_pool + rand_left);
}

/* ---- events ---- */

void sr_event_free(struct event *ev)
{
    if (ev != NULL)
        event_free(ev);
}

uint64_t sr_random64(void)
{
    uint64_t v;

    rand_need(8);
    rand_left -= 8;
    memcpy(&v, rand_pool + rand_left, 8);
    return v;
}

/* ---- files ---- */

int sr_write_atomic(const char *path, unsigned mode, const void *buf, size_t len)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16), *dircopy;
    const uint8_t *p = buf;
    int fd, saved;

    if (tmp == NULL)
        return -1;
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    fd = mkstemp(tmp); /* 0600 until the fchmod below */
    if (fd < 0) {
        saved = errno;
        free(tmp);
        errno = saved;
        return -1;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, p + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            goto fail;
        }
        off += (size_t)w;
    }
    if (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    /* Make the rename itself durable. */
    dircopy = strdup(path);
    if (dircopy != NULL) {
        int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dircopy);
    }
    free(tmp);
    return 0;
fail:
    saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    errno = saved;
    return -1;
}
