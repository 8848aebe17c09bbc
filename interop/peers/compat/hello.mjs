// node-ipc 14.0.0 (ESM, Node >= 22.13): the seed README's hello; see ./common.cjs.

import fs from 'node:fs';
import ipc from 'node-ipc-14';
import common from './common.cjs';

// The package's "exports" hides package.json; read it next to the entry point.
const entry = new URL(import.meta.resolve('node-ipc-14'));
const version = JSON.parse(fs.readFileSync(new URL('package.json', entry), 'utf8')).version;

if (version !== '14.0.0') {
    process.stderr.write(`expected node-ipc 14.0.0, found ${version}\n`);
    process.exit(3);
}

common.hello(ipc, version, process.argv.slice(2));
