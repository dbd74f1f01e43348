// Network interfaces as the zero-copy policy sees them: which one a socket leaves through, whether
// its peer lives on this machine, and the offloads (scatter-gather, TX checksum) zero-copy needs.
import { readdirSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { addon, type NetdevFeatures } from '../native/addon.js';

/** All interface names, including those without an address. */
export function interfaceNames(): string[] {
  try {
    return readdirSync('/sys/class/net').sort();
  } catch {
    return Object.keys(networkInterfaces()).sort();
  }
}

/** Offload flags, or null when the interface has no ethtool answer. */
export function featuresOf(name: string): NetdevFeatures | null {
  const r = addon.netdevFeatures(name);
  return typeof r === 'number' ? null : r;
}

function normalize(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** The interface that owns `localAddress`: the egress interface of a socket bound to it. */
export function interfaceOwning(localAddress: string): string | null {
  return addon.addressOwner(normalize(localAddress)) || null;
}

/** True when traffic to `remoteAddress` is delivered on this machine, where the kernel always copies. */
export function isLocalPeer(remoteAddress: string): boolean {
  const addr = normalize(remoteAddress);
  if (addr === '' || addr === '::1' || addr.startsWith('127.')) return true;
  return interfaceOwning(addr) !== null;
}
