'use strict';
// node-ipc 9.2.1 (CommonJS, Node 20): the seed README's world; see ./common.cjs.

const ipc = require('node-ipc-9');
const version = require('node-ipc-9/package.json').version;
const {world} = require('./common.cjs');

if (version !== '9.2.1') {
    process.stderr.write(`expected node-ipc 9.2.1, found ${version}\n`);
    process.exit(3);
}

world(ipc, version, process.argv.slice(2));
