/* stubresd: socket addresses and client networks (see acl.h). */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "util.h" /* addresses, clocks, randomness */

int addr_parse(const char *text, uint16_t default_port, bool allow_zero,
               struct sockaddr_storage *ss, socklen_t *len)
{
    return sr_ipport_parse(text, default_port, allow_zero, ss, len);
}

const char *addr_format_ip(const struct sockaddr *sa, char *out, size_t cap)
{
    return sr_ip_format(sa, out, cap);
}

const char *addr_format(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];

    addr_format_ip(sa, ip, sizeof(ip));
    if (sa->sa_family == AF_INET6)
        snprintf(out, cap, "[%s]:%u", ip, (unsigned)addr_port(sa));
    else
        snprintf(out, cap, "%s:%u", ip, (unsigned)addr_port(sa));
    return out;
}

uint16_t addr_port(const struct sockaddr *sa)
{
    return sr_sockaddr_port(sa);
}

bool addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
    }
    return false;
}

bool addr_is_any(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return false;
}

bool addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

/* ---- allow lists ---- */

static int acl_add(acl_t *acl, const acl_net_t *net)
{
    acl_net_t *n = realloc(acl->nets, (acl->n + 1) * sizeof(*n));
    if (n == NULL)
        return -1;
    acl->nets = n;
    acl->nets[acl->n++] = *net;
    return 0;
}

static void acl_mask(acl_net_t *net)
{
    unsigned bytes = net->family == AF_INET ? 4 : 16;
    for (unsigned i = 0; i < bytes; i++) {
        unsigned bit0 = i * 8;
        if (bit0 >= net->prefix)
            net->addr[i] = 0;
        else if (bit0 + 8 > net->prefix)
            net->addr[i] &= (uint8_t)(0xff << (8 - (net->prefix - bit0)));
    }
}

static int acl_parse_item(const char *item, acl_t *acl)
{
    char buf[INET6_ADDRSTRLEN + 8];
    acl_net_t net;
    char *slash;

    if (strcasecmp(item, "any") == 0) {
        acl_net_t v4 = {.family = AF_INET, .prefix = 0};
        acl_net_t v6 = {.family = AF_INET6, .prefix = 0};
        return acl_add(acl, &v4) == 0 && acl_add(acl, &v6) == 0 ? 0 : -1;
    }
    if (strcasecmp(item, "loopback") == 0) {
        acl_net_t v4 = {.family = AF_INET, .addr = {127}, .prefix = 8};
        acl_net_t v6 = {.family = AF_INET6, .prefix = 128};
        v6.addr[15] = 1;
        return acl_add(acl, &v4) == 0 && acl_add(acl, &v6) == 0 ? 0 : -1;
    }
    if (strlen(item) >= sizeof(buf))
        return -1;
    strcpy(buf, item);
    memset(&net, 0, sizeof(net));
    slash = strchr(buf, '/');
    if (slash != NULL)
        *slash++ = '\0';
    if (inet_pton(AF_INET, buf, net.addr) == 1) {
        net.family = AF_INET;
        net.prefix = 32;
    } else if (inet_pton(AF_INET6, buf, net.addr) == 1) {
        net.family = AF_INET6;
        net.prefix = 128;
    } else {
        return -1;
    }
    if (slash != NULL) {
        char *end;
        unsigned long p;
        if (!isdigit((unsigned char)*slash))
            return -1;
        errno = 0;
        p = strtoul(slash, &end, 10);
        if (errno != 0 || *end != '\0' || p > net.prefix)
            return -1;
        net.prefix = (unsigned)p;
    }
    acl_mask(&net);
    return acl_add(acl, &net);
}

int acl_parse(const char *text, acl_t *acl, char *err, size_t errcap)
{
    const char *p = text;

    acl->n = 0;
    acl->nets = NULL;
    while (*p != '\0') {
        char item[128];
        size_t n = 0;
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        while (*p != '\0' && *p != ',' && !isspace((unsigned char)*p)) {
            if (n + 1 < sizeof(item))
                item[n] = *p;
            n++;
            p++;
        }
        if (n >= sizeof(item) || (item[n] = '\0', acl_parse_item(item, acl) != 0)) {
            if (n >= sizeof(item))
                item[sizeof(item) - 1] = '\0';
            snprintf(err, errcap, "'%s' is not an address or ADDRESS/PREFIX", item);
            acl_clear(acl);
            return -1;
        }
    }
    return 0;
}

void acl_clear(acl_t *acl)
{
    free(acl->nets);
    acl->nets = NULL;
    acl->n = 0;
}

static bool net_contains(const acl_net_t *net, const uint8_t *a)
{
    unsigned full = net->prefix / 8, rest = net->prefix % 8;

    if (memcmp(net->addr, a, full) != 0)
        return false;
    if (rest == 0)
        return true;
    return (a[full] & (uint8_t)(0xff << (8 - rest))) == net->addr[full];
}

/* An IPv4 source against the IPv4 networks, a word at a time: this runs
 * for every query (memcmp per network cost 45 instructions a hit). */
static bool match_v4(const acl_t *acl, const uint8_t *a)
{
    uint32_t v;

    memcpy(&v, a, sizeof(v));
    v = ntohl(v);
    for (size_t i = 0; i < acl->n; i++) {
        const acl_net_t *net = &acl->nets[i];
        uint32_t n;
        if (net->family != AF_INET)
            continue;
        memcpy(&n, net->addr, sizeof(n));
        n = ntohl(n);
        uint32_t mask = net->prefix == 0 ? 0 : ~0u << (32 - (net->prefix > 32 ? 32 : net->prefix));
        if (((v ^ n) & mask) == 0)
            return true;
    }
    return false;
}

/* IPv6 and IPv4-mapped sources; kept out of line so that the IPv4 path
 * needs no saved registers. */
static __attribute__((noinline)) bool match_v6(const acl_t *acl, const struct sockaddr_in6 *s6)
{
    const uint8_t *a = s6->sin6_addr.s6_addr;

    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
        return match_v4(acl, a + 12);
    for (size_t i = 0; i < acl->n; i++)
        if (acl->nets[i].family == AF_INET6 && net_contains(&acl->nets[i], a))
            return true;
    return false;
}

bool acl_match(const acl_t *acl, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return match_v4(acl, (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr);
    if (sa->sa_family == AF_INET6)
        return match_v6(acl, (const struct sockaddr_in6 *)sa);
    return false;
}

void acl_format(const acl_t *acl, char *out, size_t cap)
{
    size_t off = 0;

    if (cap == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < acl->n && off < cap; i++) {
        char ip[INET6_ADDRSTRLEN];
        inet_ntop(acl->nets[i].family, acl->nets[i].addr, ip, sizeof(ip));
        int n = snprintf(out + off, cap - off, "%s%s/%u", i ? ", " : "", ip, acl->nets[i].prefix);
        if (n < 0)
            break;
        off += (size_t)n;
    }
}
