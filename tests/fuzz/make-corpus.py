#!/usr/bin/python3
"""Seed corpora of the fuzz targets, from the unit-test vectors and the
malformed cases of tests/unit/check_msg.c and check_name.c.

    cd tests/fuzz && /usr/bin/python3 make-corpus.py

corpus/msg/seed-*    whole messages (fuzz_msg)
corpus/name/seed-*   2-byte big-endian offset + packet (fuzz_name)
corpus/rdata/seed-*  type selector, class selector, options, RDATA
                     (fuzz_rdata; the layout is described at RDATA below)
corpus/config/seed-* 2-byte length, config file, state file (fuzz_config)
config.dict          the keys and words of the config file, for libFuzzer
corpus/control/seed-* command lines, one per line (fuzz_control)
control.dict         the commands, keys and words of the control protocol
corpus/client_query/seed-* programs of fuzz_client_query (its reader is
                     mirrored by the cq_* functions below)
Files named crash-*, regress-* are regression inputs found by fuzzing;
this script leaves them alone.
"""

import glob
import os
import re
import struct

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "unit", "data")

HDR = "1234 8180 {} {} {} {} "


def rr_root(t, l):
    return "00 {} 0001 00000e10 {} ".format(t, l)


# The malformed messages of check_msg.c test_malformed.
MALFORMED = [
    "",
    "1234 8180 0000 0000 0000 00",
    HDR.format("0001", "0000", "0000", "0000"),
    HDR.format("0000", "0001", "0000", "0000") + "00 0001 0001 00000000 00",
    HDR.format("ffff", "ffff", "ffff", "ffff") + "00 0001 0001",
    HDR.format("0000", "0002", "0000", "0000") + rr_root("0001", "0004") + "c0000201",
    HDR.format("0000", "0001", "0000", "0000") + rr_root("0001", "0004") + "c00002",
    HDR.format("0001", "0000", "0000", "0000") + "03 777777 0001 0001",
    HDR.format("0001", "0000", "0000", "0000") + "0161 00 0001 00",
    HDR.format("0001", "0000", "0000", "0000") + "c00c 0001 0001",
    HDR.format("0001", "0000", "0000", "0000") + "c00e 0001 0001 00",
    HDR.format("0001", "0000", "0000", "0000") + "c005 0001 0001",
    HDR.format("0001", "0000", "0000", "0000") + "01 61 c00c 0001 0001",
    HDR.format("0000", "0002", "0000", "0000") + rr_root("000a", "0004") +
    "c019 c017 c019 0001 0001 00000000 0000",
    HDR.format("0001", "0000", "0000", "0000") + "0161 0162 c0",
    HDR.format("0001", "0000", "0000", "0000") + "40 0001 0001",
    HDR.format("0001", "0000", "0000", "0000") + "80 0001 0001",
    HDR.format("0000", "0000", "0000", "0002") + rr_root("0029", "0000") + rr_root("0029", "0000"),
    HDR.format("0000", "0000", "0000", "0001") + "01 61 00 0029 1000 00000000 0000",
    HDR.format("0000", "0001", "0000", "0000") + rr_root("0029", "0000"),
    HDR.format("0000", "0000", "0000", "0001") + rr_root("0029", "0006") + "000a 0004 0102",
    HDR.format("0000", "0001", "0000", "0000") + rr_root("0001", "0000"),
    HDR.format("0000", "0001", "0000", "0000") + rr_root("000f", "0003") + "000a c0",
    HDR.format("0000", "0001", "0000", "0000") + rr_root("0010", "0004") + "05616263",
]


# fuzz_rdata's input: a type selector (below 200: the index in TYPES25 of
# fuzz_rdata.c; 200 and up: the next two bytes are the type), a class
# selector (0: IN, 10: CH, 12: NONE, 13: ANY), an options byte (bit 0:
# owner "www" + pointer; bit 1: an A record after the record; bit 7: what
# follows is presentation text, not RDATA), the RDATA.
TYPES25 = ["A", "NS", "MD", "MF", "CNAME", "SOA", "MB", "MG", "MR", "NULL",
           "WKS", "PTR", "HINFO", "MINFO", "MX", "TXT", "RP", "AFSDB", "X25",
           "ISDN", "RT", "AAAA", "SRV", "NAPTR", "CERT"]

# Zone-file RDATA of every type, a few of each, including the edges the
# decoders care about (empty strings, escapes, the root, long maps).
RDATA_TEXT = {
    "A": ["192.0.2.1", "0.0.0.0", "255.255.255.255"],
    "NS": ["ns1.example.test.", ".", "a\\.b\\032c.example."],
    "MD": ["md.example.test."], "MF": ["mf.example.test."],
    "CNAME": ["target.example.test.", "x.\\\"quoted.example."],
    "SOA": ["ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300",
            ". . 0 0 0 0 0", "a. b. 4294967295 4294967295 4294967295 4294967295 4294967295"],
    "MB": ["mb.example.test."], "MG": ["mg.example.test."], "MR": ["mr.example.test."],
    "NULL": ["\\# 0", "\\# 4 deadbeef"],
    "WKS": ["192.0.2.1 6 25 53 80", "10.0.0.1 17 0 65535", "10.0.0.1 6"],
    "PTR": ["host.example.test."],
    "HINFO": ['"Intel x86" "Linux"', '"" ""', '"a\\"b" "\\\\c\\255"'],
    "MINFO": ["rm.example.test. em.example.test."],
    "MX": ["10 mail.example.test.", "0 ."],
    "TXT": ['"hello world"', '""', '"a" "b" "c"', '"' + "x" * 255 + '" "' + "y" * 100 + '"',
            '"\\000\\255 ; \\"q\\""'],
    "RP": ["mbox.example.test. txt.example.test."],
    "AFSDB": ["1 afs.example.test."],
    "X25": ["311061700956"],
    "ISDN": ["150862028003217", '"150862028003217" "004"'],
    "RT": ["10 relay.example.test."],
    "AAAA": ["2001:db8::1", "::", "::ffff:192.0.2.1"],
    "SRV": ["0 5 5060 sip.example.test.", "65535 65535 65535 ."],
    "NAPTR": ['100 10 "S" "SIP+D2U" "" _sip._udp.example.test.',
              '0 0 "" "" "!^.*$!sip:info@example.test!" .'],
    "CERT": ["1 12345 8 MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", "3 0 0 AA=="],
}

# The later types (stubres-query(1) OUTPUT), reached through an explicit
# type selector (200, then the type).
RDATA_TEXT_LATER = {
    "LOC": ["52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
            "90 S 180 W 42849672.95m 90000000m 0.01m 0m"],
    "DNAME": ["target.example.net.", "."],
    "DS": ["60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"],
    "CDS": ["12345 13 2 3490A6806D47F17A34C29E2CE80E8A999FFBE4BE01F3A6D5E3C5F4E1E9C6B1E0"],
    "SSHFP": ["4 2 123456789ABCDEF67890123456789ABCDEF67890123456789ABCDEF123456789"],
    "RRSIG": ["A 15 3 300 20270101000000 20261201000000 49484 sig.test. "
              "wuTasFK4uBlgnKMpplCLRhKJfCh5mWP+G+KNztMaICRF+LfdOTI3SDKfdHDeJsMkeYj8aBu3C8ExqaabdNyfAA==",
              "TYPE65280 8 0 0 21060207062815 19700101000000 0 . AA=="],
    "NSEC": ["www.example.test. A NS SOA MX TXT AAAA RRSIG NSEC DNSKEY CAA TYPE65280 TYPE65535",
             "a.example.test. NSEC"],
    "DNSKEY": ["256 3 15 H8A/LG1oy+Za9601G75MQIdOXVUfgNnwVGhC5EKL/Ok="],
    "CDNSKEY": ["0 3 0 AA=="],
    "NSEC3": ["1 1 5 ABCD 07OSUDA6U3F9KUBKVD9NP2RLFDSF2BTO NS SOA RRSIG DNSKEY NSEC3PARAM",
              "1 0 0 - 07OSUDA6U3F9KUBKVD9NP2RLFDSF2BTO"],
    "NSEC3PARAM": ["1 0 5 ABCD", "1 0 0 -"],
    "TLSA": ["3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6"],
    "OPENPGPKEY": ["mQENBFVHm5sBCADGt4HIjl4Kd1ha0Ds2cr6a1p4M"],
    "ZONEMD": ["2018031500 1 1 FEBE3D4CE2EC2FFA4BA99D46CD69D6D29711E55217057BEE7EB1A7B6"
               "41A47BA7FED2DD5B97AE499FAFA4F22C6BD647DE"],
    "SVCB": ['1 svc.example.test. alpn="h2,h3" port=8443 ipv4hint=192.0.2.1,192.0.2.2 '
             'ech=AEn+DQBFKwAgACABWIHUGj4u+PIggYXcR5JF0gYk3dCRioBW8uJq9H4mKAAIAAEAAQABAANAEnB1YmxpYy50bHMtZWNoLmRldgAA '
             'ipv6hint=2001:db8::1,2001:db8::2',
             '2 . key65000="a b" key65001', '3 . alpn="a\\\\,b,c\\\\\\\\d"', "0 www.example.test."],
    "HTTPS": ["1 . alpn=h2 no-default-alpn mandatory=alpn,port port=443"],
    "URI": ['10 1 "ftp://ftp1.example.test/public"'],
    "CAA": ['0 issue "letsencrypt.org"', '128 tbs "say \\"hi\\" \\000x"', '0 issue ""'],
}


def rdata_wire(t, text):
    """RDATA of zone-file text; MD, MF, MB, MG, MR and MINFO (names only)
    by hand, since dnspython has no class for them."""
    if t in ("MD", "MF", "MB", "MG", "MR", "MINFO"):
        return b"".join(dns.name.from_text(n).to_wire() for n in text.split())
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(t), text).to_wire()


def rdata_seeds():
    """(name, bytes) seeds of corpus/rdata."""
    out = []
    for t, texts in RDATA_TEXT.items():
        idx = TYPES25.index(t)
        for i, text in enumerate(texts):
            rd = rdata_wire(t, text)
            out.append(("%s-%d" % (t.lower(), i), bytes([idx, 0, 0]) + rd))
            # The same with the owner as a label + pointer and a trailer.
            out.append(("%s-%d-trailer" % (t.lower(), i), bytes([idx, 0, 3]) + rd))
            if len(rd) > 0:
                out.append(("%s-%d-short" % (t.lower(), i), bytes([idx, 0, 0]) + rd[:-1]))
            # The text itself (options bit 7): the encoder's input.
            out.append(("%s-%d-text" % (t.lower(), i), bytes([idx, 0, 0x80]) + text.encode()))
    # Names compressed against the message: the question (offset 12, then
    # its labels at 17 and 25) and the owner label + pointer (offset 35).
    for t in ("NS", "CNAME", "PTR", "MB"):
        idx = TYPES25.index(t)
        out.append(("%s-ptr" % t.lower(), bytes([idx, 0, 0, 0xC0, 12])))
        out.append(("%s-ptr-suffix" % t.lower(), bytes([idx, 0, 0, 1, ord("x"), 0xC0, 17])))
        out.append(("%s-ptr-owner" % t.lower(), bytes([idx, 0, 1, 0xC0, 35])))
        out.append(("%s-ptr-forward" % t.lower(), bytes([idx, 0, 0, 0xC0, 60])))
    idx = TYPES25.index("SOA")
    out.append(("soa-ptr", bytes([idx, 0, 0, 0xC0, 12, 0xC0, 17]) + bytes(20)))
    idx = TYPES25.index("MX")
    out.append(("mx-ptr", bytes([idx, 0, 0, 0, 10, 0xC0, 25])))
    # Class-specific types in other classes, classes ANY and NONE, and
    # types without a decoder: all RFC 3597 generic RDATA.
    out.append(("a-chaos", bytes([0, 10, 0, 1, 2, 3])))
    out.append(("srv-any", bytes([TYPES25.index("SRV"), 13, 0])))
    out.append(("mx-none", bytes([TYPES25.index("MX"), 12, 0])))
    out.append(("mx-chaos", bytes([TYPES25.index("MX"), 10, 0, 0, 10, 0])))
    for t, texts in RDATA_TEXT_LATER.items():
        typ = dns.rdatatype.from_text(t)
        sel = bytes([200, typ >> 8, typ & 0xFF])
        for i, text in enumerate(texts):
            rd = rdata_wire(t, text)
            out.append(("%s-%d" % (t.lower(), i), sel + bytes([0, 0]) + rd))
            out.append(("%s-%d-trailer" % (t.lower(), i), sel + bytes([0, 3]) + rd))
            out.append(("%s-%d-short" % (t.lower(), i), sel + bytes([0, 0]) + rd[:-1]))
            out.append(("%s-%d-text" % (t.lower(), i), sel + bytes([0, 0x80]) + text.encode()))
    # Hostile forms of the later types' own rules.
    for name, typ, hexdata in (
            ("nsec-window-order", 47, "00 000140 000140"),
            ("nsec-trailing-zero", 47, "00 00024000"),
            ("nsec3-empty-hash", 50, "0100000000 00"),
            ("svcb-key-order", 64, "0001 00 00030002 01bb 00010003 026832"),
            ("svcb-bad-port", 64, "0001 00 00030003 01bb00"),
            ("caa-bad-tag", 257, "00 03 692d65 78"),
            ("loc-range", 29, "00 12 16 13 934fd901 80000000 00989680"),
            ("uri-empty", 256, "000a 0001")):
        out.append(("%s" % name, bytes([200, typ >> 8, typ & 0xFF, 0, 0]) +
                    bytes.fromhex(hexdata.replace(" ", ""))))
    for typ in (0, 41, 46, 99, 100, 250, 255, 256, 65535):
        out.append(("type%d" % typ, bytes([200, typ >> 8, typ & 0xFF, 0, 0]) + b"\x01\x02\x03"))
    return out


ETC_CONF = os.path.join(HERE, "..", "..", "etc", "stubresd.conf")

# Values for every key: some good, some refused.
CONFIG_VALUES = {
    "listen": ["127.0.0.1:5353, [::1]:5353", "0.0.0.0", "[::]:53", "127.0.0.1:0", "localhost:53"],
    "allow": ["loopback", "any", "10.0.0.0/8, 192.168.0.0/16 fd00::/8", "10.0.0.1/33", "::/0"],
    "user": ["nobody", "", "no-such-user", "x" * 70],
    "threads": ["4", "0", "65", "1x"],
    "control": ["/fuzz/control.sock", "", "relative.sock"],
    "control_group": ["nogroup", "no-such-group"],
    "metrics": ["127.0.0.1:9153", "[::1]", "not-an-address"],
    "state_file": ["/fuzz/runtime.conf", "", "/fuzz/other.conf"],
    "servers": ["udp://192.0.2.1", "tcp://192.0.2.1:5353 tls://[2001:db8::1]:853#dns.example",
                "https://dns.example/dns-query", "tls://192.0.2.1 udp://192.0.2.2",
                "udp://127.0.0.1:53", "ftp://x", "tls://a#", "udp://[::1"],
    "strategy": ["round-robin", "fastest", "1", "random"],
    "ca_file": ["/fuzz/ca.pem", "/etc/ssl/certs/ca-certificates.crt", ""],
    "bootstrap": ["192.0.2.53", "[2001:db8::53]:5353", "dns.example"],
    "doh_method": ["get", "json", "2", "3", "put"],
    "timeout": ["1.5", "500ms", "2m", "0", "3601", "1.05", "2.001", "10ms", "1250ms", "0.999",
                "1h", "3600.001"],
    "cache_size": ["0", "512K", "4G", "1T", "2T", "10Q", "1025", "1536K", "1048577", "1k",
                   "0x10", "18446744073709551616"],
    "min_ttl": ["60", "1h", "1d", "8d"],
    "max_ttl": ["30", "0", "2147483647", "2147483648"],
    "negative_ttl": ["0", "1w"],
    "servfail_ttl": ["301", "0"],
    "serve_stale": ["yes", "off", "maybe"],
    "stale_max": ["0", "7d"],
    "prefetch": ["on", "1", "2"],
    "log_level": ["debug", "0", "5", "verbose"],
    "query_log": ["stderr", "syslog", "/fuzz/query.log", "relative"],
    "resolv_conf": ["/etc/resolv.conf", "/fuzz/resolv.conf", "/nonexistent", ""],
    "forward": ["corp.example udp://192.0.2.53", "Corp.Example. 192.0.2.53, tcp://192.0.2.54:5353",
                "a\\.b.example tls://192.0.2.1#dns.example resolvconf", ". udp://192.0.2.53",
                "corp.example", "corp.example udp://192.0.2.53; lab.corp.example resolvconf",
                "x.example udp://192.0.2.1; X.EXAMPLE udp://192.0.2.2", "corp.example ftp://x",
                "corp.example tls://192.0.2.1 udp://192.0.2.2", "corp.example udp://127.0.0.1:5353",
                ""],
    "tcp_idle_timeout": ["0.1", "0.05", "0.101", "100ms", "1.01"],
    "tcp_max_clients": ["1", "100001"],
    "tcp_max_pipeline": ["1024", "1025"],
    "max_inflight": ["16", "15"],
    "max_udp_size": ["512", "511", "4097"],
    "dns_server": ["192.0.2.1", "https://dns.example/dns-query", "dns.example", "a b"],
    "dns_port": ["5353", "65536"],
    "protocol": ["tls", "3", "quic"],
    "recursive": ["false", "no"],
    "local_host": ["192.0.2.7", "::1", "192.0.2.7:53"],
    "UseIDNs": ["true"], "DelayHostResolution": ["true"], "DontFragment": ["true"],
    "LocalPort": ["5300", "70000"], "MaxPacketSize": ["4096", "511"],
    "QOSDSCPValue": ["46", "64"], "ShareLocalPort": ["true"], "UseConnection": ["true"],
    "UseIPv6": ["true"], "AbsoluteTimeout": ["true"], "FirewallData": ["anything ; at all"],
    "InBufferSize": ["1M", "2G"], "OutBufferSize": ["64K"], "BuildInfo": ["x"],
    "CodePage": ["1252", "0"], "LicenseInfo": ["x"], "MaskSensitive": ["false"],
    "ProcessIdleEvents": ["false"], "SelectWaitMillis": ["100001"],
    "UseInternalSecurityAPI": ["false"], "LogLevel": ["3", "4"],
    "UseDNSAPIDLL": ["true"], "query_type": ["1"], "idle": ["true"], "nosuchkey": ["1"],
}


# The shipped file's comments name a public resolver as an example; the
# corpus names only loopback and test names, like every test.
PUBLIC_SERVER = re.compile(rb"(udp|tcp|tls)://(?!127\.)[0-9]+(\.[0-9]+){3}(#[A-Za-z0-9.-]+)?")


def loopback_examples(text):
    return PUBLIC_SERVER.sub(lambda m: m.group(1) + b"://127.0.0.9" +
                             (b"#dns.loop.test" if m.group(3) else b""), text)


def config_seed(conf, state=b""):
    return struct.pack("!H", len(conf)) + conf + state


def config_seeds():
    """(name, bytes) seeds of corpus/config."""
    out = []
    etc = loopback_examples(open(ETC_CONF, "rb").read())
    out.append(("etc-conf", config_seed(etc)))
    # The shipped file with every key uncommented.
    active = b"\n".join(l[2:] if l.startswith(b"# ") and b" = " in l else l
                        for l in etc.split(b"\n"))
    out.append(("etc-conf-active", config_seed(active)))
    base = b"servers = udp://192.0.2.1\nstate_file = /fuzz/runtime.conf\n"
    for key, values in CONFIG_VALUES.items():
        for i, v in enumerate(values):
            line = ("%s = %s\n" % (key, v)).encode()
            out.append(("key-%s-%d" % (key, i), config_seed(base + line)))
            # The same setting as the state file would carry it.
            out.append(("state-%s-%d" % (key, i), config_seed(base, line)))
    # The file's syntax: sections, separators, comments, repeats, CRLF,
    # a BOM, continuation, an over-long line, a line without '='.
    syntax = [
        b"[stubresd]\nservers = udp://192.0.2.1\n",
        b"[other]\nservers = udp://192.0.2.1\n",
        b"servers: udp://192.0.2.1\n",
        b"servers = udp://192.0.2.1 ; comment\n; comment\n# comment\n",
        b"servers = udp://192.0.2.1\nservers = udp://192.0.2.2\nallow = any\nallow = ::1\n",
        b"listen = 127.0.0.1:5353\nlisten = [::1]:5353\nservers = udp://192.0.2.1\n",
        b"servers = udp://192.0.2.1\r\ntimeout = 3\r\n",
        b"\xef\xbb\xbfservers = udp://192.0.2.1\n",
        b"servers = udp://192.0.2.1\n  udp://192.0.2.2\n",
        b"servers = udp://192.0.2.1\nFirewallData = " + b"x" * 5000 + b"\n",
        b"servers = udp://192.0.2.1\njust some words\n",
        b"servers = udp://192.0.2.1\n=5\n",
        b"SERVERS = udp://192.0.2.1\ndohmethod = get\nDoHMethod = json\n",
        b"dns_server = 192.0.2.1\nservers = udp://192.0.2.2\n",
        b"servers = udp://192.0.2.2\ndns_server = 192.0.2.1\nprotocol = tcp\ndns_port = 53\n",
        b"servers = tls://192.0.2.1 udp://192.0.2.2\n",
        b"min_ttl = 100\nmax_ttl = 50\nservers = udp://192.0.2.1\n",
        b"",
        b"\n".join(b"k%d = v" % i for i in range(40)) + b"\n",
        b"servers = udp://192.0.2.1\nservers = " + b" ".join(
            b"udp://192.0.2.%d" % i for i in range(1, 70)) + b"\n",
        b"servers = udp://192.0.2.1\nforward = corp.example udp://192.0.2.53\n"
        b"forward = lab.corp.example resolvconf\nforward = corp.example tcp://192.0.2.54\n",
        b"servers = tls://192.0.2.1\nforward = corp.example udp://192.0.2.53\n"
        b"forward = . udp://192.0.2.53\nforward = ; x\n",
    ]
    for i, conf in enumerate(syntax):
        out.append(("syntax-%02d" % i, config_seed(conf)))
    # A state file as an older stubresd wrote it (no record of the file's
    # values: every entry is dropped).
    saved = (b"; stubresd runtime state: settings changed through the control socket\n"
             b"timeout = 5\nservers = tcp://192.0.2.9:53\ncache_size = 1M\n")
    out.append(("state-saved", config_seed(base, saved)))
    # As state_save writes it now: applied while the file's values match
    # (timeout, cache_size, servers), dropped where they do not (min_ttl).
    current = (b"; stubresd runtime state\n"
               b"config_file = /fuzz/stubresd.conf\n"
               b"timeout = 5\ntimeout.since = 1765060000\ntimeout.file = 2\n"
               b"servers = tcp://192.0.2.9:53\nservers.since = 1765060000\n"
               b"servers.file = udp://192.0.2.1\nservers.file.dns_server =\n"
               b"cache_size = 1M\ncache_size.since = 1765060000\ncache_size.file = 16M\n"
               b"min_ttl = 5\nmin_ttl.since = 1765060000\nmin_ttl.file = 9\n")
    out.append(("state-current", config_seed(base, current)))
    other = current.replace(b"/fuzz/stubresd.conf", b"/fuzz/other.conf")
    out.append(("state-other-config", config_seed(base, other)))
    return out


def write_dict(path, words):
    """A libFuzzer dictionary: one quoted word a line, \\, " and bytes
    outside printable ASCII as \\xNN."""
    with open(path, "w") as f:
        f.write("# written by make-corpus.py\n")
        for w in sorted(set(words)):
            if w == "":
                continue
            esc = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '\\"'
                          else "\\x%02x" % ord(c) for c in w)
            f.write('"%s"\n' % esc)


def config_words():
    words = list(CONFIG_VALUES) + [" = ", "\n", "[stubresd]", "udp://", "tcp://", "tls://",
                                    ".file", ".file.", ".since", "config_file",
                                    "/fuzz/stubresd.conf",
                                    "https://", "/fuzz/", "127.0.0.1", "[::1]", "/dns-query"]
    for values in CONFIG_VALUES.values():
        words += [v for v in values if len(v) < 40]
    return words


# Control command lines: every command, good and bad arguments, prefixes,
# and sequences whose order matters (change, reload, status).
CONTROL_LINES = [
    "stats", "status", "reload", "cache dump", "cache flush", "cache flush www.example.test",
    "cache flush WWW.Example.TEST.", "cache flush a..b", "cache flush .", "cache flush \\.",
    "config timeout", "config timeout=5", "config timeout = 1.5", "config timeout=0",
    "config timeout=1.05", "config timeout=2.001", "config cache_size=1025",
    "config servers=udp://192.0.2.9 tcp://192.0.2.10:5353",
    "config servers=tls://192.0.2.1 udp://192.0.2.2", "config servers=",
    "config dns_server=192.0.2.7", "config dns_server", "config protocol=tls",
    "config dns_port=853", "config ca_file=/fuzz/none.pem", "config query_log=/fuzz/q.log",
    "config query_log=syslog", "config log_level=debug", "config state_file=/fuzz/x",
    "config listen=127.0.0.1:53", "config threads=2", "config UseDNSAPIDLL",
    "config UseDNSAPIDLL=true", "config BuildInfo", "config BuildInfo=x", "config LicenseInfo",
    "config idle", "config query_type", "config nosuchkey", "config nosuchkey=1",
    "config FirewallData=a b ; c", "config min_ttl=100", "config max_ttl=50",
    "config cache_size=0", "config cache_size=64K", "config serve_stale=true",
    "config resolv_conf=/etc/resolv.conf", "config servers=udp://127.0.0.1:5353",
    "config UseIDNs=true", "config DoHMethod=2", "config strategy=fastest",
    "server udp://192.0.2.9", "server tls://192.0.2.1#dns.example tls://[2001:db8::1]",
    "server https://dns.example/dns-query", "server udp://192.0.2.1 tls://192.0.2.2",
    "server bad spec", "server", "sta", "s", "statu", "con timeout", "ca f", "ca d", "r",
    "c f", "x", "", "   ", "stats extra", "stats\r", "cache", "cache x", "config =5",
    "\tstats\t", "config reset", "config reset timeout", "config reset servers",
    "config reset nosuchkey", "config reset a b", "status",
    "forward", "forward add corp.example udp://192.0.2.53", "forward add . udp://192.0.2.53",
    "forward add corp.example resolvconf", "forward add a\\.b.example tls://192.0.2.1",
    "forward add corp.example", "forward add x ftp://y", "forward remove corp.example",
    "forward remove nosuch.example", "forward remove a..b", "forward rem x", "forward a x",
    "f", "fo", "forward x", "cache flush corp.example --subtree", "cache flush . --subtree",
    "cache flush x --deep",
]

CONTROL_SEQUENCES = [
    ["config timeout=7", "reload", "config timeout", "status"],
    ["server tcp://192.0.2.5", "reload", "stats", "config servers"],
    ["config dns_server=192.0.2.7", "config protocol=tcp", "status", "reload", "config dns_server"],
    ["cache flush www.example.test", "cache dump", "cache flush", "cache dump", "stats"],
    ["config cache_size=0", "cache dump", "config cache_size=1M", "stats"],
    ["config query_log=/fuzz/q.log", "config query_log=", "config query_log=stderr"],
    ["config timeout=7", "server tcp://192.0.2.5", "status", "config reset timeout", "reload",
     "config reset", "status"],
    ["config dns_server=192.0.2.7", "config reset servers", "config servers", "reload"],
    ["forward add corp.example udp://192.0.2.53", "forward add lab.corp.example 192.0.2.54",
     "forward", "stats", "status", "reload", "forward", "forward remove corp.example",
     "config reset forward", "forward"],
    ["forward add corp.example udp://192.0.2.53", "config forward=", "forward add Corp.Example. "
     "tcp://192.0.2.9", "cache flush corp.example --subtree", "forward remove CORP.example"],
]


def control_seeds():
    out = []
    for i, line in enumerate(CONTROL_LINES):
        out.append(("line-%02d" % i, line.encode()))
    for i, seq in enumerate(CONTROL_SEQUENCES):
        out.append(("seq-%02d" % i, "\n".join(seq).encode() + b"\n"))
    out.append(("long", b"config FirewallData=" + b"x" * 4100))
    out.append(("badchar", b"stats \xc3\xa9\nstats\x01\nstats"))
    out.append(("many-args", ("server" + "".join(" udp://192.0.2.%d" % i
                                                  for i in range(1, 70))).encode()))
    return out


def control_words():
    words = ["stats", "status", "config ", "server ", "cache flush", "cache dump", "reload",
             "forward", "forward add ", "forward remove ", " --subtree", "resolvconf",
             "=", "\n", "idle", "BuildInfo", "LicenseInfo", "UseDNSAPIDLL", "query_type"]
    return words + config_words()


# fuzz_client_query's programs. Names: 0 www.example.test, 1 a.b.example.test,
# 2 example.test, 3 odd bytes, 4 the root, 5 255 bytes. Types: 0 A, 1 AAAA,
# 2 MX, 3 TXT, 4 CNAME, 5 ANY, 6 SOA, 7 OPT, 8 IXFR, 9 AXFR. Sources: 0
# 127.0.0.1, 1 ::1, 2 10.1.2.3, 3 198.51.100.7, 4 ::ffff:127.0.0.1, 5
# 2001:db8::5. TTL choices: 0 0, 1 1, 2 5, 3 30, 4 300, 5 3600, 6 86400.
def cq_header(a=0, b=0, ups=(0, 0, 0), start_fails=0):
    n = min((a & 3) + 1, 3)
    return bytes([a, b]) + bytes(ups[:n]) + bytes([start_fails])


def cq_client(k=0, qt=0, tcp=False, src=0, fl=1, ed=0, mask=0, qid=0x1234, opcode=None,
              junk=None, extra=0, rawtype=None):
    out = bytes([0, 2 if tcp else 0, src, fl | (0x80 if rawtype is not None else 0), ed, k])
    out += struct.pack("!I", mask)
    out += struct.pack("!H", rawtype) if rawtype is not None else bytes([qt])
    if ed & 0x40:
        out += bytes([len(junk)]) + junk + bytes([extra])
    if (fl & 0x18) == 0x18:
        out += bytes([opcode or 0])
    return out + struct.pack("!H", qid)


def cq_raw(pkt, tcp=False, src=0):
    return bytes([0, 1 | (2 if tcp else 0), src]) + struct.pack("!H", len(pkt)) + pkt


def cq_answers(n, ttl=5, data=b"\xc0\x00\x02\x01"):
    """kind 0: n answers; each record an A (TTL choice, 4 bytes)."""
    return bytes([0, 0, n - 1]) + (bytes([ttl]) + data) * n


def cq_txt(n, size, ttl=5):
    return bytes([0, 0, n - 1]) + bytes([size, ttl]) * n


def cq_nxdomain(ttl=4, minimum=4):
    return bytes([4, 0, ttl, minimum])


def cq_prefill(k=0, qt=0, body=cq_answers(1), mask=0, o=0):
    return bytes([3, o, k]) + struct.pack("!I", mask) + bytes([qt]) + b"\x42\x42" + body


def cq_upstream(pick=0, what=2, body=cq_answers(1)):
    return bytes([5, pick, what]) + (body if what % 4 >= 2 else b"")


def cq_time(step):
    return bytes([7, step])


def client_query_seeds():
    h = cq_header()
    out = [
        ("hit", h + cq_prefill() + cq_client()),
        ("hit-case", h + cq_prefill(mask=0xFFFFFFFF) + cq_client(mask=0x0F0F0F0F)),
        ("miss-answer", h + cq_client() + cq_upstream() + cq_client(qid=0x4321)),
        ("coalesce-udp-tcp", h + cq_client(src=0) + cq_client(src=1, tcp=True)
         + cq_client(src=0) + cq_upstream()),
        ("all-fail", cq_header(a=1) + cq_client() + cq_client(tcp=True)
         + cq_upstream(what=0) + cq_upstream(what=1) + cq_upstream(what=0)
         + cq_upstream(what=0)),
        ("truncate", cq_header(a=0x40) + cq_prefill(qt=3, body=cq_txt(12, 250))
         + cq_client(qt=3) + cq_client(qt=3, ed=1 | (1 << 1)) + cq_client(qt=3, ed=1 | (2 << 1))
         + cq_client(qt=3, tcp=True)),
        ("truncate-late", cq_header(a=0x40) + cq_client(qt=3, ed=1 | (2 << 1))
         + cq_client(qt=3, src=1) + cq_client(qt=3, tcp=True) + cq_upstream(body=cq_txt(16, 255))),
        ("refused", cq_header(a=0) + cq_client(src=3) + cq_client(src=5, tcp=True)
         + cq_client(src=2) + cq_client(src=4)),
        ("allowed-10", cq_header(a=1 << 3) + cq_client(src=2) + cq_upstream()),
        ("verdicts", h + cq_client(fl=0x19, opcode=4) + cq_client(fl=0x30) + cq_client(qt=9)
         + cq_client(qt=8) + cq_client(qt=7) + cq_client(fl=0x20) + cq_client(fl=0x41)
         + cq_client(ed=1 | 0x10) + cq_client(ed=0x40 | 1, junk=b"\x00\x00\x29\x04\xd0"
                                              b"\x00\x00\x00\x00\x00\x00", extra=0)),
        ("nxdomain", h + cq_client(k=1) + cq_upstream(body=cq_nxdomain()) + cq_client(k=1)
         + cq_time(6) + cq_client(k=1)),
        ("stale", cq_header(b=1) + cq_prefill(body=cq_answers(1, ttl=4)) + cq_time(7)
         + cq_client() + cq_upstream(what=0) + cq_upstream(what=0) + cq_client()),
        ("prefetch", cq_header(b=2) + cq_prefill(body=cq_answers(1, ttl=4)) + cq_client()
         + cq_client() + cq_time(8) + cq_time(5) + cq_client() + cq_client() + cq_upstream()),
        ("drain", h + bytes([0xF9]) + cq_client() + cq_client(tcp=True)),
        ("settings", h + cq_client() + bytes([8, 0x62, 0x21]) + cq_upstream() + cq_client()),
        ("long-name", h + cq_client(k=5, ed=1 | (2 << 1)) + cq_upstream(body=cq_txt(4, 200))),
        ("root", h + cq_client(k=4, qt=6) + cq_upstream(body=cq_nxdomain())),
        ("raw", h + cq_raw(bytes.fromhex("abcd0100000100000000000003777777076578616d706c65"
                                         "04746573740000010001")) + cq_raw(b"\x12")
         + cq_raw(bytes.fromhex("abcd01000001000000000000c00c00010001"), tcp=True)),
        ("bad-upstream", h + cq_client() + cq_upstream(what=3, body=b"\x00\x05" + b"\x12" * 5)
         + cq_upstream(what=2, body=bytes([8, 0])) + cq_upstream(what=2, body=bytes([6, 0]))),
        ("no-upstream", cq_header(a=2, ups=(0x1F, 0x1F, 0)) + cq_client() + cq_upstream()),
    ]
    rnd = __import__("random").Random(20240102)
    for i in range(24):
        n = rnd.choice([32, 100, 300, 1000])
        out.append(("random-%02d" % i, bytes(rnd.getrandbits(8) for _ in range(n))))
    return out


def unhex(s):
    return bytes.fromhex(s.replace(" ", ""))


def write(d, name, data):
    with open(os.path.join(HERE, "corpus", d, name), "wb") as f:
        f.write(data)


def main():
    for d in ("msg", "name", "rdata", "config", "control", "client_query"):
        os.makedirs(os.path.join(HERE, "corpus", d), exist_ok=True)
        for old in glob.glob(os.path.join(HERE, "corpus", d, "seed-*")):
            os.remove(old)
    for path in sorted(glob.glob(os.path.join(DATA, "*.bin"))):
        base = os.path.basename(path)[:-4]
        wire = open(path, "rb").read()
        write("msg", "seed-" + base, wire)
        # For names: the question name and the first owner after it.
        offsets = [12]
        try:
            _, used = dns.name.from_wire(wire, 12)
            offsets.append(12 + used + 4)
        except Exception:
            pass
        for off in offsets:
            write("name", "seed-%s-%d" % (base, off), struct.pack("!H", off) + wire)
    for i, h in enumerate(MALFORMED):
        write("msg", "seed-malformed-%02d" % i, unhex(h))
        write("name", "seed-malformed-%02d" % i, struct.pack("!H", 12) + unhex(h))
    # Presentation names for the text half of fuzz_name.
    for i, t in enumerate([b"www.example.com.", b"a\\.b\\\\c\\000.", b".", b"",
                           b"a..b", b"\\256", b"x" * 64, (b"x" * 63 + b".") * 4]):
        write("name", "seed-text-%02d" % i, t)
    for name, data in rdata_seeds():
        write("rdata", "seed-" + name, data)
    for name, data in config_seeds():
        write("config", "seed-" + name, data)
    write_dict(os.path.join(HERE, "config.dict"), config_words())
    for name, data in control_seeds():
        write("control", "seed-" + name, data)
    write_dict(os.path.join(HERE, "control.dict"), control_words())
    for name, data in client_query_seeds():
        write("client_query", "seed-" + name, data)


if __name__ == "__main__":
    main()
