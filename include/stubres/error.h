/* libstubres: error numbers.
 *
 * Every status the library returns is a number of the DNS class reference
 * this library follows (docs/architecture.md, libstubres(3)): the DNS
 * errors (100, 220-225), the UDP errors (104-119, 434), the SSL errors (270-284) and the TCP/IP errors (10004-11004, which
 * are 10000 + the BSD errno, and 11001-11004 for resolver outcomes). */
#ifndef STUBRES_ERROR_H
#define STUBRES_ERROR_H

#include <stubres/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sr_status {
    SR_OK = 0,

    /* DNS errors */
    SR_E_NO_RECORDS = 100,       /* No records were found. */
    SR_E_RECORD_INDEX = 220,     /* Invalid record index. */
    SR_E_FIELD_INDEX = 221,      /* Invalid field index for record type. */
    SR_E_RECORD_SOURCE = 222,    /* Invalid record source. */
    SR_E_UNKNOWN_TYPE = 223,     /* Unknown record type. */
    SR_E_NO_SERVER = 224,        /* Could not determine DNS server address. */
    SR_E_BAD_ADDRESS = 225,      /* Could not parse address. */

    /* UDP errors */
    SR_E_UDP_ACTIVE = 104,
    SR_E_LOCAL_PORT_ACTIVE = 106,
    SR_E_LOCAL_HOST_ACTIVE = 107,
    SR_E_NOT_ACTIVE = 109,
    SR_E_MAXPACKET_ACTIVE = 112,
    SR_E_SHAREPORT_ACTIVE = 113,
    SR_E_REMOTE_HOST_ACTIVE = 114,
    SR_E_REMOTE_PORT_ACTIVE = 115,
    SR_E_REMOTE_PORT_ZERO = 116,
    SR_E_USECONN_ACTIVE = 117,
    SR_E_MSG_TOO_LONG = 118,     /* Message can't be longer than MaxPacketSize. */
    SR_E_MSG_TOO_SHORT = 119,    /* Message too short (data ends early). */
    SR_E_CODEPAGE = 434,         /* Unable to convert string to selected CodePage */

    /* SSL errors */
    SR_E_SSL_LIBRARY = 270,
    SR_E_SSL_CERT_STORE = 271,
    SR_E_SSL_CERT_NOT_FOUND = 272,
    SR_E_SSL_CREDENTIALS = 273,
    SR_E_SSL_CHAIN_NOT_FOUND = 274,
    SR_E_SSL_CHAIN_VERIFY = 275,
    SR_E_SSL_HANDSHAKE = 276,
    SR_E_SSL_CERT_VERIFY = 280,
    SR_E_SSL_CLIENT_CERT = 281,
    SR_E_SSL_SERVER_CERT = 282,
    SR_E_SSL_ENCRYPT = 283,
    SR_E_SSL_DECRYPT = 284,

    /* TCP/IP errors: 10000 + errno */
    SR_E_INTR = 10004,
    SR_E_BADF = 10009,
    SR_E_ACCES = 10013,
    SR_E_FAULT = 10014,
    SR_E_INVAL = 10022,
    SR_E_MFILE = 10024,
    SR_E_WOULDBLOCK = 10035,
    SR_E_INPROGRESS = 10036,
    SR_E_ALREADY = 10037,
    SR_E_NOTSOCK = 10038,
    SR_E_DESTADDRREQ = 10039,
    SR_E_MSGSIZE = 10040,
    SR_E_PROTOTYPE = 10041,
    SR_E_NOPROTOOPT = 10042,
    SR_E_PROTONOSUPPORT = 10043,
    SR_E_SOCKTNOSUPPORT = 10044,
    SR_E_OPNOTSUPP = 10045,
    SR_E_PFNOSUPPORT = 10046,
    SR_E_AFNOSUPPORT = 10047,
    SR_E_ADDRINUSE = 10048,
    SR_E_ADDRNOTAVAIL = 10049,
    SR_E_NETDOWN = 10050,
    SR_E_NETUNREACH = 10051,
    SR_E_NETRESET = 10052,
    SR_E_CONNABORTED = 10053,
    SR_E_CONNRESET = 10054,
    SR_E_NOBUFS = 10055,
    SR_E_ISCONN = 10056,
    SR_E_NOTCONN = 10057,
    SR_E_SHUTDOWN = 10058,
    SR_E_TOOMANYREFS = 10059,
    SR_E_TIMEDOUT = 10060,
    SR_E_CONNREFUSED = 10061,
    SR_E_LOOP = 10062,
    SR_E_NAMETOOLONG = 10063,
    SR_E_HOSTDOWN = 10064,
    SR_E_HOSTUNREACH = 10065,
    SR_E_NOTEMPTY = 10066,
    SR_E_PROCLIM = 10067,
    SR_E_USERS = 10068,
    SR_E_DQUOT = 10069,
    SR_E_STALE = 10070,
    SR_E_REMOTE = 10071,
    SR_E_SYSNOTREADY = 10091,
    SR_E_VERNOTSUPPORTED = 10092,
    SR_E_NOTINITIALISED = 10093,
    SR_E_HOST_NOT_FOUND = 11001,
    SR_E_TRY_AGAIN = 11002,
    SR_E_NO_RECOVERY = 11003,    /* also: a malformed DNS message (FORMERR class) */
    SR_E_NO_DATA = 11004,
} sr_status_t;

/* Malformed wire data (bad pointer, label > 63, RDATA whose length
 * disagrees with its content, ...): the FORMERR class of the reference. */
#define SR_E_FORMERR SR_E_NO_RECOVERY
/* Out of memory: ENOBUFS, "No buffer space available". */
#define SR_E_NOMEM SR_E_NOBUFS
/* A setting that has no meaning on Linux (UseDNSAPIDLL, ...). */
#define SR_E_NOT_SUPPORTED SR_E_OPNOTSUPP

/* The reference's text for a code, e.g. "Invalid record index." or
 * "[10060] Connection timed out."; never NULL (unknown codes get a generic
 * text). The string is static. */
SR_API const char *sr_strerror(int code);

/* Map an errno value to its class code (10000 + errno where the reference
 * lists it; SR_E_INVAL for the rest). */
SR_API sr_status_t sr_status_from_errno(int err);

/* Map a getaddrinfo() EAI_* result to its class code (11001-11004, 10055). */
SR_API sr_status_t sr_status_from_gai(int eai);

#ifdef __cplusplus
}
#endif
#endif
