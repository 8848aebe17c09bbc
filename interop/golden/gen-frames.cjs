'use strict';
// Asks the real node-ipc encoders for the wire frames of ./payloads.cjs.
//
//   node20 gen-frames.cjs encode 9    > 9.json    (node-ipc 9.2.1, CommonJS)
//   node22 gen-frames.cjs encode 14   > 14.json   (node-ipc 14.0.0, ESM, Node >= 22.13)
//   node   gen-frames.cjs merge 9.json 14.json > frames.json
//
// Frames are captured from the real emit paths, not from a re-implementation:
// a Client and a Server of each version are built with the version's default
// config, given a fake socket whose write() records what it is handed, and
// client.emit(type, data) / server.emit(socket, type, data) are called. Both
// must produce the same frame. regen.sh drives the three steps.

const fs = require('fs');
const path = require('path');
const {pathToFileURL} = require('url');

const interop = path.resolve(__dirname, '..');
const vectors = require('./payloads.cjs');

const EXPECTED = {9: '9.2.1', 14: '14.0.0'};
const NODE_MAJOR = {9: 20, 14: 22};

function fakeSocket(sink) {
    return {
        writableLength: 0,
        write(message) {
            sink.push(message);
            return true;
        }
    };
}

function noLog() {}

async function loadV9() {
    const dir = path.join(interop, 'node_modules', 'node-ipc-9');
    const version = require(path.join(dir, 'package.json')).version;
    const Defaults = require(path.join(dir, 'entities', 'Defaults.js'));
    const Client = require(path.join(dir, 'dao', 'client.js'));
    const Server = require(path.join(dir, 'dao', 'socketServer.js'));
    return {version, Defaults, Client, Server};
}

async function loadV14() {
    const dir = path.join(interop, 'node_modules', 'node-ipc-14');
    const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
    const load = (file) => import(pathToFileURL(path.join(dir, file)).href);
    const {Defaults} = await load('entities/Defaults.js');
    const {Client} = await load('dao/client.js');
    const {Server} = await load('dao/socketServer.js');
    return {version, Defaults, Client, Server};
}

function toBytes(message) {
    // net.Socket.write(string) encodes strings as UTF-8 (no encoding given).
    return Buffer.isBuffer(message) ? message : Buffer.from(message, 'utf8');
}

function capture(lib, vector) {
    const hasData = Object.prototype.hasOwnProperty.call(vector, 'data');
    // Fresh objects per call: 9.x's format() may replace message.data.
    const data = () => (hasData ? structuredCloneish(vector.data) : undefined);

    const config = new lib.Defaults();
    config.silent = true;

    const clientSink = [];
    const client = new lib.Client(config, noLog);
    client.socket = fakeSocket(clientSink);
    if (hasData) {
        client.emit(vector.type, data());
    } else {
        client.emit(vector.type);
    }

    const serverSink = [];
    const server = new lib.Server('/nonexistent/never-listened', config, noLog);
    const socket = fakeSocket(serverSink);
    if (hasData) {
        server.emit(socket, vector.type, data());
    } else {
        server.emit(socket, vector.type);
    }

    if (clientSink.length !== 1 || serverSink.length !== 1) {
        throw new Error(`expected one write each, got client ${clientSink.length}, server ${serverSink.length}`);
    }
    const fromClient = toBytes(clientSink[0]);
    const fromServer = toBytes(serverSink[0]);
    if (!fromClient.equals(fromServer)) {
        throw new Error(`client and server frames differ: ${fromClient.toString('base64')} vs ${fromServer.toString('base64')}`);
    }
    return fromClient;
}

// Values in payloads.cjs are plain data plus NaN/Infinity/-0, which JSON cannot
// carry; copy them by hand so each emit gets its own object.
function structuredCloneish(value) {
    if (Array.isArray(value)) {
        return value.map(structuredCloneish);
    }
    if (value !== null && typeof value === 'object') {
        const copy = {};
        for (const key of Object.keys(value)) {
            copy[key] = structuredCloneish(value[key]);
        }
        return copy;
    }
    return value;
}

async function encode(which) {
    const lib = which === '9' ? await loadV9() : which === '14' ? await loadV14() : null;
    if (!lib) {
        throw new Error(`unknown node-ipc line ${which}; expected 9 or 14`);
    }
    const major = Number(process.versions.node.split('.')[0]);
    if (major !== NODE_MAJOR[which]) {
        throw new Error(`node-ipc ${EXPECTED[which]} frames must come from Node ${NODE_MAJOR[which]}, this is ${process.version}`);
    }
    if (lib.version !== EXPECTED[which]) {
        throw new Error(`expected node-ipc ${EXPECTED[which]}, found ${lib.version}`);
    }
    const frames = {};
    for (const vector of vectors) {
        try {
            const bytes = capture(lib, vector);
            frames[vector.name] = {utf8: bytes.toString('utf8'), base64: bytes.toString('base64')};
        } catch (error) {
            frames[vector.name] = {error: String(error && error.message ? error.message : error)};
        }
    }
    return {version: lib.version, node: process.version, frames};
}

function merge(files) {
    const parts = files.map((file) => JSON.parse(fs.readFileSync(file, 'utf8')));
    const versions = parts.map((part) => part.version);
    const out = {
        generator: 'interop/golden/regen.sh',
        delimiter: '\f',
        versions,
        vectors: vectors.map((vector) => {
            const entry = {name: vector.name, type: vector.type};
            if (Object.prototype.hasOwnProperty.call(vector, 'data') && vector.data !== undefined) {
                const text = JSON.stringify(vector.data);
                entry.data = JSON.parse(text);
                entry.data_json = text;
            }
            entry.frames = {};
            for (const part of parts) {
                const frame = part.frames[vector.name];
                if (!frame) {
                    throw new Error(`${part.version} has no frame for ${vector.name}`);
                }
                entry.frames[part.version] = frame;
            }
            return entry;
        })
    };
    return JSON.stringify(out, null, 2) + '\n';
}

async function main() {
    const [command, ...rest] = process.argv.slice(2);
    if (command === 'encode' && rest.length === 1) {
        process.stdout.write(JSON.stringify(await encode(rest[0])) + '\n');
    } else if (command === 'merge' && rest.length >= 1) {
        process.stdout.write(merge(rest));
    } else {
        throw new Error('usage: gen-frames.cjs encode 9|14  |  gen-frames.cjs merge <a.json> <b.json>...');
    }
}

main().catch((error) => {
    process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
});
