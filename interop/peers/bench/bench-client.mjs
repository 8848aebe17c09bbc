// ipc-bench client peer, node-ipc 14.0.0; see ./bench-common.cjs.

import fs from 'node:fs';
import ipc from 'node-ipc-14';
import common from './bench-common.cjs';

// The package's "exports" hides package.json; read it next to the entry point.
const entry = new URL(import.meta.resolve('node-ipc-14'));
const version = JSON.parse(fs.readFileSync(new URL('package.json', entry), 'utf8')).version;

if (version !== '14.0.0') {
    process.stdout.write(`ERROR expected node-ipc 14.0.0, found ${version}\n`);
    process.exit(3);
}
common.client(ipc, version, process.argv.slice(2));
