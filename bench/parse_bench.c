/* Parse benchmark: one typical response (one question, a CNAME and 4 A
 * records with compressed names; tests/unit/data/cname-4a.bin, made by
 * dnspython) parsed with field text into one reused sr_msg_t, in a loop on
 * one core. Prints messages per second of CPU time. See bench/README.md.
 *
 *   parse_bench [-t SECONDS] [-n COUNT] [-F] [FILE]
 *
 * -n parses exactly COUNT messages per mode (for callgrind's instruction
 * counts, which do not depend on what else the machine runs); -F skips the
 * SR_PARSE_NO_FIELDS run. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stubres/wire.h>

#define BATCH 10000

/* CPU time of this thread: on a shared machine, wall time would count the
 * time other processes run on our core. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    static uint8_t buf[65536];
    if (f == NULL) {
        perror(path);
        exit(EXIT_FAILURE);
    }
    *len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    return buf;
}

struct rate {
    double cpu;  /* messages per second of CPU time */
    double wall; /* messages per second of wall time */
};

/* Parse for about secs seconds of CPU time, or exactly count messages. */
static struct rate run(sr_msg_t *msg, const uint8_t *pkt, size_t len, unsigned flags, double secs,
                       size_t count, size_t *sink)
{
    size_t n = 0;
    double start = cpu_now(), wstart = wall_now(), t;
    do {
        size_t batch = count > 0 && count - n < BATCH ? count - n : BATCH;
        for (size_t i = 0; i < batch; i++) {
            if (sr_msg_parse(msg, pkt, len, flags) != SR_OK) {
                fprintf(stderr, "parse failed: %s\n", sr_msg_error(msg));
                exit(EXIT_FAILURE);
            }
            /* Use the result, as a caller would. */
            const sr_rr_t *rr = sr_msg_rr(msg, sr_msg_rr_count(msg) - 1);
            *sink += rr->field_count ? (size_t)rr->fields[0].value[0] : rr->ttl;
        }
        n += batch;
        t = cpu_now() - start;
    } while (count > 0 ? n < count : t < secs);
    return (struct rate){(double)n / t, (double)n / (wall_now() - wstart)};
}

static void report(const char *what, struct rate r)
{
    printf("%-19s %10.0f messages/s of CPU (%.0f ns each); %10.0f per wall second\n", what, r.cpu,
           1e9 / r.cpu, r.wall);
}

int main(int argc, char **argv)
{
    double secs = 3.0;
    size_t count = 0, len, sink = 0;
    bool fields_only = false;
    int c;

    while ((c = getopt(argc, argv, "t:n:F")) != -1) {
        switch (c) {
        case 't': secs = atof(optarg); break;
        case 'n': count = strtoul(optarg, NULL, 10); break;
        case 'F': fields_only = true; break;
        default:
            fprintf(stderr, "usage: parse_bench [-t SECONDS] [-n COUNT] [-F] [FILE]\n");
            return EXIT_FAILURE;
        }
    }
    const char *path = optind < argc ? argv[optind] : BENCH_VECTOR;
    const uint8_t *pkt = read_file(path, &len);
    sr_msg_t *msg = sr_msg_new();

    if (msg == NULL || sr_msg_parse(msg, pkt, len, 0) != SR_OK) {
        fprintf(stderr, "%s: %s\n", path, msg ? sr_msg_error(msg) : "no memory");
        return EXIT_FAILURE;
    }
    printf("message: %s, %zu bytes, %zu records\n", path, len, sr_msg_rr_count(msg));
    if (count == 0)
        run(msg, pkt, len, 0, 0.5, 0, &sink); /* warm up */
    report("with fields:", run(msg, pkt, len, 0, secs, count, &sink));
    if (!fields_only)
        report("SR_PARSE_NO_FIELDS:", run(msg, pkt, len, SR_PARSE_NO_FIELDS, secs, count, &sink));
    sr_msg_free(msg);
    return sink == 0xdeadbeef ? EXIT_FAILURE : EXIT_SUCCESS;
}
