// Switchyard's islands router: a link followed or a form submitted on one of
// our pages fetches the next page and turns the current document into it,
// instead of a full page load, so the islands already hydrated keep their
// state and the wasm is not started again.
//
// Leptos 0.8's own router (`islands_router=true`) walks the old and the new
// document side by side, one node at a time, and stops at the end of the
// shorter: a page that gained rows (an account added above the audit log, a
// new event) was left half-patched. This one compares child lists element
// by element, recursively, so the result is always the server's page:
// nodes are kept where they match, replaced where they do not, appended or
// removed where the counts differ, and attributes removed when the server
// no longer sends them.
//
// Islands: one with the same component and the same props is kept as it is
// (its state, its live feed); any other is replaced by the server's and
// hydrated. Once every new island has hydrated, `body[data-hydrated]` is set
// again (the server's page does not carry it), so tests and people can tell
// the buttons are live after a client-side navigation, as after a full load.

const ISLAND = "leptos-island";
let navigation = 0;

// Resolves once the first page's islands have hydrated (`HydrationMark`,
// the last island of every page, sets the attribute).
const firstHydration = new Promise((resolve) => {
	if (document.body.hasAttribute("data-hydrated")) {
		resolve();
		return;
	}
	const watch = new MutationObserver(() => {
		if (document.body.hasAttribute("data-hydrated")) {
			watch.disconnect();
			resolve();
		}
	});
	watch.observe(document.body, { attributes: true, attributeFilter: ["data-hydrated"] });
});
let firstHydrationDone = false;
firstHydration.then(() => {
	firstHydrationDone = true;
});

for (const island of document.querySelectorAll(ISLAND)) {
	island.$$hydrated = true;
}

window.addEventListener("click", (ev) => {
	const req = linkRequest(ev);
	if (req) {
		ev.preventDefault();
		navigate(req, false);
	}
});

window.addEventListener("submit", (ev) => {
	if (ev.defaultPrevented) {
		return; // an island handles its own form
	}
	const req = formRequest(ev);
	if (req) {
		ev.preventDefault();
		navigate(req, false);
	}
});

window.addEventListener("popstate", () => {
	navigate(new Request(window.location.href), true);
});

function sameOrigin(url) {
	return url.origin === window.location.origin;
}

function linkRequest(ev) {
	if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.altKey || ev.ctrlKey || ev.shiftKey) {
		return null;
	}
	const a = ev.composedPath().find((el) => el instanceof Element && el.localName === "a");
	if (!a || !a.hasAttribute("href") || a.hasAttribute("download")) {
		return null;
	}
	const svg = a.namespaceURI === "http://www.w3.org/2000/svg";
	const target = svg ? a.target.baseVal : a.target;
	if (target && target !== "_self") {
		return null;
	}
	if ((a.getAttribute("rel") || "").split(/\s+/).includes("external")) {
		return null;
	}
	const url = new URL(svg ? a.href.baseVal : a.href, document.baseURI);
	if (!sameOrigin(url)) {
		return null;
	}
	// A link to a place on this same page is the browser's to scroll to.
	if (url.hash && url.pathname === window.location.pathname && url.search === window.location.search) {
		return null;
	}
	return new Request(url);
}

function formRequest(ev) {
	const form = ev.target;
	if (!(form instanceof HTMLFormElement)) {
		return null;
	}
	const submitter = ev.submitter || null;
	const attr = (name, formName) =>
		(submitter && submitter.hasAttribute(formName) ? submitter.getAttribute(formName) : form.getAttribute(name)) || "";
	const method = (attr("method", "formmethod") || "get").toUpperCase();
	const target = attr("target", "formtarget");
	const enctype = attr("enctype", "formenctype");
	if ((method !== "GET" && method !== "POST") || (target && target !== "_self") || enctype === "multipart/form-data") {
		return null; // the browser does these itself
	}
	const action = new URL(attr("action", "formaction") || window.location.href, document.baseURI);
	if (!sameOrigin(action)) {
		return null;
	}
	// The button pressed is part of what is sent (a form with "Keep the
	// board's" and "Keep Notion's" tells them apart by it).
	let data;
	try {
		data = new FormData(form, submitter);
	} catch {
		data = new FormData(form);
	}
	const params = new URLSearchParams();
	for (const [key, value] of data) {
		if (typeof value === "string") {
			params.append(key, value);
		}
	}
	if (method === "GET") {
		action.search = params.toString();
		return new Request(action);
	}
	return new Request(action, { method: "POST", body: params, headers: { Accept: "text/html" } });
}

async function navigate(req, fromHistory) {
	navigation += 1;
	const current = navigation;
	req.headers.set("Islands-Router", "true");
	let resp;
	try {
		resp = await fetch(req);
	} catch (e) {
		console.error(e);
		if (req.method === "GET") {
			window.location.assign(req.url); // let the browser show what is wrong
		}
		return;
	}
	const type = resp.headers.get("content-type") || "";
	if (!type.startsWith("text/html")) {
		if (req.method === "GET") {
			window.location.assign(resp.url);
		}
		return;
	}
	const html = await resp.text();
	if (navigation !== current) {
		return; // a later click won
	}
	const url = new URL(resp.redirected ? resp.url : req.url);
	const next = new DOMParser().parseFromString(html, "text/html");
	const samePage = url.pathname === window.location.pathname;
	morphDocument(next);
	if (!fromHistory) {
		window.history.pushState(undefined, "", url);
	} else {
		window.history.replaceState(undefined, "", url);
	}
	if (url.hash) {
		document.getElementById(decodeURIComponent(url.hash.slice(1)))?.scrollIntoView();
	} else if (!samePage && !fromHistory) {
		window.scrollTo(0, 0);
	}
	await hydrateNewIslands(current);
}

async function hydrateNewIslands(current) {
	if (!firstHydrationDone) {
		// The first page's islands are still starting: that pass walks the
		// document as it is now and hydrates every island in it.
		await firstHydration;
		for (const island of document.querySelectorAll(ISLAND)) {
			island.$$hydrated = true;
		}
		return;
	}
	for (const island of document.querySelectorAll(ISLAND)) {
		if (!island.$$hydrated && island.isConnected) {
			island.$$hydrated = true;
			try {
				await window.__hydrateIsland(island, island.dataset.component);
			} catch (e) {
				console.error(e);
			}
		}
	}
	if (navigation === current) {
		document.body.setAttribute("data-hydrated", "true");
	}
}

function morphDocument(next) {
	morphAttributes(document.documentElement, next.documentElement);
	morphNode(document.head, next.head);
	morphNode(document.body, next.body);
}

function morphNode(old, fresh) {
	if (old.nodeType !== fresh.nodeType || (old.nodeType === Node.ELEMENT_NODE && old.localName !== fresh.localName)) {
		old.replaceWith(document.importNode(fresh, true));
		return;
	}
	if (old.nodeType !== Node.ELEMENT_NODE) {
		if (old.nodeValue !== fresh.nodeValue) {
			old.nodeValue = fresh.nodeValue;
		}
		return;
	}
	if (old.localName === "script") {
		return; // a script put in by hand does not run: keep the one that did
	}
	if (old.localName === ISLAND) {
		const same =
			old.getAttribute("data-component") === fresh.getAttribute("data-component") &&
			old.getAttribute("data-props") === fresh.getAttribute("data-props");
		if (!same) {
			old.replaceWith(document.importNode(fresh, true));
		}
		return;
	}
	morphAttributes(old, fresh);
	morphChildren(old, fresh);
	morphValue(old, fresh);
}

function morphChildren(old, fresh) {
	const olds = Array.from(old.childNodes);
	const news = Array.from(fresh.childNodes);
	for (let i = 0; i < news.length; i++) {
		if (i < olds.length) {
			morphNode(olds[i], news[i]);
		} else {
			old.appendChild(document.importNode(news[i], true));
		}
	}
	for (let i = news.length; i < olds.length; i++) {
		olds[i].remove();
	}
}

function morphAttributes(old, fresh) {
	for (const attr of Array.from(old.attributes)) {
		if (!fresh.hasAttribute(attr.name)) {
			old.removeAttribute(attr.name);
		}
	}
	for (const attr of fresh.attributes) {
		if (old.getAttribute(attr.name) !== attr.value) {
			old.setAttribute(attr.name, attr.value);
		}
	}
}

// What a person typed lives in properties, not attributes: after a
// navigation a field shows what the server's page says it holds.
function morphValue(old, fresh) {
	switch (old.localName) {
		case "input":
			if (old.type === "checkbox" || old.type === "radio") {
				old.checked = fresh.hasAttribute("checked");
			} else if (old.type !== "file") {
				old.value = fresh.getAttribute("value") || "";
			}
			break;
		case "textarea":
			old.value = fresh.textContent;
			break;
		case "select":
			if (old.multiple) {
				for (const option of old.options) {
					option.selected = option.hasAttribute("selected");
				}
			} else {
				const chosen = Array.from(old.options).findIndex((option) => option.hasAttribute("selected"));
				old.selectedIndex = chosen >= 0 ? chosen : 0;
			}
			break;
	}
}
