'use strict';
// The seed README's examples as peers for ipc-compat's interop tests, for
// node-ipc 9.2.1 (../load-9.cjs, Node 20) and 14.0.0 (../load-14.mjs, Node 22):
// `node ../load-9.cjs compat/common.cjs world|hello key=value ...`.
//
// world (server): ../common.cjs's startServer (same arguments: path=... |
//   host=127.0.0.1 port=N [udp=udp4]; config=<json merged into ipc.config>;
//   same stdout lines READY / CONNECT / EVENT / DISCONNECT / ERROR and stdin
//   EMIT <json> (broadcast) / QUIT), answering as the README's world does:
//     'message' with a string      -> emit(socket, 'message', data + ' world!')
//     'message' with {message}     -> emit(socket, 'message', {from: config.id, message: message + ' world!'}) (UDP example)
//     raw 'data' (rawBuffer)       -> emit(socket, <the same bytes reversed>)
//
// hello (client): arguments (key=value)
//   transport=unix|tcp|udp4   path=<socket> | host=<loopback> port=<port>   (tls: tcp plus config.tls)
//                             unix without path=: node-ipc derives the path from
//                             socketRoot + appspace + <server> (Windows only: a pipe name)
//   server=<id>               the server's id, ipc.of[<id>] (default 'world')
//   localPort=<port>          udp4 only: the port this peer binds (node-ipc reads 0 as 8000)
//   id=<ipc.config.id>        default 'hello'
//   config=<json>             merged into ipc.config (tls, rawBuffer, encoding, ...)
//   listen=a,b                event types to print (default 'message')
//   raw=<hex>                 rawBuffer: send these bytes on connect instead of 'message'
//   announce=<json>           also emit('hello', {id: <json>}) on connect
//   greet=0                   send nothing on connect
// stdout: READY <json> (set up; stream clients print CONNECT once connected),
//   CONNECT, EVENT {"type","data"}, DATA <hex> (raw), DISCONNECT, DESTROY, ERROR <text>
// stdin: EMIT <json {type,data}>, RAW <hex>, QUIT (disconnect and exit 0); the
//   peer exits when stdin closes.

const base = require('../common.cjs');
const {parseArgs, isLoopback, line, errorText, whenBound, onStdinLines} = require('../util.cjs');

function world(ipc, version, argv) {
    base.startServer(ipc, version, argv, (type, data, socket) => {
        if (type === 'message') {
            if (data !== null && typeof data === 'object' && 'message' in data) {
                ipc.server.emit(socket, 'message', {from: ipc.config.id, message: data.message + ' world!'});
            } else {
                ipc.server.emit(socket, 'message', data + ' world!');
            }
        } else if (type === 'data') {
            ipc.server.emit(socket, Buffer.from(data).reverse());
        }
    });
}

function hello(ipc, version, argv) {
    const args = parseArgs(argv, base.fail);
    ipc.config.silent = true;
    ipc.config.id = args.id || 'hello';
    ipc.config.retry = 1500;
    if (args.config !== undefined) {
        Object.assign(ipc.config, JSON.parse(args.config));
    }
    const transport = args.transport || 'unix';
    const listen = (args.listen || 'message').split(',').filter(Boolean);
    const host = args.host || '127.0.0.1';
    const port = Number(args.port);
    if (transport !== 'unix' && !isLoopback(host)) {
        process.stderr.write(`refusing non-loopback host ${host}\n`);
        process.exit(2);
    }
    const udp = transport === 'udp4' || transport === 'udp6';
    const to = {address: host, port};
    let emit;

    function greet() {
        if (args.greet === '0') {
            return;
        }
        if (args.raw !== undefined) {
            emit(Buffer.from(args.raw, 'hex'));
        } else if (udp) {
            emit('message', {from: ipc.config.id, message: 'Hello'});
        } else {
            emit('message', 'hello');
        }
        if (args.announce !== undefined) {
            emit('hello', {id: JSON.parse(args.announce)});
        }
    }

    if (udp) {
        emit = (type, data) => ipc.server.emit(to, type, data);
        ipc.serveNet(host, Number(args.localPort), transport, () => {
            for (const type of listen) {
                ipc.server.on(type, (data) => line('EVENT', JSON.stringify({type, data})));
            }
            ipc.server.on('data', (data) => line('DATA', Buffer.from(data).toString('hex')));
            const announce = () => {
                greet();
                line('READY', JSON.stringify({version, transport}));
            };
            whenBound(ipc.server.server, announce);
        });
        ipc.server.start();
    } else {
        const server = args.server || 'world';
        emit = (type, data) => ipc.of[server].emit(type, data);
        const setup = () => {
            const world = ipc.of[server];
            world.on('connect', () => {
                line('CONNECT');
                greet();
            });
            world.on('disconnect', () => line('DISCONNECT'));
            world.on('destroy', () => line('DESTROY'));
            world.on('error', (error) => line('ERROR', errorText(error)));
            world.on('data', (data) => line('DATA', Buffer.from(data).toString('hex')));
            for (const type of listen) {
                world.on(type, (data) => line('EVENT', JSON.stringify({type, data})));
            }
        };
        if (transport === 'unix' && args.path === undefined) {
            if (process.platform !== 'win32') {
                process.stderr.write('path= is needed outside Windows (sockets go under a temporary directory)\n');
                process.exit(2);
            }
            ipc.connectTo(server, setup);
        } else if (transport === 'unix') {
            ipc.connectTo(server, args.path, setup);
        } else {
            ipc.connectToNet(server, host, port, setup);
        }
        line('READY', JSON.stringify({version, transport}));
    }

    onStdinLines((cmd) => {
        if (cmd === 'QUIT') {
            if (!udp) {
                ipc.disconnect(args.server || 'world');
            }
            setTimeout(() => process.exit(0), 20);
        } else if (cmd.startsWith('EMIT ')) {
            const message = JSON.parse(cmd.slice(5));
            emit(message.type, message.data);
        } else if (cmd.startsWith('RAW ')) {
            emit(Buffer.from(cmd.slice(4), 'hex'));
        }
    });
}

module.exports = {world, hello};
