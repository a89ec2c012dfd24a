/* Helpers shared by the codec's Check suites: hex, files, and the test
 * vectors of tests/unit/data (see make-vectors.py for their format). */
#ifndef STUBRES_TESTUTIL_H
#define STUBRES_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stubres/wire.h>

/* Hex digits (blanks ignored) -> bytes; aborts the test on bad input or
 * when more than cap bytes result. Returns the byte count. */
size_t tu_unhex(const char *hex, uint8_t *out, size_t cap);

/* The whole file at path (malloc'd; free()), or NULL. */
uint8_t *tu_read_file(const char *path, size_t *len);

typedef struct tu_field {
    char *name;
    char *value;
} tu_field_t;

typedef struct tu_rr {
    int section;
    char *owner;
    unsigned type;
    char *type_name;
    unsigned rclass;
    unsigned long ttl;
    uint8_t *rdata;
    size_t rdlen;
    size_t nfields;
    tu_field_t *fields;
    char *text;    /* dnspython's presentation of the RDATA, or NULL */
    uint8_t *wire; /* its uncompressed wire form (with text) */
    size_t wire_len;
} tu_rr_t;

typedef struct tu_vec {
    char *name; /* file name without .bin */
    uint8_t *msg;
    size_t len;
    unsigned id, flags, rcode;
    size_t qdcount;
    char *qname;
    unsigned qtype, qclass;
    bool edns;
    unsigned udp_size, ext_rcode, version, eflags;
    size_t nopts;
    unsigned opt_code[8];
    uint8_t *opt_data[8];
    size_t opt_len[8];
    size_t count[3];
    size_t nrr;
    tu_rr_t *rrs;
} tu_vec_t;

/* Every vector of TEST_DATA_DIR (sorted by name); free with tu_free_vecs. */
tu_vec_t *tu_load_vecs(size_t *n);
void tu_free_vecs(tu_vec_t *v, size_t n);

/* sr_msg_new(), failing the test if it fails. */
sr_msg_t *tu_msg_new(void);

/* Parse v's message into msg (flags 0); fails the test, naming the
 * vector, unless SR_OK. */
void tu_parse_vec(sr_msg_t *msg, const tu_vec_t *v);

/* Build a response with one answer record (root owner, class IN, TTL 0)
 * around rdata; returns the message length. */
size_t tu_one_rr(uint8_t *out, size_t cap, uint16_t type, uint16_t rclass, const uint8_t *rdata,
                 size_t rdlen);

#endif
