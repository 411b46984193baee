import { execFile, execFileSync } from 'node:child_process';

/**
 * The bench's "hosts": Linux network namespaces, each joined to the host by a veth pair whose host
 * ends hang on one bridge. The bridge holds the host's address (where Temporal and the S3 server
 * listen), so every namespace reaches the same address, and cutting one namespace's cable (its
 * host-side veth down) leaves the others and the services untouched. Nothing leaves the machine: the
 * subnet is private and has no route out.
 */
export const SUBNET = '10.231.77';
export const HOST_IP = `${SUBNET}.1`;
const BRIDGE = 'lmsi-br0';

export interface Host {
  /** The role name the results use (`light`, `acc-1`, `acc-2`). */
  name: string;
  /** The network namespace (prefixed, so a machine's own namespaces are never touched). */
  netns: string;
  /** The host end of its cable: `ip link set … down` cuts the host off. */
  hostVeth: string;
  ip: string;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function quietly(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    // Already gone: cleanup runs on every exit path, also after a partial setup.
  }
}

export function hostsNamed(names: string[]): Host[] {
  return names.map((name, i) => ({
    name,
    netns: `lmsi-${name}`,
    hostVeth: `lmsi-v-${name}`,
    ip: `${SUBNET}.${i + 2}`,
  }));
}

/** Creates the bridge and every host's namespace and cable (after removing a stale run's). */
export function createHosts(hosts: Host[]): void {
  removeHosts(hosts);
  // No spanning tree and no forward delay: a cable plugged back in forwards at once.
  ip('link', 'add', BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
  ip('addr', 'add', `${HOST_IP}/24`, 'dev', BRIDGE);
  ip('link', 'set', BRIDGE, 'up');
  for (const h of hosts) {
    ip('netns', 'add', h.netns);
    ip('link', 'add', h.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.netns);
    ip('link', 'set', h.hostVeth, 'master', BRIDGE);
    ip('link', 'set', h.hostVeth, 'up');
    ip('-n', h.netns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0');
    ip('-n', h.netns, 'link', 'set', 'eth0', 'up');
    ip('-n', h.netns, 'link', 'set', 'lo', 'up');
  }
}

/** Pulls the host's cable: packets to and from it are dropped (no reset), as on a dead link. */
export function cut(host: Host): void {
  ip('link', 'set', host.hostVeth, 'down');
}

/** Plugs the cable back in and waits until the host reaches each of `ports` on the host's address. */
export async function reconnect(host: Host, ports: number[], timeoutMs = 30_000): Promise<void> {
  ip('link', 'set', host.hostVeth, 'up');
  const end = Date.now() + timeoutMs;
  for (const port of ports) {
    while (!(await reaches(host, port))) {
      if (Date.now() > end)
        throw new Error(`${host.name} does not reach ${HOST_IP}:${port} after reconnecting`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Whether a TCP connection from inside the host to the host's address and `port` opens. */
export function reaches(host: Host, port: number): Promise<boolean> {
  const probe = `require('net').connect(${port}, '${HOST_IP}').on('connect', () => process.exit(0))
    .on('error', () => process.exit(1)); setTimeout(() => process.exit(1), 2000);`;
  return new Promise((resolve) =>
    execFile('ip', inHost(host, [process.execPath, '-e', probe]), (error) => resolve(error === null)),
  );
}

/** Synchronous, so it also runs from an exit handler. */
export function removeHosts(hosts: Host[]): void {
  for (const h of hosts) {
    quietly('link', 'del', h.hostVeth);
    quietly('netns', 'del', h.netns);
  }
  quietly('link', 'del', BRIDGE);
}

/** `argv` run inside the host's namespace (ip netns exec execs it: the child's pid is the command's). */
export function inHost(host: Host, argv: string[]): string[] {
  return ['netns', 'exec', host.netns, ...argv];
}
