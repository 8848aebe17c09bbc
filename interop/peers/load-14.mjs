// Runs a peer role with node-ipc 14.0.0 (ESM, Node >= 22.13):
//   node load-14.mjs <module> <role> key=value ...
// loads node-ipc, checks its version, then calls `require(<module>)[<role>](ipc,
// version, [key=value ...])`, with <module> a path inside this directory (for
// example `common.cjs echoServer`, `compat/common.cjs world`). load-9.cjs does
// the same for node-ipc 9.2.1.

import fs from 'node:fs';
import ipc from 'node-ipc-14';
import util from './util.cjs';

// The package's "exports" hides package.json; read it next to the entry point.
const entry = new URL(import.meta.resolve('node-ipc-14'));
const version = JSON.parse(fs.readFileSync(new URL('package.json', entry), 'utf8')).version;

if (version !== '14.0.0') {
    process.stderr.write(`expected node-ipc 14.0.0, found ${version}\n`);
    process.exit(3);
}

util.role(process.argv.slice(2))(ipc, version, process.argv.slice(4));
