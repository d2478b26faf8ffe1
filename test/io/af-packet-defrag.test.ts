// An AF_PACKET port with `defrag` reads IPv4 datagrams whole: the peer's kernel fragments a 5000-byte
// UDP datagram for a 1500-byte veth (4 fragments), and the port must read it as ONE frame whose bytes
// are the datagram (IPv4 total length 5028, no fragment bits, the payload intact), while a port
// without defrag on the same wire reads the 4 fragments. The fanout group that does it hooks the
// interface in the socket's place, so the test also checks that frames H's own kernel sends out
// (PACKET_IGNORE_OUTGOING) are still not read back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AfPacketPort } from '../../src/io/af-packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { ip, netnsPath } from '../../testbed/netns.ts';
import { py, receive, skipReason, useVethBed } from './helpers.ts';

const skip = skipReason() || false;
const H_MAC = '02:00:00:99:00:01';

describe('AF_PACKET port with kernel IPv4 defragmentation', { skip }, () => {
  const { H, P } = useVethBed(() => {
    ip(H, 'link', 'set', 'ul0', 'address', H_MAC);
    ip(H, 'addr', 'add', '10.99.0.1/24', 'dev', 'ul0');
    ip(H, 'link', 'set', 'ul0', 'up');
    ip(P, 'addr', 'add', '10.99.0.2/24', 'dev', 'ul0');
    ip(P, 'link', 'set', 'ul0', 'up');
    ip(P, 'neigh', 'add', '10.99.0.1', 'lladdr', H_MAC, 'dev', 'ul0');
    ip(H, 'neigh', 'add', '10.99.0.2', 'lladdr', '02:00:00:99:00:02', 'dev', 'ul0');
  });

  it('one 5028-byte datagram for the defrag port, 4 fragments for the plain one; nothing outgoing', async () => {
    const whole = new AfPacketPort({
      ifname: 'ul0',
      pool: new Pool(128, SUPER_SLOT),
      netns: netnsPath(H),
      defrag: true,
    });
    const plain = new AfPacketPort({ ifname: 'ul0', pool: new Pool(128, SUPER_SLOT), netns: netnsPath(H) });
    try {
      // H's own kernel sends one datagram out (must not be read), P's sends the 5000-byte one in.
      py(
        H,
        "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'out'*10, ('10.99.0.2', 7000))",
      );
      py(
        P,
        "import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(bytes(i % 251 for i in range(5000)), ('10.99.0.1', 6000))",
      );
      const udp = (g: { bytes: Uint8Array }) =>
        g.bytes[12] === 0x08 && g.bytes[13] === 0 && g.bytes[23] === 17;
      const a = (await receive(whole, (g) => g.filter(udp).length >= 1, 1500)).filter(udp);
      const b = (await receive(plain, (g) => g.filter(udp).length >= 4, 1500)).filter(udp);
      assert.equal(a.length, 1, 'the defrag port read one datagram and no fragment, nothing of H’s own');
      const f = a[0]!.bytes;
      assert.equal(f.length, 14 + 20 + 8 + 5000);
      assert.equal((f[16]! << 8) | f[17]!, 5028, 'IPv4 total length of the whole datagram');
      assert.equal(((f[20]! << 8) | f[21]!) & 0x3fff, 0, 'no MF, offset 0');
      assert.ok(
        f.subarray(42).every((x, i) => x === i % 251),
        'the payload, in order',
      );
      assert.equal(b.length, 4, 'without defrag: the 4 fragments (1480 + 1480 + 1480 + 568 bytes)');
      assert.ok(
        b.every((g) => g.bytes[26] === 10 && g.bytes[29] === 2),
        'all from P: H’s own frame was not read',
      );
    } finally {
      whole.close();
      plain.close();
    }
  });
});
