/* libstubres internals: DNS-over-HTTPS (RFC 8484) helpers shared by doh.c,
 * the unit tests and the fuzz target (not installed).
 *
 * doh_url.c   request encoding: base64url (both ways), the GET and JSON API URLs
 * doh_json.c  a JSON API answer ("application/dns-json", as Google's and
 *             Cloudflare's /resolve serve it) -> a wire-format response,
 *             and a response -> that JSON (the server side)
 * doh.c       the sr_doh_ops transport (libcurl multi driven by libevent) */
#ifndef STUBRES_DOH_INTERNAL_H
#define STUBRES_DOH_INTERNAL_H

#include "lib-internal.h"
#include <stubres/wire.h>

/* Largest DNS message a wire-format DoH body may hold (the DNS message
 * length limit of RFC 8484 section 6 / RFC 1035 4.2.2). */
#define SR_DOH_WIRE_MAX 65535
/* Largest JSON API body accepted: JSON spends several times the bytes of
 * the wire form, so a full 64 KiB answer needs room. */
#define SR_DOH_JSON_MAX ((size_t)256 * 1024)
/* Room for a detail message of the converter. */
#define SR_DOH_DETAIL_MAX 160

/* The question a JSON answer is for: the JSON API's answer has no ID and
 * its question is only advisory, so both come from the query. */
typedef struct sr_doh_question {
    uint16_t id;          /* written into the response header */
    const uint8_t *qname; /* uncompressed wire form */
    size_t qname_len;
    uint16_t qtype;
    uint16_t qclass;
} sr_doh_question_t;

/* Convert the JSON API answer json[0..len) into a DNS response for q.
 *
 * The header comes from Status (RCODE; above 15 an OPT record carries the
 * upper bits, RFC 6891 6.1.3) and the booleans TC, RD, RA, AD and CD (QR is
 * set; a missing boolean is false). The question section is q. The
 * Answer, Authority and Additional arrays (each optional) become the
 * three sections; each entry is {"name", "type", "TTL", "data"} with TTL
 * optional (0) and data in master-file presentation form (RFC 1035 5.1,
 * RFC 3597 "\# LEN HEX" for any type). A TXT "data" not starting with a
 * quote is taken as one literal string, as Google's API writes it. A
 * "Question" array, when present, must name q's name and type. A q of a
 * class other than IN gets sr_doh_json_notimp()'s response, whatever the
 * JSON says (its data would be IN data under another class's label).
 *
 * On success *out (free with sr_free) holds the response, *outlen its
 * length; sr_msg_parse() accepts it. Errors: SR_E_FORMERR for anything
 * malformed (not JSON, no Status, a field of the wrong type, a value out
 * of range, data that does not parse as its type or, in RFC 3597 form,
 * does not fit it, a question that is not q's), SR_E_MSGSIZE when
 * the JSON is larger than SR_DOH_JSON_MAX or the response would exceed
 * 65535 bytes, SR_E_NOMEM. detail (may be NULL) receives a short reason
 * naming the offending field. */
sr_status_t sr_doh_json_to_wire(const char *json, size_t len, const sr_doh_question_t *q,
                                uint8_t **out, size_t *outlen, char *detail, size_t dcap);

/* The JSON API answer for the parsed response m, in the shape Google's
 * and Cloudflare's /resolve write: Status (the extended RCODE), TC, RD,
 * RA, AD, CD, Question [{name, type}], then Answer, Authority and Additional (each only when
 * not empty; OPT left out) as [{name, type, TTL, data}], names
 * absolute with their trailing dot, data the record's master-file text
 * (sr_rr_text), or RFC 3597 "\# LEN HEX" when it has none (parsed with
 * SR_PARSE_NO_FIELDS) or that text is not UTF-8. sr_doh_json_to_wire()
 * reads it back. *out is NUL-terminated, *outlen its length (free with
 * sr_free). SR_E_NOMEM. */
sr_status_t sr_doh_wire_to_json(const sr_msg_t *m, char **out, size_t *outlen);

/* RCODE 4, NOTIMP (RFC 1035 4.1.1). */
#define SR_DOH_RCODE_NOTIMP 4

/* The response for q when q's class is not IN: the JSON API has no class
 * parameter and serves IN data only, so the question is not asked (no
 * HTTP request) and is answered NOTIMP, with QR set, the question of q and
 * no records. *out (free with sr_free) and *outlen as below;
 * SR_E_FORMERR for a question without a valid name, SR_E_NOMEM. */
sr_status_t sr_doh_json_notimp(const sr_doh_question_t *q, uint8_t **out, size_t *outlen);

/* base64url (RFC 4648 section 5) of in[0..n) without '=' padding, as the
 * dns parameter of RFC 8484 4.1 wants it, NUL-terminated into out.
 * SR_E_NOBUFS when cap is below sr_base64url_len(n) + 1. */
sr_status_t sr_base64url_encode(const uint8_t *in, size_t n, char *out, size_t cap, size_t *outlen);

/* The bytes of the base64url text in[0..n) (RFC 4648 5, without '='
 * padding, as RFC 8484 4.1 sends the dns parameter) into out; *outlen
 * receives their number. SR_E_FORMERR for a character outside the
 * base64url alphabet, a length no encoding has, or text longer than the
 * encoding of SR_DOH_WIRE_MAX bytes; SR_E_NOBUFS when cap is short. */
sr_status_t sr_base64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *outlen);

/* Length of the unpadded base64url encoding of n bytes. */
static inline size_t sr_base64url_len(size_t n)
{
    return (n / 3) * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

/* The GET URL of RFC 8484 4.1: base + "?dns=" (or "&dns=" when base has a
 * query already) + base64url(q). *out is allocated (free with sr_free). */
sr_status_t sr_doh_url_get(const char *base, const uint8_t *q, size_t qlen, char **out);

/* The JSON API URL: base + "?name=NAME&type=TYPE", NAME the
 * percent-encoded presentation form of qname (wire), TYPE the type's
 * mnemonic or its number; "&do=1" and "&cd=1" only when set. *out is
 * allocated (free with sr_free). SR_E_FORMERR for a malformed qname. */
sr_status_t sr_doh_url_json(const char *base, const uint8_t *qname, size_t qname_len,
                            uint16_t qtype, bool do_bit, bool cd, char **out);

/* Whether the Content-Type value ctype (may be NULL) names the media type
 * want ("application/dns-message"), ignoring case, surrounding blanks and
 * parameters (";charset=utf-8"). */
bool sr_doh_media_type_is(const char *ctype, const char *want);

#endif
