'use strict';
// node-ipc 9.2.1 (CommonJS, run with Node 20) interactive client for nipc's tests; see ./client-common.cjs.

const ipc = require('node-ipc-9');
const version = require('node-ipc-9/package.json').version;
const {run} = require('./client-common.cjs');

if (version !== '9.2.1') {
    process.stderr.write(`expected node-ipc 9.2.1, found ${version}\n`);
    process.exit(3);
}

run(ipc, version, process.argv.slice(2));
