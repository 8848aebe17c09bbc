'use strict';
// Runs a peer role with node-ipc 9.2.1 (CommonJS, Node 20):
//   node load-9.cjs <module> <role> key=value ...
// loads node-ipc, checks its version, then calls `require(<module>)[<role>](ipc,
// version, [key=value ...])`, with <module> a path inside this directory (for
// example `common.cjs echoServer`, `compat/common.cjs world`). load-14.mjs does
// the same for node-ipc 14.0.0.

const ipc = require('node-ipc-9');
const version = require('node-ipc-9/package.json').version;
const {role} = require('./util.cjs');

if (version !== '9.2.1') {
    process.stderr.write(`expected node-ipc 9.2.1, found ${version}\n`);
    process.exit(3);
}

role(process.argv.slice(2))(ipc, version, process.argv.slice(4));
