/* stubres-query: the DNS class on the command line (stubres-query(1)).
 * Every flag sets a property or a config setting of one sr_dns_t, with
 * dig's defaults (5 s per try, 3 tries over UDP, a TC=1 answer retried
 * over TCP); the output is dig's text or one JSON object. Exit status 0
 * when a response arrived (whatever its RCODE), else 1 with
 * "stubres-query: [CODE] message" on stderr (and with --json an "error"
 * object on stdout). */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include <stubres/dns.h>

#define PROG "stubres-query"

/* What on_response reported, and the one decision of --insecure. */
struct run {
    bool insecure;
    bool responded;
    int request_id;
};

/* --json: errors go to stdout as a JSON object too. Set before any
 * option is read, so a bad option is reported the same way. */
static bool json_errors;

static const char *const proto_names[] = {"UDP", "TCP", "TLS", "HTTPS"};

static const char *const section_names[] = {"answer", "authority",
                                            "additional"};
static const char *const section_titles[] = {"ANSWER", "AUTHORITY",
                                             "ADDITIONAL"};

static void usage(FILE *f)
{
    fputs("usage: " PROG " [options] NAME\n"
          "  -s, --server S        address, host name, https://HOST/PATH (DoH)\n"
          "                        or tls://HOST[:PORT][#NAME] (DoT)\n"
          "                        (default: first nameserver in resolv.conf)\n"
          "  -p, --port N          dns_port (default 53; 853 for tls, 443 for "
          "https)\n"
          "  -P, --protocol P      udp|tcp|tls|https or 0..3 (default: udp, or\n"
          "                        what the scheme of -s names)\n"
          "  -t, --type T          mnemonic or number, including REVLOOKUP / "
          "100\n"
          "      --doh-method M    post|get|json or 0..2   (config DoHMethod)\n"
          "      --norecurse       recursive = false\n"
          "      --timeout S       seconds per try, fractions allowed (default 5;\n"
          "                        0: asynchronous)\n"
          "      --tries N         tries over UDP (default 3; config Tries)\n"
          "      --ignore-tc       keep a truncated UDP answer (no TCP retry)\n"
          "      --dnssec          set the DO bit (config DNSSECOK)\n"
          "      --nsid            ask for the server's NSID (config RequestNSID)\n"
          "      --id N            request_id (1..32767)\n"
          "      --local-host A    local_host\n"
          "      --ca-file F       trust anchors for tls/https (config CAFile)\n"
          "      --tls-name N      name the server's certificate must match\n"
          "      --insecure        accept any certificate (prints a warning)\n"
          "  -c, --config K=V      any config setting of the class, repeatable\n"
          "  -v, --verbose         log what the class does on stderr (LogLevel 1;\n"
          "                        -vv 2, -vvv 3 with the messages in hex)\n"
          "      --json            one JSON object on stdout\n"
          "  -h, --help            this text\n"
          "      --version         version and build information\n",
          f);
}

static json_t *jstr(const char *s);

/* "stubres-query: [CODE] message" on stderr and, with --json,
 * {"error": {"code": CODE, "message": "message"}} on stdout. */
static int report(int code, const char *msg)
{
    fprintf(stderr, PROG ": [%d] %s\n", code, msg);
    if (json_errors) {
        /* the message may quote a name that is not UTF-8: jstr() */
        json_t *err = json_pack("{s:{s:i,s:o}}", "error", "code", code, "message", jstr(msg));
        if (err == NULL || json_dumpf(err, stdout, JSON_PRESERVE_ORDER) != 0)
            fputs("{\"error\": {\"code\": 10055, \"message\": \"out of memory\"}}", stdout);
        fputc('\n', stdout);
        fflush(stdout);
        json_decref(err);
    }
    return EXIT_FAILURE;
}

/* The class's error: the message without the "[CODE] " the reference's
 * texts of TCP/IP errors start with. */
static int fail(sr_dns_t *dns, int code)
{
    char prefix[24];
    const char *msg = dns != NULL ? sr_dns_last_error(dns) : "";

    if (*msg == '\0')
        msg = sr_strerror(code);
    snprintf(prefix, sizeof(prefix), "[%d] ", code);
    if (strncmp(msg, prefix, strlen(prefix)) == 0)
        msg += strlen(prefix);
    return report(code, msg);
}

/* A usage error that is not a value of the class: same format, 10022. */
static int fail_arg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail_arg(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return report(SR_E_INVAL, msg);
}

static bool parse_int(const char *s, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v < -2147483647L ||
        v > 2147483647L)
        return false;
    *out = (int)v;
    return true;
}

static void on_response(void *arg, int request_id, const char *domain,
                        int status_code, const char *description,
                        bool authoritative)
{
    struct run *run = arg;
    (void)domain;
    (void)status_code;
    (void)description;
    (void)authoritative;
    run->responded = true;
    run->request_id = request_id;
}

static void on_ssl_auth(void *arg, sr_tls_auth_t *auth)
{
    struct run *run = arg;
    if (!run->insecure)
        return;
    if (!auth->accept)
        fprintf(stderr, ";; WARNING: certificate of %s not verified (%s): accepted "
                "because of --insecure\n",
                auth->remote_address, auth->status != NULL ? auth->status : "?");
    auth->accept = true;
}

/* -v: the class's log lines on stderr, dig's comment style. */
static void on_log(void *arg, int log_level, const char *message, const char *log_type)
{
    (void)arg;
    fprintf(stderr, ";; [%d %s] %s\n", log_level, log_type, message);
}

/* ---- output ---- */

static void hex(const uint8_t *p, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0xf];
    }
    out[2 * len] = '\0';
}

/* A JSON string of s; bytes that are not UTF-8 (a name given in another
 * CodePage) become \DDD so the output stays valid JSON. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    if (j != NULL)
        return j;
    size_t n = strlen(s);
    char *buf = malloc(n * 4 + 1);
    if (buf == NULL)
        return NULL;
    char *o = buf;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p >= 0x80)
            o += sprintf(o, "\\%03u", *p);
        else
            *o++ = (char)*p;
    }
    *o = '\0';
    j = json_string(buf);
    free(buf);
    return j;
}

/* Add one record (index i of the selected section) to arr. */
static int json_record(sr_dns_t *dns, int section, int i, json_t *arr)
{
    const char *domain = "", *type_name = "";
    int type = 0, nfields = 0;
    uint32_t ttl = 0;
    const uint8_t *data = NULL;
    size_t len = 0;
    int status;

    if ((status = sr_dns_get_record_domain(dns, i, &domain)) != SR_OK ||
        (status = sr_dns_get_record_type(dns, i, &type)) != SR_OK ||
        (status = sr_dns_get_record_type_name(dns, i, &type_name)) != SR_OK ||
        (status = sr_dns_get_record_ttl(dns, i, &ttl)) != SR_OK ||
        (status = sr_dns_get_record_data(dns, i, &data, &len)) != SR_OK ||
        (status = sr_dns_get_record_field_count(dns, i, &nfields)) != SR_OK)
        return status;

    json_t *rec = json_object();
    json_t *fields = json_array();
    char *datahex = malloc(len * 2 + 1);
    if (rec == NULL || fields == NULL || datahex == NULL) {
        json_decref(rec);
        json_decref(fields);
        free(datahex);
        return SR_E_NOMEM;
    }
    for (int f = 0; f < nfields; f++) {
        const char *name = "", *value = "";
        if ((status = sr_dns_set_record_field_index(dns, i, f)) != SR_OK ||
            (status = sr_dns_get_record_field_name(dns, i, &name)) != SR_OK ||
            (status = sr_dns_get_record_field_value(dns, i, &value)) != SR_OK)
            break;
        json_t *fo = json_object();
        json_object_set_new(fo, "name", jstr(name));
        json_object_set_new(fo, "value", jstr(value));
        json_array_append_new(fields, fo);
    }
    hex(data, len, datahex);
    json_object_set_new(rec, "section", json_string(section_names[section]));
    json_object_set_new(rec, "domain", jstr(domain));
    json_object_set_new(rec, "type", json_integer(type));
    json_object_set_new(rec, "type_name", jstr(type_name));
    json_object_set_new(rec, "ttl", json_integer((json_int_t)ttl));
    json_object_set_new(rec, "fields", fields);
    json_object_set_new(rec, "data", json_string(datahex));
    json_array_append_new(arr, rec);
    free(datahex);
    return status;
}

/* The header flags dig shows, in its order. */
static const struct {
    uint16_t bit;
    const char *name;
} flag_bits[] = {{SR_FLAG_QR, "qr"}, {SR_FLAG_AA, "aa"}, {SR_FLAG_TC, "tc"},
                 {SR_FLAG_RD, "rd"}, {SR_FLAG_RA, "ra"}, {SR_FLAG_AD, "ad"},
                 {SR_FLAG_CD, "cd"}};

/* The server that answered as dig names it: ADDRESS#PORT, or what
 * dns_server says when the address is unknown. */
static void server_text(sr_dns_t *dns, const sr_dns_response_info_t *info,
                        char *out, size_t cap)
{
    if (info->address[0] != '\0')
        snprintf(out, cap, "%s#%d", info->address, info->port);
    else
        snprintf(out, cap, "%s", sr_dns_get_dns_server(dns));
}

static bool setting_true(sr_dns_t *dns, const char *name)
{
    char *v = NULL;
    bool b = sr_dns_config(dns, name, &v) == SR_OK && v != NULL &&
             strcasecmp(v, "True") == 0;
    free(v);
    return b;
}

static int print_json(sr_dns_t *dns, const struct run *run, const char *name)
{
    int status = SR_OK;
    int source = sr_dns_get_record_source(dns);
    json_t *root = json_object();
    json_t *records = json_array();
    json_t *flags = json_array();
    sr_dns_response_info_t info;
    char server[128];

    if (root == NULL || records == NULL || flags == NULL) {
        json_decref(records);
        json_decref(flags);
        status = SR_E_NOMEM;
        goto done;
    }
    sr_dns_get_response_info(dns, &info);
    server_text(dns, &info, server, sizeof(server));
    uint16_t f = sr_msg_flags(sr_dns_get_message(dns));
    for (size_t i = 0; i < sizeof(flag_bits) / sizeof(flag_bits[0]); i++)
        if (f & flag_bits[i].bit)
            json_array_append_new(flags, json_string(flag_bits[i].name));
    json_object_set_new(root, "request_id", json_integer(run->request_id));
    json_object_set_new(root, "domain", jstr(name));
    json_object_set_new(root, "query_type",
                        json_integer(sr_dns_get_query_type(dns)));
    json_object_set_new(root, "status_code",
                        json_integer(sr_dns_get_status_code(dns)));
    json_object_set_new(root, "status", jstr(sr_dns_get_status(dns)));
    json_object_set_new(root, "authoritative",
                        json_boolean(sr_dns_get_authoritative(dns)));
    json_object_set_new(root, "truncated",
                        json_boolean(setting_true(dns, "ResponseTruncated")));
    json_object_set_new(root, "flags", flags);
    json_object_set_new(root, "server", jstr(server));
    json_object_set_new(root, "protocol", json_string(proto_names[info.protocol]));
    json_object_set_new(root, "elapsed_ms",
                        json_integer((json_int_t)((info.elapsed_us + 500) / 1000)));
    /* the class walks one section at a time: answer, authority and
     * additional in turn is the wire order */
    for (int s = 0; s < 3 && status == SR_OK; s++) {
        sr_dns_set_record_source(dns, s);
        int n = sr_dns_get_record_count(dns);
        for (int i = 0; i < n && status == SR_OK; i++)
            status = json_record(dns, s, i, records);
    }
    sr_dns_set_record_source(dns, source);
    json_object_set_new(root, "records", records);
    if (status != SR_OK)
        goto done;
    if (json_dumpf(root, stdout, JSON_PRESERVE_ORDER) != 0 ||
        fputc('\n', stdout) == EOF)
        status = SR_E_INVAL;

done:
    json_decref(root);
    return status;
}

static const char *opcode_name(unsigned op)
{
    switch (op) {
    case 0: return "QUERY";
    case 1: return "IQUERY";
    case 2: return "STATUS";
    case 4: return "NOTIFY";
    case 5: return "UPDATE";
    default: return "OPCODE";
    }
}

static void print_flags(uint16_t flags)
{
    fputs(";; flags:", stdout);
    for (size_t i = 0; i < sizeof(flag_bits) / sizeof(flag_bits[0]); i++)
        if (flags & flag_bits[i].bit)
            printf(" %s", flag_bits[i].name);
}

/* dig's mnemonic of a class: IN, CH, HS, else CLASS<n> (RFC 3597). */
static const char *class_name(uint16_t rclass, char buf[16])
{
    if (rclass == SR_CLASS_IN)
        return "IN";
    if (rclass == 3)
        return "CH";
    if (rclass == 4)
        return "HS";
    snprintf(buf, 16, "CLASS%u", (unsigned)rclass);
    return buf;
}

/* One EDNS option as dig 9.18 shows it. */
static void print_edns_opt(const sr_edns_opt_t *o)
{
    if (o->code == SR_EDNS_OPT_PADDING) {
        printf("; PAD: (%u bytes)\n", (unsigned)o->len);
        return;
    }
    if (o->code == SR_EDNS_OPT_NSID)
        fputs("; NSID:", stdout);
    else
        printf("; OPT=%u:", (unsigned)o->code);
    for (size_t i = 0; i < o->len; i++)
        printf(" %02x", o->data[i]);
    fputs(" (\"", stdout);
    for (size_t i = 0; i < o->len; i++)
        putchar(o->data[i] >= 0x20 && o->data[i] < 0x7f ? o->data[i] : '.');
    fputs("\")\n", stdout);
}

static int print_text(sr_dns_t *dns, const struct run *run, const char *name)
{
    int status = SR_OK;
    const sr_msg_t *msg = sr_dns_get_message(dns);
    sr_dns_response_info_t info;
    char buf[16], cbuf[16], server[128], when[64];
    char *rdata = NULL;
    size_t cap = 0;
    time_t now = time(NULL);
    struct tm tm;

    (void)run;
    sr_dns_get_response_info(dns, &info);
    /* dig says so before the answer that the retry brought */
    if (sr_dns_get_protocol(dns) == SR_PROTO_UDP && info.protocol == SR_PROTO_TCP)
        puts(";; Truncated, retrying in TCP mode.");
    printf("\n; <<>> " PROG " %s <<>> %s\n", PACKAGE_VERSION, name);
    printf(";; ->>HEADER<<- opcode: %s, status: %s, id: %u\n",
           opcode_name(sr_msg_opcode(msg)), sr_dns_get_status(dns),
           (unsigned)info.wire_id);
    print_flags(sr_msg_flags(msg));
    printf("; QUERY: %zu, ANSWER: %zu, AUTHORITY: %zu, ADDITIONAL: %zu\n",
           sr_msg_qdcount(msg), sr_msg_section_count(msg, SR_SECTION_ANSWER),
           sr_msg_section_count(msg, SR_SECTION_AUTHORITY),
           sr_msg_section_count(msg, SR_SECTION_ADDITIONAL) +
               (sr_msg_edns(msg)->present ? 1 : 0));
    const sr_edns_t *edns = sr_msg_edns(msg);
    if (edns->present) {
        printf("\n;; OPT PSEUDOSECTION:\n; EDNS: version: %u, flags:%s; "
               "udp: %u\n",
               edns->version, edns->do_bit ? " do" : "", edns->udp_size);
        for (size_t i = 0; i < edns->opt_count; i++)
            print_edns_opt(&edns->opts[i]);
    } else {
        putchar('\n');
    }
    if (sr_msg_qname(msg) != NULL)
        printf(";; QUESTION SECTION:\n;%s\t\t%s\t%s\n", sr_msg_qname(msg),
               class_name(sr_msg_qclass(msg), cbuf), sr_type_name(sr_msg_qtype(msg), buf));

    /* the records in wire order, a title where a section begins */
    int section = -1;
    for (size_t i = 0; i < sr_msg_rr_count(msg) && status == SR_OK; i++) {
        const sr_rr_t *rr = sr_msg_rr(msg, i);
        size_t need = 5 * (size_t)rr->rdlength + 16;
        for (size_t f = 0; f < rr->field_count; f++)
            need += strlen(rr->fields[f].value) + 1;
        if (need > cap) {
            char *n = realloc(rdata, need);
            if (n == NULL) {
                status = SR_E_NOMEM;
                break;
            }
            rdata = n;
            cap = need;
        }
        if ((status = sr_rr_text(rr, rdata, cap)) != SR_OK)
            break;
        if ((int)rr->section != section) {
            section = (int)rr->section;
            printf("\n;; %s SECTION:\n", section_titles[section]);
        }
        printf("%s\t%u\t%s\t%s\t%s\n", rr->name, (unsigned)rr->ttl,
               class_name(rr->rclass, cbuf), sr_type_name(rr->type, buf),
               rdata);
    }
    free(rdata);
    size_t len = 0;
    sr_msg_wire(msg, &len);
    server_text(dns, &info, server, sizeof(server));
    if (localtime_r(&now, &tm) == NULL ||
        strftime(when, sizeof(when), "%a %b %d %H:%M:%S %Z %Y", &tm) == 0)
        when[0] = '\0';
    printf("\n;; Query time: %llu msec\n",
           (unsigned long long)((info.elapsed_us + 500) / 1000));
    printf(";; SERVER: %s(%s) (%s)\n", server, sr_dns_get_dns_server(dns),
           proto_names[info.protocol]);
    printf(";; WHEN: %s\n", when);
    printf(";; MSG SIZE  rcvd: %zu\n", len);
    return status;
}

/* ---- options ---- */

enum {
    OPT_DOH_METHOD = 256,
    OPT_NORECURSE,
    OPT_TIMEOUT,
    OPT_TRIES,
    OPT_IGNORE_TC,
    OPT_DNSSEC,
    OPT_NSID,
    OPT_ID,
    OPT_LOCAL_HOST,
    OPT_CA_FILE,
    OPT_TLS_NAME,
    OPT_INSECURE,
    OPT_JSON,
    OPT_VERSION,
};

static const struct option long_opts[] = {
    {"server", required_argument, NULL, 's'},
    {"port", required_argument, NULL, 'p'},
    {"protocol", required_argument, NULL, 'P'},
    {"type", required_argument, NULL, 't'},
    {"config", required_argument, NULL, 'c'},
    {"doh-method", required_argument, NULL, OPT_DOH_METHOD},
    {"norecurse", no_argument, NULL, OPT_NORECURSE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"tries", required_argument, NULL, OPT_TRIES},
    {"ignore-tc", no_argument, NULL, OPT_IGNORE_TC},
    {"dnssec", no_argument, NULL, OPT_DNSSEC},
    {"nsid", no_argument, NULL, OPT_NSID},
    {"id", required_argument, NULL, OPT_ID},
    {"local-host", required_argument, NULL, OPT_LOCAL_HOST},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"tls-name", required_argument, NULL, OPT_TLS_NAME},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"verbose", no_argument, NULL, 'v'},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const char *const protocols[] = {"udp", "tcp", "tls", "https"};

/* A word (case-insensitive) or its number from words[0..n-1]. */
static int parse_choice(const char *s, const char *const *words, int n)
{
    int v;
    for (int i = 0; i < n; i++)
        if (strcasecmp(s, words[i]) == 0)
            return i;
    return parse_int(s, &v) ? v : -1;
}

static int set_config(sr_dns_t *dns, const char *name, const char *value)
{
    char buf[4096];
    if ((size_t)snprintf(buf, sizeof(buf), "%s=%s", name, value) >= sizeof(buf))
        return fail_arg("%s: value too long", name);
    int status = sr_dns_config(dns, buf, NULL);
    return status == SR_OK ? EXIT_SUCCESS : fail(dns, status);
}

static int show_version(sr_dns_t *dns)
{
    char *info = NULL;
    printf(PROG " (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
    if (sr_dns_config(dns, "BuildInfo", &info) == SR_OK)
        printf("%s\n", info);
    free(info);
    return EXIT_SUCCESS;
}

/* What the options set beside the class's own properties. */
struct cli {
    struct run run;
    bool json, port_given;
    const char *protocol_arg; /* -P as given, NULL without */
    int verbose;              /* how many -v */
};

/* Returned by option() when the next option may follow. */
#define GO_ON (-1)

/* --timeout: seconds with an optional fraction, into milliseconds. */
static bool parse_seconds(const char *s, int *ms)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(v) || v < 0 ||
        v > 2147483.647)
        return false;
    *ms = (int)(v * 1000 + 0.5);
    if (*ms == 0 && v > 0)
        *ms = 1; /* a positive timeout is never 0, asynchronous */
    return true;
}

/* One option c (argument optarg) into dns or cli: GO_ON, or the exit
 * status to end with (the error already printed). */
static int option(sr_dns_t *dns, struct cli *cli, int c)
{
    static const char *const methods[] = {"post", "get", "json"};
    int status = SR_OK, v;
    char num[16];
    const char *setting = NULL, *value = num;

    switch (c) {
    case 's': status = sr_dns_set_dns_server(dns, optarg); break;
    case 'p':
        if (!parse_int(optarg, &v))
            return fail_arg("dns_port: '%s' is not a number", optarg);
        status = sr_dns_set_dns_port(dns, v);
        cli->port_given = true;
        break;
    case 'P':
        if ((v = parse_choice(optarg, protocols, 4)) < 0)
            return fail_arg("protocol: '%s' is not udp, tcp, tls, https or 0..3", optarg);
        status = sr_dns_set_protocol(dns, v);
        cli->protocol_arg = optarg;
        break;
    case 't':
        if ((v = sr_type_from_name(optarg)) < 0) {
            char msg[512];
            snprintf(msg, sizeof(msg), "%s '%s'", sr_strerror(SR_E_UNKNOWN_TYPE), optarg);
            return report(SR_E_UNKNOWN_TYPE, msg);
        }
        status = sr_dns_set_query_type(dns, v);
        break;
    case 'c':
        if (strchr(optarg, '=') == NULL)
            return fail_arg("--config '%s': expected NAME=VALUE", optarg);
        status = sr_dns_config(dns, optarg, NULL);
        break;
    case OPT_DOH_METHOD:
        if ((v = parse_choice(optarg, methods, 3)) < 0)
            return fail_arg("DoHMethod: '%s' is not post, get, json or 0..2", optarg);
        snprintf(num, sizeof(num), "%d", v);
        setting = "DoHMethod";
        break;
    case OPT_NORECURSE: status = sr_dns_set_recursive(dns, false); break;
    case OPT_TIMEOUT:
        if (!parse_seconds(optarg, &v))
            return fail_arg("timeout: '%s' is not a number of seconds (fractions "
                            "allowed, 0 for asynchronous)",
                            optarg);
        snprintf(num, sizeof(num), "%d", v);
        setting = "TimeoutMillis";
        break;
    case OPT_TRIES:
        if (!parse_int(optarg, &v) || v < 1 || v > 100)
            return fail_arg("tries: '%s' is not a number from 1 to 100", optarg);
        snprintf(num, sizeof(num), "%d", v);
        setting = "Tries";
        break;
    case OPT_IGNORE_TC: setting = "TCPFallback", value = "False"; break;
    case OPT_DNSSEC: setting = "DNSSECOK", value = "True"; break;
    case OPT_NSID: setting = "RequestNSID", value = "True"; break;
    case OPT_ID:
        if (!parse_int(optarg, &v))
            return fail_arg("request_id: '%s' is not a number", optarg);
        status = sr_dns_set_request_id(dns, v);
        break;
    case OPT_LOCAL_HOST: status = sr_dns_set_local_host(dns, optarg); break;
    case OPT_CA_FILE: setting = "CAFile", value = optarg; break;
    case OPT_TLS_NAME: setting = "TLSName", value = optarg; break;
    case OPT_INSECURE: cli->run.insecure = true; break;
    case 'v': cli->verbose++; break;
    case OPT_JSON: cli->json = true; break;
    case 'h': usage(stdout); return EXIT_SUCCESS;
    case OPT_VERSION: return show_version(dns);
    default: usage(stderr); return EXIT_FAILURE;
    }
    if (setting != NULL)
        return set_config(dns, setting, value) == EXIT_SUCCESS ? GO_ON : EXIT_FAILURE;
    return status == SR_OK ? GO_ON : fail(dns, status);
}

/* kdig's inference: the scheme of the server names the protocol
 * (https:// is DoH, tls:// DoT); a -P that says otherwise is an error
 * naming both. GO_ON or the exit status. */
static int infer_protocol(sr_dns_t *dns, const struct cli *cli)
{
    const char *server = sr_dns_get_dns_server(dns);
    const char *sep = strstr(server, "://");
    int proto = -1;

    if (sep == NULL)
        return GO_ON;
    for (int i = 0; i < 4; i++)
        if ((size_t)(sep - server) == strlen(protocols[i]) &&
            strncasecmp(server, protocols[i], strlen(protocols[i])) == 0)
            proto = i;
    if (proto < 0)
        return fail_arg("server '%s': the scheme is not https:// (-P https), "
                        "tls:// (-P tls), tcp:// or udp://",
                        server);
    if (cli->protocol_arg != NULL && sr_dns_get_protocol(dns) != proto)
        return fail_arg("-P %s contradicts the server '%s': use -P %s or no -P",
                        cli->protocol_arg, server, protocols[proto]);
    int status = sr_dns_set_protocol(dns, proto);
    return status == SR_OK ? GO_ON : fail(dns, status);
}

/* The options' effects that depend on all of them. GO_ON or the exit
 * status. */
static int finish_options(sr_dns_t *dns, struct cli *cli, sr_dns_events_t *ev)
{
    char num[16];
    int rc = infer_protocol(dns, cli);

    if (rc != GO_ON)
        return rc;
    if (!cli->port_given) {
        int proto = sr_dns_get_protocol(dns);
        sr_dns_set_dns_port(dns, proto == SR_PROTO_TLS     ? 853
                                 : proto == SR_PROTO_HTTPS ? 443
                                                           : 53);
    }
    if (cli->verbose > 0) {
        snprintf(num, sizeof(num), "%d", cli->verbose > 3 ? 3 : cli->verbose);
        if (set_config(dns, "LogLevel", num) != EXIT_SUCCESS)
            return EXIT_FAILURE;
        ev->on_log = on_log;
    }
    if (cli->run.insecure)
        fputs(";; WARNING: --insecure: any certificate is accepted, so the server "
              "is not authenticated and anyone on the path can answer\n",
              stderr);
    return GO_ON;
}

/* Ask for name and print the answer: the exit status. */
static int query_and_print(sr_dns_t *dns, struct cli *cli, const char *name)
{
    sr_dns_events_t ev = {0};
    int status, rc;

    ev.on_response = on_response;
    ev.on_ssl_server_authentication = on_ssl_auth;
    ev.arg = &cli->run;
    if ((rc = finish_options(dns, cli, &ev)) != GO_ON)
        return rc;
    sr_dns_set_events(dns, &ev);

    status = sr_dns_query(dns, name);
    /* timeout 0: the class returns at once; run its loop until the answer */
    while (status == SR_OK && !sr_dns_get_idle(dns))
        status = sr_dns_do_events(dns);
    if (status == SR_OK && sr_dns_get_message(dns) == NULL)
        status = sr_dns_get_status_code(dns);
    if (status != SR_OK)
        return fail(dns, status);
    status = cli->json ? print_json(dns, &cli->run, name) : print_text(dns, &cli->run, name);
    rc = status == SR_OK ? EXIT_SUCCESS : fail(dns, status);
    if (fflush(stdout) != 0)
        rc = EXIT_FAILURE;
    return rc;
}

/* dig's defaults, which differ from the class's (one 60 s try, the TC
 * retry left to the caller); options given later override them. */
static int dig_defaults(sr_dns_t *dns)
{
    static const char *const settings[] = {"TimeoutMillis=5000", "Tries=3",
                                           "TCPFallback=True"};
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        int status = sr_dns_config(dns, settings[i], NULL);
        if (status != SR_OK)
            return fail(dns, status);
    }
    return GO_ON;
}

int main(int argc, char **argv)
{
    struct cli cli = {0};
    int rc, c;
    sr_dns_t *dns;

    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0)
            json_errors = true;
    dns = sr_dns_new();
    if (dns == NULL)
        return fail(NULL, SR_E_NOMEM);
    rc = dig_defaults(dns);
    while (rc == GO_ON && (c = getopt_long(argc, argv, "s:p:P:t:c:vh", long_opts, NULL)) != -1)
        rc = option(dns, &cli, c);
    if (rc == GO_ON && optind != argc - 1) {
        rc = fail_arg("exactly one NAME expected");
        usage(stderr);
    }
    if (rc == GO_ON)
        rc = query_and_print(dns, &cli, argv[optind]);
    sr_dns_free(dns);
    return rc;
}
