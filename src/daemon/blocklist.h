/* stubresd: block lists (keys `block`, `block_names`, `block_answer`).
 *
 * A block list names domains that must not resolve: a listed name blocks
 * itself and every name below it, on label boundaries, case-insensitively.
 * The names of every list live in one compact table (bl_table_t): an
 * open-addressing hash set of lowercased wire names, the names packed one
 * after another in a single arena, each with the file and line it came
 * from, so that a million names cost about 45 bytes each and `block check`
 * can say which line blocked a name.
 *
 * A lookup hashes the query name once from its last label to its first:
 * the hash of every parent suffix falls out on the way (each label is
 * folded into the hash of the suffix to its right), so checking the name
 * and all its parents costs one pass over the name and one probe per
 * label. Nothing is allocated on the query path.
 *
 * What is in force is an immutable snapshot (the lists' table and the
 * names added at run time); a change builds a new snapshot and publishes
 * it with one atomic generation number. A worker keeps a reference to the
 * snapshot it last saw (bl_view_t) and swaps it, under a mutex, only when
 * the generation moved: the query path costs one atomic load more. Lists
 * are read by a helper thread (blocklist_load): answers never wait for a
 * list, the old snapshot serves until the new one is ready, and a list
 * that cannot be read keeps the old one in force (and says why). */
#ifndef STUBRESD_BLOCKLIST_H
#define STUBRESD_BLOCKLIST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"

/* block_answer: what a blocked name gets. */
enum block_answer {
    BLOCK_NULL = 0,     /* 0.0.0.0 / :: for A / AAAA, NODATA otherwise */
    BLOCK_NXDOMAIN = 1, /* NXDOMAIN */
    BLOCK_REFUSED = 2,  /* REFUSED */
};

/* TTL of the records of a blocked answer: short, so that a name taken
 * off a list resolves again soon in the clients' own caches. */
#define BLOCK_TTL 60u
/* Most list files (the file index is packed with the line in 8 bits). */
#define BLOCK_MAX_FILES 255u
/* Most names of all lists together (bounds the memory: about 45 bytes a
 * name); names past it are dropped with a warning. */
#define BLOCK_MAX_NAMES 16000000u
/* Bad lines of one file that are logged one by one; the rest are
 * counted. */
#define BLOCK_MAX_WARNINGS 10u
/* Longest line of a list; longer ones are bad lines. */
#define BLOCK_LINE_MAX 4096u

typedef struct bl_table bl_table_t;
typedef struct bl_snap bl_snap_t;
typedef struct blocklist blocklist_t;

/* Where a blocked name was listed: file index (into the table's files)
 * and line, or BL_ADDED for a name added at run time (block_names). */
typedef struct bl_where {
    unsigned file; /* BL_ADDED, or the index of the file */
    unsigned line;
} bl_where_t;
#define BL_ADDED 0xFFu

/* ---- the table (also used directly by the unit tests and the fuzzer) */

/* Parse the lists in files (a comma- or blank-separated list of paths)
 * into a new table. A file that cannot be read fails the whole load (NULL,
 * why in err). Bad lines are skipped and logged (file:line). *stop, when
 * not NULL, is polled while reading: true abandons the load (NULL). */
bl_table_t *bl_table_load(const char *files, const atomic_bool *stop, char *err, size_t errcap);
/* A table of the names in text (comma- or blank-separated; the value of
 * block_names); NULL with err on a bad name. */
bl_table_t *bl_table_names(const char *text, char *err, size_t errcap);
/* Parse one list held in memory (the fuzzer's entry): as one file named
 * name. Never NULL except out of memory. */
bl_table_t *bl_table_parse(const char *name, const char *data, size_t len);
void bl_table_ref(bl_table_t *t);
/* Drop a reference; frees on the last. Accepts NULL. */
void bl_table_unref(bl_table_t *t);

/* Distinct names in t. */
size_t bl_table_count(const bl_table_t *t);
/* Number of files, the path of file i and the distinct names it gave. */
size_t bl_table_nfiles(const bl_table_t *t);
const char *bl_table_file(const bl_table_t *t, size_t i);
size_t bl_table_file_names(const bl_table_t *t, size_t i);
/* Bytes the table holds (arena and slots), for `block` and bench/. */
size_t bl_table_bytes(const bl_table_t *t);

/* Is qname (uncompressed wire form, any case) or one of its parents in
 * t? *where (may be NULL) gets the entry of the longest match. Allocates
 * nothing. */
bool bl_table_match(const bl_table_t *t, const uint8_t *qname, size_t qname_len, bl_where_t *where);

/* ---- what is in force, shared by every thread ---- */

/* A worker's view: the snapshot it uses and its generation. Zeroed at
 * start; released with blocklist_view_release(). */
typedef struct bl_view {
    bl_snap_t *snap;
    uint64_t gen;
} bl_view_t;

blocklist_t *blocklist_new(void);
/* Stop a load in progress, wait for it and free. Accepts NULL. Every view
 * must have been released. */
void blocklist_free(blocklist_t *b);

/* Read the lists in files (a comma- or blank-separated list of paths) and
 * put them in force. With wait, read them now in the calling thread (at
 * start, before any answer); otherwise in a helper thread, while the
 * current lists keep answering (reload): a load requested while one runs
 * is done after it, with the latest files. A list that cannot be read
 * keeps the lists in force and is logged (and, with wait, returns -1
 * with err). Returns 0. */
int blocklist_load(blocklist_t *b, const char *files, bool wait, char *err, size_t errcap);
/* Put the names of block_names (its text) in force at once. -1 with err
 * on a bad name (nothing changes). */
int blocklist_set_names(blocklist_t *b, const char *names, char *err, size_t errcap);

/* The cache a change of the lists empties of what it could block: the
 * whole cache when loaded lists name a name the lists before did not,
 * the subtree of each name blocklist_set_names adds. So the cache never
 * holds an answer the lists in force block, and a query may look at the
 * lists only when the cache misses. NULL: none. */
void blocklist_set_cache(blocklist_t *b, cache_t *c);

/* The snapshot in force for a worker: view's, renewed when a newer one was
 * published. NULL when nothing is blocked. Allocates nothing; locks only
 * when the generation moved. */
const bl_snap_t *blocklist_view(blocklist_t *b, bl_view_t *view);
void blocklist_view_release(bl_view_t *view);

/* The names of s: qname or a parent listed (by a list or added)? */
bool bl_snap_match(const bl_snap_t *s, const uint8_t *qname, size_t qname_len);

/* For the control commands (main thread). block check: "FILE:LINE" or
 * "block add" into by, or false. */
bool blocklist_check(blocklist_t *b, const uint8_t *qname, size_t qname_len, char *by,
                     size_t bycap);
/* The tables in force (references taken; the caller unrefs): files may
 * be NULL (no list), names too. */
void blocklist_tables(blocklist_t *b, bl_table_t **files, bl_table_t **names);

/* ---- answers ---- */

/* The answer to q when its name is blocked in the snapshot s: the reply
 * (mode: enum block_answer) rendered into out (cap bytes), the client's
 * ID, flags and question case echoed, OPT when q had one. 0 when the name
 * is not blocked (or s is NULL). Allocates nothing. */
size_t blocklist_answer(const bl_snap_t *s, int mode, const cache_query_t *q, uint8_t *out,
                        size_t cap);
/* The blocked answer to q whatever its name (CNAME cloaking). */
size_t blocklist_render(int mode, const cache_query_t *q, uint8_t *out, size_t cap);

/* Does an upstream answer (parsed) pass through a blocked name: an owner
 * or a CNAME target in its answer section listed in s (CNAME cloaking)? */
bool blocklist_cloaked(const bl_snap_t *s, const sr_msg_t *msg);

#endif
