'use strict';
// An interactive node-ipc client for nipc's end-to-end tests, for node-ipc
// 9.2.1 and 14.0.0: `node ../load-9.cjs nipc/client-common.cjs run key=value ...`
// (or ../load-14.mjs).
//
// Arguments (key=value):
//   path=<socket path>                       connectTo over a Unix socket
//   host=<loopback> port=<port>              connectToNet over TCP (TLS when config has "tls")
//   udp=udp4|udp6 host=<loopback> port=<port> localPort=<port>
//                                            node-ipc has no UDP client: serve UDP on localPort
//                                            and emit to {address: host, port}
//   config=<json merged into ipc.config>     optional (tls, rawBuffer, encoding, ...)
// Stdout, one line each:
//   READY <json>      connected (stream) or bound (udp): {version, transport}
//   EVENT <json>      a wire event arrived: JSON.stringify({type, data})
//   DATA <hex>        raw-buffer mode: bytes arrived
//   DISCONNECT        the connection closed
//   ERROR <message>   node-ipc reported an error
// Stdin, one command per line:
//   EMIT <json>       emit {type, data} (without "data": emit(type))
//   RAW <text>        raw-buffer mode: emit(text), which node-ipc turns into bytes with config.encoding
// Exits when stdin closes.

const {parseArgs, isLoopback, line, looksLikeSocket, errorText, LIFECYCLE, whenBound, onStdinLines} = require('../util.cjs');

function fail(message) {
    process.stderr.write(`${message}\n`);
    process.exit(2);
}

/** Wraps `target.publish` to report what node-ipc dispatches; `wire(rest)` says whether it is a wire event. */
function observe(target, wire) {
    const publish = target.publish;
    target.publish = function (type, ...rest) {
        if (type === 'data' && Buffer.isBuffer(rest[0])) {
            line('DATA', rest[0].toString('hex'));
        } else if (!LIFECYCLE.has(type) && wire(rest)) {
            line('EVENT', JSON.stringify({type, data: rest[0]}));
        } else if (type === 'error') {
            line('ERROR', errorText(rest[0]));
        }
        return publish.call(this, type, ...rest);
    };
}

function run(ipc, version, argv) {
    const args = parseArgs(argv, fail);
    ipc.config.silent = true;
    ipc.config.maxRetries = 0;
    ipc.config.stopRetrying = true;
    if (args.config !== undefined) {
        Object.assign(ipc.config, JSON.parse(args.config));
    }
    let send;
    if (args.udp !== undefined) {
        const host = args.host;
        const port = Number(args.port);
        const localPort = Number(args.localPort);
        if (!isLoopback(host)) {
            fail(`refusing non-loopback host ${JSON.stringify(host)}`);
        }
        if (!Number.isInteger(localPort) || localPort < 1) {
            fail('localPort= must be a port (node-ipc reads 0 as 8000)');
        }
        const target = {address: host, port};
        send = (type, has, data) => has ? ipc.server.emit(target, type, data) : ipc.server.emit(target, type);
        ipc.serveNet(host, localPort, args.udp, () => {
            whenBound(ipc.server.server, () => line('READY', JSON.stringify({version, transport: args.udp})));
        });
        observe(ipc.server, (rest) => rest.length === 2 && looksLikeSocket(rest[1]));
        ipc.server.start();
    } else {
        const id = 'nipc';
        let transport;
        if (args.path !== undefined) {
            transport = 'unix';
            ipc.connectTo(id, args.path);
        } else {
            if (!isLoopback(args.host)) {
                fail(`refusing non-loopback host ${JSON.stringify(args.host)}`);
            }
            transport = ipc.config.tls ? 'tls' : 'tcp';
            ipc.connectToNet(id, args.host, Number(args.port));
        }
        const client = ipc.of[id];
        send = (type, has, data) => has ? client.emit(type, data) : client.emit(type);
        observe(client, () => true);
        const publish = client.publish;
        client.publish = function (type, ...rest) {
            if (type === 'connect') {
                line('READY', JSON.stringify({version, transport}));
            } else if (type === 'disconnect') {
                line('DISCONNECT');
            }
            return publish.call(this, type, ...rest);
        };
    }

    onStdinLines((cmd) => {
        if (cmd.startsWith('EMIT ')) {
            const message = JSON.parse(cmd.slice(5));
            send(message.type, 'data' in message, message.data);
        } else if (cmd.startsWith('RAW ')) {
            send(cmd.slice(4), false);
        } else if (cmd.trim() !== '') {
            process.stderr.write(`unknown command ${JSON.stringify(cmd)}\n`);
        }
    });
}

module.exports = {run};
