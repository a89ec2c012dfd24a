/* stubres-query: the DNS class on the command line (stubres-query(1)). Every flag sets a property or a config setting of one
 * sr_dns_t; the output is a dig-like text or one JSON object. Exit status
 * 0 when a response arrived (whatever its RCODE), else 1 with
 * "stubres-query: [CODE] message" on stderr. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include <stubres/dns.h>

#define PROG "stubres-query"

/* What on_response reported, and the one decision of --insecure. */
struct run {
    bool insecure;
    bool responded;
    int request_id;
};

static const char *const section_names[] = {"answer", "authority",
                                            "additional"};
static const char *const section_titles[] = {"ANSWER", "AUTHORITY",
                                             "ADDITIONAL"};

static void usage(FILE *f)
{
    fputs("usage: " PROG " [options] NAME\n"
          "  -s, --server S        address, host name, or https URL for DoH\n"
          "                        (default: first nameserver in resolv.conf)\n"
          "  -p, --port N          dns_port (default 53; 853 for tls, 443 for "
          "https)\n"
          "  -P, --protocol P      udp|tcp|tls|https or 0..3\n"
          "  -t, --type T          mnemonic or number, including REVLOOKUP / "
          "100\n"
          "      --doh-method M    post|get|json or 0..2   (config DoHMethod)\n"
          "      --norecurse       recursive = false\n"
          "      --timeout S       timeout in seconds (0: asynchronous)\n"
          "      --id N            request_id (1..32767)\n"
          "      --local-host A    local_host\n"
          "      --ca-file F       trust anchors for tls/https (config CAFile)\n"
          "      --tls-name N      name the server's certificate must match\n"
          "      --insecure        accept any certificate\n"
          "  -c, --config K=V      any config setting of the class, repeatable\n"
          "      --json            one JSON object on stdout\n"
          "      --help            this text\n"
          "      --version         version and build information\n",
          f);
}

/* "stubres-query: [CODE] message", the message without the "[CODE] " the
 * reference's texts of TCP/IP errors start with. */
static int fail(sr_dns_t *dns, int code)
{
    char prefix[24];
    const char *msg = dns != NULL ? sr_dns_last_error(dns) : "";

    if (*msg == '\0')
        msg = sr_strerror(code);
    snprintf(prefix, sizeof(prefix), "[%d] ", code);
    if (strncmp(msg, prefix, strlen(prefix)) == 0)
        msg += strlen(prefix);
    fprintf(stderr, PROG ": [%d] %s\n", code, msg);
    return EXIT_FAILURE;
}

/* A usage error that is not a value of the class: same format, 10022. */
static int fail_arg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail_arg(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, PROG ": [%d] ", SR_E_INVAL);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAILURE;
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
    if (run->insecure)
        auth->accept = true;
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

    if (root == NULL || records == NULL) {
        json_decref(records);
        status = SR_E_NOMEM;
        goto done;
    }
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
    static const struct {
        uint16_t bit;
        const char *name;
    } bits[] = {{SR_FLAG_QR, "qr"}, {SR_FLAG_AA, "aa"}, {SR_FLAG_TC, "tc"},
                {SR_FLAG_RD, "rd"}, {SR_FLAG_RA, "ra"}, {SR_FLAG_AD, "ad"},
                {SR_FLAG_CD, "cd"}};
    fputs(";; flags:", stdout);
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
        if (flags & bits[i].bit)
            printf(" %s", bits[i].name);
}

static int print_text(sr_dns_t *dns, const struct run *run, const char *name)
{
    int status = SR_OK;
    const sr_msg_t *msg = sr_dns_get_message(dns);
    int source = sr_dns_get_record_source(dns);
    char buf[16];

    printf("; <<>> " PROG " %s <<>> %s\n", PACKAGE_VERSION, name);
    printf(";; ->>HEADER<<- opcode: %s, status: %s, id: %d\n",
           opcode_name(sr_msg_opcode(msg)), sr_dns_get_status(dns),
           run->request_id);
    print_flags(sr_msg_flags(msg));
    printf("; QUERY: %zu, ANSWER: %zu, AUTHORITY: %zu, ADDITIONAL: %zu\n",
           sr_msg_qdcount(msg), sr_msg_section_count(msg, SR_SECTION_ANSWER),
           sr_msg_section_count(msg, SR_SECTION_AUTHORITY),
           sr_msg_section_count(msg, SR_SECTION_ADDITIONAL));
    const sr_edns_t *edns = sr_msg_edns(msg);
    if (edns != NULL && edns->present)
        printf("\n;; OPT PSEUDOSECTION:\n; EDNS: version: %u, flags:%s; "
               "udp: %u\n",
               edns->version, edns->do_bit ? " do" : "", edns->udp_size);
    if (sr_msg_qname(msg) != NULL)
        printf("\n;; QUESTION SECTION:\n;%s\t\t%s\t%s\n", sr_msg_qname(msg),
               sr_msg_qclass(msg) == SR_CLASS_IN ? "IN" : "CLASS",
               sr_type_name(sr_msg_qtype(msg), buf));

    for (int s = 0; s < 3 && status == SR_OK; s++) {
        sr_dns_set_record_source(dns, s);
        int n = sr_dns_get_record_count(dns);
        if (n > 0)
            printf("\n;; %s SECTION:\n", section_titles[s]);
        for (int i = 0; i < n && status == SR_OK; i++) {
            const char *domain = "", *type_name = "", *value = "";
            uint32_t ttl = 0;
            int nfields = 0;
            if ((status = sr_dns_get_record_domain(dns, i, &domain)) != SR_OK ||
                (status = sr_dns_get_record_ttl(dns, i, &ttl)) != SR_OK ||
                (status = sr_dns_get_record_type_name(dns, i, &type_name)) !=
                    SR_OK ||
                (status = sr_dns_get_record_field_count(dns, i, &nfields)) !=
                    SR_OK)
                break;
            printf("%s\t%u\tIN\t%s", domain, (unsigned)ttl, type_name);
            for (int f = 0; f < nfields; f++) {
                if ((status = sr_dns_set_record_field_index(dns, i, f)) !=
                        SR_OK ||
                    (status = sr_dns_get_record_field_value(dns, i, &value)) !=
                        SR_OK)
                    break;
                printf("%s%s", f == 0 ? "\t" : " ", value);
            }
            putchar('\n');
        }
    }
    sr_dns_set_record_source(dns, source);
    size_t len = 0;
    sr_msg_wire(msg, &len);
    static const char *const protos[] = {"UDP", "TCP", "TLS", "HTTPS"};
    const char *server = sr_dns_get_dns_server(dns);
    /* a DoH URL carries its own port; dns_port would mislead */
    if (strstr(server, "://") != NULL)
        printf("\n;; SERVER: %s (%s)\n", server, protos[sr_dns_get_protocol(dns)]);
    else
        printf("\n;; SERVER: %s#%d (%s)\n", server, sr_dns_get_dns_port(dns),
               protos[sr_dns_get_protocol(dns)]);
    printf(";; MSG SIZE  rcvd: %zu\n", len);
    return status;
}

/* ---- options ---- */

enum {
    OPT_DOH_METHOD = 256,
    OPT_NORECURSE,
    OPT_TIMEOUT,
    OPT_ID,
    OPT_LOCAL_HOST,
    OPT_CA_FILE,
    OPT_TLS_NAME,
    OPT_INSECURE,
    OPT_JSON,
    OPT_HELP,
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
    {"id", required_argument, NULL, OPT_ID},
    {"local-host", required_argument, NULL, OPT_LOCAL_HOST},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"tls-name", required_argument, NULL, OPT_TLS_NAME},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

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
};

/* Returned by option() when the next option may follow. */
#define GO_ON (-1)

/* One option c (argument optarg) into dns or cli: GO_ON, or the exit
 * status to end with (the error already printed). */
static int option(sr_dns_t *dns, struct cli *cli, int c)
{
    static const char *const protocols[] = {"udp", "tcp", "tls", "https"};
    static const char *const methods[] = {"post", "get", "json"};
    int status = SR_OK, v;
    char num[16];

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
        break;
    case 't':
        if ((v = sr_type_from_name(optarg)) < 0) {
            fprintf(stderr, PROG ": [%d] %s '%s'\n", SR_E_UNKNOWN_TYPE,
                    sr_strerror(SR_E_UNKNOWN_TYPE), optarg);
            return EXIT_FAILURE;
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
        return set_config(dns, "DoHMethod", num) == EXIT_SUCCESS ? GO_ON : EXIT_FAILURE;
    case OPT_NORECURSE: status = sr_dns_set_recursive(dns, false); break;
    case OPT_TIMEOUT:
        if (!parse_int(optarg, &v))
            return fail_arg("timeout: '%s' is not a number", optarg);
        status = sr_dns_set_timeout(dns, v);
        break;
    case OPT_ID:
        if (!parse_int(optarg, &v))
            return fail_arg("request_id: '%s' is not a number", optarg);
        status = sr_dns_set_request_id(dns, v);
        break;
    case OPT_LOCAL_HOST: status = sr_dns_set_local_host(dns, optarg); break;
    case OPT_CA_FILE:
        return set_config(dns, "CAFile", optarg) == EXIT_SUCCESS ? GO_ON : EXIT_FAILURE;
    case OPT_TLS_NAME:
        return set_config(dns, "TLSName", optarg) == EXIT_SUCCESS ? GO_ON : EXIT_FAILURE;
    case OPT_INSECURE: cli->run.insecure = true; break;
    case OPT_JSON: cli->json = true; break;
    case OPT_HELP: usage(stdout); return EXIT_SUCCESS;
    case OPT_VERSION: return show_version(dns);
    default: usage(stderr); return EXIT_FAILURE;
    }
    return status == SR_OK ? GO_ON : fail(dns, status);
}

/* Ask for name and print the answer: the exit status. */
static int query_and_print(sr_dns_t *dns, struct cli *cli, const char *name)
{
    sr_dns_events_t ev = {0};
    int status, rc;

    if (!cli->port_given) {
        int proto = sr_dns_get_protocol(dns);
        sr_dns_set_dns_port(dns, proto == SR_PROTO_TLS     ? 853
                                 : proto == SR_PROTO_HTTPS ? 443
                                                           : 53);
    }
    ev.on_response = on_response;
    ev.on_ssl_server_authentication = on_ssl_auth;
    ev.arg = &cli->run;
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

int main(int argc, char **argv)
{
    struct cli cli = {0};
    int rc = GO_ON, c;
    sr_dns_t *dns = sr_dns_new();

    if (dns == NULL)
        return fail(NULL, SR_E_NOMEM);
    while (rc == GO_ON && (c = getopt_long(argc, argv, "s:p:P:t:c:", long_opts, NULL)) != -1)
        rc = option(dns, &cli, c);
    if (rc == GO_ON && optind != argc - 1) {
        fputs(PROG ": [10022] exactly one NAME expected\n", stderr);
        usage(stderr);
        rc = EXIT_FAILURE;
    }
    if (rc == GO_ON)
        rc = query_and_print(dns, &cli, argv[optind]);
    sr_dns_free(dns);
    return rc;
}
