#!/usr/bin/env node
'use strict';
/*
 * One JsSIP user agent (JsSIP as shipped, in Node, over
 * jssip-node-websocket) driven by JSON, for Herald's integration tests.
 *
 *   node driver.js '{"ws": "wss://127.0.0.1:5061", "uri":
 *     "sip:alice@example.test", "password": "secret", "ca": "ca.pem",
 *     "timeout": 20, "actions": [{"do": "register"}, ...]}'
 *
 * The configuration is the first argument, or the first line of stdin
 * when there is none. Its actions run one after the other; without an
 * "actions" list, actions are read from stdin, one JSON object a line,
 * until end of input (then the user agent stops). Every event is one
 * JSON line on stdout ({"event": NAME, ...}); the process always ends:
 * at "timeout" seconds (default 30) it prints {"event": "timeout"} and
 * exits 3. Exit status: 0 every action done, 1 bad configuration or
 * action, 2 an action failed, 3 timeout.
 *
 * Configuration: ws (ws:// or wss:// URL), uri, password (what a user
 * must give JsSIP), ca (PEM file: the CA a wss: server certificate is
 * verified against, in place of Node's bundled CAs), cert and key (PEM
 * files: a client certificate), timeout (s), register_expires (s, only
 * when given), actions. JsSIP's defaults are kept for everything else:
 * it registers on start (register: true) and Herald must answer it.
 *
 * Actions ({"do": NAME, ...}):
 *   register             wait for the registration JsSIP makes on start
 *                        (registered or registrationFailed)
 *   unregister           un-REGISTER; wait for unregistered
 *   subscribe target [expires]
 *                        ua.subscribe(target, 'presence',
 *                        'application/pidf+xml'): SUBSCRIBE, events
 *                        accepted, active, pending, notify, terminated
 *   unsubscribe          terminate the subscription (Expires: 0); wait
 *                        for terminated
 *   publish basic [note] [expires]
 *                        PUBLISH Event: presence, application/pidf+xml
 *                        (RFC 3903: SIP-If-Match the last SIP-ETag);
 *                        wait for its final response
 *   unpublish            PUBLISH Expires: 0 with SIP-If-Match, no body
 *   wait event [contains] [timeout]
 *                        wait for an event of that name (whose JSON
 *                        line contains the text) after the last one a
 *                        wait took
 *   sleep ms
 *   stop                 ua.stop() (un-REGISTER, close); wait for
 *                        disconnected
 *
 * JsSIP 3.13 has no publisher of its own (no ua.publish, no
 * JsSIP.Publisher): PUBLISH goes through JsSIP's own request machinery,
 * SIPMessage.OutgoingRequest and RequestSender (the digest challenge is
 * answered there), the way its Message class sends a MESSAGE.
 */

const fs = require('fs');

/* stdout is for events alone: JsSIP's debug log (DEBUG=JsSIP:*) goes
 * through console.info, bound when its modules load */
console.info = console.error;

const JsSIP = require('jssip');
const NodeWebSocket = require('jssip-node-websocket');
const SIPMessage = require('jssip/lib/SIPMessage');
const RequestSender = require('jssip/lib/RequestSender');

const EXIT_OK = 0;
const EXIT_USAGE = 1;
const EXIT_FAILED = 2;
const EXIT_TIMEOUT = 3;

const events = [];
let waitFrom = 0;
let waiter = null;
let ua = null;
let subscriber = null;
let etag = null;

function emit(name, fields) {
	const ev = Object.assign({ event: name, t: Date.now() / 1000 }, fields);
	events.push(ev);
	process.stdout.write(JSON.stringify(ev) + '\n');
	if (waiter)
		waiter();
}

function finish(code) {
	process.stdout.write('', () => process.exit(code));
}

function fail(code, why) {
	emit(code === EXIT_USAGE ? 'error' : 'failed', { why: why });
	finish(code);
}

/* The first event named one of names (from index waitFrom on) that
 * test accepts; waits for it. */
function waitEvent(names, test, timeoutMs) {
	return new Promise((resolve, reject) => {
		let timer = null;
		const look = () => {
			for (let i = waitFrom; i < events.length; i++) {
				const ev = events[i];
				if (names.includes(ev.event) && (!test || test(ev))) {
					waitFrom = i + 1;
					waiter = null;
					clearTimeout(timer);
					resolve(ev);
					return true;
				}
			}
			return false;
		};
		if (look())
			return;
		waiter = look;
		if (timeoutMs)
			timer = setTimeout(() => {
				waiter = null;
				reject(new Error('no ' + names.join('/') + ' within ' +
					timeoutMs + ' ms'));
			}, timeoutMs);
	});
}

function pidf(entity, basic, note) {
	const esc = (s) => String(s).replace(/&/g, '&amp;')
		.replace(/</g, '&lt;').replace(/>/g, '&gt;');
	return '<?xml version="1.0" encoding="UTF-8"?>\r\n' +
		'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="' +
		esc(entity) + '">\r\n' +
		'  <tuple id="jssip">\r\n' +
		'    <status><basic>' + esc(basic) + '</basic></status>\r\n' +
		(note !== undefined ? '    <note>' + esc(note) + '</note>\r\n' : '') +
		'  </tuple>\r\n' +
		'</presence>\r\n';
}

/* RFC 3903 4.1: PUBLISH to our own AOR; a refresh, a modification or
 * a removal carries SIP-If-Match with the entity-tag of the last 2xx. */
function sendPublish(body, expires) {
	const aor = ua.configuration.uri;
	const headers = ['Event: presence', 'Expires: ' + expires];
	if (etag)
		headers.push('SIP-If-Match: ' + etag);
	if (body)
		headers.push('Content-Type: application/pidf+xml');
	const request = new SIPMessage.OutgoingRequest('PUBLISH', aor,
		ua, {}, headers, body || undefined);
	return new Promise((resolve) => {
		const sender = new RequestSender(ua, request, {
			onRequestTimeout: () => resolve({ ok: false, cause: 'timeout' }),
			onTransportError: () =>
				resolve({ ok: false, cause: 'transport error' }),
			onReceiveResponse: (r) => {
				if (r.status_code < 200)
					return;
				const ok = r.status_code < 300;
				if (ok)
					etag = expires > 0 ? r.getHeader('SIP-ETag') : null;
				resolve({ ok: ok, status: r.status_code,
					reason: r.reason_phrase, etag: etag });
			},
		});
		sender.send();
	});
}

function subscribe(a) {
	subscriber = ua.subscribe(a.target, 'presence', 'application/pidf+xml',
		a.expires ? { expires: a.expires } : {});
	subscriber.on('pending', () => emit('pending', {}));
	subscriber.on('accepted', () => emit('accepted', {}));
	subscriber.on('active', () => emit('active', {}));
	subscriber.on('notify', (isFinal, request, body, contentType) =>
		emit('notify', { final: isFinal, body: body,
			content_type: contentType,
			subscription_state: request.getHeader('Subscription-State') }));
	subscriber.on('terminated', (code, reason, retryAfter) =>
		emit('terminated', { code: code, reason: reason || null,
			retry_after: retryAfter === undefined ? null : retryAfter }));
	subscriber.subscribe();
}

function contains(ev, text) {
	return JSON.stringify(ev).includes(text);
}

/* Call start, then wait for the event called name. */
async function until(start, name) {
	start();
	await waitEvent([name]);
	return true;
}

const ACTIONS = {
	async register() {
		const ev = await waitEvent(['registered', 'registrationFailed']);
		return ev.event === 'registered';
	},
	async unregister() {
		return until(() => ua.unregister(), 'unregistered');
	},
	async subscribe(a) {
		if (!a.target)
			throw new TypeError('subscribe needs a target');
		subscribe(a);
		return true;
	},
	async unsubscribe() {
		return until(() => subscriber.terminate(), 'terminated');
	},
	async publish(a) {
		if (!a.basic)
			throw new TypeError('publish needs basic (open or closed)');
		const r = await sendPublish(pidf(ua.configuration.uri.toString(),
			a.basic, a.note), a.expires || 3600);
		emit('publish', r);
		return r.ok;
	},
	async unpublish() {
		const r = await sendPublish(null, 0);
		emit('unpublish', r);
		return r.ok;
	},
	async wait(a) {
		if (!a.event)
			throw new TypeError('wait needs an event');
		await waitEvent([a.event], a.contains === undefined ? null :
			(ev) => contains(ev, a.contains),
			a.timeout ? a.timeout * 1000 : 0);
		return true;
	},
	async sleep(a) {
		await new Promise((resolve) => setTimeout(resolve, a.ms || 0));
		return true;
	},
	async stop() {
		return until(() => ua.stop(), 'disconnected');
	},
};

function checkAction(action) {
	if (!action || typeof action !== 'object' || !ACTIONS[action.do])
		throw new TypeError('unknown action ' + JSON.stringify(action));
}

async function run(action) {
	checkAction(action);
	const ok = await ACTIONS[action.do](action);
	emit('done', { do: action.do, ok: ok });
	if (!ok)
		fail(EXIT_FAILED, action.do + ' failed');
	return ok;
}

/* What jssip-node-websocket hands the websocket package on each
 * connect(): clientConfig.tlsOptions go to https.request(), so to
 * tls.connect() (ca: the CA a wss: server's certificate is verified
 * against; cert, key: a client certificate). A fresh clientConfig each
 * time: the websocket package (1.0.35, WebSocketClient's constructor)
 * deletes tlsOptions from the config it is given, and
 * jssip-node-websocket gives it the same object on every connect(), so
 * from the second connection on (JsSIP's recovery after any disconnect)
 * the CA would be gone and the server's certificate refused. */
function socketOptions(cfg) {
	const files = {};
	for (const k of ['ca', 'cert', 'key'])
		if (cfg[k])
			files[k] = fs.readFileSync(cfg[k]);
	return {
		get clientConfig() {
			return { tlsOptions: Object.assign({}, files) };
		},
	};
}

function start(cfg) {
	const socket = new NodeWebSocket(cfg.ws, socketOptions(cfg));
	const config = { sockets: [socket], uri: cfg.uri, password: cfg.password };
	if (cfg.register_expires)
		config.register_expires = cfg.register_expires;
	ua = new JsSIP.UA(config);
	ua.on('connecting', (e) => emit('connecting', { attempts: e.attempts }));
	ua.on('connected', () => emit('connected', {}));
	ua.on('disconnected', (e) => emit('disconnected', { error: !!e.error,
		code: e.code === undefined ? null : e.code,
		reason: e.reason || null }));
	ua.on('registered', (e) => emit('registered', {
		status: e.response.status_code,
		contact: e.response.getHeaders('Contact') }));
	ua.on('unregistered', (e) => emit('unregistered', {
		status: e.response ? e.response.status_code : null,
		cause: e.cause || null }));
	ua.on('registrationFailed', (e) => emit('registrationFailed', {
		status: e.response ? e.response.status_code : null,
		cause: e.cause || null }));
	ua.start();
}

function readConfig(text) {
	let cfg;
	try {
		cfg = JSON.parse(text);
	} catch (e) {
		return null;
	}
	if (!cfg || typeof cfg !== 'object' || typeof cfg.ws !== 'string' ||
	    typeof cfg.uri !== 'string' || typeof cfg.password !== 'string' ||
	    (cfg.actions !== undefined && !Array.isArray(cfg.actions)))
		return null;
	return cfg;
}

/* Lines of stdin, one at a time, as an async iterator. */
function stdinLines() {
	const rl = require('readline').createInterface({ input: process.stdin,
		terminal: false });
	return rl[Symbol.asyncIterator]();
}

async function main() {
	let lines = null;
	let text = process.argv[2];
	if (text === undefined) {
		lines = stdinLines();
		const first = await lines.next();
		text = first.done ? '' : first.value;
	}
	const cfg = readConfig(text);
	if (!cfg) {
		fail(EXIT_USAGE, 'usage: driver.js CONFIG (JSON with ws, uri, ' +
			'password; see the head of driver.js), or CONFIG on stdin');
		return;
	}
	(cfg.actions || []).forEach(checkAction);
	const timeout = (cfg.timeout || 30) * 1000;
	setTimeout(() => {
		emit('timeout', { after: timeout / 1000 });
		finish(EXIT_TIMEOUT);
	}, timeout);
	start(cfg);
	if (cfg.actions) {
		for (const a of cfg.actions)
			if (!(await run(a)))
				return;
	} else {
		lines = lines || stdinLines();
		for (;;) {
			const l = await lines.next();
			if (l.done)
				break;
			if (!l.value.trim())
				continue;
			if (!(await run(JSON.parse(l.value))))
				return;
		}
		if (!events.some((e) => e.event === 'done' && e.do === 'stop'))
			await run({ do: 'stop' });
	}
	finish(EXIT_OK);
}

main().catch((e) => fail(EXIT_USAGE, e instanceof TypeError ?
	e.message : String(e && e.stack || e)));
