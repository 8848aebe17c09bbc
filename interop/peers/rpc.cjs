'use strict';
// Request/response for node-ipc 9 and 14 (PROTOCOL.md). rpc(target, send):
// target is ipc.server or ipc.of[id]; send(type, data, socket) emits one event
// (a server's to `socket`). Returns {handle(type, fn), request(type, data, ms, socket)}.
function rpc(target, send) {
    const handlers = new Map();
    const waiting = new Map();
    let lastRid = 0;
    target.on('ipc.request', (req, socket) => {
        const reply = (body) => send('ipc.reply', Object.assign({rid: req.rid}, body), socket);
        const handler = handlers.get(req.type);
        if (handler === undefined) {
            reply({error: {message: `no handler for request ${JSON.stringify(req.type)}`}});
            return;
        }
        new Promise((resolve) => resolve(handler(req.data, socket))).then(
            (ok) => reply({ok}),
            (e) => reply({error: {message: String(e instanceof Error ? e.message : e)}}));
    });
    target.on('ipc.reply', (rep) => {
        const waiter = waiting.get(rep.rid);
        if (waiter === undefined) return; // late, or not ours: dropped
        waiting.delete(rep.rid);
        clearTimeout(waiter.timer);
        if ('error' in rep) waiter.reject(new Error(rep.error.message)); else waiter.resolve(rep.ok);
    });
    return {
        handle: (type, fn) => void handlers.set(type, fn),
        request: (type, data, ms, socket) => new Promise((resolve, reject) => {
            const rid = ++lastRid;
            const timer = setTimeout(() => waiting.delete(rid) && reject(new Error(`request ${type} timed out`)), ms);
            waiting.set(rid, {resolve, reject, timer});
            send('ipc.request', {rid, type, data}, socket);
        })
    };
}
module.exports = {rpc};
