/*
 * Drives Debian's chromium, headless, through Herald's web console with
 * puppeteer-core (tests/integration/test_console.py, consolebrowser.py).
 *
 *   node driver.js '{"chromium": "/usr/bin/chromium", "url": "http://…/"}'
 *
 * Actions are JSON lines on stdin, one at a time; each is answered with
 * one JSON line on stdout: {"ok": true, ...} or {"ok": false, "error"}.
 * What the page says and does (console messages, page errors, failed
 * requests) goes to stderr, for a failing test to show.
 *
 * The assertions are made by the test on what a person sees: the
 * visible text of a part of the page (innerText: hidden elements and a
 * closed <details> are not in it), a button found by the label a screen
 * reader reads and clicked with the mouse.
 */
'use strict';

const readline = require('readline');
const puppeteer = require('puppeteer-core');

const cfg = JSON.parse(process.argv[2]);
const log = (...a) => process.stderr.write(a.join(' ') + '\n');
const requests = [];            /* every request the page made */
const errors = [];              /* uncaught exceptions in the page */
let browser = null;
let page = null;

async function launch() {
	browser = await puppeteer.launch({
		executablePath: cfg.chromium,
		headless: true,
		/* the sandbox needs user namespaces, often missing in a
		 * container or for root; the browser loads only the local
		 * console under test */
		args: ['--no-sandbox', '--no-first-run', '--disable-extensions',
			'--disable-background-networking', '--disable-sync'],
	});
	page = await browser.newPage();
	await page.setViewport({ width: 1280, height: 900 });
	page.on('console', m => log(`console.${m.type()}: ${m.text()}`));
	page.on('pageerror', e => {
		errors.push(String(e.message || e));
		log(`pageerror: ${e.message || e}`);
	});
	page.on('request', r => {
		const h = r.headers();

		requests.push({ url: r.url(), method: r.method(),
			authorization: h.authorization || '',
			last_event_id: h['last-event-id'] || '' });
	});
	page.on('requestfailed', r => log(`requestfailed: ${r.url()} ` +
		`${(r.failure() || {}).errorText || ''}`));
}

/* What a person sees of the element of sel: its innerText, nothing when
 * it is hidden (innerText would then be all of its text). Runs in the
 * page; puppeteer sends it as source. */
const VISIBLE = (sel) => {
	const e = document.querySelector(sel);

	return e && e.checkVisibility() ? e.innerText : '';
};

/* The element of sel whose visible text has text (or has not). */
function waitText(sel, text, absent, timeout) {
	return page.waitForFunction(`((s, t, no) => {
		const has = (${VISIBLE})(s).includes(t);

		return no ? !has : has;
	})(${JSON.stringify(sel)}, ${JSON.stringify(text)}, ${!!absent})`,
	{ timeout, polling: 100 });
}

function visibleText(sel) {
	return page.evaluate(`(${VISIBLE})(${JSON.stringify(sel)})`);
}

/* The visible button labelled label. */
async function button(label) {
	const handle = await page.waitForFunction(l => {
		for (const b of document.querySelectorAll('button')) {
			if (b.getAttribute('aria-label') === l ||
			    (!b.hasAttribute('aria-label') && b.innerText === l)) {
				if (b.offsetParent !== null && !b.disabled)
					return b;
			}
		}
		return null;
	}, { timeout: 10000, polling: 100 }, label);

	return handle.asElement();
}

const actions = {
	async open() {
		if (!browser)
			await launch();
		await page.goto(cfg.url, { waitUntil: 'load' });
		/* a mark that a reload would lose */
		await page.evaluate(() => { window.heraldTestMark = 1; });
		return {};
	},

	/* Types the token into the field a person sees, presses Enter. */
	async login({ token }) {
		await page.waitForSelector('#token', { visible: true });
		await page.click('#token', { clickCount: 3 });
		await page.keyboard.press('Backspace');
		await page.type('#token', token);
		await page.keyboard.press('Enter');
		return {};
	},

	async click({ label }) {
		const b = await button(label);

		await b.click();
		return {};
	},

	async wait_text({ within, text, absent, timeout }) {
		const t0 = Date.now();

		try {
			await waitText(within, text, absent, timeout || 10000);
		} catch (e) {
			const now = await visibleText(within);
			throw new Error(`${absent ? 'still' : 'never'} "${text}" in ` +
				`${within} within ${timeout || 10000} ms; it shows:\n${now}`);
		}
		return { ms: Date.now() - t0 };
	},

	async text({ within }) {
		return { text: await visibleText(within) };
	},

	/* The visible text of the cells of the table rows in `within` that
	 * show `row`, by column heading. */
	async rows({ within, row }) {
		return { rows: await page.$eval(within, (el, want) => {
			const out = [];

			for (const t of el.querySelectorAll('table')) {
				const head = Array.from(t.querySelectorAll('thead th'))
					.map(th => th.innerText.trim().toLowerCase());

				for (const tr of t.querySelectorAll('tbody tr')) {
					if (!tr.innerText.includes(want))
						continue;
					const r = {};

					Array.from(tr.cells).forEach((c, i) => {
						r[head[i] || String(i)] = c.innerText.trim();
					});
					out.push(r);
				}
			}
			return out;
		}, row) };
	},

	/* What the page holds that a test checks is not there. */
	async state() {
		return await page.evaluate(() => ({
			session: Object.fromEntries(Object.keys(sessionStorage)
				.map(k => [k, sessionStorage.getItem(k)])),
			local: Object.fromEntries(Object.keys(localStorage)
				.map(k => [k, localStorage.getItem(k)])),
			href: location.href,
			title: document.title,
			images: document.images.length,
			xss: window.xss === undefined ? null : String(window.xss),
			mark: window.heraldTestMark === 1,
		}));
	},

	async requests() {
		return { requests, errors };
	},

	async screenshot({ path }) {
		await page.screenshot({ path, fullPage: true });
		return {};
	},

	async quit() {
		if (browser)
			await browser.close();
		browser = null;
		return {};
	},
};

const rl = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();

rl.on('line', line => {
	queue = queue.then(async () => {
		let a;

		try {
			a = JSON.parse(line);
			const r = await actions[a.do](a);

			process.stdout.write(JSON.stringify(Object.assign({ ok: true },
				r)) + '\n');
		} catch (e) {
			process.stdout.write(JSON.stringify({ ok: false,
				error: String((e && e.stack) || e) }) + '\n');
		}
		if (a && a.do === 'quit')
			process.exit(0);
	});
});
rl.on('close', () => queue.then(async () => {
	if (browser)
		await browser.close();
	process.exit(0);
}));
