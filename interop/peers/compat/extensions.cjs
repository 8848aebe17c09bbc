'use strict';
// Peers for ipc-compat's tests of the extensions beyond node-ipc (PROTOCOL.md),
// for node-ipc 9.2.1 (../load-9.cjs) and 14.0.0 (../load-14.mjs):
// `node ../load-9.cjs compat/extensions.cjs <role> key=value ...`.
//
// Request/response, through ../rpc.cjs (the helper PROTOCOL.md shows):
//   rpcServer   ../common.cjs's startServer (same arguments, stdout lines and
//               stdin commands), answering requests and asking the client that
//               connected last
//   rpcClient   a client: path=<socket> | host=<loopback> port=<port>,
//               [server=<id>, default 'world'] [config=<json merged into ipc.config>];
//               prints CONNECT, DISCONNECT, ERROR <text>
// Both answer:  sum [numbers] -> their sum; fail <text> -> throws Error(<text>);
//               sleep {ms, value} -> value, after ms; echo <any> -> it
// Both ask, on stdin `ASK <json {tag, type, data, ms}>`, printing
//   ANSWER <json {tag, ok}> or ANSWER <json {tag, error: <message>}>
//
// Graceful close (all N events arrive, in order):
//   countServer startServer's arguments; counts `seq` events n = 0, 1, ... from
//               its clients; prints COUNT <json {count, ordered}> for each client
//               that disconnects
//   countClient rpcClient's arguments; counts `seq` events, prints
//               COUNT <json {count, ordered}> when the server closes the
//               connection, then stops (no reconnection)

const base = require('../common.cjs');
const {rpc} = require('../rpc.cjs');
const {parseArgs, isLoopback, line, errorText, onStdinLines} = require('../util.cjs');

/** The request handlers both rpc roles register. */
function answer(r) {
    r.handle('sum', (numbers) => numbers.reduce((a, b) => a + b, 0));
    r.handle('fail', (text) => {
        throw new Error(text);
    });
    r.handle('sleep', ({ms, value}) => new Promise((resolve) => setTimeout(() => resolve(value), ms)));
    r.handle('echo', (data) => data);
}

/** Handles `ASK <json>` by asking `socket()`; true when `cmd` was one. */
function ask(r, cmd, socket) {
    if (!cmd.startsWith('ASK ')) {
        return false;
    }
    const {tag, type, data, ms} = JSON.parse(cmd.slice(4));
    r.request(type, data, ms, socket()).then(
        (ok) => line('ANSWER', JSON.stringify({tag, ok})),
        (e) => line('ANSWER', JSON.stringify({tag, error: e.message})));
    return true;
}

function rpcServer(ipc, version, argv) {
    let last;
    let r;
    const server = base.startServer(ipc, version, argv, () => {}, (cmd) => ask(r, cmd, () => last));
    server.on('connect', (socket) => {
        last = socket;
    });
    r = rpc(server, (type, data, socket) => server.emit(socket, type, data));
    answer(r);
}

/** Connects as rpcClient's arguments say; `setup(client)` registers handlers. */
function connect(ipc, version, argv, setup) {
    const args = parseArgs(argv, base.fail);
    ipc.config.silent = true;
    ipc.config.id = args.id || 'hello';
    ipc.config.retry = 100;
    if (args.config !== undefined) {
        Object.assign(ipc.config, JSON.parse(args.config));
    }
    const server = args.server || 'world';
    const ready = () => {
        const client = ipc.of[server];
        client.on('connect', () => line('CONNECT'));
        client.on('error', (error) => line('ERROR', errorText(error)));
        setup(client, server);
    };
    if (args.path !== undefined) {
        ipc.connectTo(server, args.path, ready);
    } else {
        const host = args.host || '127.0.0.1';
        if (!isLoopback(host)) {
            base.fail(`refusing non-loopback host ${host}`);
        }
        ipc.connectToNet(server, host, Number(args.port), ready);
    }
    line('READY', JSON.stringify({version}));
    return server;
}

function rpcClient(ipc, version, argv) {
    let r;
    const server = connect(ipc, version, argv, (client) => {
        client.on('disconnect', () => line('DISCONNECT'));
        r = rpc(client, (type, data) => client.emit(type, data));
        answer(r);
    });
    onStdinLines((cmd) => {
        if (cmd === 'QUIT') {
            ipc.disconnect(server);
            setTimeout(() => process.exit(0), 20);
        } else if (!ask(r, cmd, () => undefined)) {
            process.stderr.write(`unknown command ${JSON.stringify(cmd)}\n`);
        }
    });
}

/** Counts `seq` events n = 0, 1, ...: count() and whether they came in order. */
function counter() {
    let count = 0;
    let ordered = true;
    return {
        seq(n) {
            ordered = ordered && n === count;
            count += 1;
        },
        report() {
            line('COUNT', JSON.stringify({count, ordered}));
            count = 0;
            ordered = true;
        }
    };
}

function countServer(ipc, version, argv) {
    const seqs = counter();
    const server = base.startServer(ipc, version, argv, (type, data) => {
        if (type === 'seq') {
            seqs.seq(data);
        }
    });
    server.on('socket.disconnected', () => seqs.report());
}

function countClient(ipc, version, argv) {
    const seqs = counter();
    let reported = false;
    const server = connect(ipc, version, argv, (client) => {
        client.on('seq', (n) => seqs.seq(n));
        client.on('disconnect', () => {
            if (!reported) {
                reported = true;
                seqs.report();
                ipc.disconnect(server);
            }
        });
    });
    onStdinLines((cmd) => {
        if (cmd === 'QUIT') {
            process.exit(0);
        }
    });
}

module.exports = {rpcServer, rpcClient, countServer, countClient};
