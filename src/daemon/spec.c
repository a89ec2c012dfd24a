/* stubresd: upstream specs (see spec.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "acl.h"
#include "util.h" /* addresses, clocks, randomness */
#include "spec.h"

static const char *const proto_scheme[] = {"udp", "tcp", "tls", "https"};

static const char accepted[] =
    "expected udp://HOST[:PORT], tcp://HOST[:PORT], tls://HOST[:PORT][#AUTH_NAME] "
    "or https://HOST[:PORT]/PATH";

uint16_t spec_default_port(sr_proto_t proto)
{
    return proto == SR_PROTO_TLS ? 853 : proto == SR_PROTO_HTTPS ? 443 : 53;
}

bool spec_encrypted(const spec_t *spec)
{
    return spec->proto == SR_PROTO_TLS || spec->proto == SR_PROTO_HTTPS;
}

bool spec_host_ascii(const spec_t *spec)
{
    for (const char *h = spec->host; *h; h++)
        if ((unsigned char)*h >= 0x80)
            return false;
    return true;
}

/* ---------------------------------------------------------------- one spec */

/* A host name of letters, digits, '-', '_' and dots, or non-ASCII (IDN,
 * encoded later when UseIDNs is set). */
static bool host_name_ok(const char *h)
{
    size_t label = 0, len = strlen(h);

    if (len == 0 || len > 253 || h[0] == '.' || h[0] == '-')
        return false;
    for (const char *p = h; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!isalnum(ch) && ch != '-' && ch != '_' && ch < 0x80)
            return false;
        if (++label > 63)
            return false;
    }
    return true;
}

/* SCHEME:// (UDP without one) and the protocol's port; *rest after it. */
static int parse_scheme(const char *text, spec_t *spec, const char **rest, char *err, size_t errcap)
{
    const char *scheme_end = strstr(text, "://");

    *rest = text;
    spec->proto = SR_PROTO_UDP;
    if (scheme_end != NULL) {
        size_t sl = (size_t)(scheme_end - text);
        int found = -1;
        for (int i = 0; i < 4; i++)
            if (strlen(proto_scheme[i]) == sl && strncasecmp(text, proto_scheme[i], sl) == 0)
                found = i;
        if (found < 0) {
            snprintf(err, errcap, "'%s': unknown scheme '%.*s'; %s", text, (int)sl, text, accepted);
            return -1;
        }
        spec->proto = (sr_proto_t)found;
        *rest = scheme_end + 3;
    }
    spec->port = spec_default_port(spec->proto);
    return 0;
}

/* HOST: [v6], or up to ':', '/', '#' or the end. A bare IPv6 address (two
 * colons or more, no brackets) is taken whole when nothing but the address
 * can follow. Then :PORT, if any. *rest is what follows. */
static int parse_host_port(const char *text, const char *p, char *host, size_t cap, spec_t *spec,
                           const char **rest, char *err, size_t errcap)
{
    sr_hostport_t hp;

    if (sr_hostport_scan(p, "/#", &hp) != 0) {
        snprintf(err, errcap, "'%s': missing ']'; %s", text, accepted);
        return -1;
    }
    if (hp.host_len == 0 || hp.host_len >= cap) {
        if (*p == '[')
            snprintf(err, errcap, "'%s': bad address; %s", text, accepted);
        else
            snprintf(err, errcap, "'%s': no host; %s", text, accepted);
        return -1;
    }
    memcpy(host, hp.host, hp.host_len);
    host[hp.host_len] = '\0';
    /* At most five digits: "000053" is not a port here. */
    if (hp.port != NULL &&
        (hp.port_len > 5 || sr_port_parse(hp.port, hp.port_len, false, &spec->port) != 0)) {
        snprintf(err, errcap, "'%s': bad port (1 to 65535); %s", text, accepted);
        return -1;
    }
    *rest = hp.end;
    return 0;
}

/* Is host an address (canonical text) or a name (a trailing dot is allowed
 * and dropped)? *v6 for an IPv6 address. */
static int set_host(const char *text, char *host, spec_t *spec, bool *v6, char *err, size_t errcap)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    size_t n = strlen(host);

    *v6 = false;
    if (addr_parse(host, 53, false, &ss, &sl) == 0) {
        *v6 = ss.ss_family == AF_INET6;
        addr_format_ip((struct sockaddr *)&ss, spec->host, sizeof(spec->host));
        return 0;
    }
    if (strchr(host, ':') != NULL || !host_name_ok(host)) {
        snprintf(err, errcap, "'%s': '%s' is neither an IP address nor a host name; %s", text, host,
                 accepted);
        return -1;
    }
    if (n > 1 && host[n - 1] == '.')
        host[n - 1] = '\0';
    snprintf(spec->host, sizeof(spec->host), "%s", host);
    return 0;
}

/* What may follow HOST[:PORT]: #AUTH_NAME for tls://, /PATH for https://. */
static int parse_tail(const char *text, const char *rest, spec_t *spec, char *err, size_t errcap)
{
    if (*rest == '#') {
        if (spec->proto != SR_PROTO_TLS) {
            snprintf(err, errcap, "'%s': #AUTH_NAME is only for tls://; %s", text, accepted);
            return -1;
        }
        if (!host_name_ok(rest + 1)) {
            snprintf(err, errcap, "'%s': bad authentication name '%s'", text, rest + 1);
            return -1;
        }
        snprintf(spec->auth, sizeof(spec->auth), "%s", rest + 1);
        rest += strlen(rest);
    }
    if (*rest == '/') {
        if (spec->proto != SR_PROTO_HTTPS) {
            snprintf(err, errcap, "'%s': a /PATH is only for https://; %s", text, accepted);
            return -1;
        }
        for (const char *q = rest; *q; q++)
            if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f || *q == '#') {
                snprintf(err, errcap, "'%s': bad character in the path", text);
                return -1;
            }
        snprintf(spec->path, sizeof(spec->path), "%s", rest);
        rest += strlen(rest);
    }
    if (*rest != '\0') {
        snprintf(err, errcap, "'%s': unexpected '%s'; %s", text, rest, accepted);
        return -1;
    }
    if (spec->proto == SR_PROTO_HTTPS && spec->path[0] == '\0')
        snprintf(spec->path, sizeof(spec->path), "/dns-query"); /* RFC 8484 example */
    return 0;
}

int spec_parse(const char *text, spec_t *spec, char *err, size_t errcap)
{
    char host[300];
    const char *p = text, *rest = text;
    bool v6 = false;
    int rc = 0;

    memset(spec, 0, sizeof(*spec));
    spec->proto = SR_PROTO_UDP;
    if (strlen(text) > 1000) {
        snprintf(err, errcap, "'%.40s...' is too long", text);
        rc = -1;
    }
    if (rc == 0)
        rc = parse_scheme(text, spec, &p, err, errcap);
    if (rc == 0)
        rc = parse_host_port(text, p, host, sizeof(host), spec, &rest, err, errcap);
    if (rc == 0)
        rc = set_host(text, host, spec, &v6, err, errcap);
    if (rc == 0)
        rc = parse_tail(text, rest, spec, err, errcap);
    if (rc == 0)
        snprintf(spec->name, sizeof(spec->name), "%s://%s%s%s:%u%s%s%s", proto_scheme[spec->proto],
                 v6 ? "[" : "", spec->host, v6 ? "]" : "", (unsigned)spec->port,
                 spec->auth[0] ? "#" : "", spec->auth, spec->path);
    return rc;
}

/* ------------------------------------------------------- listen entries */

/* A path a client may ask for: "/" then printable ASCII without blanks,
 * '?' or '#' (the query string is the request's, not the path's). */
static bool path_ok(const char *p)
{
    if (p[0] != '/')
        return false;
    for (; *p != '\0'; p++)
        if (*p <= ' ' || *p >= 0x7f || *p == '?' || *p == '#')
            return false;
    return true;
}

int spec_listen_parse(const char *text, spec_listen_t *l, char *err, size_t errcap)
{
    static const char acc[] = "expected tls://ADDR[:PORT] or https://ADDR[:PORT][/PATH] with a "
                              "numeric address ([IPv6] in brackets)";
    char addr[300], a[ADDR_TEXT_MAX];
    const char *p, *slash;
    uint16_t port;
    int rc = 1;

    memset(l, 0, sizeof(*l));
    if (strncasecmp(text, "tls://", 6) == 0) {
        p = text + 6;
        port = 853;
    } else if (strncasecmp(text, "https://", 8) == 0) {
        p = text + 8;
        port = 443;
        l->https = true;
    } else {
        return strstr(text, "://") != NULL ? (snprintf(err, errcap, "'%.64s': %s", text, acc), -1)
                                           : 0;
    }
    slash = l->https ? strchr(p, '/') : NULL;
    if (strlen(p) >= sizeof(addr) || (slash != NULL && strlen(slash) >= sizeof(l->path))) {
        snprintf(err, errcap, "'%.64s...' is too long", text);
        return -1;
    }
    snprintf(addr, sizeof(addr), "%.*s", slash != NULL ? (int)(slash - p) : (int)strlen(p), p);
    snprintf(l->path, sizeof(l->path), "%s", slash != NULL ? slash : l->https ? "/dns-query" : "");
    if (addr_parse(addr, port, false, &l->addr, &l->len) != 0) {
        snprintf(err, errcap, "'%.64s': %s", text, acc);
        rc = -1;
    } else if (l->https && !path_ok(l->path)) {
        snprintf(err, errcap, "'%.64s': the path must start with / and hold no blank, ? or #",
                 text);
        rc = -1;
    } else {
        snprintf(l->name, sizeof(l->name), "%s://%s%s", l->https ? "https" : "tls",
                 addr_format((struct sockaddr *)&l->addr, a, sizeof(a)), l->path);
    }
    return rc;
}

/* ---------------------------------------------------------------- lists */

/* Is the address ss (port included) the listening address l? */
static bool listens_on(const struct sockaddr *l, const struct sockaddr_storage *ss)
{
    const struct sockaddr *a = (const struct sockaddr *)ss;

    if (addr_equal(l, a))
        return true;
    return addr_is_any(l) && l->sa_family == a->sa_family && addr_port(l) == addr_port(a) &&
           addr_is_loopback(a);
}

/* Is an upstream at host:port this daemon itself (a plain, tls:// or
 * https:// listener)? Only numeric hosts can be checked without
 * resolving. */
static bool spec_is_self(const spec_keys_t *k, const spec_t *spec)
{
    struct sockaddr_storage ss;
    socklen_t sl;

    if (addr_parse(spec->host, spec->port, false, &ss, &sl) != 0)
        return false;
    for (size_t i = 0; i < k->nlisten; i++)
        if (listens_on((const struct sockaddr *)&k->listen[i], &ss))
            return true;
    for (size_t i = 0; i < k->ntls_listen; i++)
        if (listens_on((const struct sockaddr *)&k->tls_listen[i].addr, &ss))
            return true;
    return false;
}

/* The nameserver lines of a resolv.conf, at most max; -1 when it cannot be
 * read (errno says why). */
static int read_resolv_conf(const char *path, char (*out)[64], int max)
{
    FILE *f = fopen(path, "re");
    char line[512];
    int n = 0;

    if (f == NULL)
        return -1;
    while (n < max && fgets(line, sizeof(line), f) != NULL) {
        char word[32], addr[128];
        if (sscanf(line, "%31s %127s", word, addr) != 2 || strcmp(word, "nameserver") != 0)
            continue;
        addr[strcspn(addr, "%")] = '\0'; /* no scope ids */
        if (strlen(addr) >= 64)
            continue;
        memcpy(out[n++], addr, strlen(addr) + 1);
    }
    fclose(f);
    return n;
}

/* The spec of host (a name or an address, IPv6 without brackets) reached
 * by proto on port (0: the protocol's port). */
static int spec_from_parts(int proto, const char *host, unsigned port, spec_t *spec, char *err,
                           size_t errcap)
{
    char text[1100];
    bool v6 = strchr(host, ':') != NULL && host[0] != '[';

    if (port == 0)
        port = spec_default_port((sr_proto_t)proto);
    snprintf(text, sizeof(text), "%s://%s%s%s:%u", proto_scheme[proto], v6 ? "[" : "", host,
             v6 ? "]" : "", port);
    return spec_parse(text, spec, err, errcap);
}

static int list_servers(const spec_keys_t *k, spec_t *specs, char *err, size_t errcap)
{
    char why[1024];
    int n = 0;

    for (size_t i = 0; i < k->nservers && i < SPEC_MAX; i++) {
        if (spec_parse(k->servers[i], &specs[n], why, sizeof(why)) != 0) {
            snprintf(err, errcap, "servers: %s", why);
            return -1;
        }
        n++;
    }
    return n;
}

static int list_dns_server(const spec_keys_t *k, spec_t *specs, char *err, size_t errcap)
{
    char why[1024];
    int rc;

    if (strstr(k->dns_server, "://") != NULL)
        rc = spec_parse(k->dns_server, &specs[0], why, sizeof(why));
    else if (k->protocol == SR_PROTO_HTTPS)
        rc = (snprintf(why, sizeof(why), "protocol https needs an https://HOST/PATH URL"), -1);
    else
        rc = spec_from_parts(k->protocol, k->dns_server, k->dns_port, &specs[0], why, sizeof(why));
    if (rc != 0) {
        snprintf(err, errcap, "dns_server: %s", why);
        return -1;
    }
    return 1;
}

int spec_nameservers(const spec_keys_t *k, spec_t *specs, int max)
{
    char ns[SPEC_MAX][64], why[1024];
    int m = read_resolv_conf(k->resolv_conf, ns, max < SPEC_MAX ? max : SPEC_MAX), n = 0;

    if (m < 0)
        return -1;
    for (int i = 0; i < m; i++) {
        struct sockaddr_storage ss;
        socklen_t sl;
        /* Only addresses, as libc reads the file: a name would need a
         * resolver, which may be ourselves. */
        if (addr_parse(ns[i], 53, false, &ss, &sl) != 0 ||
            spec_from_parts(k->protocol, ns[i], k->dns_port, &specs[n], why, sizeof(why)) != 0)
            continue;
        if (spec_is_self(k, &specs[n]))
            continue; /* never forward to ourselves */
        n++;
    }
    return n;
}

static int list_resolv_conf(const spec_keys_t *k, spec_t *specs, char *err, size_t errcap)
{
    int n;

    if (k->protocol == SR_PROTO_HTTPS && access(k->resolv_conf, R_OK) == 0) {
        snprintf(err, errcap, "protocol: https needs dns_server or servers set to a URL");
        return -1;
    }
    n = spec_nameservers(k, specs, SPEC_MAX);
    if (n < 0) {
        snprintf(err, errcap,
                 "resolv_conf: no upstream configured (servers, dns_server) "
                 "and %s cannot be read: %s",
                 k->resolv_conf, strerror(errno));
        return -1;
    }
    if (n == 0) {
        snprintf(err, errcap,
                 "resolv_conf: no upstream configured (servers, dns_server) "
                 "and %s names no nameserver other than stubresd itself",
                 k->resolv_conf);
        return -1;
    }
    return n;
}

/* The checks of a whole list, err naming key. */
static int check_list(const spec_keys_t *k, const char *key, const spec_t *specs, int n, char *err,
                      size_t errcap)
{
    bool enc = false, plain = false;

    for (int i = 0; i < n; i++) {
        if (spec_is_self(k, &specs[i])) {
            snprintf(err, errcap, "%s: %s is stubresd's own listen address", key, specs[i].name);
            return -1;
        }
        if (spec_encrypted(&specs[i]))
            enc = true;
        else
            plain = true;
        if (!k->use_idns && !spec_host_ascii(&specs[i])) {
            snprintf(err, errcap, "%s: host '%s' is not ASCII (set UseIDNs = true to encode it)",
                     key, specs[i].host);
            return -1;
        }
    }
    if (enc && plain) {
        snprintf(err, errcap, "%s: encrypted and plaintext upstreams cannot be mixed", key);
        return -1;
    }
    return 0;
}

int spec_check(const spec_keys_t *k, const char *key, const spec_t *specs, int n, char *err,
               size_t errcap)
{
    return check_list(k, key, specs, n, err, errcap);
}

int spec_list(const spec_keys_t *k, spec_t *specs, char *err, size_t errcap)
{
    const char *key;
    int n;

    if (k->nservers > 0) {
        key = "servers";
        n = list_servers(k, specs, err, errcap);
    } else if (k->dns_server[0] != '\0') {
        key = "dns_server";
        n = list_dns_server(k, specs, err, errcap);
    } else {
        key = "resolv_conf";
        n = list_resolv_conf(k, specs, err, errcap);
    }
    if (n >= 0 && check_list(k, key, specs, n, err, errcap) != 0)
        n = -1;
    return n;
}

const char *spec_first_nameserver(const spec_keys_t *k, char *out, size_t cap)
{
    char ns[8][64], err[256];
    int m = read_resolv_conf(k->resolv_conf, ns, 8);
    const char *found = NULL;
    spec_t spec;

    for (int i = 0; i < m && found == NULL; i++)
        if (spec_from_parts(SR_PROTO_UDP, ns[i], 53, &spec, err, sizeof(err)) == 0 &&
            !spec_is_self(k, &spec)) {
            snprintf(out, cap, "%.63s", ns[i]);
            found = out;
        }
    return found;
}
