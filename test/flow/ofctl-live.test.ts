// Differential test against the real ovs-ofctl: random flows (fast-check) written to one file, parsed by
// `ovs-ofctl -O OpenFlow13 parse-flows FILE` in a single call, each printed line compared with nvo's
// parse → format of the same text.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatFlow } from '../../src/flow/ofctl-format.ts';
import { parseFlow } from '../../src/flow/ofctl-parse.ts';

const OFCTL = '/usr/bin/ovs-ofctl';

const hex = (n: bigint | number) => `0x${n.toString(16)}`;
const byte = fc.integer({ min: 0, max: 255 });
const mac = fc
  .array(byte, { minLength: 6, maxLength: 6 })
  .map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(':'));
const ip4 = fc.array(byte, { minLength: 4, maxLength: 4 }).map((b) => b.join('.'));
const ip6 = fc
  .array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .map((g) => g.map((x) => x.toString(16)).join(':'));
const u = (bits: number) => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
const num = (bits: number) => u(bits).chain((v) => fc.constantFrom(v.toString(), hex(v)));
const masked = (bits: number) =>
  fc.oneof(
    num(bits),
    fc.tuple(u(bits), u(bits)).map(([v, m]) => `${hex(v)}/${hex(m)}`),
  );
const ip4m = fc.oneof(
  ip4,
  fc.tuple(ip4, fc.integer({ min: 0, max: 32 })).map(([a, l]) => `${a}/${l}`),
  fc.tuple(ip4, ip4).map(([a, m]) => `${a}/${m}`),
);
const ip6m = fc.oneof(
  ip6,
  fc.tuple(ip6, fc.integer({ min: 0, max: 128 })).map(([a, l]) => `${a}/${l}`),
);
const macm = fc.oneof(
  mac,
  fc.tuple(mac, mac).map(([a, m]) => `${a}/${m}`),
);

// Match fragments that need no protocol.
const l2 = fc.oneof(
  num(16).map((v) => `in_port=${Number(v) % 60000}`),
  macm.map((m) => `dl_src=${m}`),
  macm.map((m) => `dl_dst=${m}`),
  masked(64).map((v) => `tun_id=${v}`),
  ip4m.map((v) => `tun_src=${v}`),
  ip4m.map((v) => `tun_dst=${v}`),
  ip6m.map((v) => `tun_ipv6_dst=${v}`),
  masked(64).map((v) => `metadata=${v}`),
  fc.tuple(fc.integer({ min: 0, max: 15 }), masked(32)).map(([r, v]) => `reg${r}=${v}`),
  masked(32).map((v) => `pkt_mark=${v}`),
  fc.integer({ min: 0, max: 4095 }).map((v) => `dl_vlan=${v}`),
  fc.integer({ min: 0, max: 7 }).map((v) => `dl_vlan_pcp=${v}`),
  masked(16).map((v) => `vlan_tci=${v}`),
  fc.constantFrom('tun_flags=+oam', 'tun_flags=-oam'),
);
const ipCommon = fc.oneof(
  fc.integer({ min: 0, max: 63 }).map((v) => `nw_tos=${v * 4}`),
  fc.integer({ min: 0, max: 3 }).map((v) => `nw_ecn=${v}`),
  byte.map((v) => `nw_ttl=${v}`),
  fc.constantFrom('no', 'yes', 'first', 'later', 'not_later').map((v) => `nw_frag=${v}`),
);
const v4 = fc.oneof(
  ip4m.map((v) => `nw_src=${v}`),
  ip4m.map((v) => `nw_dst=${v}`),
  ipCommon,
);
const v6 = fc.oneof(
  ip6m.map((v) => `ipv6_src=${v}`),
  ip6m.map((v) => `ipv6_dst=${v}`),
  masked(20).map((v) => `ipv6_label=${v}`),
  ipCommon,
);
const tp = fc.oneof(
  masked(16).map((v) => `tp_src=${v}`),
  masked(16).map((v) => `tp_dst=${v}`),
);
const tcpFlags = fc
  .uniqueArray(fc.constantFrom('fin', 'syn', 'rst', 'psh', 'ack', 'urg', 'ece', 'cwr'), {
    minLength: 1,
    maxLength: 4,
  })
  .chain((fl) =>
    fc
      .array(fc.boolean(), { minLength: fl.length, maxLength: fl.length })
      .map((s) => fl.map((f, i) => (s[i] ? '+' : '-') + f).join('')),
  )
  .map((s) => `tcp_flags=${s}`);
const icmp = fc.oneof(
  byte.map((v) => `icmp_type=${v}`),
  byte.map((v) => `icmp_code=${v}`),
);
const arp = fc.oneof(
  ip4m.map((v) => `arp_spa=${v}`),
  ip4m.map((v) => `arp_tpa=${v}`),
  macm.map((v) => `arp_sha=${v}`),
  macm.map((v) => `arp_tha=${v}`),
  byte.map((v) => `arp_op=${v}`),
);

const many = <T>(a: fc.Arbitrary<T>) => fc.array(a, { maxLength: 3 });
const matchArb = fc.oneof(
  many(l2),
  fc.tuple(fc.constantFrom('ip', 'ipv4'), many(l2), many(v4)).map(([p, a, b]) => [p, ...a, ...b]),
  fc.tuple(fc.constantFrom('tcp', 'udp', 'sctp'), many(v4), many(tp)).map(([p, a, b]) => [p, ...a, ...b]),
  fc.tuple(fc.constantFrom('tcp', 'tcp6'), many(tp), tcpFlags).map(([p, a, b]) => [p, ...a, b]),
  fc
    .tuple(fc.constantFrom('ipv6', 'udp6', 'sctp6'), many(v6), many(tp))
    .map(([p, a, b]) => (p === 'ipv6' ? [p, ...a] : [p, ...a, ...b])),
  fc.tuple(many(v4), many(icmp)).map(([a, b]) => ['icmp', ...a, ...b]),
  fc
    .tuple(many(v6), many(icmp), fc.option(ip6m))
    .map(([a, b, t]) => (t ? ['icmp6', 'icmp_type=135', ...a, `nd_target=${t}`] : ['icmp6', ...a, ...b])),
  fc.tuple(fc.constantFrom('arp', 'rarp'), many(arp)).map(([p, a]) => [p, ...a]),
);

const port = fc.oneof(
  fc.integer({ min: 1, max: 60000 }).map((p) => `output:${p}`),
  fc.constantFrom('IN_PORT', 'NORMAL', 'FLOOD', 'ALL', 'LOCAL', 'controller', 'drop_placeholder'),
  fc.integer({ min: 0, max: 65535 }).map((n) => `controller:${n}`),
  fc.integer({ min: 1, max: 60000 }).map((p) => String(p)),
);
const genericAction = fc.oneof(
  port,
  masked(64).map((v) => `set_field:${v.split('/')[0]}->tun_id`),
  ip4.map((v) => `set_field:${v}->tun_dst`),
  ip4.map((v) => `set_field:${v}->tun_src`),
  mac.map((v) => `mod_dl_src:${v}`),
  mac.map((v) => `set_field:${v}->eth_dst`),
  fc.tuple(num(32), fc.integer({ min: 0, max: 15 })).map(([v, r]) => `load:${v}->NXM_NX_REG${r}[]`),
  fc
    .tuple(
      fc.integer({ min: 0, max: 15 }),
      fc.integer({ min: 0, max: 15 }),
      fc.integer({ min: 0, max: 15 }),
      fc.integer({ min: 1, max: 16 }),
    )
    .map(([a, b, o, n]) => `move:reg${a}[${o}..${o + n - 1}]->reg${b}[0..${n - 1}]`),
  fc.tuple(u(32), u(32)).map(([v, m]) => `set_field:${hex(v & m)}/${hex(m)}->reg3`),
  fc.integer({ min: 0, max: 4095 }).map((v) => `mod_vlan_vid:${v}`),
  fc.integer({ min: 0, max: 7 }).map((v) => `mod_vlan_pcp:${v}`),
  fc.constantFrom(
    'strip_vlan',
    'push_vlan:0x8100,strip_vlan',
    'push_vlan:0x8100',
    'push_vlan:0x88a8',
    'exit',
    'pop_queue',
  ),
  fc.integer({ min: 0, max: 1000 }).map((q) => `set_queue:${q}`),
  fc
    .tuple(fc.integer({ min: 1, max: 60000 }), fc.integer({ min: 0, max: 254 }))
    .chain(([p, t]) => fc.constantFrom(`resubmit:${p}`, `resubmit(,${t})`, `resubmit(${p},${t})`)),
  fc
    .array(byte, { maxLength: 12 })
    .map((b) => `note:${b.map((x) => x.toString(16).padStart(2, '0')).join('.')}`),
  fc
    .tuple(fc.integer({ min: 1, max: 60000 }), fc.integer({ min: 0, max: 65535 }))
    .map(([p, l]) => `output(port=${p},max_len=${l})`),
);
const ipAction = fc.oneof(
  ip4.map((v) => `mod_nw_src:${v}`),
  ip4.map((v) => `set_field:${v}->ip_dst`),
  fc.integer({ min: 0, max: 63 }).map((v) => `mod_nw_tos:${v * 4}`),
  fc.integer({ min: 0, max: 3 }).map((v) => `mod_nw_ecn:${v}`),
  byte.map((v) => `mod_nw_ttl:${v}`),
  fc.constant('dec_ttl'),
  fc.integer({ min: 0, max: 65535 }).map((v) => `mod_tp_dst:${v}`),
);

const flowArb = fc
  .tuple(
    matchArb,
    fc.array(genericAction, { maxLength: 4 }),
    fc.array(ipAction, { maxLength: 2 }),
    fc.record({
      priority: fc.option(fc.integer({ min: 0, max: 65535 })),
      table: fc.option(fc.integer({ min: 0, max: 200 })),
      cookie: fc.option(u(64)),
      idle: fc.option(fc.integer({ min: 0, max: 65535 })),
      hard: fc.option(fc.integer({ min: 0, max: 65535 })),
      goto: fc.boolean(),
      meta: fc.option(fc.tuple(u(64), u(64))),
      flags: fc.subarray(['send_flow_rem', 'check_overlap', 'reset_counts']),
    }),
  )
  .map(([m, acts, ipActs, o]) => {
    const parts: string[] = [];
    if (o.table !== null) parts.push(`table=${o.table}`);
    if (o.priority !== null) parts.push(`priority=${o.priority}`);
    if (o.cookie !== null) parts.push(`cookie=${hex(o.cookie)}`);
    if (o.idle !== null) parts.push(`idle_timeout=${o.idle}`);
    if (o.hard !== null) parts.push(`hard_timeout=${o.hard}`);
    parts.push(...o.flags, ...m);
    const isIp = m.length > 0 && /^(ip|ipv4|tcp|udp|sctp|icmp)$/.test(m[0]!);
    let a = acts.filter((x) => x !== 'drop_placeholder');
    // mod_tp_dst needs tcp/udp/sctp in the match.
    if (isIp) a = a.concat(ipActs.filter((x) => !x.startsWith('mod_tp_') || /^(tcp|udp|sctp)$/.test(m[0]!)));
    if (o.meta) a.push(`write_metadata:${hex(o.meta[0] & o.meta[1])}/${hex(o.meta[1])}`);
    const table = o.table ?? 0;
    if (o.goto && table < 200) a.push(`goto_table:${table + 1 + (Number(o.cookie ?? 0n) % 50)}`);
    return `${parts.join(',')}${parts.length ? ',' : ''}actions=${a.length ? a.join(',') : 'drop'}`;
  });

test('random flows: nvo prints exactly what ovs-ofctl -O OpenFlow13 parse-flows prints', {
  skip: existsSync(OFCTL) ? false : 'ovs-ofctl (openvswitch-common) is not installed',
}, () => {
  const seed = Number(process.env.NVO_SEED ?? Date.now() % 1_000_000);
  const flows = fc.sample(flowArb, { seed, numRuns: 400 });
  const dir = mkdtempSync(join(tmpdir(), 'nvo-ofctl-'));
  const diffs: string[] = [];
  const nvoText = (f: string): string | Error => {
    try {
      return formatFlow(parseFlow(f, { normalize: true }));
    } catch (e) {
      return e as Error;
    }
  };
  const ofctl = (args: string[]): { out: string; err: string } => {
    try {
      const out = execFileSync(OFCTL, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      // ovs-ofctl can encode a match it cannot decode back (it then prints a decode error, exit 0).
      const bad = /^OFPT_FLOW_MOD.*decode error: (\w+)/m.exec(out);
      if (bad && args[2] === 'parse-flow') return { out: '', err: bad[0] };
      return { out, err: '' };
    } catch (e) {
      return { out: '', err: String((e as { stderr?: string }).stderr ?? e) };
    }
  };
  try {
    // Flows nvo refuses: ovs-ofctl must refuse them too (checked one by one, a bounded number).
    const refused = flows.filter((f) => nvoText(f) instanceof Error);
    for (const f of refused.slice(0, 40)) {
      const r = ofctl(['-O', 'OpenFlow13', 'parse-flow', f]);
      if (!r.err)
        diffs.push(`${f}\n   nvo refused: ${(nvoText(f) as Error).message}\n   ovs-ofctl:   ${r.out.trim()}`);
    }
    // Flows nvo accepts: one parse-flows call; ovs-ofctl stops at the first flow it rejects (that is a
    // difference: record it, drop it, go again).
    const accepted = flows.filter((f) => !(nvoText(f) instanceof Error));
    const file = join(dir, 'flows.txt');
    let out = '';
    for (let attempt = 0; attempt < 20; attempt++) {
      writeFileSync(file, `${accepted.join('\n')}\n`);
      const r = ofctl(['-O', 'OpenFlow13', 'parse-flows', file]);
      if (!r.err) {
        out = r.out;
        break;
      }
      const m = /flows\.txt:(\d+): (.*)/.exec(r.err);
      let at = m ? Number(m[1]) - 1 : -1;
      // "no usable protocol" names no line: find the flow alone.
      if (at < 0) at = accepted.findIndex((f) => ofctl(['-O', 'OpenFlow13', 'parse-flow', f]).err !== '');
      assert.ok(at >= 0, `seed ${seed}: ovs-ofctl failed: ${r.err}`);
      const bad = accepted.splice(at, 1)[0]!;
      diffs.push(
        `${bad}\n   nvo accepted: ${nvoText(bad) as string}\n   ovs-ofctl:    ${m ? m[2] : r.err.trim()}`,
      );
    }
    const lines = out.split('\n').filter((l) => l.startsWith('OFPT_FLOW_MOD'));
    assert.equal(
      lines.length,
      accepted.length,
      `seed ${seed}: ovs-ofctl printed ${lines.length} of ${accepted.length}`,
    );
    for (let i = 0; i < accepted.length; i++) {
      const want = lines[i]!.replace(/^OFPT_FLOW_MOD \(OF1\.3\) \(xid=0x[0-9a-f]+\): ADD /, '');
      const got = nvoText(accepted[i]!) as string;
      if (/decode error/.test(want))
        diffs.push(`${accepted[i]}\n   nvo accepted: ${got}\n   ovs-ofctl: ${want}`);
      else if (got !== want) diffs.push(`${accepted[i]}\n   nvo:       ${got}\n   ovs-ofctl: ${want}`);
    }
    assert.deepEqual(diffs.slice(0, 10), [], `seed ${seed} (rerun with NVO_SEED=${seed})`);
    // The generator makes mostly valid flows: most of them must have been compared.
    assert.ok(accepted.length > 300, `seed ${seed}: only ${accepted.length} flows compared`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
