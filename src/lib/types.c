/* Mnemonics of types and RCODEs, and reverse-lookup names. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec-internal.h"

struct mnemonic {
    uint16_t value;
    const char *name;
};

/* IANA "Resource Record (RR) TYPEs", sorted by value for bsearch. Type 100
 * (UINFO, reserved) is left out: the class reference uses 100 for its
 * reverse lookup, which sr_type_from_name() knows as REVLOOKUP (a deviation
 * listed in docs/architecture.md). Its reserved neighbours 101-103 keep
 * their IANA names. */
static const struct mnemonic type_table[] = {
    {1, "A"},           {2, "NS"},        {3, "MD"},        {4, "MF"},       {5, "CNAME"},
    {6, "SOA"},         {7, "MB"},        {8, "MG"},        {9, "MR"},       {10, "NULL"},
    {11, "WKS"},        {12, "PTR"},      {13, "HINFO"},    {14, "MINFO"},   {15, "MX"},
    {16, "TXT"},        {17, "RP"},       {18, "AFSDB"},    {19, "X25"},     {20, "ISDN"},
    {21, "RT"},         {22, "NSAP"},     {23, "NSAP-PTR"}, {24, "SIG"},     {25, "KEY"},
    {26, "PX"},         {27, "GPOS"},     {28, "AAAA"},     {29, "LOC"},     {30, "NXT"},
    {31, "EID"},        {32, "NIMLOC"},   {33, "SRV"},      {34, "ATMA"},    {35, "NAPTR"},
    {36, "KX"},         {37, "CERT"},     {38, "A6"},       {39, "DNAME"},   {40, "SINK"},
    {41, "OPT"},        {42, "APL"},      {43, "DS"},       {44, "SSHFP"},   {45, "IPSECKEY"},
    {46, "RRSIG"},      {47, "NSEC"},     {48, "DNSKEY"},   {49, "DHCID"},   {50, "NSEC3"},
    {51, "NSEC3PARAM"}, {52, "TLSA"},     {53, "SMIMEA"},   {55, "HIP"},     {56, "NINFO"},
    {57, "RKEY"},       {58, "TALINK"},   {59, "CDS"},      {60, "CDNSKEY"}, {61, "OPENPGPKEY"},
    {62, "CSYNC"},      {63, "ZONEMD"},   {64, "SVCB"},     {65, "HTTPS"},   {99, "SPF"},
    {101, "UID"},       {102, "GID"},     {103, "UNSPEC"},  {104, "NID"},    {105, "L32"},
    {106, "L64"},       {107, "LP"},      {108, "EUI48"},   {109, "EUI64"},  {249, "TKEY"},
    {250, "TSIG"},      {251, "IXFR"},    {252, "AXFR"},    {253, "MAILB"},  {254, "MAILA"},
    {255, "ANY"},       {256, "URI"},     {257, "CAA"},     {258, "AVC"},    {259, "DOA"},
    {260, "AMTRELAY"},  {261, "RESINFO"}, {32768, "TA"},    {32769, "DLV"},
};

/* IANA "DNS RCODEs" (RFC 6895 section 2.3); 16 is BADVERS for OPT and
 * BADSIG for TSIG, named after OPT since that is what a stub sees. */
static const struct mnemonic rcode_table[] = {
    {0, "NOERROR"},  {1, "FORMERR"},    {2, "SERVFAIL"}, {3, "NXDOMAIN"},  {4, "NOTIMP"},
    {5, "REFUSED"},  {6, "YXDOMAIN"},   {7, "YXRRSET"},  {8, "NXRRSET"},   {9, "NOTAUTH"},
    {10, "NOTZONE"}, {11, "DSOTYPENI"}, {16, "BADVERS"}, {17, "BADKEY"},   {18, "BADTIME"},
    {19, "BADMODE"}, {20, "BADNAME"},   {21, "BADALG"},  {22, "BADTRUNC"}, {23, "BADCOOKIE"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int mnemonic_cmp(const void *key, const void *elem)
{
    unsigned v = *(const unsigned *)key;
    const struct mnemonic *m = elem;
    return (v > m->value) - (v < m->value);
}

static const char *lookup_value(const struct mnemonic *t, size_t n, unsigned v)
{
    const struct mnemonic *m = bsearch(&v, t, n, sizeof(*t), mnemonic_cmp);
    return m != NULL ? m->name : NULL;
}

static int lookup_name(const struct mnemonic *t, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(t[i].name, s) == 0)
            return t[i].value;
    }
    return -1;
}

/* A decimal number of at most max, digits only; -1 otherwise. */
static long parse_decimal(const char *s, long max)
{
    long v = 0;
    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > max)
            return -1;
    }
    return v;
}

SR_API const char *sr_type_name(uint16_t type, char buf[16])
{
    const char *n = lookup_value(type_table, COUNT(type_table), type);
    if (n != NULL)
        return n;
    /* RFC 3597 section 5: the generic name of a type without one. */
    snprintf(buf, 16, "TYPE%u", (unsigned)type);
    return buf;
}

SR_API int sr_type_from_name(const char *s)
{
    int v;
    if (s == NULL)
        return -1;
    v = lookup_name(type_table, COUNT(type_table), s);
    if (v >= 0)
        return v;
    if (strcasecmp(s, "REVLOOKUP") == 0)
        return SR_QTYPE_REVLOOKUP;
    if (strcmp(s, "*") == 0)
        return SR_TYPE_ANY;
    if (strncasecmp(s, "TYPE", 4) == 0)
        return (int)parse_decimal(s + 4, 65535);
    return (int)parse_decimal(s, 65535);
}

SR_API const char *sr_rcode_name(unsigned rcode, char buf[16])
{
    const char *n = lookup_value(rcode_table, COUNT(rcode_table), rcode);
    if (n != NULL)
        return n;
    snprintf(buf, 16, "RCODE%u", rcode);
    return buf;
}

SR_API int sr_rcode_from_name(const char *s)
{
    int v;
    if (s == NULL)
        return -1;
    v = lookup_name(rcode_table, COUNT(rcode_table), s);
    if (v >= 0)
        return v;
    if (strcasecmp(s, "BADSIG") == 0)
        return 16;
    /* 12 bits: 4 in the header, 8 in the OPT record (RFC 6891 6.1.3). */
    if (strncasecmp(s, "RCODE", 5) == 0)
        return (int)parse_decimal(s + 5, 4095);
    return (int)parse_decimal(s, 4095);
}

SR_API sr_status_t sr_reverse_name(const char *addr, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    sr_status_t status = SR_OK;
    uint8_t a[16];
    char tmp[80]; /* 32 nibbles with dots + "ip6.arpa" */
    size_t t = 0;

    if (addr == NULL) {
        status = SR_E_BAD_ADDRESS;
        goto done;
    }
    if (inet_pton(AF_INET, addr, a) == 1) {
        /* RFC 1035 3.5: octets in reverse order under in-addr.arpa. */
        for (int i = 3; i >= 0; i--) {
            t += sr_fmt_u8(tmp + t, a[i]);
            tmp[t++] = '.';
        }
        memcpy(tmp + t, "in-addr.arpa", sizeof("in-addr.arpa"));
        t += sizeof("in-addr.arpa") - 1;
    } else if (inet_pton(AF_INET6, addr, a) == 1) {
        /* RFC 3596 2.5: nibbles in reverse order under ip6.arpa. */
        for (int i = 15; i >= 0; i--) {
            tmp[t++] = hex[a[i] & 0xF];
            tmp[t++] = '.';
            tmp[t++] = hex[a[i] >> 4];
            tmp[t++] = '.';
        }
        memcpy(tmp + t, "ip6.arpa", sizeof("ip6.arpa"));
        t += sizeof("ip6.arpa") - 1;
    } else {
        status = SR_E_BAD_ADDRESS;
        goto done;
    }
    if (t + 1 > cap) {
        status = SR_E_NOBUFS;
        goto done;
    }
    memcpy(out, tmp, t + 1);
done:
    return status;
}
