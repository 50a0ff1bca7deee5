/*
 * Herald's web console: plain JavaScript, no library, nothing fetched
 * but Herald's own admin API (same origin; the page's
 * Content-Security-Policy allows nothing else).
 *
 * - The admin token is typed by the operator, kept in sessionStorage
 *   (this tab only, gone when it closes or on "Log out"), and sent as
 *   "Authorization: Bearer" on each fetch(): never in a URL.
 * - Everything shown comes from the REST endpoints of admin/openapi.yaml;
 *   the live feed (GET /v1/feed, Server-Sent Events) says what changed,
 *   and the console reads that again. EventSource cannot send an
 *   Authorization header, so the stream is read with fetch() and parsed
 *   here (SseParser, after the WHATWG HTML "Server-sent events"
 *   section). A server without /v1/feed (404) is polled instead.
 * - Data is only ever shown as text (textContent, text nodes): a name
 *   like <img src=x onerror=...> is displayed as those characters. This
 *   file writes no HTML from strings anywhere.
 */
'use strict';

const TOKEN_KEY = 'herald.admin.token';
const FEED_PATH = '/v1/feed?kinds=binding,subscription,publication,rule,user';
const POLL_MS = 3000;           /* fallback polling, and while the feed is down */
const RETRY_MS = 1000;          /* the feed's first reconnection delay */
const RETRY_MAX_MS = 30000;
const SILENCE_MS = 45000;       /* keep-alives come every 15 s at most */
const MAX_USERS = 200;          /* users whose state the console follows */
const MAX_SUBS = 5000;
const SETTLE_MS = 1500;         /* a change reaches PostgreSQL within */

/* ---- Server-Sent Events (WHATWG HTML, "Parsing an event stream") ---- */

/*
 * Bytes in, events out: {type, data, id}. Lines end in CR LF, LF or CR
 * (a CR at the end of one chunk and an LF at the start of the next are
 * one line end); a blank line dispatches; ":" starts a comment; one
 * space after the colon is dropped; "id" sets the last event id, which
 * is kept across events (and ignored when it holds a NUL); "retry"
 * sets the reconnection delay; an event without data is not
 * dispatched, an unfinished one at the end of the stream is dropped.
 */
class SseParser {
	constructor(onEvent) {
		this.onEvent = onEvent;
		/* UTF-8, its byte order mark dropped, as the standard decodes */
		this.decoder = new TextDecoder('utf-8');
		this.partial = '';
		this.afterCR = false;
		this.data = [];
		this.type = '';
		this.idBuffer = '';
		this.lastEventId = '';
		this.retry = null;
	}

	push(bytes) {
		this.feed(this.decoder.decode(bytes, { stream: true }));
	}

	end() {
		this.feed(this.decoder.decode());
	}

	feed(text) {
		let start = 0;

		for (let i = 0; i < text.length; i++) {
			const c = text[i];

			if (c === '\n' && this.afterCR) {
				/* the LF of a CR LF */
				this.afterCR = false;
				start = i + 1;
				continue;
			}
			this.afterCR = false;
			if (c !== '\r' && c !== '\n')
				continue;
			this.line(this.partial + text.slice(start, i));
			this.partial = '';
			this.afterCR = c === '\r';
			start = i + 1;
		}
		this.partial += text.slice(start);
	}

	line(l) {
		if (l === '') {
			this.dispatch();
			return;
		}
		if (l[0] === ':')
			return;
		const colon = l.indexOf(':');
		let field = l;
		let value = '';

		if (colon >= 0) {
			field = l.slice(0, colon);
			value = l.slice(colon + 1);
			if (value[0] === ' ')
				value = value.slice(1);
		}
		if (field === 'event')
			this.type = value;
		else if (field === 'data')
			this.data.push(value);
		else if (field === 'id' && !value.includes('\0'))
			this.idBuffer = value;
		else if (field === 'retry' && /^[0-9]+$/.test(value))
			this.retry = parseInt(value, 10);
	}

	dispatch() {
		this.lastEventId = this.idBuffer;
		if (!this.data.length) {
			this.type = '';
			return;
		}
		const ev = {
			type: this.type || 'message',
			data: this.data.join('\n'),
			id: this.lastEventId,
		};

		this.data = [];
		this.type = '';
		this.onEvent(ev);
	}
}

/* ---- small helpers ---- */

/* An element with attributes and children; strings become text nodes,
 * so whatever they hold is shown as text. */
function el(tag, attrs, ...children) {
	const e = document.createElement(tag);

	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false)
			continue;
		if (k === 'class')
			e.className = v;
		else if (k === 'text')
			e.textContent = v;
		else if (k.startsWith('on'))
			e.addEventListener(k.slice(2), v);
		else
			e.setAttribute(k, v === true ? '' : String(v));
	}
	for (const c of children.flat()) {
		if (c === undefined || c === null || c === false)
			continue;
		e.append(typeof c === 'string' || typeof c === 'number' ?
			document.createTextNode(String(c)) : c);
	}
	return e;
}

/* Seconds as "9:58", "1:02:03"; none left: "expired". */
function formatLeft(s) {
	if (s <= 0)
		return 'expired';
	s = Math.floor(s);
	const h = Math.floor(s / 3600);
	const m = Math.floor(s / 60) % 60;
	const ss = String(s % 60).padStart(2, '0');

	return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/* "sip:bob@example.test" → "bob@example.test" */
function bare(uri) {
	return String(uri || '').replace(/^(sips?|pres):/i, '');
}

const enc = encodeURIComponent;

class ApiError extends Error {
	constructor(status, detail) {
		super(detail ? `${status}: ${detail}` : `HTTP ${status}`);
		this.status = status;
	}
}

/* ---- PIDF (RFC 3863), RPID (RFC 4480), data model (RFC 4479) ---- */

const NS_PIDF = 'urn:ietf:params:xml:ns:pidf';
const NS_DM = 'urn:ietf:params:xml:ns:pidf:data-model';
const NS_RPID = 'urn:ietf:params:xml:ns:pidf:rpid';

function kids(parent, ns, name) {
	return Array.from(parent.children).filter(c =>
		c.namespaceURI === ns && c.localName === name);
}

function textOf(parent, ns, name) {
	const k = kids(parent, ns, name)[0];

	return k ? k.textContent.trim() : '';
}

/* A composed document as a person reads it: open if a tuple is open. */
function parsePidf(xml) {
	const doc = new DOMParser().parseFromString(xml, 'application/xml');
	const root = doc.documentElement;

	if (doc.getElementsByTagName('parsererror').length ||
	    root.namespaceURI !== NS_PIDF || root.localName !== 'presence')
		return { error: 'not a PIDF document' };
	const tuples = kids(root, NS_PIDF, 'tuple').map(t => {
		const st = kids(t, NS_PIDF, 'status')[0];

		return {
			id: t.getAttribute('id') || '',
			basic: st ? textOf(st, NS_PIDF, 'basic') : '',
			contact: textOf(t, NS_PIDF, 'contact'),
			notes: kids(t, NS_PIDF, 'note').map(n => n.textContent.trim()),
		};
	});
	const activities = [];
	const personNotes = [];

	for (const p of kids(root, NS_DM, 'person')) {
		for (const a of kids(p, NS_RPID, 'activities')) {
			for (const x of a.children)
				activities.push(x.localName === 'other' ?
					x.textContent.trim() : x.localName);
		}
		for (const n of kids(p, NS_DM, 'note'))
			personNotes.push(n.textContent.trim());
	}
	const open = tuples.some(t => t.basic === 'open');

	return {
		entity: root.getAttribute('entity') || '',
		state: open ? 'open' : tuples.length ? 'closed' : 'none',
		tuples,
		activities,
		notes: personNotes.concat(kids(root, NS_PIDF, 'note')
			.map(n => n.textContent.trim())),
	};
}

/* ---- the console ---- */

const RULE_KINDS = [
	{ pkg: 'presence', field: 'action',
	  path: p => `/v1/presentities/${enc(p)}/rules` },
	{ pkg: 'reg', field: 'action', path: p => `/v1/aors/${enc(p)}/rules` },
	{ pkg: 'dialog', field: 'privacy',
	  path: p => `/v1/presentities/${enc(p)}/dialog-rules` },
];

class Console {
	constructor() {
		this.token = null;
		this.gen = 0;           /* a new one at each login and logout */
		this.feed = null;
		this.pollTimer = null;
		this.tickTimer = null;
		this.refreshTimer = null;
		this.loading = null;        /* the gen of a reloadAll() running */
		this.again = false;
		this.dirty = new Set();
		this.clear();
		this.$ = id => document.getElementById(id);
	}

	clear() {
		this.users = [];
		this.usersMore = false;
		this.bindings = new Map();  /* aor → [binding], at */
		this.presence = new Map();  /* presentity → {pidf} or {error} */
		this.rules = new Map();     /* resource → {pkg: [rule]} */
		this.subs = [];
		this.subsMore = false;
		this.deciding = new Map();  /* subscription id → "allow"/"block" */
		this.shown = new Map();     /* section id → what it shows now */
		this.opened = new Set();    /* presentities whose PIDF is open */
		this.readError = false;
	}

	/* -- the API -- */

	async api(method, path, body) {
		const gen = this.gen;
		const headers = {
			Authorization: 'Bearer ' + this.token,
			Accept: 'application/json',
		};
		const init = { method, headers, cache: 'no-store' };

		if (body !== undefined) {
			headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(body);
		}
		const res = await fetch(path, init);

		if (gen !== this.gen)
			throw new ApiError(0, 'logged out');
		if (res.status === 401) {
			this.logout('Herald no longer accepts this token: log in again.');
			throw new ApiError(401, 'the token is not accepted');
		}
		if (!res.ok) {
			let detail = res.statusText;

			try {
				const j = await res.json();
				detail = j.detail || j.title || detail;
			} catch (e) { /* not a problem document */ }
			throw new ApiError(res.status, detail);
		}
		return res.status === 204 ? null : res.json();
	}

	/* Every page of a list, up to max items. */
	async pages(path, max) {
		const items = [];
		let cursor = null;

		for (;;) {
			const sep = path.includes('?') ? '&' : '?';
			const j = await this.api('GET', path + sep + 'limit=1000' +
				(cursor ? '&cursor=' + enc(cursor) : ''));

			items.push(...j.items);
			cursor = j.next_cursor;
			if (!cursor || items.length >= max)
				return { items: items.slice(0, max), more: !!cursor ||
					items.length > max };
		}
	}

	/* -- login and logout -- */

	async start() {
		this.$('login').addEventListener('submit', e => {
			e.preventDefault();
			this.login(this.$('token').value.trim());
		});
		this.$('logout').addEventListener('click', () => this.logout());
		const saved = sessionStorage.getItem(TOKEN_KEY);

		if (saved)
			await this.login(saved, true);
		else
			this.showLogin();
	}

	showLogin(message) {
		this.$('app').hidden = true;
		this.$('logout').hidden = true;
		this.$('login-view').hidden = false;
		this.live('', '');
		const err = this.$('login-error');

		err.textContent = message || '';
		err.hidden = !message;
		this.$('token').focus();
	}

	async login(token, saved) {
		const err = this.$('login-error');

		if (!token) {
			this.showLogin('Type the admin token.');
			return;
		}
		err.hidden = true;
		let res;

		try {
			res = await fetch('/v1/users?limit=1', {
				headers: { Authorization: 'Bearer ' + token,
					Accept: 'application/json' },
				cache: 'no-store',
			});
		} catch (e) {
			this.showLogin('Herald\'s admin server does not answer.');
			return;
		}
		if (res.status === 401) {
			sessionStorage.removeItem(TOKEN_KEY);
			this.showLogin(saved ? 'Herald no longer accepts the saved ' +
				'token: log in again.' : 'Wrong token: Herald did not ' +
				'accept it (401 Unauthorized).');
			return;
		}
		if (!res.ok) {
			this.showLogin(`Herald answered ${res.status} ` +
				`${res.statusText}; try again.`);
			return;
		}
		sessionStorage.setItem(TOKEN_KEY, token);
		this.token = token;
		this.gen++;
		this.$('token').value = '';
		this.$('login-view').hidden = true;
		this.$('app').hidden = false;
		this.$('logout').hidden = false;
		this.renderAll();
		this.tickTimer = setInterval(() => this.tick(), 1000);
		this.feed = new Feed(this);
		this.feed.start();
	}

	logout(message) {
		sessionStorage.removeItem(TOKEN_KEY);
		this.token = null;
		this.gen++;
		if (this.feed)
			this.feed.stop();
		this.feed = null;
		this.polling(false);
		clearInterval(this.tickTimer);
		clearTimeout(this.refreshTimer);
		this.dirty.clear();
		this.clear();
		for (const b of document.querySelectorAll('#app .body'))
			b.replaceChildren();
		this.notice('');
		this.showLogin(message);
	}

	/* -- what the header says of the live updates -- */

	live(kind, text) {
		const l = this.$('live');

		l.className = 'live ' + kind;
		l.textContent = text;
	}

	notice(text, bad) {
		const n = this.$('notice');

		this.readError = false;
		n.textContent = text;
		n.className = bad ? 'notice bad' : 'notice';
		n.hidden = !text;
	}

	/* -- reading the state -- */

	polling(on) {
		if (!on) {
			clearInterval(this.pollTimer);
			this.pollTimer = null;
			return;
		}
		if (this.pollTimer)
			return;
		this.pollTimer = setInterval(() => this.reloadAll(), POLL_MS);
	}

	/* Everything again: at start, after a reset, and each poll. One
	 * read at a time; asked meanwhile, it reads once more after. */
	async reloadAll() {
		const gen = this.gen;

		if (this.loading === gen) {
			this.again = true;
			return;
		}
		this.loading = gen;
		this.again = false;
		try {
			await this.loadUsers();
			await Promise.all([this.loadSubs(),
				...this.users.map(u => this.loadUser(u.user))]);
			if (gen === this.gen && this.readError)
				this.notice('');
		} catch (e) {
			this.failed(e, gen);
		}
		if (gen !== this.gen)
			return;
		this.loading = null;
		this.renderAll();
		if (this.again)
			this.reloadAll();
	}

	async loadUsers() {
		const gen = this.gen;
		const r = await this.pages('/v1/users', MAX_USERS);

		if (gen !== this.gen)
			return;
		this.users = r.items;
		this.usersMore = r.more;
		const known = new Set(this.users.map(u => u.user));

		for (const m of [this.bindings, this.presence, this.rules]) {
			for (const k of Array.from(m.keys()))
				if (!known.has(k))
					m.delete(k);
		}
	}

	async loadUser(user) {
		await Promise.all([this.loadBindings(user),
			this.loadPresence(user), this.loadRules(user)]);
	}

	async loadBindings(aor) {
		const gen = this.gen;
		const j = await this.api('GET', `/v1/aors/${enc(aor)}/bindings`);

		if (gen === this.gen)
			this.bindings.set(aor, { list: j.bindings, at: Date.now() });
	}

	async loadPresence(p) {
		const gen = this.gen;
		let v;

		try {
			const j = await this.api('GET',
				`/v1/presentities/${enc(p)}/presence`);
			v = { pidf: j.pidf };
		} catch (e) {
			if (e.status === 401 || e.status === 0)
				throw e;
			v = { error: e.message };
		}
		if (gen === this.gen)
			this.presence.set(p, v);
	}

	async loadRules(resource) {
		const gen = this.gen;
		const all = {};

		await Promise.all(RULE_KINDS.map(async k => {
			const r = await this.pages(k.path(resource), 1000);
			all[k.pkg] = r.items;
		}));
		if (gen === this.gen)
			this.rules.set(resource, all);
	}

	async loadSubs() {
		const gen = this.gen;
		const r = await this.pages('/v1/subscriptions', MAX_SUBS);

		if (gen !== this.gen)
			return;
		const at = Date.now();
		const before = new Map(this.subs.map(s => [s.id, s.deadline]));

		/* expires_in is whole seconds and the answer takes its time
		 * to come: at + expires_in is off by a second or more, by a
		 * different amount each read. An estimate within 3 s of the
		 * one shown keeps it (a refresh moves the expiry further), so
		 * that the countdown only counts down between reads. */
		this.subs = r.items.map(s => {
			const old = before.get(s.id);
			let deadline = at + 1000 * s.expires_in;

			if (old !== undefined && Math.abs(deadline - old) <= 3000)
				deadline = old;
			return Object.assign(s, { at, deadline });
		});
		this.subsMore = r.more;
		/* a decision is shown until its subscription leaves pending */
		for (const id of Array.from(this.deciding.keys())) {
			const s = this.subs.find(x => x.id === id);
			if (!s || s.state !== 'pending')
				this.deciding.delete(id);
		}
	}

	failed(e, gen) {
		if (gen !== this.gen || e.status === 401 || e.status === 0)
			return;
		this.readError = true;
		this.notice('Could not read the state: ' + e.message, true);
	}

	/* -- live updates: what a feed event says changed is read again -- */

	onFeedEvent(ev) {
		if (ev.type === 'reset') {
			this.reloadAll();
			return;
		}
		let d;

		try {
			d = JSON.parse(ev.data);
		} catch (e) {
			return;
		}
		switch (d.kind) {
		case 'binding':
			this.mark('bindings', d.aor);
			break;
		case 'subscription':
			this.subsChanged();
			break;
		case 'publication':
			this.mark('presence', d.presentity);
			break;
		case 'rule':
			this.mark('rules', d.resource);
			break;
		case 'user':
			this.mark('users');
			break;
		}
	}

	/* The list of subscriptions is read from PostgreSQL, where a change
	 * the core has made may land a moment later: read it now and once
	 * more after that moment. */
	subsChanged() {
		const gen = this.gen;

		this.mark('subs');
		setTimeout(() => {
			if (gen === this.gen)
				this.mark('subs');
		}, SETTLE_MS);
	}

	mark(what, name) {
		this.dirty.add(name ? what + ' ' + name : what);
		if (!this.refreshTimer)
			this.refreshTimer = setTimeout(() => this.refresh(), 100);
	}

	/* Read again what the events marked, each once. */
	async refresh() {
		const gen = this.gen;
		const todo = Array.from(this.dirty);
		const followed = new Set(this.users.map(u => u.user));

		this.refreshTimer = null;
		this.dirty.clear();
		try {
			await Promise.all(todo.map(async key => {
				const [what, name] = key.split(/ (.*)/s);

				if (what === 'users') {
					const before = new Set(this.users.map(u => u.user));
					await this.loadUsers();
					await Promise.all(this.users.filter(u =>
						!before.has(u.user)).map(u => this.loadUser(u.user)));
				} else if (what === 'subs') {
					await this.loadSubs();
				} else if (!followed.has(name)) {
					/* not a user shown (yet) */
				} else if (what === 'bindings') {
					await this.loadBindings(name);
				} else if (what === 'presence') {
					await this.loadPresence(name);
				} else if (what === 'rules') {
					await this.loadRules(name);
				}
			}));
		} catch (e) {
			this.failed(e, gen);
		}
		if (gen === this.gen)
			this.renderAll();
	}

	/* -- approving and denying a watcher -- */

	async decide(s, action) {
		const watcher = s.watcher_user || bare(s.watcher);
		const gen = this.gen;

		this.deciding.set(s.id, action);
		this.renderPending();
		try {
			await this.api('PUT', `/v1/presentities/${enc(s.resource)}` +
				`/rules/${enc(watcher)}`, { action });
		} catch (e) {
			if (gen !== this.gen)
				return;
			this.deciding.delete(s.id);
			this.renderPending();
			this.notice(`Could not set the rule for ${watcher}: ` +
				e.message, true);
			return;
		}
		this.notice(action === 'allow' ?
			`${watcher} may now see the presence of ${s.resource}.` :
			`${watcher} is blocked from the presence of ${s.resource}.`);
		this.subsChanged();
		this.mark('rules', s.resource);
	}

	async removeRule(kind, resource, watcher) {
		const path = kind.path(resource) + '/' + enc(watcher);

		try {
			await this.api('DELETE', path);
		} catch (e) {
			this.notice(`Could not remove the rule: ${e.message}`, true);
			return;
		}
		this.notice(`The ${kind.pkg} rule of ${resource} for ${watcher} ` +
			'is removed.');
		this.mark('rules', resource);
		this.subsChanged();
	}

	/* -- rendering: each section made again from the state -- */

	/* Section id shows what sig says, made by make(): made again only
	 * when that changes (a button is not swapped under the pointer, an
	 * open document stays open). */
	show(id, sig, make) {
		const s = JSON.stringify(sig);

		if (this.shown.get(id) === s)
			return;
		this.shown.set(id, s);
		document.querySelector(`#${id} .body`).replaceChildren(...make());
	}

	renderAll() {
		this.renderPending();
		this.renderRegistrations();
		this.renderPresence();
		this.renderSubs();
		this.renderRules();
		this.renderUsers();
	}

	table(head, rows, empty) {
		if (!rows.length)
			return el('p', { class: 'empty' }, empty);
		return el('div', { class: 'scroll' }, el('table', {},
			el('thead', {}, el('tr', {}, head.map(h =>
				el('th', { scope: 'col' }, h)))),
			el('tbody', {}, rows)));
	}

	/* A cell that counts down to deadline (ms since the epoch), second
	 * by second (tick()). */
	countdown(deadline) {
		return el('td', { class: 'num', 'data-deadline': deadline },
			formatLeft((deadline - Date.now()) / 1000));
	}

	tick() {
		const now = Date.now();

		for (const c of document.querySelectorAll('[data-deadline]'))
			c.textContent = formatLeft((Number(c.dataset.deadline) -
				now) / 1000);
	}

	renderPending() {
		const pending = this.subs.filter(s => s.event === 'presence' &&
			s.state === 'pending').map(s => ({ s,
			watcher: s.watcher_user || bare(s.watcher),
			decided: this.deciding.get(s.id) || '' }));

		this.show('pending', pending.map(p => [p.s.id, p.watcher,
			p.s.resource, p.decided]), () => [this.table(
			['Watcher', 'wants to see', ''], pending.map(p =>
				this.pendingRow(p)), 'No watcher is waiting.')]);
	}

	pendingRow({ s, watcher, decided }) {
		const cell = decided ? el('td', { class: 'deciding' },
			decided === 'allow' ? 'Approved, waiting for the ' +
			'subscription…' : 'Denied, waiting for the subscription…') :
			el('td', { class: 'actions' },
				el('button', { type: 'button', class: 'approve',
					'aria-label': `Approve ${watcher} for ${s.resource}`,
					onclick: () => this.decide(s, 'allow') }, 'Approve'),
				el('button', { type: 'button', class: 'deny',
					'aria-label': `Deny ${watcher} for ${s.resource}`,
					onclick: () => this.decide(s, 'block') }, 'Deny'));

		return el('tr', {}, el('td', {}, watcher), el('td', {}, s.resource),
			cell);
	}

	renderRegistrations() {
		const regs = [];

		for (const u of this.users) {
			const b = this.bindings.get(u.user);

			for (const x of (b && b.list) || [])
				regs.push({ aor: u.user, uri: x.uri, ua: x.user_agent || '',
					received: x.received || '', deadline: 1000 *
					Math.round(b.at / 1000 + x.expires_in) });
		}
		const registered = new Set(regs.map(r => r.aor)).size;

		this.show('registrations', [regs, this.users.length,
			this.usersMore], () => [
			el('p', { class: 'count' }, `${registered} of ` +
				`${this.users.length} users registered` +
				(this.usersMore ? ` (the first ${MAX_USERS} users)` : '')),
			this.table(['Address of record', 'Contact', 'Expires in',
				'User agent', 'Received from'], regs.map(r => el('tr', {},
				el('td', {}, r.aor), el('td', { class: 'uri' }, r.uri),
				this.countdown(r.deadline), el('td', {}, r.ua),
				el('td', { class: 'uri' }, r.received))),
				'No user is registered.')]);
	}

	renderPresence() {
		const shown = this.users.filter(u => this.presence.has(u.user))
			.map(u => [u.user, this.presence.get(u.user)]);

		this.show('presence', shown, () => [shown.length ?
			el('div', { class: 'grid' }, shown.map(([p, v]) =>
				this.presentity(p, v))) :
			el('p', { class: 'empty' }, 'No presentity.')]);
	}

	presentity(p, v) {
		if (v.error)
			return el('article', { class: 'presentity' }, el('h3', {}, p),
				el('p', { class: 'error' }, v.error));
		const d = parsePidf(v.pidf);
		const label = d.error ? d.error : d.state === 'open' ? 'Open' :
			d.state === 'closed' ? 'Closed' : 'No presence information';
		const lines = [];

		for (const t of d.tuples || []) {
			lines.push(el('li', {}, el('span', { class: 'basic ' +
				(t.basic === 'open' ? 'open' : 'closed') }, t.basic || '?'),
				' ', t.notes.join(' · '),
				t.contact ? el('span', { class: 'dim' }, ' ' + t.contact) :
					null,
				el('span', { class: 'dim' }, ` (tuple ${t.id})`)));
		}
		if (d.activities && d.activities.length)
			lines.push(el('li', {}, 'Activities: ' +
				d.activities.join(', ')));
		for (const n of d.notes || [])
			lines.push(el('li', {}, n));
		const raw = el('details', { open: this.opened.has(p),
			ontoggle: e => e.target.open ? this.opened.add(p) :
				this.opened.delete(p) },
			el('summary', {}, 'PIDF document'), el('pre', {}, v.pidf));

		return el('article', { class: 'presentity' },
			el('h3', {}, p, ' ', el('span', { class: 'badge ' +
				(d.state || 'none') }, label)),
			lines.length ? el('ul', {}, lines) : null, raw);
	}

	renderSubs() {
		const subs = this.subs.map(s => ({ id: s.id, event: s.event,
			resource: s.resource, watcher: s.watcher_user || bare(s.watcher),
			state: s.state, reason: s.reason || '',
			deadline: s.deadline }));

		this.show('subscriptions', [subs, this.subsMore], () => [
			this.subsMore ? el('p', { class: 'count' },
				`The first ${MAX_SUBS} subscriptions.`) : '',
			this.table(['Event', 'Resource', 'Watcher', 'State',
				'Expires in', 'Id'], subs.map(s => el('tr', {},
				el('td', {}, s.event), el('td', {}, s.resource),
				el('td', {}, s.watcher),
				el('td', {}, el('span', { class: 'state ' + s.state },
					s.state), s.reason ? ` (${s.reason})` : ''),
				s.state === 'terminated' ? el('td', { class: 'num' }) :
					this.countdown(s.deadline),
				el('td', { class: 'id' }, s.id))), 'No subscription.')]);
	}

	renderRules() {
		const rules = [];

		for (const u of this.users) {
			const r = this.rules.get(u.user);

			for (const k of RULE_KINDS) {
				for (const x of (r && r[k.pkg]) || [])
					rules.push({ k, resource: u.user, watcher: x.watcher,
						value: x[k.field] });
			}
		}
		this.show('rules', rules.map(r => [r.k.pkg, r.resource, r.watcher,
			r.value]), () => [this.table(['Resource', 'Event', 'Watcher',
			'Rule', ''], rules.map(r => el('tr', {},
			el('td', {}, r.resource), el('td', {}, r.k.pkg),
			el('td', {}, r.watcher), el('td', {}, r.value),
			el('td', { class: 'actions' }, el('button', {
				type: 'button', class: 'remove',
				'aria-label': `Remove the ${r.k.pkg} rule of ` +
					`${r.resource} for ${r.watcher}`,
				onclick: () => this.removeRule(r.k, r.resource,
					r.watcher) }, 'Remove')))),
			'No rule: the defaults apply.')]);
	}

	renderUsers() {
		const users = this.users.map(u => {
			const b = this.bindings.get(u.user);

			return [u.user, u.role, b ? String(b.list.length) : ''];
		});

		this.show('users', users, () => [this.table(['User', 'Role',
			'Contacts'], users.map(([name, role, n]) => el('tr', {},
			el('td', {}, name), el('td', {}, role),
			el('td', { class: 'num' }, n))), 'No user.')]);
	}
}

/* ---- the live feed: fetch() and a ReadableStream ---- */

class Feed {
	constructor(app) {
		this.app = app;
		this.lastEventId = '';
		this.delay = RETRY_MS;
		this.ctrl = null;
		this.timer = null;
		this.stopped = false;
	}

	start() {
		this.connect();
	}

	stop() {
		this.stopped = true;
		clearTimeout(this.timer);
		if (this.ctrl)
			this.ctrl.abort();
	}

	/* Down: poll meanwhile, try again later (longer each time). */
	down(why) {
		if (this.stopped)
			return;
		const app = this.app;

		app.live('down', `Live feed lost (${why}): polling every ` +
			`${POLL_MS / 1000} s, reconnecting…`);
		if (!app.pollTimer)
			app.reloadAll();
		app.polling(true);
		this.timer = setTimeout(() => this.connect(), this.delay);
		this.delay = Math.min(this.delay * 2, RETRY_MAX_MS);
	}

	async connect() {
		const app = this.app;
		const ctrl = new AbortController();
		const headers = {
			Authorization: 'Bearer ' + app.token,
			Accept: 'text/event-stream',
		};
		let res;

		this.ctrl = ctrl;
		/* resume after the last event seen (the server replays the rest
		 * or says reset) */
		if (this.lastEventId)
			headers['Last-Event-ID'] = this.lastEventId;
		try {
			res = await fetch(FEED_PATH, { headers, signal: ctrl.signal,
				cache: 'no-store' });
		} catch (e) {
			this.down('no answer');
			return;
		}
		if (this.stopped)
			return;
		if (res.status === 404) {
			/* a Herald without the feed: polling is all there is */
			app.live('poll', `Polling every ${POLL_MS / 1000} s ` +
				'(this server has no live feed)');
			app.reloadAll();
			app.polling(true);
			return;
		}
		if (res.status === 401) {
			app.logout('Herald no longer accepts this token: log in again.');
			return;
		}
		const type = res.headers.get('Content-Type') || '';

		if (!res.ok || !type.startsWith('text/event-stream')) {
			this.down(`${res.status} ${res.statusText}`.trim());
			return;
		}
		await this.read(res, ctrl);
	}

	async read(res, ctrl) {
		const app = this.app;
		const resumed = !!this.lastEventId;
		const parser = new SseParser(ev => {
			this.lastEventId = parser.lastEventId;
			app.onFeedEvent(ev);
		});
		const reader = res.body.getReader();
		let watchdog;
		const quiet = () => {
			clearTimeout(watchdog);
			watchdog = setTimeout(() => ctrl.abort(), SILENCE_MS);
		};

		this.delay = RETRY_MS;
		app.polling(false);
		app.live('up', 'Live');
		/* nothing missed: a resumed stream replays, or says reset */
		if (!resumed)
			app.reloadAll();
		quiet();
		try {
			for (;;) {
				const { done, value } = await reader.read();

				if (done)
					break;
				quiet();
				parser.push(value);
				if (parser.retry !== null)
					this.delay = parser.retry;
			}
		} catch (e) {
			/* aborted, or the connection broke */
		}
		clearTimeout(watchdog);
		/* an id line may come without data */
		this.lastEventId = parser.lastEventId || this.lastEventId;
		this.down('the stream ended');
	}
}

if (typeof document !== 'undefined') {
	const start = () => new Console().start();

	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', start);
	else
		start();
}

/* Node (the tests) loads the parts that need no page. */
if (typeof module === 'object' && module.exports)
	module.exports = { SseParser, formatLeft, bare };
