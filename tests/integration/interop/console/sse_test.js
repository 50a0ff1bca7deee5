/*
 * The console's Server-Sent Events parser (admin/console/console.js,
 * SseParser) against the WHATWG HTML "Parsing an event stream" rules,
 * fed in every way a stream can be cut into chunks.
 *   node --test sse_test.js        (run by test_console.py)
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const path = require('path');

const { SseParser, formatLeft } = require(path.join(__dirname, '..', '..',
	'..', '..', 'admin', 'console', 'console.js'));

const enc = new TextEncoder();

/* The events of the stream given as these byte chunks; the parser. */
function parse(chunks) {
	const events = [];
	const p = new SseParser(ev => events.push(ev));

	for (const c of chunks)
		p.push(typeof c === 'string' ? enc.encode(c) : c);
	p.end();
	return { events, p };
}

/* The same stream cut at every byte, and byte by byte: same events. */
function everyCut(text, want) {
	const bytes = enc.encode(text);

	for (let i = 0; i <= bytes.length; i++) {
		const { events } = parse([bytes.slice(0, i), bytes.slice(i)]);

		assert.deepStrictEqual(events, want, `cut at byte ${i}`);
	}
	const single = [];

	for (let i = 0; i < bytes.length; i++)
		single.push(bytes.slice(i, i + 1));
	assert.deepStrictEqual(parse(single).events, want, 'byte by byte');
}

test('fields, the default type, and the last event id', () => {
	const { events, p } = parse(['id: 1\nevent: binding\ndata: {"a":1}\n\n' +
		'data: plain\n\n']);

	assert.deepStrictEqual(events, [
		{ type: 'binding', data: '{"a":1}', id: '1' },
		/* the id is kept for the events after it */
		{ type: 'message', data: 'plain', id: '1' },
	]);
	assert.strictEqual(p.lastEventId, '1');
});

test('CR LF, LF and CR line ends, split anywhere', () => {
	const want = [
		{ type: 'a', data: 'x', id: '7' },
		{ type: 'b', data: 'y', id: '8' },
		{ type: 'c', data: 'z', id: '9' },
	];

	everyCut('id: 7\r\nevent: a\r\ndata: x\r\n\r\n' +
		'id: 8\nevent: b\ndata: y\n\n' +
		'id: 9\revent: c\rdata: z\r\r', want);
});

test('a multi-byte character cut between chunks', () => {
	everyCut('event: presence\ndata: {"note":"café ☕ 日本"}\n\n', [
		{ type: 'presence', data: '{"note":"café ☕ 日本"}', id: '' },
	]);
});

test('comments, keep-alives, several data lines, one space dropped', () => {
	const { events } = parse([': keep-alive\n\n: hello\ndata:  two\n' +
		'data:one\ndata\n\n']);

	/* ": keep-alive" then a blank line: no data, nothing dispatched */
	assert.deepStrictEqual(events, [
		{ type: 'message', data: ' two\none\n', id: '' },
	]);
});

test('an id alone sets the last event id; a NUL in it is ignored', () => {
	const { events, p } = parse(['id: 5\n\nid: 6\0x\n\n']);

	assert.deepStrictEqual(events, []);
	assert.strictEqual(p.lastEventId, '5');
});

test('retry: digits only', () => {
	assert.strictEqual(parse(['retry: 2500\n\n']).p.retry, 2500);
	assert.strictEqual(parse(['retry: 2s\n\n']).p.retry, null);
});

test('an unfinished event at the end is dropped, unknown fields too', () => {
	const { events } = parse(['foo: bar\nevent: reset\ndata: {}\n\n',
		'event: binding\ndata: {"half":']);

	assert.deepStrictEqual(events, [
		{ type: 'reset', data: '{}', id: '' },
	]);
});

test('a byte order mark at the start is not part of the first field', () => {
	const { events } = parse([new Uint8Array([0xef, 0xbb, 0xbf]),
		'event: user\ndata: 1\n\n']);

	assert.deepStrictEqual(events, [{ type: 'user', data: '1', id: '' }]);
});

test('expiry as a person reads it', () => {
	assert.strictEqual(formatLeft(598.4), '9:58');
	assert.strictEqual(formatLeft(3723), '1:02:03');
	assert.strictEqual(formatLeft(0), 'expired');
	assert.strictEqual(formatLeft(-3), 'expired');
});
