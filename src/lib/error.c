/* The error numbers and texts of the DNS class reference, in one table. */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>

#include "lib-internal.h"
#include <stubres/error.h>

struct err_entry {
    int code;
    const char *text;
};

/* Sorted by code: sr_strerror() searches it with bsearch(). */
static const struct err_entry err_table[] = {
    {SR_OK, "OK"},
    {100, "No records were found."},
    {104, "UDP is already active."},
    {106, "You cannot change the local_port while the class is active."},
    {107, "You cannot change the local_host at this time. A connection is in progress."},
    {109, "The class must be active for this operation."},
    {112, "Cannot change MaxPacketSize while the class is active."},
    {113, "Cannot change ShareLocalPort option while the class is active."},
    {114, "Cannot change remote_host when UseConnection is set and the class active."},
    {115, "Cannot change remote_port when UseConnection is set and the class is active."},
    {116, "remote_port can't be zero when UseConnection is set. Please specify a valid service port number."},
    {117, "Cannot change UseConnection while the class is active."},
    {118, "Message can't be longer than MaxPacketSize."},
    {119, "Message too short."},
    {220, "Invalid record index."},
    {221, "Invalid field index for record type."},
    {222, "Invalid record source."},
    {223, "Unknown record type."},
    {224, "Could not determine DNS server address."},
    {225, "Could not parse address."},
    {270, "Cannot load specified security library."},
    {271, "Cannot open certificate store."},
    {272, "Cannot find specified certificate."},
    {273, "Cannot acquire security credentials."},
    {274, "Cannot find certificate chain."},
    {275, "Cannot verify certificate chain."},
    {276, "Error during handshake."},
    {280, "Error verifying certificate."},
    {281, "Could not find client certificate."},
    {282, "Could not find server certificate."},
    {283, "Error encrypting data."},
    {284, "Error decrypting data."},
    {434, "Unable to convert string to selected CodePage"},
    {10004, "[10004] Interrupted system call."},
    {10009, "[10009] Bad file number."},
    {10013, "[10013] Access denied."},
    {10014, "[10014] Bad address."},
    {10022, "[10022] Invalid argument."},
    {10024, "[10024] Too many open files."},
    {10035, "[10035] Operation would block."},
    {10036, "[10036] Operation now in progress."},
    {10037, "[10037] Operation already in progress."},
    {10038, "[10038] Socket operation on non-socket."},
    {10039, "[10039] Destination address required."},
    {10040, "[10040] Message too long."},
    {10041, "[10041] Protocol wrong type for socket."},
    {10042, "[10042] Bad protocol option."},
    {10043, "[10043] Protocol not supported."},
    {10044, "[10044] Socket type not supported."},
    {10045, "[10045] Operation not supported on socket."},
    {10046, "[10046] Protocol family not supported."},
    {10047, "[10047] Address family not supported by protocol family."},
    {10048, "[10048] Address already in use."},
    {10049, "[10049] Can't assign requested address."},
    {10050, "[10050] Network is down."},
    {10051, "[10051] Network is unreachable."},
    {10052, "[10052] Net dropped connection or reset."},
    {10053, "[10053] Software caused connection abort."},
    {10054, "[10054] Connection reset by peer."},
    {10055, "[10055] No buffer space available."},
    {10056, "[10056] Socket is already connected."},
    {10057, "[10057] Socket is not connected."},
    {10058, "[10058] Can't send after socket shutdown."},
    {10059, "[10059] Too many references, can't splice."},
    {10060, "[10060] Connection timed out."},
    {10061, "[10061] Connection refused."},
    {10062, "[10062] Too many levels of symbolic links."},
    {10063, "[10063] File name too long."},
    {10064, "[10064] Host is down."},
    {10065, "[10065] No route to host."},
    {10066, "[10066] Directory not empty"},
    {10067, "[10067] Too many processes."},
    {10068, "[10068] Too many users."},
    {10069, "[10069] Disc Quota Exceeded."},
    {10070, "[10070] Stale NFS file handle."},
    {10071, "[10071] Too many levels of remote in path."},
    {10091, "[10091] Network subsystem is unavailable."},
    {10092, "[10092] WINSOCK DLL Version out of range."},
    {10093, "[10093] Winsock not loaded yet."},
    {11001, "[11001] Host not found."},
    {11002, "[11002] Non-authoritative 'Host not found' (try again or check DNS setup)."},
    {11003, "[11003] Non-recoverable errors: FORMERR, REFUSED, NOTIMP."},
    {11004, "[11004] Valid name, no data record (check DNS setup)."},
};

static int err_cmp(const void *key, const void *elem)
{
    int code = *(const int *)key;
    const struct err_entry *e = elem;
    return (code > e->code) - (code < e->code);
}

SR_API const char *sr_strerror(int code)
{
    const struct err_entry *e =
        bsearch(&code, err_table, sizeof(err_table) / sizeof(err_table[0]),
                sizeof(err_table[0]), err_cmp);
    return e != NULL ? e->text : "Unknown error.";
}

/* The reference lists Winsock codes, which are 10000 + the BSD errno. The
 * Linux errno values differ from BSD's, so map them by name. */
SR_API sr_status_t sr_status_from_errno(int err)
{
    switch (err) {
    case 0: return SR_OK;
    case EINTR: return SR_E_INTR;
    case EBADF: return SR_E_BADF;
    case EACCES: case EPERM: return SR_E_ACCES;
    case EFAULT: return SR_E_FAULT;
    case EINVAL: return SR_E_INVAL;
    case EMFILE: case ENFILE: return SR_E_MFILE;
    case EAGAIN: return SR_E_WOULDBLOCK;
    case EINPROGRESS: return SR_E_INPROGRESS;
    case EALREADY: return SR_E_ALREADY;
    case ENOTSOCK: return SR_E_NOTSOCK;
    case EDESTADDRREQ: return SR_E_DESTADDRREQ;
    case EMSGSIZE: return SR_E_MSGSIZE;
    case EPROTOTYPE: return SR_E_PROTOTYPE;
    case ENOPROTOOPT: return SR_E_NOPROTOOPT;
    case EPROTONOSUPPORT: return SR_E_PROTONOSUPPORT;
    case ESOCKTNOSUPPORT: return SR_E_SOCKTNOSUPPORT;
    case EOPNOTSUPP: return SR_E_OPNOTSUPP;
    case EPFNOSUPPORT: return SR_E_PFNOSUPPORT;
    case EAFNOSUPPORT: return SR_E_AFNOSUPPORT;
    case EADDRINUSE: return SR_E_ADDRINUSE;
    case EADDRNOTAVAIL: return SR_E_ADDRNOTAVAIL;
    case ENETDOWN: return SR_E_NETDOWN;
    case ENETUNREACH: return SR_E_NETUNREACH;
    case ENETRESET: return SR_E_NETRESET;
    case ECONNABORTED: return SR_E_CONNABORTED;
    case ECONNRESET: case EPIPE: return SR_E_CONNRESET;
    case ENOBUFS: case ENOMEM: return SR_E_NOBUFS;
    case EISCONN: return SR_E_ISCONN;
    case ENOTCONN: return SR_E_NOTCONN;
    case ESHUTDOWN: return SR_E_SHUTDOWN;
    case ETOOMANYREFS: return SR_E_TOOMANYREFS;
    case ETIMEDOUT: return SR_E_TIMEDOUT;
    case ECONNREFUSED: return SR_E_CONNREFUSED;
    case ELOOP: return SR_E_LOOP;
    case ENAMETOOLONG: return SR_E_NAMETOOLONG;
    case EHOSTDOWN: return SR_E_HOSTDOWN;
    case EHOSTUNREACH: return SR_E_HOSTUNREACH;
    case ENOTEMPTY: return SR_E_NOTEMPTY;
    case EUSERS: return SR_E_USERS;
    case EDQUOT: return SR_E_DQUOT;
    case ESTALE: return SR_E_STALE;
    case EREMOTE: return SR_E_REMOTE;
    default: return SR_E_INVAL;
    }
}

SR_API sr_status_t sr_status_from_gai(int eai)
{
    switch (eai) {
    case 0: return SR_OK;
    case EAI_NONAME: return SR_E_HOST_NOT_FOUND;
#ifdef EAI_NODATA
    case EAI_NODATA: return SR_E_NO_DATA;
#endif
    case EAI_AGAIN: return SR_E_TRY_AGAIN;
    case EAI_FAIL: return SR_E_NO_RECOVERY;
    case EAI_MEMORY: return SR_E_NOBUFS;
    case EAI_FAMILY: case EAI_ADDRFAMILY: return SR_E_AFNOSUPPORT;
    case EAI_SYSTEM: return sr_status_from_errno(errno);
    default: return SR_E_HOST_NOT_FOUND;
    }
}
