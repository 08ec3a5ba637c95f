/**
 * Egress test fixtures: real servers on the host's loopback (what an allowlisted sandbox may or may
 * not reach through its proxy), and the clients run inside sandboxes (python3's urllib honours
 * HTTP_PROXY / HTTPS_PROXY; its http.client tunnels with CONNECT).
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { networkInterfaces } from 'node:os';

/**
 * Where the servers listen: a loopback address of the host other than 127.0.0.1, because inside the
 * sandbox NO_PROXY names localhost and 127.0.0.1 (the sandbox's own loopback stays direct).
 */
export const HOST_LOOPBACK = '127.0.0.2';

export interface HostServers {
  /** HTTP servers answering `hello from PORT` (and counting requests). */
  web: number;
  other: number;
  /** A raw TCP server counting connections, and a UDP one counting datagrams. */
  tcp: number;
  udp: number;
  hits: { web: number; other: number; tcp: number; udp: number };
  close(): Promise<void>;
}

async function listen(server: HttpServer | TcpServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, HOST_LOOPBACK, resolve));
  return (server.address() as AddressInfo).port;
}

/** What `/big` answers: 24 MiB that are not all alike (a tunnel that mixed up or dropped chunks would show). */
export const BIG_BODY = Buffer.from(Array.from({ length: 24 * 1024 }, (_, i) => `${String(i).padStart(1023, '.')}\n`).join(''));

export async function startHostServers(): Promise<HostServers> {
  const hits = { web: 0, other: 0, tcp: 0, udp: 0 };
  const http = (name: 'web' | 'other') => createHttpServer((req, res) => {
    hits[name]++;
    if (req.url === '/big') return void res.end(BIG_BODY);
    const port = (req.socket.address() as AddressInfo).port;
    res.end(`hello from ${port} host=${req.headers.host ?? ''} path=${req.url ?? ''}`);
  });
  const web = http('web');
  const other = http('other');
  const tcp = createTcpServer((s) => {
    hits.tcp++;
    s.end('tcp\n');
  });
  const udp: UdpSocket = createSocket('udp4');
  udp.on('message', () => hits.udp++);
  await new Promise<void>((resolve) => udp.bind(0, HOST_LOOPBACK, resolve));
  const ports = { web: await listen(web), other: await listen(other), tcp: await listen(tcp), udp: udp.address().port };
  return {
    ...ports,
    hits,
    async close() {
      for (const s of [web, other]) s.closeAllConnections();
      await Promise.all([web, other, tcp].map((s) => new Promise<void>((r) => s.close(() => r()))));
      udp.close();
    },
  };
}

/** A non-loopback address of this host (a direct connection to it from a sandbox must find no route), if it has one. */
export function externalAddress(): string | null {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return null;
}

/** python3 inside: GET url through the environment's proxies; prints the body, `HTTP <code> <body>`, or `ERR <type> <message>`. */
export const FETCH_PY = `
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())
except urllib.error.HTTPError as e:
    print('HTTP', e.code, e.read().decode().strip())
except Exception as e:
    print('ERR', type(e).__name__, e)
`;

/** python3 inside: GET http://HOST:PORT/ through a CONNECT tunnel of the proxy in HTTP_PROXY. */
export const TUNNEL_PY = `
import os, sys, http.client
proxy = os.environ['HTTP_PROXY'].split('//')[1]
c = http.client.HTTPConnection(proxy, timeout=10)
c.set_tunnel(sys.argv[1], int(sys.argv[2]))
try:
    c.request('GET', sys.argv[3] if len(sys.argv) > 3 else '/tunnel')
    body = c.getresponse().read()
    if len(sys.argv) > 3:
        import hashlib
        print(len(body), hashlib.sha256(body).hexdigest())
    else:
        print(body.decode())
except Exception as e:
    print('ERR', type(e).__name__, e)
`;

/** python3 inside: a direct TCP connection (no proxy), then a UDP datagram, to HOST PORT UDPPORT; a raw socket; a DNS lookup. */
export const DIRECT_PY = `
import socket, sys
host, port, uport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
try:
    s = socket.create_connection((host, port), timeout=3)
    print('tcp connected', s.recv(10))
except Exception as e:
    print('tcp', type(e).__name__, e.errno if hasattr(e, 'errno') else '')
try:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b'x', (host, uport))
    print('udp sent')
except Exception as e:
    print('udp', type(e).__name__, e.errno if hasattr(e, 'errno') else '')
try:
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    print('raw opened')
except Exception as e:
    print('raw', type(e).__name__)
try:
    socket.getaddrinfo('example.com', 443)
    print('dns resolved')
except Exception as e:
    print('dns', type(e).__name__)
`;
