'use strict';
// The (type, data) pairs whose wire frames go into ipc-codec/tests/golden/frames.json.
// A vector without a `data` key is emitted with no data argument (undefined).
// Names are unique; keep them short and stable (codec tests refer to them).

const allControls = Array.from({length: 0x20}, (_, i) => String.fromCharCode(i)).join('') + '\u007f';
const c1Controls = Array.from({length: 0x20}, (_, i) => String.fromCharCode(0x80 + i)).join('');

function nestedMixed() {
    return {
        z: [1, {y: [true, null, {x: 'deep', w: [[], [{}], [[0.5]]]}]}, 'two'],
        a: {b: {c: {d: {e: [1, 2, {f: 'g'}]}}}},
        m: [[[['four levels']]], {n: []}]
    };
}

const vectors = [
    {name: 'plain string', type: 'message', data: 'hello world'},
    {name: 'empty string', type: 'message', data: ''},
    {name: 'null', type: 'message', data: null},
    {name: 'undefined', type: 'message'},
    {name: 'zero', type: 'message', data: 0},
    {name: 'negative zero', type: 'message', data: -0},
    {name: 'false', type: 'message', data: false},
    {name: 'true', type: 'message', data: true},
    {name: 'empty object', type: 'message', data: {}},
    {name: 'empty array', type: 'message', data: []},
    {name: 'object', type: 'message', data: {id: 'client-1', message: 'hi'}},
    {name: 'nested mixed', type: 'message', data: nestedMixed()},
    {name: 'array of mixed', type: 'message', data: [1, 'a', null, true, false, {k: [2, {l: 3}]}, [[]], -0, 0.25]},
    {name: 'key order', type: 'message', data: {zeta: 1, alpha: 2, mid: {y: 1, b: 2, x: 3}, beta: 3}},
    // JS puts integer-like keys first, ascending, whatever the insertion order.
    {name: 'integer-like keys', type: 'message', data: {b: 1, 10: 'ten', 2: 'two', a: 2, '-1': 'neg', '01': 'lead'}},
    {name: 'keys named type and data', type: 'message', data: {data: 1, type: 'inner'}},
    {name: 'bmp unicode', type: 'message', data: 'héllo wörld ✓ 中文'},
    {name: 'astral', type: 'message', data: '😀 𝄞 🇺🇳'},
    {name: 'control characters', type: 'message', data: allControls},
    {name: 'c1 controls', type: 'message', data: c1Controls},
    {name: 'form feed alone', type: 'message', data: '\f'},
    {name: 'form feed in object', type: 'message', data: {'k\fey': 'va\flue'}},
    {name: 'line separators', type: 'message', data: 'a\u2028b\u2029c'},
    {name: 'quotes and backslashes', type: 'message', data: 'say "hi" \\ back\\slash \\"both\\" \'single\' /slash'},
    {name: 'max listeners 10', type: 'message', data: {_maxListeners: 10, a: 1}},
    {name: 'max listeners 0', type: 'message', data: {_maxListeners: 0, a: 1}},
    {name: 'max listeners string', type: 'message', data: {a: 1, _maxListeners: 'yes'}},
    {name: 'int 1', type: 'message', data: 1},
    {name: 'int -1', type: 'message', data: -1},
    {name: 'int 2^31', type: 'message', data: 2 ** 31},
    {name: 'int 2^53-1', type: 'message', data: 2 ** 53 - 1},
    {name: 'int -(2^53-1)', type: 'message', data: -(2 ** 53 - 1)},
    {name: 'int 2^53+2', type: 'message', data: 2 ** 53 + 2},
    {name: 'float 0.1', type: 'message', data: 0.1},
    {name: 'float 1.5', type: 'message', data: 1.5},
    {name: 'float -2.25', type: 'message', data: -2.25},
    {name: 'float pi', type: 'message', data: 3.141592653589793},
    {name: 'float 1e21', type: 'message', data: 1e21},
    {name: 'float 1e20', type: 'message', data: 1e20},
    {name: 'float 1e-7', type: 'message', data: 1e-7},
    {name: 'float 1.5e-7', type: 'message', data: 1.5e-7},
    {name: 'float 0.000001', type: 'message', data: 0.000001},
    {name: 'float 123456789.123', type: 'message', data: 123456789.123},
    {name: 'float 5e-324', type: 'message', data: 5e-324},
    {name: 'float max', type: 'message', data: 1.7976931348623157e308},
    {name: 'float -1e-7', type: 'message', data: -1e-7},
    {name: 'float 0.1+0.2', type: 'message', data: 0.1 + 0.2},
    {name: 'numbers in array', type: 'message', data: [1e21, 1e-7, -0, 0.5, 100, 2 ** 53, 1.7976931348623157e308, 5e-324]},
    {name: 'nan and infinity in array', type: 'message', data: [NaN, Infinity, -Infinity, 1]},
    {name: 'nan and infinity in object', type: 'message', data: {nan: NaN, inf: Infinity, ninf: -Infinity}},
    {name: 'nan top level', type: 'message', data: NaN},
    {name: 'long string', type: 'message', data: 'abcdefghijklmnopqrstuvwxyz012345'.repeat(320)},
    {name: 'long unicode string', type: 'message', data: 'é✓😀'.repeat(1024)},
    {name: 'unicode type', type: 'événement ✓ 中文 😀', data: {ok: true}},
    {name: 'quote in type', type: 'say "hi"\\now', data: 'x'},
    {name: 'form feed in type', type: 'a\fb', data: 1},
    {name: 'empty type', type: '', data: 'x'},
    {name: 'id in data', type: 'app.message', data: {id: 'world', message: 'hello'}}
];

const names = new Set();
for (const vector of vectors) {
    if (names.has(vector.name)) {
        throw new Error(`duplicate vector name ${vector.name}`);
    }
    names.add(vector.name);
}

module.exports = vectors;
