/* The first usable "nameserver" of a resolv.conf file (resolv.conf(5)). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "upstream-internal.h"

/* resolv.conf lines are short; a longer one is read in pieces and only its
 * first piece is looked at. */
#define LINE_MAX_LEN 512
/* A file with more lines than this is not a resolv.conf. */
#define MAX_LINES 10000

static bool is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* The address of a "nameserver ADDR" line, or NULL. Modifies line. */
static char *nameserver_of(char *line)
{
    char *p = line, *addr;
    static const char kw[] = "nameserver";

    while (is_blank((unsigned char)*p))
        p++;
    /* resolv.conf(5): '#' or ';' in the first column starts a comment;
     * accept it after leading blanks too. */
    if (*p == '#' || *p == ';' || strncmp(p, kw, sizeof(kw) - 1) != 0)
        return NULL;
    p += sizeof(kw) - 1;
    if (!is_blank((unsigned char)*p))
        return NULL; /* "nameservers" or "nameserver" alone */
    while (is_blank((unsigned char)*p))
        p++;
    addr = p;
    while (*p != '\0' && !is_blank((unsigned char)*p) && *p != '#' && *p != ';')
        p++;
    *p = '\0';
    return *addr != '\0' ? addr : NULL;
}

SR_API sr_status_t sr_resolv_conf_server(const char *path, char *out, size_t cap)
{
    char line[LINE_MAX_LEN];
    FILE *f = NULL;
    bool at_line_start = true;
    sr_status_t status = SR_E_NO_SERVER;

    if (out == NULL || cap == 0)
        return SR_E_INVAL;
    out[0] = '\0';
    if (path == NULL || *path == '\0')
        path = getenv("STUBRES_RESOLV_CONF");
    if (path == NULL || *path == '\0')
        path = "/etc/resolv.conf";
    f = fopen(path, "re");
    if (f == NULL)
        goto done;
    for (int n = 0; n < MAX_LINES && fgets(line, sizeof(line), f) != NULL; n++) {
        size_t len = strlen(line);
        bool whole = len > 0 && line[len - 1] == '\n';
        bool start = at_line_start;
        char *addr;
        struct sockaddr_storage ss;
        socklen_t sslen;

        at_line_start = whole;
        if (!start)
            continue; /* the tail of an over-long line */
        addr = nameserver_of(line);
        if (addr == NULL)
            continue;
        /* Only numeric addresses are valid here (resolv.conf(5)); skip what
         * does not parse and try the next line, as the libc resolver does.
         * "fe80::1%eth0" keeps its zone. */
        if (sr_addr_parse(addr, 53, &ss, &sslen) != SR_OK)
            continue;
        if (strlen(addr) >= cap) {
            status = SR_E_NOBUFS;
            goto done;
        }
        memcpy(out, addr, strlen(addr) + 1);
        status = SR_OK;
        goto done;
    }
done:
    if (f != NULL)
        fclose(f);
    return status;
}
