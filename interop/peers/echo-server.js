'use strict';
// node-ipc 9.2.1 (CommonJS, run with Node 20) echo server.
// Every wire event is sent back to its sender with the same type and data.
// Arguments and the stdout/stdin line protocol: see ./common.cjs.

const ipc = require('node-ipc-9');
const version = require('node-ipc-9/package.json').version;
const {startServer} = require('./common.cjs');

if (version !== '9.2.1') {
    process.stderr.write(`expected node-ipc 9.2.1, found ${version}\n`);
    process.exit(3);
}

startServer(ipc, version, process.argv.slice(2), (type, data, socket) => {
    ipc.server.emit(socket, type, data);
});
