#!/usr/bin/python3
"""Make the upstream responses the cache tests store (tests/unit/check_cache.c).

Run from anywhere: /usr/bin/python3 tests/unit/data/cache/gen.py
Needs python3-dnspython. Every file is one DNS response in wire form; the
names say what each one is for. The output is deterministic (fixed IDs,
no randomness), so re-running it leaves git clean.
"""
import os

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rrset

HERE = os.path.dirname(os.path.abspath(__file__))


def response(qname, qtype, rcode=dns.rcode.NOERROR, edns=True, flags=(),
             qid=0x1234, do=False):
    q = dns.message.make_query(qname, qtype, use_edns=0 if edns else None,
                               want_dnssec=do, payload=1232)
    q.id = qid
    r = dns.message.make_response(q, our_payload=1232)
    r.flags |= dns.flags.RA
    for f in flags:
        r.flags |= f
    r.set_rcode(rcode)
    return r


def add(section, name, ttl, rtype, *rdatas):
    section.append(dns.rrset.from_text(name, ttl, 'IN', rtype, *rdatas))


SOA = 'ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 {}'


def write(name, msg, mangle=None):
    wire = msg.to_wire()
    if mangle is not None:
        wire = mangle(wire)
    with open(os.path.join(HERE, name + '.bin'), 'wb') as f:
        f.write(wire)


def main():
    # Positive: two A records, TTL 300; AA and AD set upstream; EDNS.
    r = response('www.example.test.', 'A', flags=(dns.flags.AA, dns.flags.AD))
    add(r.answer, 'www.example.test.', 300, 'A', '192.0.2.1', '192.0.2.2')
    write('a_www', r)

    # The same question asked in mixed case (0x20): the upstream echoes it.
    r = response('WwW.ExAmPlE.tEsT.', 'A')
    add(r.answer, 'WwW.ExAmPlE.tEsT.', 300, 'A', '192.0.2.1', '192.0.2.2')
    write('a_www_mixed', r)

    # No EDNS at all.
    r = response('noedns.example.test.', 'A', edns=False)
    add(r.answer, 'noedns.example.test.', 120, 'A', '192.0.2.9')
    write('a_noedns', r)

    # One RRset whose TTLs differ (RFC 2181 5.2: use the least) and a
    # second RRset with a longer TTL.
    # dnspython keeps one TTL per RRset, so the first record's TTL is
    # raised to 100 in the wire afterwards (the second stays 50).
    r = response('ttls.example.test.', 'A')
    add(r.answer, 'ttls.example.test.', 50, 'A', '192.0.2.1', '192.0.2.2')

    def first_ttl_100(wire):
        ttl_at = 12 + len(dns.name.from_text('ttls.example.test.').to_wire()) + 4 + 6
        assert wire[ttl_at:ttl_at + 4] == (50).to_bytes(4, 'big')
        return wire[:ttl_at] + (100).to_bytes(4, 'big') + wire[ttl_at + 4:]
    write('a_ttls_unequal', r, first_ttl_100)

    # TTLs for the min_ttl / max_ttl clamp.
    r = response('short.example.test.', 'A')
    add(r.answer, 'short.example.test.', 5, 'A', '192.0.2.5')
    write('a_short', r)
    r = response('long.example.test.', 'A')
    add(r.answer, 'long.example.test.', 1000000, 'A', '192.0.2.6')
    write('a_long', r)

    # CNAME chain stored as it came.
    r = response('alias.example.test.', 'A')
    add(r.answer, 'alias.example.test.', 600, 'CNAME', 'cdn.example.net.')
    add(r.answer, 'cdn.example.net.', 60, 'A', '198.51.100.7')
    write('cname_chain', r)

    # MX with glue in the additional section.
    r = response('example.test.', 'MX')
    add(r.answer, 'example.test.', 3600, 'MX', '10 mail.example.test.')
    add(r.authority, 'example.test.', 3600, 'NS', 'ns1.example.test.')
    add(r.additional, 'mail.example.test.', 3600, 'A', '192.0.2.25')
    add(r.additional, 'mail.example.test.', 3600, 'AAAA', '2001:db8::25')
    write('mx_glue', r)

    # AAAA, DO set: stands for a DNSSEC-aware answer (AD from upstream).
    r = response('www.example.test.', 'AAAA', flags=(dns.flags.AD,), do=True)
    add(r.answer, 'www.example.test.', 300, 'AAAA', '2001:db8::1')
    write('aaaa_www_do', r)

    # NXDOMAIN: SOA TTL 900, MINIMUM 300 -> 300 (RFC 2308 5).
    r = response('nx.example.test.', 'A', rcode=dns.rcode.NXDOMAIN)
    add(r.authority, 'example.test.', 900, 'SOA', SOA.format(300))
    write('nxdomain', r)

    # NODATA: SOA TTL 60, MINIMUM 3600 -> 60.
    r = response('www.example.test.', 'TXT')
    add(r.authority, 'example.test.', 60, 'SOA', SOA.format(3600))
    write('nodata', r)

    # NODATA through a CNAME: the chain, then the SOA of the target's zone.
    r = response('alias.example.test.', 'AAAA')
    add(r.answer, 'alias.example.test.', 600, 'CNAME', 'cdn.example.net.')
    add(r.authority, 'example.net.', 120, 'SOA', SOA.format(240))
    write('nodata_cname', r)

    # NXDOMAIN and NODATA without an SOA: not cached (RFC 2308 5).
    r = response('nosoa.example.test.', 'A', rcode=dns.rcode.NXDOMAIN)
    write('nxdomain_nosoa', r)
    r = response('nosoa.example.test.', 'AAAA')
    add(r.authority, 'example.test.', 3600, 'NS', 'ns1.example.test.')
    write('nodata_nosoa', r)

    # SERVFAIL, REFUSED, and a truncated answer.
    write('servfail', response('fail.example.test.', 'A', rcode=dns.rcode.SERVFAIL))
    write('refused', response('www.example.test.', 'A', rcode=dns.rcode.REFUSED))
    r = response('tc.example.test.', 'A', flags=(dns.flags.TC,))
    write('truncated', r)

    # Large: 40 A records, ~700 bytes, over 512 for the TC tests.
    r = response('big.example.test.', 'A')
    add(r.answer, 'big.example.test.', 300, 'A',
        *['192.0.2.{}'.format(i) for i in range(1, 41)])
    write('a_big', r)

    # OPT not last: a record after it in the additional section. Made by
    # moving the OPT (the last 11 bytes dnspython writes) before the glue.
    r = response('optmid.example.test.', 'MX')
    add(r.answer, 'optmid.example.test.', 3600, 'MX', '10 optmid.example.test.')
    add(r.additional, 'optmid.example.test.', 3600, 'A', '192.0.2.26')

    def opt_first(wire):
        opt = wire[-11:]
        assert opt[1:3] == b'\x00\x29'
        body = wire[:-11]
        glue_len = 16  # c0 0c 00 01 00 01 ttl(4) 00 04 addr(4)
        return body[:-glue_len] + opt + body[-glue_len:]
    write('opt_middle', r, opt_first)


if __name__ == '__main__':
    main()
