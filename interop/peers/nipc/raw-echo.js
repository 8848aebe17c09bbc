'use strict';
// node-ipc 9.2.1 (CommonJS, run with Node 20) raw-buffer echo server: pass
// config={"rawBuffer":true,"encoding":...}; every chunk received goes back to
// its sender unchanged. Arguments and line protocol: see ../common.cjs.

const ipc = require('node-ipc-9');
const version = require('node-ipc-9/package.json').version;
const {startServer} = require('../common.cjs');

if (version !== '9.2.1') {
    process.stderr.write(`expected node-ipc 9.2.1, found ${version}\n`);
    process.exit(3);
}

startServer(ipc, version, process.argv.slice(2), (type, data, socket) => {
    ipc.server.emit(socket, data);
});
