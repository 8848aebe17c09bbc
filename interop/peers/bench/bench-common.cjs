'use strict';
// Benchmark peers for `ipc-bench` (benches/src/harness): a server and a client
// built on node-ipc, for 9.2.1 (../load-9.cjs, Node 20) and 14.0.0
// (../load-14.mjs, Node 22): `node ../load-9.cjs bench/bench-common.cjs server|client
// key=value ...`. Loopback addresses and caller-given socket paths only;
// node-ipc's logging is silenced.
//
// The protocol (event types; data events carry {id, seq, message} of `size` bytes):
//   rt       the server emits it back to its sender unchanged
//   ow       the server counts it
//   end      the server answers `ack` {count, us}: events counted since the last
//            end and the microseconds between the first and the last of them
//   hello    a fan-out client registers for broadcasts
//   stats    answered with `stats` {connections, registered}
//   fanout   {count, size}: the server emits `count` `fan` events to every registered client
//
// Server arguments: transport=unix path=<socket> | transport=tcp|tls|udp4 host=127.0.0.1 port=<n>
//   [config=<json merged into ipc.config>, e.g. {"tls": {"private": .., "public": ..}}]
//   Stdout: `READY <json>`; exits when stdin closes.
// Client arguments: the server's address as above, plus workload=rt|ow|fanout|udp|latency
//   n=<events> size=<payload bytes> [window=<in flight>] [clients=<n>] [localPort=<udp port>]
//   [rate=<udp events per second offered, in 1 ms bursts>]
//   Stdout: `RESULT {"ms", "count", "sent", "us"}` then exit (latency adds "lat": [p50, p99, p999]
//   in microseconds); `ERROR <text>` and exit 1 on failure.

const util = require('../util.cjs');

const OVERHEAD = JSON.stringify({id: 'client-1', seq: 10000, message: ''}).length;

function payload(size, seq) {
    return {id: 'client-1', seq: 10000 + (seq % 90000), message: 'x'.repeat(Math.max(0, size - OVERHEAD))};
}

function parseArgs(argv) {
    return util.parseArgs(argv, fail);
}

function fail(message) {
    process.stdout.write(`ERROR ${String(message).replace(/\n/g, ' ')}\n`);
    process.exit(1);
}

// Stricter than util.isLoopback (no other 127.x.y.z): the harness only ever passes these.
function isLoopback(host) {
    return host === '127.0.0.1' || host === '::1' || host === 'localhost';
}

function configure(ipc, version, args) {
    ipc.config.silent = true;
    ipc.config.logger = () => {};
    ipc.config.maxRetries = 0;
    ipc.config.stopRetrying = true;
    ipc.config.maxConnections = 100000;
    if (version !== '9.2.1') {
        // 14.x bounds frames (1 MiB) and pending writes (8 MiB) by default; the
        // large workload sends 1 MiB payloads and the fan-out queues ~1 MB per client.
        ipc.config.maxMessageSize = 64 * 1024 * 1024;
        ipc.config.maxPendingBytes = 256 * 1024 * 1024;
    }
    if (args.config !== undefined) {
        Object.assign(ipc.config, JSON.parse(args.config));
    }
    if (args.host !== undefined && !isLoopback(args.host)) {
        fail(`refusing non-loopback host ${JSON.stringify(args.host)}`);
    }
    if (args.transport === 'tls' && !ipc.config.tls) {
        fail('transport=tls needs config={"tls":{...}}');
    }
}

function now() {
    return process.hrtime.bigint();
}

function micros(from, to) {
    return Number((to - from) / 1000n);
}

function server(ipc, version, argv) {
    const args = parseArgs(argv);
    configure(ipc, version, args);
    const transport = args.transport;
    let count = 0;
    let first = null;
    let last = null;
    const registered = [];
    const onStart = () => {
        const srv = ipc.server;
        srv.on('rt', (data, socket) => srv.emit(socket, 'rt', data));
        srv.on('ow', () => {
            const t = now();
            if (first === null) {
                first = t;
            }
            last = t;
            count++;
        });
        srv.on('end', (data, socket) => {
            const us = first === null ? 0 : micros(first, last);
            srv.emit(socket, 'ack', {count, us});
            count = 0;
            first = null;
            last = null;
        });
        srv.on('hello', (data, socket) => registered.push(socket));
        srv.on('stats', (data, socket) => {
            const connections = srv.sockets ? srv.sockets.length : 0;
            srv.emit(socket, 'stats', {connections, registered: registered.length});
        });
        srv.on('fanout', (data) => {
            for (let seq = 0; seq < data.count; seq++) {
                const p = payload(data.size, seq);
                for (const socket of registered) {
                    srv.emit(socket, 'fan', p);
                }
            }
        });
        srv.on('socket.disconnected', (socket) => {
            const i = registered.indexOf(socket);
            if (i >= 0) {
                registered.splice(i, 1);
            }
        });
        const announce = () => {
            let address = null;
            try {
                address = srv.server.address();
            } catch {
                address = null;
            }
            const port = address && typeof address === 'object' ? address.port : null;
            process.stdout.write(`READY ${JSON.stringify({version, node: process.version, transport, path: args.path || null, port})}\n`);
        };
        if (transport === 'udp4') {
            util.whenBound(srv.server, announce);
        } else {
            announce();
        }
    };
    if (transport === 'unix') {
        ipc.serve(args.path, onStart);
    } else if (transport === 'tcp' || transport === 'tls') {
        // With ipc.config.tls set, serveNet serves TLS.
        ipc.serveNet(args.host, Number(args.port), onStart);
    } else if (transport === 'udp4') {
        ipc.serveNet(args.host, Number(args.port), 'udp4', onStart);
    } else {
        fail(`unknown transport ${transport}`);
    }
    ipc.server.start();
    process.stdin.resume();
    process.stdin.on('end', () => process.exit(0));
}

function result(start, count, sent, us) {
    const ms = Number(now() - start) / 1e6;
    process.stdout.write(`RESULT ${JSON.stringify({ms, count, sent, us: us === undefined ? null : us})}\n`);
    process.exit(0);
}

function connect(ipc, id, args, onConnect) {
    if (args.transport === 'unix') {
        ipc.connectTo(id, args.path);
    } else {
        ipc.connectToNet(id, args.host, Number(args.port));
    }
    const client = ipc.of[id];
    client.on('error', (e) => fail(`${id}: ${e && e.message ? e.message : e}`));
    client.on('connect', () => onConnect(client));
    return client;
}

function client(ipc, version, argv) {
    const args = parseArgs(argv);
    configure(ipc, version, args);
    const n = Number(args.n);
    const size = Number(args.size || 64);
    const workload = args.workload;
    if (workload === 'rt') {
        const window = Number(args.window || 64);
        const payloads = [];
        for (let i = 0; i < window; i++) {
            payloads.push(payload(size, i));
        }
        let sent = 0;
        let received = 0;
        let start = null;
        connect(ipc, 'bench', args, (c) => {
            c.on('rt', () => {
                received++;
                if (sent < n) {
                    c.emit('rt', payloads[sent % window]);
                    sent++;
                } else if (received === n) {
                    result(start, received, sent);
                }
            });
            start = now();
            while (sent < Math.min(window, n)) {
                c.emit('rt', payloads[sent % window]);
                sent++;
            }
        });
    } else if (workload === 'latency') {
        // One event in flight: emit it, wait for the echo, time each.
        const p = payload(size, 1);
        const nanos = new Float64Array(n);
        let done = 0;
        let sentAt = 0n;
        let start = null;
        connect(ipc, 'bench', args, (c) => {
            c.on('rt', () => {
                nanos[done++] = Number(now() - sentAt);
                if (done < n) {
                    sentAt = now();
                    c.emit('rt', p);
                    return;
                }
                const sorted = Array.from(nanos).sort((a, b) => a - b);
                const at = (q) => sorted[Math.min(n, Math.max(1, Math.ceil(q * n))) - 1] / 1000;
                const ms = Number(now() - start) / 1e6;
                process.stdout.write(`RESULT ${JSON.stringify({ms, count: n, sent: n, us: null, lat: [at(0.5), at(0.99), at(0.999)]})}\n`);
                process.exit(0);
            });
            start = now();
            sentAt = now();
            c.emit('rt', p);
        });
    } else if (workload === 'ow') {
        const p = payload(size, 1);
        let sent = 0;
        let start = null;
        connect(ipc, 'bench', args, (c) => {
            c.on('ack', (ack) => {
                if (ack.count !== n) {
                    fail(`the server counted ${ack.count} of ${n}`);
                }
                result(start, n, n);
            });
            const socket = c.socket;
            const pump = () => {
                while (sent < n) {
                    c.emit('ow', p);
                    sent++;
                    if (socket.writableLength > 4 * 1024 * 1024) {
                        socket.once('drain', pump);
                        return;
                    }
                }
                c.emit('end', {});
            };
            start = now();
            pump();
        });
    } else if (workload === 'fanout') {
        const clients = Number(args.clients || 100);
        let connected = 0;
        let done = 0;
        let total = 0;
        let start = null;
        const poll = (ctl) => {
            ctl.on('stats', (stats) => {
                if (stats.registered >= clients) {
                    start = now();
                    ctl.emit('fanout', {count: n, size});
                } else {
                    setTimeout(() => ctl.emit('stats', {}), 5);
                }
            });
            ctl.emit('stats', {});
        };
        for (let i = 0; i < clients; i++) {
            let count = 0;
            connect(ipc, `c${i}`, args, (c) => {
                c.on('fan', () => {
                    count++;
                    if (count === n) {
                        total += count;
                        done++;
                        if (done === clients) {
                            result(start, total, total);
                        }
                    }
                });
                c.emit('hello', {});
                connected++;
                if (connected === clients) {
                    connect(ipc, 'ctl', args, poll);
                }
            });
        }
    } else if (workload === 'udp') {
        const target = {address: args.host, port: Number(args.port)};
        const p = payload(size, 1);
        let start = null;
        let sendMs = 0;
        ipc.serveNet('127.0.0.1', Number(args.localPort), 'udp4', () => {
            const srv = ipc.server;
            srv.on('ack', (ack) => {
                process.stdout.write(`RESULT ${JSON.stringify({ms: sendMs, count: ack.count, sent: n, us: ack.us})}\n`);
                process.exit(0);
            });
            const go = () => {
                // Paced: what is due at `rate` events/s, then a 1 ms timer.
                const rate = Number(args.rate || 100000);
                let sent = 0;
                start = now();
                const burst = () => {
                    const elapsedS = Number(now() - start) / 1e9;
                    const stop = Math.min(n, Math.floor(elapsedS * rate) + 1);
                    for (; sent < stop; sent++) {
                        srv.emit(target, 'ow', p);
                    }
                    if (sent < n) {
                        setTimeout(burst, 1);
                        return;
                    }
                    sendMs = Number(now() - start) / 1e6;
                    let tries = 0;
                    const end = () => {
                        if (tries++ > 25) {
                            fail('no ack from the udp server');
                        }
                        srv.emit(target, 'end', {});
                        setTimeout(end, 200);
                    };
                    end();
                };
                burst();
            };
            util.whenBound(srv.server, go);
        });
        ipc.server.start();
    } else {
        fail(`unknown workload ${workload}`);
    }
}

module.exports = {server, client, payload};
