import { describe, expect, it } from '@jest/globals';
import { MeridianError } from '../errors/meridian-error.js';
import {
  allowListOpensAddress,
  allowListOpensHost,
  checkOutboundAddress,
  checkOutboundTarget,
  classifyAddress,
  findOutboundRefusal,
  NO_ALLOWED_DESTINATIONS,
  OutboundRefusedError,
  parseIpAddress,
  parseOutboundAllowList,
} from './address-policy.js';

const classOf = (address: string) => classifyAddress(address)?.class;

describe('classifyAddress', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.254', 'shared'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.10', 'documentation'],
    ['192.88.99.1', 'reserved'],
    ['192.168.1.1', 'private'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.7', 'documentation'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
  ])('refuses the IPv4 address %s as %s', (address, cls) => {
    expect(classOf(address)).toBe(cls);
  });

  it.each([
    '1.1.1.1',
    '8.8.8.8',
    '100.63.255.255',
    '100.128.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '192.167.255.255',
    '198.20.0.0',
    '223.255.255.255',
  ])('takes the IPv4 address %s as public', (address) => {
    expect(classOf(address)).toBe('public');
  });

  it.each([
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456:789a::1', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'site-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['2001::1', 'reserved'],
    ['100::1', 'reserved'],
    ['64:ff9b:1::a00:1', 'translated'],
    ['4000::1', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['::ffff:10.1.2.3', 'private'],
    ['::127.0.0.1', 'loopback'],
    ['::7f00:1', 'loopback'],
    ['::ffff:0:7f00:1', 'loopback'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['64:ff9b::c0a8:101', 'private'],
    ['2002:7f00:1::1', 'loopback'],
    ['2002:a00:1::', 'private'],
  ])('refuses the IPv6 address %s as %s', (address, cls) => {
    expect(classOf(address)).toBe(cls);
  });

  it('names the IPv4 address an IPv6 form carries', () => {
    expect(classifyAddress('::ffff:127.0.0.1')).toEqual({
      address: '::ffff:7f00:1',
      version: 6,
      class: 'loopback',
      range: '::ffff:0:0/96 (127.0.0.0/8)',
      embedded: '127.0.0.1',
    });
    expect(classifyAddress('64:ff9b::808:808')).toMatchObject({ class: 'public', embedded: '8.8.8.8' });
    expect(classifyAddress('2002:808:808::1')).toMatchObject({ class: 'public', embedded: '8.8.8.8' });
  });

  it.each(['2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '2001:4860:4860::8888'])(
    'takes the IPv6 address %s as public',
    (address) => {
      expect(classOf(address)).toBe('public');
    },
  );

  it('answers undefined for what is not an IP address', () => {
    for (const text of [
      'localhost',
      '127.1',
      '0x7f.0.0.1',
      '0177.0.0.1',
      '2130706433',
      '1.2.3.256',
      '01.2.3.4',
      '::1::',
      ':::',
      '1:2:3:4:5:6:7:8:9',
      'fe80::1%eth0',
      '',
    ]) {
      expect(classifyAddress(text)).toBeUndefined();
    }
  });

  it('parses IPv6 with an IPv4 tail and formats it canonically', () => {
    expect(parseIpAddress('1:2:3:4:5:6:1.2.3.4')?.bytes).toEqual([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 1, 2, 3, 4]);
    expect(classifyAddress('2001:0DB8:0000:0000:0000:0000:0000:0001')?.address).toBe('2001:db8::1');
    expect(classifyAddress('1:0:0:1:0:0:0:1')?.address).toBe('1:0:0:1::1');
  });
});

describe('parseOutboundAllowList', () => {
  it('reads host names, *.suffix names, IPs and CIDR ranges of both families', () => {
    const list = parseOutboundAllowList(' 127.0.0.1, 10.0.0.0/8 ,::1, fd00::/8, [fe80::1], scim.internal., *.corp.example,, ');
    expect(list.entries).toEqual([
      { type: 'range', network: { version: 4, bytes: [127, 0, 0, 1] }, prefix: 32, text: '127.0.0.1' },
      { type: 'range', network: { version: 4, bytes: [10, 0, 0, 0] }, prefix: 8, text: '10.0.0.0/8' },
      { type: 'range', network: { version: 6, bytes: [...Array(15).fill(0), 1] }, prefix: 128, text: '::1' },
      { type: 'range', network: { version: 6, bytes: [0xfd, ...Array(15).fill(0)] }, prefix: 8, text: 'fd00::/8' },
      { type: 'range', network: { version: 6, bytes: [0xfe, 0x80, ...Array(13).fill(0), 1] }, prefix: 128, text: 'fe80::1' },
      { type: 'host', host: 'scim.internal' },
      { type: 'suffix', suffix: 'corp.example' },
    ]);
    expect(parseOutboundAllowList(undefined).entries).toEqual([]);
  });

  it.each(['http://scim.internal', 'scim.internal:8443', '10.0.0.0/33', '::/129', '10.0.0.0/x', 'a b', '127.0.0.1/8/2', 'host/path'])(
    'refuses %s with INVALID_CONFIG naming the variable',
    (entry) => {
      let thrown: unknown;
      try {
        parseOutboundAllowList(`127.0.0.1,${entry}`);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(MeridianError);
      expect(thrown).toMatchObject({ code: 'INVALID_CONFIG', field: 'MERIDIAN_OUTBOUND_ALLOW' });
      expect((thrown as Error).message).toContain(`'${entry}'`);
    },
  );

  it('opens exact names, names below a suffix, addresses and ranges, and the IPv4-mapped form of an opened IPv4', () => {
    const list = parseOutboundAllowList('scim.internal,*.corp.example,127.0.0.1,10.1.0.0/16,fd00::/8');
    expect(allowListOpensHost(list, 'SCIM.internal.')).toBe(true);
    expect(allowListOpensHost(list, 'other.internal')).toBe(false);
    expect(allowListOpensHost(list, 'a.b.corp.example')).toBe(true);
    expect(allowListOpensHost(list, 'corp.example')).toBe(false);
    expect(allowListOpensHost(list, 'evilcorp.example')).toBe(false);
    expect(allowListOpensHost(list, '[fd00::5]')).toBe(true);
    expect(allowListOpensAddress(list, '127.0.0.1')).toBe(true);
    expect(allowListOpensAddress(list, '127.0.0.2')).toBe(false);
    expect(allowListOpensAddress(list, '::ffff:127.0.0.1')).toBe(true);
    expect(allowListOpensAddress(list, '10.1.255.255')).toBe(true);
    expect(allowListOpensAddress(list, '10.2.0.0')).toBe(false);
    expect(allowListOpensAddress(list, 'fd00::1')).toBe(true);
    expect(allowListOpensAddress(list, 'fe80::1')).toBe(false);
  });
});

describe('checkOutboundAddress', () => {
  it('allows a public address and refuses an inward one with a reason that names the policy and the variable', () => {
    expect(checkOutboundAddress(NO_ALLOWED_DESTINATIONS, 'scim.example', '93.184.216.34')).toEqual({ allowed: true, via: 'public' });
    expect(checkOutboundAddress(NO_ALLOWED_DESTINATIONS, 'rebind.example', '127.0.0.1')).toEqual({
      allowed: false,
      class: 'loopback',
      range: '127.0.0.0/8',
      reason:
        "Refused by the hub's outbound request policy: rebind.example (127.0.0.1) is a loopback address (127.0.0.0/8); only public addresses are reachable unless MERIDIAN_OUTBOUND_ALLOW opens it.",
    });
  });

  it('opens what the allow-list names, by host name or by address', () => {
    const list = parseOutboundAllowList('scim.internal,192.168.0.0/16');
    expect(checkOutboundAddress(list, 'scim.internal', '10.0.0.5')).toEqual({ allowed: true, via: 'allow-list' });
    expect(checkOutboundAddress(list, 'other.example', '192.168.4.4')).toEqual({ allowed: true, via: 'allow-list' });
    expect(checkOutboundAddress(list, 'other.example', '10.0.0.5')).toMatchObject({ allowed: false, class: 'private' });
  });
});

describe('checkOutboundTarget', () => {
  const none = NO_ALLOWED_DESTINATIONS;
  it('refuses other schemes, localhost names and literal inward addresses without resolving anything', () => {
    expect(checkOutboundTarget(none, { protocol: 'file:', hostname: '' })).toMatchObject({ allowed: false, class: 'scheme' });
    expect(checkOutboundTarget(none, { protocol: 'http:', hostname: 'localhost' })).toMatchObject({ allowed: false, class: 'loopback' });
    expect(checkOutboundTarget(none, { protocol: 'http:', hostname: 'api.localhost.' })).toMatchObject({
      allowed: false,
      class: 'loopback',
    });
    expect(checkOutboundTarget(none, { protocol: 'https:', hostname: '[::1]' })).toMatchObject({ allowed: false, class: 'loopback' });
    expect(checkOutboundTarget(none, { protocol: 'https:', hostname: '169.254.169.254' })).toMatchObject({
      allowed: false,
      class: 'link-local',
    });
    expect(checkOutboundTarget(none, { protocol: 'https:', hostname: 'scim.example.com' })).toEqual({ allowed: true, via: 'public' });
  });

  it('asks for https when told to, unless the allow-list opens the host', () => {
    expect(checkOutboundTarget(none, { protocol: 'http:', hostname: 'idp.example.com' }, { httpsOnly: true })).toMatchObject({
      allowed: false,
      class: 'scheme',
    });
    const list = parseOutboundAllowList('127.0.0.1');
    expect(checkOutboundTarget(list, { protocol: 'http:', hostname: '127.0.0.1' }, { httpsOnly: true })).toEqual({
      allowed: true,
      via: 'allow-list',
    });
    expect(checkOutboundTarget(list, { protocol: 'http:', hostname: 'localhost' }, { httpsOnly: true })).toMatchObject({
      allowed: false,
      class: 'scheme',
    });
  });
});

describe('findOutboundRefusal', () => {
  it('finds the refusal through cause chains', () => {
    const refusal = new OutboundRefusedError('x', { allowed: false, class: 'loopback', reason: 'no' }, '127.0.0.1');
    const wrapped = new TypeError('fetch failed', { cause: new Error('connect', { cause: refusal }) });
    expect(findOutboundRefusal(wrapped)).toBe(refusal);
    expect(findOutboundRefusal(new Error('plain'))).toBeUndefined();
  });
});
