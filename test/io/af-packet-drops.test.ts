// AF_PACKET receive-queue overflow is counted: the kernel drops frames when a packet socket's queue
// (rcvbuf) is full and keeps the count in PACKET_STATISTICS; the port reports it as
// rx-drop-socket-full, so every frame sent is either read or counted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AfPacketPort } from '../../src/io/af-packet.ts';
import { Pool, SUPER_SLOT } from '../../src/packet/pool.ts';
import { ip, netnsPath } from '../../testbed/netns.ts';
import { py, receive, skipReason, useVethBed } from './helpers.ts';

const skip = skipReason() || false;

describe('AF_PACKET receive-queue drops', { skip }, () => {
  const { H, P } = useVethBed(() => {
    ip(H, 'link', 'set', 'ul0', 'address', '02:00:00:99:00:01');
    ip(H, 'link', 'set', 'ul0', 'up');
    ip(P, 'addr', 'add', '10.99.0.2/24', 'dev', 'ul0');
    ip(P, 'link', 'set', 'ul0', 'up');
    ip(P, 'neigh', 'add', '10.99.0.1', 'lladdr', '02:00:00:99:00:01', 'dev', 'ul0');
  });

  it('frames read + rx-drop-socket-full = frames sent, with a tiny receive queue left unread', async () => {
    // rcvbuf 1 is raised to the kernel's minimum (2 × SOCK_MIN_RCVBUF, a few KB): a handful of frames.
    const port = new AfPacketPort({
      ifname: 'ul0',
      pool: new Pool(256, SUPER_SLOT),
      netns: netnsPath(H),
      rcvbuf: 1,
    });
    try {
      const sent = 500;
      py(
        P,
        `import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(${sent}): s.sendto(b'x'*18, ('10.99.0.1', 6000))`,
      );
      const got = await receive(port, () => false, 500);
      port.refreshCounters();
      const drops = port.counters.get('rx-drop-socket-full');
      assert.ok(drops > 0, 'the queue overflowed');
      assert.ok(got.length > 0);
      assert.equal(got.length + drops, sent);
      // Reading clears the kernel's count: a second look adds nothing.
      port.refreshCounters();
      assert.equal(port.counters.get('rx-drop-socket-full'), drops);
    } finally {
      port.close();
    }
    // After close the fd is gone: refreshing is a no-op, not an error.
    port.refreshCounters();
  });
});
