'use strict';
// Client side of ipc-transport's interop tests, for node-ipc 9.2.1 and 14.0.0:
// `node ../load-9.cjs transport/client-common.cjs run key=value ...` (or ../load-14.mjs).
//
// The peer connects to a Rust server (unix, tcp, tls), or binds its own UDP
// socket and sends to a Rust UDP endpoint (udp4, udp6: node-ipc has no UDP
// client; a UDP peer is a `serveNet(host, port, 'udp4')` server that emits to
// an address). It then sends a transcript, without waiting between events:
//   1. every golden vector of ipc-codec/tests/golden/frames.json, as
//      `emit(type, JSON.parse(data_json))` (or `emit(type)` when undefined),
//   2. `count` events {type: 'seq', data: {i}},
//   3. one event {type: 'done', data: {events: <total>}},
// and expects the Rust side to echo every event unchanged, in order. Each
// echo, printed back with JSON.stringify, must equal this node-ipc version's
// golden frame (minus the delimiter) for the vectors, and what was sent for
// the rest.
//
// Arguments (key=value):
//   version=9.2.1|14.0.0 transport=unix|tcp|tls|udp4|udp6 vectors=<frames.json>
//   count=<n> path=<socket path> | host=<loopback address> port=<port>
//   localPort=<port of our own UDP socket> (udp only; node-ipc reads 0 as 8000)
//   config=<json merged into ipc.config> (tls options, for example)
// Stdout, one line each:
//   READY <json>   connected (stream) or bound (udp); the transcript is on its way
//   RESULT <json>  every echo arrived: {ok, received, expected, mismatches: [{index, got, want}]}
//   ERROR <text>   node-ipc reported an error
// Exits when stdin closes (the test holds it open).

const fs = require('fs');
const {parseArgs, isLoopback, line, looksLikeSocket, errorText, LIFECYCLE, whenBound} = require('../util.cjs');

function fail(message) {
    process.stderr.write(`${message}\n`);
    process.exit(2);
}

function transcript(args, version) {
    const golden = JSON.parse(fs.readFileSync(args.vectors, 'utf8'));
    const delimiter = golden.delimiter;
    const messages = [];
    for (const v of golden.vectors) {
        const frame = v.frames[version];
        if (!frame) {
            fail(`golden vector ${v.name} has no frame for ${version}`);
        }
        const has = v.data_json !== undefined;
        messages.push({
            type: v.type,
            has,
            data: has ? JSON.parse(v.data_json) : undefined,
            want: frame.utf8.slice(0, frame.utf8.length - delimiter.length)
        });
    }
    const count = Number(args.count || 0);
    for (let i = 0; i < count; i++) {
        const data = {i};
        messages.push({type: 'seq', has: true, data, want: JSON.stringify({type: 'seq', data})});
    }
    const done = {events: messages.length + 1};
    messages.push({type: 'done', has: true, data: done, want: JSON.stringify({type: 'done', data: done})});
    return messages;
}

/** Runs the client; `ipc` is the node-ipc singleton of `version`. */
function run(ipc, version, argv) {
    const args = parseArgs(argv, fail);
    ipc.config.silent = true;
    ipc.config.maxRetries = 0;
    ipc.config.stopRetrying = true;
    if (args.config !== undefined) {
        Object.assign(ipc.config, JSON.parse(args.config));
    }
    const transport = args.transport;
    const messages = transcript(args, version);
    const mismatches = [];
    let received = 0;
    let reported = false;

    function report() {
        if (reported) {
            return;
        }
        reported = true;
        line('RESULT', JSON.stringify({
            ok: received === messages.length && mismatches.length === 0,
            received,
            expected: messages.length,
            mismatches: mismatches.slice(0, 5)
        }));
    }

    function onWire(type, data) {
        const index = received++;
        const got = JSON.stringify({type, data});
        const want = index < messages.length ? messages[index].want : '(nothing more)';
        if (got !== want) {
            mismatches.push({index, got: got.slice(0, 300), want: want.slice(0, 300)});
        }
        if (received >= messages.length) {
            report();
        }
    }

    function onError(error) {
        line('ERROR', errorText(error));
    }

    if (transport === 'udp4' || transport === 'udp6') {
        const host = args.host;
        const port = Number(args.port);
        const localPort = Number(args.localPort);
        if (!isLoopback(host)) {
            fail(`refusing non-loopback host ${JSON.stringify(host)}`);
        }
        if (!Number.isInteger(localPort) || localPort < 1) {
            fail('localPort= must be a port (node-ipc reads 0 as 8000)');
        }
        let server = null;
        const go = () => {
            // UDP has no flow control: leave room for the echoes
            server.server.setRecvBufferSize(4 * 1024 * 1024);
            const address = server.server.address();
            line('READY', JSON.stringify({version, node: process.version, transport, port: address.port}));
            const target = {address: host, port};
            for (const m of messages) {
                if (m.has) {
                    server.emit(target, m.type, m.data);
                } else {
                    server.emit(target, m.type);
                }
            }
        };
        ipc.serveNet(host, localPort, transport, () => whenBound(server.server, go));
        server = ipc.server;
        const publish = server.publish;
        server.publish = function (type, ...rest) {
            if (rest.length === 2 && looksLikeSocket(rest[1]) && !LIFECYCLE.has(type)) {
                onWire(type, rest[0]);
            } else if (type === 'error') {
                onError(rest[0]);
            }
            return publish.call(this, type, ...rest);
        };
        server.start();
    } else {
        const id = 'rust';
        if (transport === 'unix') {
            ipc.connectTo(id, args.path);
        } else if (transport === 'tcp' || transport === 'tls') {
            if (!isLoopback(args.host)) {
                fail(`refusing non-loopback host ${JSON.stringify(args.host)}`);
            }
            if (transport === 'tls' && !ipc.config.tls) {
                fail('transport=tls needs config={"tls":{...}}');
            }
            ipc.connectToNet(id, args.host, Number(args.port));
        } else {
            fail('transport= must be unix, tcp, tls, udp4 or udp6');
        }
        const client = ipc.of[id];
        const publish = client.publish;
        client.publish = function (type, ...rest) {
            if (!LIFECYCLE.has(type)) {
                onWire(type, rest[0]);
            } else if (type === 'error') {
                onError(rest[0]);
            } else if (type === 'connect') {
                line('READY', JSON.stringify({version, node: process.version, transport}));
                for (const m of messages) {
                    if (m.has) {
                        client.emit(m.type, m.data);
                    } else {
                        client.emit(m.type);
                    }
                }
            } else if (type === 'disconnect' && !reported) {
                line('ERROR', `disconnected after ${received} of ${messages.length} echoes`);
                report();
            }
            return publish.call(this, type, ...rest);
        };
    }

    process.stdin.resume();
    process.stdin.on('end', () => process.exit(0));
}

module.exports = {run};
