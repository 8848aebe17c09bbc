'use strict';
// Writes Node's Buffer string encodings (the ones node-ipc's rawBuffer mode and
// `encoding` option can use) as JSON on stdout. Run with Node 20 (regen.sh does).
//
// from_string: {encoding, input, bytes_base64}        = Buffer.from(input, encoding)
// to_string:   {encoding, bytes_base64, output, output_utf16_hex}
//                                                    = buffer.toString(encoding)
// `output` is the string made well-formed (lone surrogates -> U+FFFD) so any JSON
// parser reads it; `output_utf16_hex` is the exact UTF-16 code units, 4 lowercase
// hex digits each, no separators.

const ENCODINGS = ['utf8', 'hex', 'base64', 'ascii', 'utf16le', 'ucs2', 'latin1', 'binary'];

const COMMON_INPUTS = ['', 'hello', 'héllo ✓', '𝄞', '\u0000\u007f\u0080\u00ff\u0100'];
const ODD_INPUTS = {
    hex: ['abz1', 'ABCDEF', 'abc', '0g', '0102ff', 'zz01'],
    base64: ['aGVsbG8=', 'aGVsbG8', 'aGV sbG8=', 'aGVsbG8-_w', 'a', 'ab', 'abc', '=abc', 'aGVs\nbG8=', 'aGVsbG8=aGVsbG8=']
};

const BYTE_CASES = [
    [],
    Array.from(Buffer.from('hello world', 'ascii')),
    Array.from({length: 256}, (_, i) => i),
    Array.from(Buffer.from('héllo ✓ 😀', 'utf8')),
    [0xff],
    [0xc3],
    [0xe2, 0x82],
    [0xf0, 0x9f, 0x98],
    [0xed, 0xa0, 0x80],
    [0xc0, 0xaf],
    [0x61, 0xff, 0x62, 0xc3, 0x63],
    [0x68, 0x00, 0x69],
    [0x00, 0xd8],
    [0x3d, 0xd8, 0x00, 0xde]
];

function utf16Hex(text) {
    let out = '';
    for (let i = 0; i < text.length; i++) {
        out += text.charCodeAt(i).toString(16).padStart(4, '0');
    }
    return out;
}

function main() {
    const major = Number(process.versions.node.split('.')[0]);
    if (major !== 20) {
        throw new Error(`run with Node 20 (the runtime of node-ipc 9.2.1); this is ${process.version}`);
    }
    const fromString = [];
    for (const encoding of ENCODINGS) {
        const inputs = COMMON_INPUTS.concat(ODD_INPUTS[encoding] || []);
        for (const input of inputs) {
            fromString.push({
                encoding,
                input,
                bytes_base64: Buffer.from(input, encoding).toString('base64')
            });
        }
    }
    const toString = [];
    for (const encoding of ENCODINGS) {
        for (const bytes of BYTE_CASES) {
            const output = Buffer.from(bytes).toString(encoding);
            toString.push({
                encoding,
                bytes_base64: Buffer.from(bytes).toString('base64'),
                output: output.toWellFormed(),
                output_utf16_hex: utf16Hex(output)
            });
        }
    }
    const out = {
        generator: 'interop/golden/regen.sh',
        node_major: major,
        encodings: ENCODINGS,
        from_string: fromString,
        to_string: toString
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

try {
    main();
} catch (error) {
    process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
}
