/* Sockets for the transports: the reference's socket config settings
 * (DontFragment, QOSDSCPValue, InBufferSize, OutBufferSize, ShareLocalPort,
 * LocalHost, LocalPort). Address literals are in util.c. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "upstream-internal.h"

void sr_addr_text(const struct sockaddr *sa, char *out, size_t cap, uint16_t *port)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
        sr_ip_format(sa, out, cap);
    if (port != NULL)
        *port = sr_sockaddr_port(sa);
}

/* Apply one setsockopt; a failure is fatal only when the user asked for
 * the setting (every call here is for an explicit setting). */
static sr_status_t set_opt(int fd, int level, int name, int value)
{
    if (setsockopt(fd, level, name, &value, sizeof(value)) != 0)
        return sr_status_from_errno(errno);
    return SR_OK;
}

/* The IPv4 option (name4, value4) or the IPv6 one, by the family. */
static sr_status_t set_opt_family(int fd, int family, int name4, int value4, int name6, int value6)
{
    if (family == AF_INET)
        return set_opt(fd, IPPROTO_IP, name4, value4);
    return set_opt(fd, IPPROTO_IPV6, name6, value6);
}

int sr_socket_open(const sr_upstream_t *up, int type, sr_status_t *status)
{
    const sr_upstream_cfg_t *cfg = &up->cfg;
    int family = up->addr.ss_family;
    int fd = -1;
    sr_status_t st = SR_OK;

    fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        st = sr_status_from_errno(errno);
        goto done;
    }
    if (cfg->in_buffer_size > 0) {
        st = set_opt(fd, SOL_SOCKET, SO_RCVBUF, cfg->in_buffer_size);
        if (st != SR_OK)
            goto done;
    }
    if (cfg->out_buffer_size > 0) {
        st = set_opt(fd, SOL_SOCKET, SO_SNDBUF, cfg->out_buffer_size);
        if (st != SR_OK)
            goto done;
    }
    if (cfg->dont_fragment) {
        /* DontFragment: set DF and never fragment locally (RFC 8085 3.2
         * for why a DNS client may want it; the kernel then reports
         * EMSGSIZE instead of fragmenting). */
        st = set_opt_family(fd, family, IP_MTU_DISCOVER, IP_PMTUDISC_DO, IPV6_MTU_DISCOVER,
                            IPV6_PMTUDISC_DO);
        if (st != SR_OK)
            goto done;
    }
    if (cfg->dscp > 0) {
        /* QOSDSCPValue: the DSCP is the upper six bits of the TOS / traffic
         * class octet (RFC 2474 3). */
        int tos = (cfg->dscp & 0x3f) << 2;
        st = set_opt_family(fd, family, IP_TOS, tos, IPV6_TCLASS, tos);
        if (st != SR_OK)
            goto done;
    }
    if (cfg->share_local_port) {
        st = set_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
        if (st == SR_OK)
            st = set_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1);
        if (st != SR_OK)
            goto done;
    }
    if (type == SOCK_STREAM) {
        /* Queries are small and latency matters more than segment count
         * (RFC 7766 does not mandate it; every stub does it). Best effort. */
        (void)set_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    }
    if ((cfg->local_host != NULL && cfg->local_host[0] != '\0') || cfg->local_port != 0) {
        struct sockaddr_storage ss;
        socklen_t sslen = 0;
        if (cfg->local_host != NULL && cfg->local_host[0] != '\0') {
            st = sr_addr_parse(cfg->local_host, cfg->local_port, &ss, &sslen);
            if (st != SR_OK)
                goto done;
            if (ss.ss_family != family) {
                st = SR_E_AFNOSUPPORT;
                goto done;
            }
        } else {
            memset(&ss, 0, sizeof(ss));
            ss.ss_family = (sa_family_t)family;
            if (family == AF_INET) {
                ((struct sockaddr_in *)&ss)->sin_port = htons(cfg->local_port);
                sslen = sizeof(struct sockaddr_in);
            } else {
                ((struct sockaddr_in6 *)&ss)->sin6_port = htons(cfg->local_port);
                sslen = sizeof(struct sockaddr_in6);
            }
        }
        if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
            st = sr_status_from_errno(errno);
            goto done;
        }
    }
done:
    if (st != SR_OK && fd >= 0) {
        close(fd);
        fd = -1;
    }
    if (status != NULL)
        *status = st;
    return fd;
}
