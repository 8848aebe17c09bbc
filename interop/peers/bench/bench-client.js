'use strict';
// ipc-bench client peer, node-ipc 9.2.1; see ./bench-common.cjs.

const ipc = require('node-ipc-9');
const common = require('./bench-common.cjs');
const version = require('node-ipc-9/package.json').version;

if (version !== '9.2.1') {
    process.stdout.write(`ERROR expected node-ipc 9.2.1, found ${version}\n`);
    process.exit(3);
}
common.client(ipc, version, process.argv.slice(2));
