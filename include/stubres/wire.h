/* libstubres: the DNS wire codec.
 *
 * Parses whole DNS messages (RFC 1035 and successors) into records with
 * the named fields of the class reference, builds queries, and converts
 * names between presentation and wire form. Every read of network data is
 * bounds-checked; a malformed message yields SR_E_FORMERR (or
 * SR_E_MSG_TOO_SHORT when the data simply ends early), never a read past
 * the buffer. */
#ifndef STUBRES_WIRE_H
#define STUBRES_WIRE_H

#include <stubres/common.h>
#include <stubres/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SR_HEADER_LEN 12
/* Longest name in wire form (RFC 1035 2.3.4), including the root label. */
#define SR_NAME_MAX_WIRE 255
/* Longest label (RFC 1035 2.3.4). */
#define SR_LABEL_MAX 63
/* Room for any name in presentation form: every byte may become \DDD. */
#define SR_NAME_MAX_TEXT (SR_NAME_MAX_WIRE * 4 + 1)

/* Record sections, numbered as the reference's record_source. */
typedef enum sr_section {
    SR_SECTION_ANSWER = 0,
    SR_SECTION_AUTHORITY = 1,
    SR_SECTION_ADDITIONAL = 2,
} sr_section_t;

/* Header flag bits (host order of the 16-bit flags word). */
#define SR_FLAG_QR 0x8000u
#define SR_FLAG_AA 0x0400u
#define SR_FLAG_TC 0x0200u
#define SR_FLAG_RD 0x0100u
#define SR_FLAG_RA 0x0080u
#define SR_FLAG_AD 0x0020u
#define SR_FLAG_CD 0x0010u

/* Types with a name in the class reference, and a few more we use. */
enum {
    SR_TYPE_A = 1, SR_TYPE_NS = 2, SR_TYPE_MD = 3, SR_TYPE_MF = 4,
    SR_TYPE_CNAME = 5, SR_TYPE_SOA = 6, SR_TYPE_MB = 7, SR_TYPE_MG = 8,
    SR_TYPE_MR = 9, SR_TYPE_NULL = 10, SR_TYPE_WKS = 11, SR_TYPE_PTR = 12,
    SR_TYPE_HINFO = 13, SR_TYPE_MINFO = 14, SR_TYPE_MX = 15, SR_TYPE_TXT = 16,
    SR_TYPE_RP = 17, SR_TYPE_AFSDB = 18, SR_TYPE_X25 = 19, SR_TYPE_ISDN = 20,
    SR_TYPE_RT = 21, SR_TYPE_AAAA = 28, SR_TYPE_SRV = 33, SR_TYPE_NAPTR = 35,
    SR_TYPE_CERT = 37, SR_TYPE_OPT = 41, SR_TYPE_ANY = 255,
    /* Decoded field by field too (stubres-query(1), OUTPUT). */
    SR_TYPE_LOC = 29, SR_TYPE_DNAME = 39, SR_TYPE_DS = 43, SR_TYPE_SSHFP = 44,
    SR_TYPE_RRSIG = 46, SR_TYPE_NSEC = 47, SR_TYPE_DNSKEY = 48,
    SR_TYPE_NSEC3 = 50, SR_TYPE_NSEC3PARAM = 51, SR_TYPE_TLSA = 52,
    SR_TYPE_CDS = 59, SR_TYPE_CDNSKEY = 60, SR_TYPE_OPENPGPKEY = 61,
    SR_TYPE_ZONEMD = 63, SR_TYPE_SVCB = 64, SR_TYPE_HTTPS = 65,
    SR_TYPE_URI = 256, SR_TYPE_CAA = 257,
    /* query_type 100: PTR query for the reverse name of an address. */
    SR_QTYPE_REVLOOKUP = 100,
};

#define SR_CLASS_IN 1

/* EDNS option codes we produce or read. */
#define SR_EDNS_OPT_NSID 3     /* RFC 5001 */
#define SR_EDNS_OPT_PADDING 12 /* RFC 7830 */

/* One named field of a record, as text (stubres-query(1), OUTPUT).
 * Both strings live in the message that owns the record. */
typedef struct sr_field {
    const char *name;  /* e.g. "PREFERENCE" */
    const char *value; /* NUL-terminated presentation text */
} sr_field_t;

/* One resource record of a parsed message. Every pointer refers to memory
 * owned by the sr_msg_t and is valid until the next sr_msg_parse() on it or
 * sr_msg_free(). */
typedef struct sr_rr {
    sr_section_t section;
    const char *name;       /* owner, presentation form, no trailing dot */
    uint16_t type;
    uint16_t rclass;
    uint32_t ttl;
    const uint8_t *rdata;   /* RDATA bytes as received */
    uint16_t rdlength;
    size_t offset;          /* offset of the owner name in the message */
    size_t ttl_offset;      /* offset of the 32-bit TTL in the message */
    size_t end;             /* offset just past the RDATA */
    size_t field_count;     /* 0 when parsed with SR_PARSE_NO_FIELDS */
    const sr_field_t *fields;
} sr_rr_t;

/* One EDNS option of the OPT record. */
typedef struct sr_edns_opt {
    uint16_t code;
    uint16_t len;
    const uint8_t *data;
} sr_edns_opt_t;

/* The OPT pseudo-record (RFC 6891), read into fields, not listed as a
 * record. */
typedef struct sr_edns {
    bool present;
    uint16_t udp_size;
    uint8_t ext_rcode;      /* upper 8 bits of the extended RCODE */
    uint8_t version;
    bool do_bit;
    uint16_t flags;         /* the 16 flag bits, DO included */
    size_t opt_count;
    const sr_edns_opt_t *opts;
    size_t offset;          /* offset of the OPT RR in the message */
    size_t end;             /* offset just past it */
} sr_edns_t;

/* A parsed message. Opaque; reusable: parse into the same object again to
 * avoid allocation. */
typedef struct sr_msg sr_msg_t;

/* Parse flags. */
#define SR_PARSE_NO_FIELDS 0x1u /* validate and index records, skip text fields
                                   (owner and question names are still made) */

/* A new empty message; NULL when out of memory. Free with sr_msg_free(). */
SR_API sr_msg_t *sr_msg_new(void);
/* Free a message and everything it owns. Accepts NULL. */
SR_API void sr_msg_free(sr_msg_t *msg);

/* Parse the len bytes at pkt (copied: the caller keeps pkt) into msg,
 * replacing what msg held. On error msg holds nothing usable except
 * sr_msg_error(). Returns SR_OK, SR_E_MSG_TOO_SHORT (data ends before what
 * the header, counts or a length promised), SR_E_FORMERR (anything else
 * malformed, including more than 65535 bytes) or SR_E_NOMEM. Bytes after
 * the last record are ignored. Once msg has parsed a message of a given
 * shape, parsing one like it again allocates nothing.
 * Fields: A, AAAA, WKS, SRV and NAPTR are decoded in class IN only (RFC
 * 3597 section 4), and records of class ANY/NONE (RFC 2136) are shown as
 * RFC 3597 "RDATA"; every other type of the reference, and the later
 * types of stubres-query(1) OUTPUT (DS, RRSIG, SVCB, CAA, ...), in any
 * class. A record whose RDATA breaks its type's rules is SR_E_FORMERR. */
SR_API sr_status_t sr_msg_parse(sr_msg_t *msg, const uint8_t *pkt, size_t len,
                                unsigned flags);
/* A human-readable reason for the last parse failure ("" after success).
 * Owned by msg. */
SR_API const char *sr_msg_error(const sr_msg_t *msg);

/* The message bytes as parsed (owned by msg). */
SR_API const uint8_t *sr_msg_wire(const sr_msg_t *msg, size_t *len);

SR_API uint16_t sr_msg_id(const sr_msg_t *msg);
/* The 16-bit flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE). */
SR_API uint16_t sr_msg_flags(const sr_msg_t *msg);
SR_API unsigned sr_msg_opcode(const sr_msg_t *msg);
/* The RCODE, extended with the OPT record's upper bits when EDNS is present. */
SR_API unsigned sr_msg_rcode(const sr_msg_t *msg);

/* The number of questions (normally 0 or 1); the accessors below read the
 * first one. */
SR_API size_t sr_msg_qdcount(const sr_msg_t *msg);
/* First question's name, presentation form (owned by msg); NULL if none. */
SR_API const char *sr_msg_qname(const sr_msg_t *msg);
/* First question's name in uncompressed wire form (owned by msg). */
SR_API const uint8_t *sr_msg_qname_wire(const sr_msg_t *msg, size_t *len);
SR_API uint16_t sr_msg_qtype(const sr_msg_t *msg);
SR_API uint16_t sr_msg_qclass(const sr_msg_t *msg);
/* Offset just past the question section. */
SR_API size_t sr_msg_question_end(const sr_msg_t *msg);

/* Records of the answer, authority and additional sections in wire order,
 * OPT excluded. */
SR_API size_t sr_msg_rr_count(const sr_msg_t *msg);
/* Record i (0-based), NULL when out of range. */
SR_API const sr_rr_t *sr_msg_rr(const sr_msg_t *msg, size_t i);
/* Count of records in one section (OPT excluded). */
SR_API size_t sr_msg_section_count(const sr_msg_t *msg, sr_section_t s);
/* The EDNS data; ->present is false when the message has no OPT. */
SR_API const sr_edns_t *sr_msg_edns(const sr_msg_t *msg);

/* Value of the field called name (case-insensitive) in rr, or NULL. */
SR_API const char *sr_rr_field(const sr_rr_t *rr, const char *name);
/* The RDATA of rr as one line of master-file text (RFC 1035 5.1), as dig
 * prints it: the fields separated by blanks, each <character-string> in
 * double quotes with '"' written \" (every string of a TXT record quoted
 * on its own), everything else as the field's value. NUL-terminated into
 * out; SR_E_NOBUFS when cap is too small (5 * rdlength + the fields'
 * lengths + 16 always suffices), SR_E_INVAL for a record parsed with
 * SR_PARSE_NO_FIELDS. */
SR_API sr_status_t sr_rr_text(const sr_rr_t *rr, char *out, size_t cap);

/* ---- names ---- */

/* Presentation -> uncompressed wire form. Accepts a trailing dot or not,
 * "." or "" for the root, and the escapes \. \\ \DDD. Empty labels, labels
 * over 63 bytes, names over 255 bytes, bad escapes and bytes >= 0x80 (use
 * sr_name_idn() first) give SR_E_INVAL. *len receives the wire length. */
SR_API sr_status_t sr_name_from_text(const char *text, uint8_t *wire,
                                     size_t cap, size_t *len);
/* Uncompressed wire name -> presentation text per stubres-query(1), OUTPUT (no trailing
 * dot, root as "."). out must hold SR_NAME_MAX_TEXT bytes for any name.
 * SR_E_FORMERR on a malformed name, SR_E_NOBUFS when cap is too small. */
SR_API sr_status_t sr_name_to_text(const uint8_t *wire, size_t len, char *out,
                                   size_t cap);
/* Read a possibly compressed name from pkt at *off into uncompressed wire
 * form (wire must hold SR_NAME_MAX_WIRE bytes), and advance *off past the
 * name as it stands at *off. Pointers must point strictly backwards to
 * offsets >= 12 (RFC 1035 4.1.4), which also bounds the hops. */
SR_API sr_status_t sr_name_unpack(const uint8_t *pkt, size_t pktlen,
                                  size_t *off, uint8_t *wire, size_t *wlen);
/* UTF-8 host name -> its IDNA2008 A-label form (UTS#46 mapping, via
 * libidn2). ASCII input is returned as it is. SR_E_INVAL when the name is
 * not a valid IDN. */
SR_API sr_status_t sr_name_idn(const char *utf8, char *out, size_t cap);
/* Compare two uncompressed wire names, ASCII case-insensitively. */
SR_API bool sr_name_equal(const uint8_t *a, size_t alen, const uint8_t *b,
                          size_t blen);

/* ---- queries ---- */

/* Options of a query built by sr_query_build(). */
typedef struct sr_query_opts {
    uint16_t id;
    bool rd;               /* recursion desired (the recursive property) */
    bool cd;               /* checking disabled */
    uint16_t edns_size;    /* 0: no OPT record; else the advertised UDP size */
    bool do_bit;           /* DNSSEC OK, with EDNS */
    uint16_t pad_block;    /* with EDNS: pad the message to a multiple of
                              this (RFC 7830/8467, 128 for DoT/DoH); 0: none */
    bool nsid;             /* with EDNS: ask for the server's NSID (an empty
                              NSID option, RFC 5001 2.3) */
} sr_query_opts_t;

/* Build a one-question query for qname (uncompressed wire form) into buf.
 * SR_E_NOBUFS when cap is too small; SR_E_INVAL for a malformed qname, or
 * pad_block or nsid without edns_size (both are EDNS options). */
SR_API sr_status_t sr_query_build(uint8_t *buf, size_t cap, size_t *len,
                                  const uint8_t *qname, size_t qname_len,
                                  uint16_t qtype, uint16_t qclass,
                                  const sr_query_opts_t *opts);

/* ---- mnemonics ---- */

/* IANA mnemonic of a type ("A", "NS", "SRV", ...), or "TYPE<n>" written
 * into buf (16 bytes) for types without one (100 is "TYPE100": IANA's
 * reserved UINFO, the reference's REVLOOKUP query type). */
SR_API const char *sr_type_name(uint16_t type, char buf[16]);
/* A type from a mnemonic (case-insensitive), "TYPE<n>", a decimal number,
 * or "REVLOOKUP" (100). -1 when not recognised. */
SR_API int sr_type_from_name(const char *s);
/* IANA mnemonic of an RCODE ("NOERROR", "NXDOMAIN", ...), or "RCODE<n>". */
SR_API const char *sr_rcode_name(unsigned rcode, char buf[16]);
/* An RCODE from its mnemonic (case-insensitive) or number; -1 if unknown. */
SR_API int sr_rcode_from_name(const char *s);
/* The field names of a type as the reference's record_field_name table
 * gives them, or for the later types (stubres-query(1) OUTPUT) after
 * their RFCs (NULL-terminated array, static); NULL for types decoded as
 * a single RFC 3597 "RDATA" field. ISDN lists SA, which a record has only
 * when its sub-address is present. */
SR_API const char *const *sr_type_fields(uint16_t type);

/* ---- reverse lookups ---- */

/* The reverse-lookup name of an IPv4 or IPv6 address in presentation form:
 * "4.3.2.1.in-addr.arpa" or the nibble "....ip6.arpa" (no trailing dot).
 * SR_E_BAD_ADDRESS when addr is neither. */
SR_API sr_status_t sr_reverse_name(const char *addr, char *out, size_t cap);

/* ---- presentation RDATA (DoH JSON, tests) ---- */

/* Encode the master-file presentation form of one record's RDATA (as the
 * DoH JSON API's "data" strings give it, e.g. "10 mail.example.com.") into
 * wire RDATA with uncompressed names. Accepts RFC 3597 "\# LEN HEX" for
 * every type but OPT (RFC 6891 6.1.1: no master-file form); other forms
 * for the 25 types of the reference and the later types of
 * stubres-query(1) OUTPUT (class IN). Relative names are taken
 * as absolute. SR_E_FORMERR when the text does
 * not parse, SR_E_NOBUFS when cap is too small. */
SR_API sr_status_t sr_rdata_from_text(uint16_t type, const char *text,
                                      uint8_t *out, size_t cap, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
