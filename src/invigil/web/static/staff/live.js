// The live console (templates/proctoring/live.html): one tile per attempt,
// kept current by the server's event stream and nothing else (no polling).
// `snapshot` replaces every tile, `attempts` updates or adds the ones that
// changed; EventSource reconnects by itself and sends Last-Event-ID, and the
// server answers a reconnection with a snapshot.
//
// Updates never take the focus away nor touch the open dialog: a tile is
// built once and then only its words and pictures change in place (its
// links and buttons stay the same elements), and when the order changes the
// tile holding the focus stays where it is while the others move around it.
// Only a new flag is announced (politely); everything else is there to read.
//
// The words come from the page (the JSON block #live-words), translated into
// the reader's language; "{name}" marks where a value goes.
(function () {
  "use strict";

  const list = document.getElementById("live-tiles");
  const wordsBlock = document.getElementById("live-words");
  if (!list || !wordsBlock) return;
  const W = JSON.parse(wordsBlock.textContent);
  const lang = document.documentElement.lang || undefined;
  const plurals = new Intl.PluralRules(lang);
  const collator = new Intl.Collator(lang, { sensitivity: "base", numeric: true });
  const clock = new Intl.DateTimeFormat(lang, {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
    timeZone: "UTC",
  });
  const csrf = list.dataset.csrf;
  const canReview = Boolean(list.dataset.canReview);
  const canAttempt = Boolean(list.dataset.canAttempt);
  const stateEl = document.getElementById("live-state");
  const countsEl = document.getElementById("live-counts");
  const shownEl = document.getElementById("live-shown");
  const emptyEl = document.getElementById("live-empty");
  const announceEl = document.getElementById("live-announce");
  const sortEl = document.getElementById("live-sort");
  const findEl = document.getElementById("live-find");
  const endedEl = document.getElementById("live-show-ended");
  const dialog = document.getElementById("live-dialog");
  const LOW = 5 * 60 * 1000; // time left shown as running low below this
  // What links that open a new tab say of it (as their description, not their name).
  const NEW_TAB = "live-new-tab";
  list.before(Object.assign(document.createElement("span"), { id: NEW_TAB, hidden: true, textContent: W.newTab }));

  const tiles = new Map(); // attempt id -> the tile's elements and its latest data
  let skew = 0; // the server's clock minus this browser's, in ms
  let loaded = false; // a first snapshot arrived

  // -- words ------------------------------------------------------------------

  function fmt(text, values) {
    return String(text).replace(/\{(\w+)\}/g, (all, key) => (key in values ? String(values[key]) : all));
  }
  function count(pair, n) {
    return fmt(pair[plurals.select(n) === "one" ? 0 : 1], { n: n.toLocaleString(lang) });
  }
  function at(iso) {
    const ms = Date.parse(iso);
    return Number.isNaN(ms) ? "" : fmt(W.utc, { time: clock.format(new Date(ms)) });
  }
  function left(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
  }

  // -- elements ---------------------------------------------------------------

  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
    return e;
  }
  function setText(e, text) {
    if (e.textContent !== text) e.textContent = text;
  }
  function setAttr(e, name, value) {
    if (value === null || value === undefined) {
      if (e.hasAttribute(name)) e.removeAttribute(name);
    } else if (e.getAttribute(name) !== value) {
      e.setAttribute(name, value);
    }
  }
  // Replace what a box holds (never a focusable element) when it changed.
  function fill(box, key, make) {
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    box.replaceChildren(...make());
  }

  function build(id) {
    const p = `tile-${id}`;
    const r = { id };
    r.nameText = h("span", { dir: "auto", id: `${p}-name` });
    r.nameLink = h("a", { target: "_blank", rel: "noopener", "aria-describedby": NEW_TAB }, r.nameText);
    r.name = h("h2", { id: `${p}-h`, class: "tile-name" }, canAttempt ? r.nameLink : r.nameText);
    r.examText = h("span", { dir: "auto" });
    r.email = h("span", { class: "tile-email" });
    r.exam = h("p", { class: "tile-exam" }, r.examText, " · ", r.email);
    r.badges = h("p", { class: "tile-badges" });

    r.img = h("img", { loading: "lazy", width: "160", height: "120", alt: "", decoding: "async" });
    r.shotLink = h("a", { target: "_blank", rel: "noopener", class: "tile-shot-link", "aria-describedby": NEW_TAB }, r.img);
    r.noShot = h("span", { class: "tile-noshot", text: W.noSnapshot });
    r.faces = h("p", { class: "tile-faces" });
    r.shot = h("figure", { class: "tile-shot" }, r.shotLink, r.noShot, h("figcaption", null, r.faces));

    const fact = (key, label, ...dd) =>
      h("div", { class: `fact fact-${key}` }, h("dt", { id: `${p}-${key}`, text: label }), h("dd", null, ...dd));
    r.left = h("span", { class: "tile-left" });
    r.leftNote = h("span", { class: "tile-left-note" });
    r.progress = h("progress", { max: "1", value: "0", "aria-labelledby": `${p}-answered` });
    r.progressText = h("span", { class: "tile-progress-text" });
    r.flags = h("span", { class: "tile-flags" });
    r.actions = h("ul", { class: "tile-actions" });
    r.client = h("span", null);
    r.messages = h("ul", { class: "tile-messages" });
    r.room = h("span", null);
    r.integrity = h("span", null);
    const main = h(
      "dl",
      { class: "tile-main" },
      fact("left", W.timeLeft, r.left, " ", r.leftNote),
      fact("answered", W.answered, r.progress, " ", r.progressText),
      fact("flags", W.flagsHeading, r.flags)
    );
    const more = h(
      "dl",
      { class: "tile-facts" },
      (r.actionsRow = fact("actions", W.latest, r.actions)),
      fact("messages", W.messages, r.messages),
      fact("client", W.client, r.client),
      fact("room", W.room, r.room),
      fact("integrity", W.integrity, r.integrity)
    );

    r.buttons = {};
    const button = (act, danger) => {
      const b = h("button", { type: "button", class: danger ? "danger" : "secondary", "data-act": act });
      r.buttons[act] = b;
      return b;
    };
    r.reviewLink = h("a", { target: "_blank", rel: "noopener", class: "tile-link", "aria-describedby": NEW_TAB }, W.review);
    r.tools = h(
      "div",
      { class: "tile-tools", role: "group", "aria-labelledby": `${p}-name` },
      button("message"),
      button("time"),
      button("pause"),
      button("room"),
      button("end", true),
      canReview ? r.reviewLink : null
    );
    r.root = h(
      "article",
      { class: "tile", "aria-labelledby": `${p}-name` },
      h("div", { class: "tile-head" }, r.name, r.exam, r.badges),
      h("div", { class: "tile-body" }, r.shot, main),
      more,
      r.tools
    );
    r.li = h("li", { "data-id": id }, r.root);
    return r;
  }

  // -- one tile -----------------------------------------------------------------

  const running = (t) => t.status === "in_progress";
  const flagged = (t) => running(t) && (t.flags > 0 || (t.integrity && t.integrity !== "clear"));
  const offline = (t) => running(t) && Boolean(t.offline);
  function remaining(t) {
    if (!t.deadline) return null;
    const now = t.paused_at ? Date.parse(t.paused_at) : Date.now() + skew;
    return Date.parse(t.deadline) - now;
  }

  function update(r, t) {
    r.data = t;
    const name = t.candidate ? t.candidate.name : "";
    const exam = t.exam ? t.exam.title : "";
    setText(r.nameText, name);
    setAttr(r.nameLink, "href", t.url || null);
    setText(r.email, (t.candidate && t.candidate.email) || "");
    setText(r.examText, exam);
    r.root.classList.toggle("ended", !running(t));
    r.root.classList.toggle("flagged", flagged(t));
    r.root.classList.toggle("offline", offline(t));
    r.root.classList.toggle("paused", running(t) && Boolean(t.paused_at));

    const badges = [];
    if (running(t)) {
      badges.push(t.offline ? ["offline", t.offline_since ? fmt(W.offlineSince, { time: at(t.offline_since) }) : W.offline] : ["online", W.online]);
      if (t.paused_at) badges.push(["paused", W.paused]);
    } else {
      const why = W.reasons[t.submit_reason];
      badges.push(["ended", why ? fmt(W.endedWhy, { reason: why }) : W.endedAt]);
    }
    fill(r.badges, JSON.stringify(badges), () => badges.map(([c, text]) => h("span", { class: `badge ${c}`, text })));

    // the snapshot
    // (without evidence:view the server sends the snapshot without its url)
    const s = t.snapshot;
    r.shotLink.hidden = !(s && s.url);
    r.noShot.hidden = Boolean(s && s.url);
    if (s && s.url) {
      setAttr(r.shotLink, "href", s.url);
      if (r.img.getAttribute("src") !== s.url) r.img.setAttribute("src", s.url);
      setAttr(r.img, "alt", fmt(W.snapshotAlt, { name, time: at(s.taken_at) }));
    } else {
      setText(r.noShot, s ? fmt(W.snapshotHidden, { time: at(s.taken_at) }) : W.noSnapshot);
    }
    const faces = [];
    if (s) {
      if (s.faces === null || s.faces === undefined) faces.push(["faces pending", W.checking]);
      else faces.push([s.faces === 1 ? "faces one" : "faces wrong", count(W.faces, s.faces)]);
      if (s.browser_faces !== null && s.browser_faces !== undefined && s.browser_faces !== s.faces) {
        faces.push(["faces-browser", fmt(W.browserFaces, { faces: s.browser_faces })]);
      }
    }
    fill(r.faces, JSON.stringify(faces), () =>
      faces.map(([c, text]) => h("span", { class: c.startsWith("faces ") ? `badge ${c}` : `hint ${c}`, text }))
    );

    // time and progress
    tick(r);
    const added = t.added_seconds ? Math.round(t.added_seconds / 60) : 0;
    setText(r.leftNote, added ? fmt(W.added, { minutes: added.toLocaleString(lang) }) : "");
    const total = Math.max(0, t.questions || 0);
    const done = Math.min(total, Math.max(0, t.answered || 0));
    setAttr(r.progress, "max", String(total || 1));
    setAttr(r.progress, "value", String(done));
    setText(r.progressText, fmt(W.answeredOf, { answered: done.toLocaleString(lang), total: total.toLocaleString(lang) }));

    // flags, warnings and the latest actions
    setText(r.flags, `${count(W.flags, t.flags || 0)}, ${count(W.warnings, t.warnings || 0)}`);
    const actions = t.actions || [];
    r.actionsRow.hidden = !actions.length;
    fill(r.actions, JSON.stringify(actions), () =>
      actions.map((a) =>
        h(
          "li",
          { class: `sev-${a.severity || "low"}` },
          h("span", { class: "rule", text: a.rule || a.kind || "" }),
          " ",
          h("span", { class: "said", text: a.message || "" }),
          " ",
          h("span", { class: "hint nowrap", text: at(a.at) })
        )
      )
    );

    // browser and address
    const c = t.clients || { changes: 0, latest: null };
    let client = c.changes ? count(W.changes, c.changes) : W.noChange;
    if (c.latest) {
      client += ` · ${fmt(W.latestClient, { time: at(c.latest.at), browser: c.latest.browser || "?", address: c.latest.address || "?" })}`;
    }
    setText(r.client, client);
    r.root.classList.toggle("changed", Boolean(c.changes));

    // messages, with their receipts
    const messages = t.messages || [];
    fill(r.messages, JSON.stringify(messages), () =>
      messages.length
        ? messages.map((m) =>
            h(
              "li",
              null,
              h("q", { dir: "auto", text: m.text }),
              " ",
              h("span", { class: "hint nowrap", text: fmt(W.sent, { time: at(m.sent_at) }) }),
              " ",
              m.acknowledged_at
                ? h("span", { class: "badge read", text: fmt(W.read, { time: at(m.acknowledged_at) }) })
                : h("span", { class: "badge unread", text: W.notRead })
            )
          )
        : [h("li", { class: "hint", text: W.noMessages })]
    );

    // A room check needs the camera the candidate consented to.
    const rc = t.room_check;
    const camera = t.camera !== false;
    setText(
      r.room,
      rc && rc.clip_at
        ? fmt(W.roomClip, { time: at(rc.clip_at) })
        : rc
          ? fmt(W.roomWaiting, { time: at(rc.requested_at) })
          : camera
            ? W.roomNone
            : W.roomNoCamera
    );
    fill(r.integrity, t.integrity || "", () => [
      h("span", { class: `badge integrity ${t.integrity || ""}`, text: W.integrities[t.integrity] || t.integrity || "" }),
    ]);

    // what can be done: nothing once the attempt has ended
    const live = running(t);
    const pauseAct = t.paused_at ? "resume" : "pause";
    // Each button says whose it is to a screen reader ("Message: Ana Souza").
    for (const [act, b] of Object.entries(r.buttons)) {
      const label = W.act[act === "pause" ? pauseAct : act];
      setText(b, label);
      setAttr(b, "aria-label", `${label}: ${name}`);
      setAttr(b, "aria-disabled", live ? null : "true");
    }
    setAttr(r.reviewLink, "aria-label", `${W.review}: ${name}`);
    setAttr(r.reviewLink, "href", t.review_url || null);
    // A focused button is never hidden under the reader's hands.
    const room = r.buttons.room;
    room.hidden = !camera && document.activeElement !== room;
    if (!camera) setAttr(room, "aria-disabled", "true");
    r.tools.hidden = !live && !r.tools.contains(document.activeElement);
    r.tools.classList.toggle("ended", !live);
  }

  function tick(r) {
    const t = r.data;
    let text;
    let low = false;
    if (!running(t)) text = "—";
    else if (!t.deadline) text = W.noLimit;
    else {
      const ms = remaining(t);
      low = ms < LOW;
      text = ms <= 0 ? W.timeUp : left(ms);
      if (t.paused_at) text = `${text} · ${W.paused}`;
    }
    setText(r.left, text);
    r.left.classList.toggle("low", low);
  }

  // -- all tiles: order, filter, counts -----------------------------------------

  function rank(t) {
    const sort = sortEl ? sortEl.value : "flagged";
    const ended = running(t) ? 0 : 1;
    if (ended && sort !== "name") {
      const when = t.submitted_at ? Date.parse(t.submitted_at) : 0;
      return [1, -when]; // the latest to end first among the ended
    }
    const flagsFirst = [flagged(t) ? 0 : 1, -(t.flags || 0), -(t.warnings || 0)];
    if (sort === "offline") {
      const since = t.offline_since ? Date.parse(t.offline_since) : Infinity;
      return [ended, offline(t) ? 0 : 1, since, ...flagsFirst];
    }
    if (sort === "time") {
      const ms = remaining(t);
      return [ended, ms === null ? Infinity : ms];
    }
    if (sort === "name") return [ended];
    return [ended, ...flagsFirst];
  }
  function compare(a, b) {
    const x = rank(a.data);
    const y = rank(b.data);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
    return collator.compare(a.data.candidate.name, b.data.candidate.name) || (a.id < b.id ? -1 : 1);
  }

  function matches(t, query) {
    if (!running(t) && endedEl && !endedEl.checked) return false;
    if (!query) return true;
    const c = t.candidate || {};
    return `${c.name || ""} ${c.email || ""}`.toLocaleLowerCase(lang).includes(query);
  }

  // Put the tiles in order; the one holding the focus does not move.
  function arrange(order) {
    const now = list.children;
    if (now.length === order.length && order.every((li, i) => now[i] === li)) return;
    const active = document.activeElement;
    const pinned = active && active !== document.body ? order.find((li) => li.contains(active)) : null;
    if (!pinned || pinned.parentNode !== list) {
      list.append(...order);
      return;
    }
    const i = order.indexOf(pinned);
    for (const li of order.slice(0, i)) list.insertBefore(li, pinned);
    let ref = pinned;
    for (const li of order.slice(i + 1)) {
      ref.after(li);
      ref = li;
    }
  }

  function render() {
    const all = [...tiles.values()].sort(compare);
    for (const li of [...list.children]) if (!tiles.has(li.dataset.id)) li.remove();
    arrange(all.map((r) => r.li));
    const query = findEl ? findEl.value.trim().toLocaleLowerCase(lang) : "";
    let shown = 0;
    for (const r of all) {
      const show = matches(r.data, query);
      if (r.li.hidden === show) r.li.hidden = !show;
      if (show) shown += 1;
    }
    const ts = all.map((r) => r.data);
    setText(
      countsEl,
      fmt(W.counts, {
        running: ts.filter(running).length.toLocaleString(lang),
        flagged: ts.filter(flagged).length.toLocaleString(lang),
        offline: ts.filter(offline).length.toLocaleString(lang),
      })
    );
    setText(shownEl, shown < all.length ? fmt(W.shown, { shown: shown.toLocaleString(lang), total: all.length.toLocaleString(lang) }) : "");
    emptyEl.hidden = !loaded || shown > 0;
    setText(emptyEl, all.length ? W.emptyFilter : W.empty);
  }

  function announce(text) {
    // Cleared first, so the same words are read again.
    announceEl.textContent = "";
    window.setTimeout(() => (announceEl.textContent = text), 100);
  }

  function upsert(t) {
    let r = tiles.get(t.id);
    const before = r ? r.data : null;
    if (!r) {
      r = build(t.id);
      tiles.set(t.id, r);
    }
    update(r, t);
    if (before && (t.flags || 0) > (before.flags || 0)) {
      r.root.classList.add("new-flag");
      window.clearTimeout(r.freshTimer);
      r.freshTimer = window.setTimeout(() => r.root.classList.remove("new-flag"), 60000);
      return fmt(W.newFlag, { name: t.candidate.name });
    }
    return null;
  }

  function receive(data, replace) {
    if (!data || !Array.isArray(data.attempts)) return;
    if (data.server_time) {
      const server = Date.parse(data.server_time);
      if (!Number.isNaN(server)) skew = server - Date.now();
    }
    const news = [];
    const seen = new Set();
    for (const t of data.attempts) {
      seen.add(t.id);
      const said = upsert(t);
      if (said && loaded) news.push(said);
    }
    if (replace) for (const id of [...tiles.keys()]) if (!seen.has(id)) tiles.delete(id);
    loaded = true;
    render();
    if (news.length) announce(news.join(" "));
  }

  // -- the stream -----------------------------------------------------------------

  function setState(state) {
    stateEl.dataset.state = state;
    setText(stateEl, W[state]);
    list.classList.toggle("stale", state !== "live");
  }

  let failures = 0;
  function connect() {
    const source = new EventSource(list.dataset.stream);
    const parse = (e) => {
      try {
        return JSON.parse(e.data);
      } catch (err) {
        return null;
      }
    };
    source.addEventListener("open", () => setState("live"));
    source.addEventListener("snapshot", (e) => {
      failures = 0;
      setState("live");
      receive(parse(e), true);
    });
    source.addEventListener("attempts", (e) => receive(parse(e), false));
    // The server ends the stream when the session ends or no longer allows it.
    source.addEventListener("end", () => {
      source.close();
      setState("signedOut");
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CONNECTING) {
        setState("reconnecting"); // the browser tries again by itself
        return;
      }
      // Closed: the answer was not a stream (signed out, a server error).
      source.close();
      failures += 1;
      if (failures > 5) {
        setState("lost");
        return;
      }
      setState("reconnecting");
      window.setTimeout(connect, Math.min(60000, 1000 * 2 ** failures));
    });
  }

  // -- the dialog -------------------------------------------------------------------

  const forms = dialog ? [...dialog.querySelectorAll("form[data-act]")] : [];
  let open = { id: null, act: null, opener: null };

  function clearError(form) {
    const err = form.querySelector("[data-error]");
    err.textContent = "";
    for (const f of form.querySelectorAll("[aria-invalid]")) {
      f.removeAttribute("aria-invalid");
      const ids = (f.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== err.id);
      if (ids.length) f.setAttribute("aria-describedby", ids.join(" "));
      else f.removeAttribute("aria-describedby");
    }
  }
  function showError(form, text, field) {
    clearError(form);
    const err = form.querySelector("[data-error]");
    if (!err.id) err.id = `live-error-${form.dataset.act}`;
    err.textContent = text;
    const input = field ? form.querySelector(`[name="${CSS.escape(field)}"]`) : null;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", `${input.getAttribute("aria-describedby") || ""} ${err.id}`.trim());
    }
  }

  function openDialog(id, act, opener) {
    const r = tiles.get(id);
    if (!r || !dialog) return;
    const same = open.id === id && open.act === act;
    for (const f of forms) f.hidden = f.dataset.act !== act;
    const form = forms.find((f) => f.dataset.act === act);
    if (!form) return;
    if (!same) {
      form.reset(); // what was typed for another candidate is never sent to this one
      clearError(form);
    }
    open = { id, act, opener };
    setText(document.getElementById("live-dialog-h"), W.titles[act]);
    setText(
      document.getElementById("live-dialog-who"),
      fmt(W.who, { name: r.data.candidate.name, exam: r.data.exam ? r.data.exam.title : "" })
    );
    dialog.showModal();
  }

  function closeDialog(done) {
    const opener = open.opener;
    if (done) open = { id: null, act: null, opener: null };
    if (dialog.open) dialog.close();
    if (opener && opener.isConnected && document.activeElement !== opener) opener.focus();
  }

  list.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-act]");
    if (!b || b.getAttribute("aria-disabled") === "true") return;
    const r = tiles.get(b.closest("li").dataset.id);
    if (!r || !running(r.data)) return;
    let act = b.dataset.act;
    if (act === "room" && r.data.camera === false) return;
    if (act === "pause" && r.data.paused_at) act = "resume";
    openDialog(r.id, act, b);
  });

  if (dialog) {
    dialog.addEventListener("click", (e) => {
      if (e.target.closest("[data-close]")) closeDialog(false);
    });
    dialog.addEventListener("close", () => {
      const opener = open.opener;
      if (opener && opener.isConnected && !dialog.contains(document.activeElement) && document.activeElement === document.body) {
        opener.focus();
      }
    });
    for (const form of forms) {
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        if (form.dataset.busy) return;
        const id = open.id;
        const body = new URLSearchParams();
        for (const [k, v] of new FormData(form)) if (k !== "sure") body.append(k, v);
        body.set("csrf", csrf);
        form.dataset.busy = "yes";
        form.setAttribute("aria-busy", "true");
        try {
          const response = await fetch(`/proctoring/live/attempts/${encodeURIComponent(id)}/${form.dataset.path}`, {
            method: "POST",
            body,
            credentials: "same-origin",
            headers: { Accept: "application/json" },
          });
          let answer = null;
          try {
            answer = await response.json();
          } catch (err) {
            answer = null;
          }
          if (response.ok && answer) {
            form.reset();
            clearError(form);
            closeDialog(true);
            if (answer.attempt) {
              upsert(answer.attempt);
              render();
            }
          } else {
            const detail = answer && typeof answer.detail === "string" && answer.detail;
            showError(form, detail || fmt(W.failed, { status: response.status }), answer && answer.field);
          }
        } catch (err) {
          showError(form, W.unreachable);
        } finally {
          delete form.dataset.busy;
          form.removeAttribute("aria-busy");
        }
      });
    }
  }

  // -- controls -----------------------------------------------------------------------

  if (sortEl) sortEl.addEventListener("change", render);
  if (findEl) findEl.addEventListener("input", render);
  if (endedEl) endedEl.addEventListener("change", render);

  window.setInterval(() => {
    for (const r of tiles.values()) if (running(r.data) && r.data.deadline) tick(r);
  }, 1000);

  setState("connecting");
  connect();
})();
