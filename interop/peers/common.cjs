'use strict';
// The server side of the peers: startServer, and the echo servers built on it
// (CommonJS, run through load-9.cjs or load-14.mjs, which pass the node-ipc singleton).
//
// Roles (`node load-9.cjs common.cjs <role> key=value ...`):
//   echoServer     every wire event goes back to its sender with the same type and data
//   rawEchoServer  pass config={"rawBuffer":true,"encoding":...}; every chunk goes back
//                  to its sender unchanged
//
// Line protocol on stdout (one line each, UTF-8, '\n'-terminated):
//   READY <json>        the peer is listening; json = {version, node, transport, path, host, port}
//   CONNECT             a client connected (stream transports)
//   EVENT <json>        a wire event arrived; json = JSON.stringify({type, data})
//   DISCONNECT <json>   a client went away; json = the socket id node-ipc reports (or false)
//   ERROR <message>     node-ipc published an 'error' event after READY
//                       (before READY an error is fatal: message on stderr, exit 1)
// Commands on stdin (one per line):
//   EMIT <json>         broadcast {type, data} to every connected client
//   QUIT                stop the server and exit 0
// The peer also exits when stdin closes, so a crashed test never leaves it behind.

const path = require('path');
const {parseArgs, isLoopback, line, looksLikeSocket, errorText, whenBound, onStdinLines} = require('./util.cjs');

const USAGE = [
    'usage: <script> (path=<socket path> | [socketRoot=<dir/>] [appspace=<prefix>] id=<id>',
    '                 | host=<loopback address> port=<port> [udp=udp4|udp6])',
    '                 [config=<json merged into ipc.config>]'
].join('\n');

/** Prints `message` and the usage on stderr and exits 2. */
function fail(message) {
    process.stderr.write(`${message}\n${USAGE}\n`);
    process.exit(2);
}

/**
 * Configures `ipc` (a node-ipc singleton) from the arguments and starts a server.
 * `onEvent(type, data, socket)` is called for every wire event; `onCommand(line)`,
 * if given, sees each stdin line first and returns true for the ones it handled.
 */
function startServer(ipc, version, argv, onEvent, onCommand) {
    const args = parseArgs(argv, fail);
    ipc.config.silent = true;
    ipc.config.maxRetries = 0;
    if (args.config !== undefined) {
        let extra;
        try {
            extra = JSON.parse(args.config);
        } catch (error) {
            fail(`config= is not JSON: ${error.message}`);
        }
        Object.assign(ipc.config, extra);
    }

    let transport;
    if (args.host !== undefined || args.port !== undefined) {
        const host = args.host === undefined ? '127.0.0.1' : args.host;
        const port = Number(args.port);
        if (!isLoopback(host)) {
            fail(`refusing to bind non-loopback host ${JSON.stringify(host)}`);
        }
        // node-ipc treats port 0 as "not given" and falls back to networkPort (8000).
        if (!Number.isInteger(port) || port < 1 || port > 65535) {
            fail('port= must be an integer in 1..65535 (node-ipc treats 0 as 8000)');
        }
        transport = args.udp || 'tcp';
        if (args.udp !== undefined && args.udp !== 'udp4' && args.udp !== 'udp6') {
            fail('udp= must be udp4 or udp6');
        }
        if (args.udp) {
            ipc.serveNet(host, port, args.udp, onStart);
        } else {
            ipc.serveNet(host, port, onStart);
        }
    } else if (args.path !== undefined) {
        if (!path.isAbsolute(args.path)) {
            fail('path= must be absolute');
        }
        transport = 'unix';
        ipc.serve(args.path, onStart);
    } else if (args.socketRoot !== undefined || args.id !== undefined) {
        // Without socketRoot=, node-ipc's own default root (only where that
        // creates no file: a Windows named pipe).
        if (args.socketRoot === undefined && process.platform !== 'win32') {
            fail('socketRoot= is needed outside Windows (sockets go under a temporary directory)');
        }
        if (args.socketRoot !== undefined && !path.isAbsolute(args.socketRoot)) {
            fail('socketRoot= must be absolute');
        }
        transport = 'unix';
        if (args.socketRoot !== undefined) {
            ipc.config.socketRoot = args.socketRoot;
        }
        if (args.appspace !== undefined) {
            ipc.config.appspace = args.appspace;
        }
        if (args.id !== undefined) {
            ipc.config.id = args.id;
        }
        // No path: node-ipc builds socketRoot + appspace + id itself.
        ipc.serve(onStart);
    } else {
        fail('no endpoint given');
    }

    const server = ipc.server;

    // Observe everything the server publishes by wrapping its publish function
    // (node-ipc dispatches wire and lifecycle events through `this.publish`).
    // A '*' wildcard listener is not used: in 9.2.1 on Node >= 10, event-pubsub
    // 4.3.0 loads its es5 build (it tests `process.version[1] > 5`, one character)
    // whose wildcard path throws on events published without arguments.
    let ready = false;
    const publish = server.publish;
    server.publish = function (type, ...rest) {
        observe(type, rest);
        return publish.call(this, type, ...rest);
    };

    function observe(type, rest) {
        // Wire events are published as (type, data, socket); lifecycle events
        // ('start', 'connect', 'close', 'socket.disconnected', 'error') are not.
        if (rest.length === 2 && looksLikeSocket(rest[1])) {
            line('EVENT', JSON.stringify({type, data: rest[0]}));
            onEvent(type, rest[0], rest[1]);
            return;
        }
        if (type === 'connect' && transport !== 'udp4' && transport !== 'udp6') {
            line('CONNECT');
        } else if (type === 'socket.disconnected') {
            line('DISCONNECT', JSON.stringify(rest[1] === undefined ? false : rest[1]));
        } else if (type === 'error') {
            const message = errorText(rest[0]);
            if (!ready) {
                // Failing to start (e.g. listen EACCES) is fatal: exit instead of hanging.
                process.stderr.write(`server failed to start: ${message}\n`);
                process.exit(1);
            }
            line('ERROR', message);
        }
    }

    function onStart() {
        const announce = () => {
            let address = null;
            try {
                address = server.server.address();
            } catch {
                address = null;
            }
            const info = {
                version,
                node: process.version,
                transport,
                path: transport === 'unix' ? server.path : null,
                host: address && typeof address === 'object' ? address.address : null,
                port: address && typeof address === 'object' ? address.port : null
            };
            ready = true;
            line('READY', JSON.stringify(info));
        };
        if (transport === 'udp4' || transport === 'udp6') {
            whenBound(server.server, announce);
            return;
        }
        announce();
    }

    server.start();
    commands(ipc, onCommand);
    return server;
}

/** Handles stdin commands (`onCommand`'s first); exits when stdin closes. */
function commands(ipc, onCommand) {
    onStdinLines(run);

    function run(cmd) {
        if (onCommand !== undefined && onCommand(cmd)) {
            return;
        }
        if (cmd === 'QUIT') {
            try {
                ipc.server.stop();
            } finally {
                process.exit(0);
            }
        }
        if (cmd.startsWith('EMIT ')) {
            const message = JSON.parse(cmd.slice(5));
            if ('data' in message) {
                ipc.server.broadcast(message.type, message.data);
            } else {
                ipc.server.broadcast(message.type);
            }
            return;
        }
        if (cmd.trim() !== '') {
            process.stderr.write(`unknown command ${JSON.stringify(cmd)}\n`);
        }
    }
}

/** Echoes every wire event to its sender with the same type and data. */
function echoServer(ipc, version, argv) {
    startServer(ipc, version, argv, (type, data, socket) => {
        ipc.server.emit(socket, type, data);
    });
}

/** Raw-buffer echo (with config={"rawBuffer":true,...}): every chunk goes back to its sender unchanged. */
function rawEchoServer(ipc, version, argv) {
    startServer(ipc, version, argv, (type, data, socket) => {
        ipc.server.emit(socket, data);
    });
}

module.exports = {startServer, echoServer, rawEchoServer, fail};
