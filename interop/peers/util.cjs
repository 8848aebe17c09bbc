'use strict';
// Helpers every peer script shares (CommonJS, so that load-9.cjs, load-14.mjs
// and every role module can require it).

const path = require('path');

/** Parses `key=value` arguments into an object; `fail(message)` is called for anything else. */
function parseArgs(argv, fail) {
    const args = {};
    for (const arg of argv) {
        const eq = arg.indexOf('=');
        if (eq < 1) {
            fail(`bad argument ${JSON.stringify(arg)}: expected key=value`);
        }
        args[arg.slice(0, eq)] = arg.slice(eq + 1);
    }
    return args;
}

/** Whether `host` is a loopback address (the only kind a peer may bind or dial). */
function isLoopback(host) {
    return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Writes one stdout line: `TAG` or `TAG payload`. */
function line(tag, payload) {
    process.stdout.write(payload === undefined ? `${tag}\n` : `${tag} ${payload}\n`);
}

/** Whether a published argument is a socket: a stream socket, or a UDP sender's {address, port}. */
function looksLikeSocket(value) {
    return value !== null && typeof value === 'object' &&
        (typeof value.write === 'function' || ('address' in value && 'port' in value));
}

/** An error (or anything thrown) as one line of text. */
function errorText(error) {
    return String(error && error.message ? error.message : error).replace(/\n/g, ' ');
}

/** Events node-ipc publishes itself, as opposed to events that came over the wire. */
const LIFECYCLE = new Set(['connect', 'disconnect', 'destroy', 'error', 'close', 'start', 'socket.disconnected', 'data']);

/**
 * Calls `fn` once the UDP socket `socket` (node-ipc's `ipc.server.server`) is
 * bound: 9.x fires 'start' right after calling bind(), before the socket is bound.
 */
function whenBound(socket, fn) {
    let bound = false;
    try {
        socket.address();
        bound = true;
    } catch {
        bound = false;
    }
    if (bound) {
        fn();
    } else {
        socket.once('listening', fn);
    }
}

/** Calls `handle(line)` for each stdin line (without its line ending); exits 0 when stdin ends. */
function onStdinLines(handle) {
    let buffer = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => {
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf('\n')) !== -1) {
            const cmd = buffer.slice(0, nl).replace(/\r$/, '');
            buffer = buffer.slice(nl + 1);
            handle(cmd);
        }
    });
    process.stdin.on('end', () => process.exit(0));
}

/**
 * For load-9.cjs and load-14.mjs: the function `require(<module>)[<role>]` named
 * by the arguments `[<module>, <role>, ...]`, with <module> a path inside this
 * directory. Exits 2 with a message otherwise.
 */
function role([modulePath, name]) {
    const usage = 'usage: node load-<9|14> <module inside interop/peers> <role> [key=value ...]';
    if (modulePath === undefined || name === undefined) {
        process.stderr.write(`${usage}\n`);
        process.exit(2);
    }
    const file = path.resolve(__dirname, modulePath);
    const inside = path.relative(__dirname, file);
    if (inside.startsWith('..') || path.isAbsolute(inside)) {
        process.stderr.write(`${modulePath} is not inside ${__dirname}\n${usage}\n`);
        process.exit(2);
    }
    const fn = require(file)[name];
    if (typeof fn !== 'function') {
        process.stderr.write(`${modulePath} has no role ${JSON.stringify(name)}\n${usage}\n`);
        process.exit(2);
    }
    return fn;
}

module.exports = {role, parseArgs, isLoopback, line, looksLikeSocket, errorText, LIFECYCLE, whenBound, onStdinLines};
