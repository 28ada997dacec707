// The streamrouter watch page: polls `status` every 2 s and renders it (reload, alerts, a
// table of nodes); one player per playlist served by `[router] serve`, with hls.js when the
// daemon serves it (`run --hls-js PATH`), else the browser's native HLS.
//
// Plain script, no build step. Everything from the JSON goes into the page as text
// (textContent, text nodes), never as HTML.
'use strict';

(() => {
  const REFRESH_MS = 2000;
  const STATES = ['starting', 'live', 'stalled', 'retrying', 'restarting', 'stopped'];
  const RELOADS = ['applied', 'unchanged', 'refused'];

  // Fatal player errors and <video> error events, for a look in the console and for
  // tests/browser/watch_page.mjs.
  const playerErrors = [];
  window.__playerErrors = playerErrors;

  // One entry per stream section on the page, keyed by playlist, sink and URL.
  const players = new Map();

  const $ = (id) => document.getElementById(id);

  /** An element with attributes (`text` sets its text, `data` its dataset) and children. */
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (name === 'text') node.textContent = value;
      else if (name === 'data') Object.assign(node.dataset, value);
      else node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  /** RFC 3339 as local date and time; anything else as it came. */
  function when(rfc3339) {
    if (!rfc3339) return '';
    const date = new Date(rfc3339);
    return Number.isNaN(date.getTime()) ? String(rfc3339) : date.toLocaleString();
  }

  function renderReload(reload) {
    const result = $('reload');
    const summary = $('reload-summary');
    const errors = $('reload-errors');
    const name = reload ? String(reload.result) : 'none';
    result.textContent = name;
    result.className = RELOADS.includes(name) ? `reload-${name}` : 'reload-none';
    $('reload-at').textContent = reload && reload.at ? `at ${when(reload.at)}` : '';
    summary.textContent = (reload && reload.summary) || '';
    summary.hidden = !summary.textContent;
    const list = (reload && Array.isArray(reload.errors) && reload.errors) || [];
    errors.replaceChildren(...list.map((error) => el('li', { text: String(error) })));
    errors.hidden = list.length === 0;
  }

  function renderAlerts(alerts) {
    const entries = Object.entries(alerts || {}).sort(([a], [b]) => a.localeCompare(b));
    $('alerts').replaceChildren(
      ...entries.map(([node, message]) =>
        el('li', { data: { node } }, el('strong', { text: node }), `: ${message}`),
      ),
    );
    $('alerts-section').hidden = entries.length === 0;
  }

  function renderNodes(nodes) {
    const rows = (nodes || []).map((node) => {
      const state = String(node.state);
      const known = STATES.includes(state);
      return el(
        'tr',
        { data: { node: String(node.node), state } },
        el('td', { class: 'node', text: String(node.node) }),
        el('td', { class: 'kind', text: String(node.kind) }),
        el('td', {}, el('span', { class: known ? `state state-${state}` : 'state', text: state })),
        el('td', { class: 'since', title: node.since || '', text: when(node.since) }),
        el('td', { class: 'error', text: node.last_error ? String(node.last_error) : '' }),
      );
    });
    document.querySelector('#nodes tbody').replaceChildren(...rows);
  }

  function renderStreams(streams) {
    const wanted = new Map();
    for (const stream of streams || []) {
      wanted.set(`${stream.playlist}\u0000${stream.sink}\u0000${stream.url}`, stream);
    }
    // Sections stay in place across refreshes: moving a <video> in the DOM would pause it.
    for (const [key, player] of players) {
      if (!wanted.has(key)) {
        if (player.hls) player.hls.destroy();
        player.section.remove();
        players.delete(key);
      }
    }
    for (const [key, stream] of wanted) {
      if (!players.has(key)) players.set(key, addStream(stream));
    }
    $('no-streams').hidden = players.size > 0;
  }

  function addStream(stream) {
    const playlist = String(stream.playlist);
    const sink = String(stream.sink);
    const url = String(stream.url);
    const link = el('a', { text: url });
    if (/^https?:\/\//i.test(url)) link.href = url;
    const video = el('video', {
      data: { playlist, sink },
      muted: '',
      autoplay: '',
      playsinline: '',
      controls: '',
    });
    video.muted = true; // the attribute alone does not count for autoplay once created by script
    const note = el('p', { class: 'note', hidden: '' });
    const section = el(
      'section',
      { class: 'stream', data: { playlist, sink } },
      el('h3', { text: `${playlist} → ${sink}` }),
      video,
      note,
      link,
    );
    $('streams').append(section);
    return { section, hls: play(video, url, note, playlist) };
  }

  /** Starts playing `url` in `video`; returns the Hls instance when hls.js plays it. */
  function play(video, url, note, playlist) {
    const show = (text) => {
      note.textContent = text;
      note.hidden = false;
    };
    const record = (source, detail) => {
      playerErrors.push({ playlist, url, source, at: new Date().toISOString(), ...detail });
    };
    video.addEventListener('error', () => {
      const error = video.error;
      record('video', { code: error && error.code, message: (error && error.message) || '' });
      show(`playback error${error && error.message ? `: ${error.message}` : ''}`);
    });
    video.addEventListener('playing', () => {
      note.hidden = true;
    });

    const Hls = window.Hls;
    if (Hls && Hls.isSupported()) {
      video.dataset.player = 'hls.js';
      const hls = new Hls();
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (!data.fatal) return; // hls.js retries those itself
        record('hls.js', { type: data.type, details: data.details });
        show(`hls.js: ${data.details}; retrying`);
        // A live stream comes back (a feed restarts, a reload): keep trying.
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
          hls.recoverMediaError();
        } else {
          setTimeout(() => hls.startLoad(), REFRESH_MS);
        }
      });
      hls.on(Hls.Events.MANIFEST_PARSED, () => {
        video.play().catch(() => {}); // a browser that refuses autoplay leaves the controls
      });
      hls.loadSource(url);
      hls.attachMedia(video);
      return hls;
    }
    if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.dataset.player = 'native';
      video.src = url;
      return null;
    }
    video.dataset.player = 'none';
    show('no HLS player available (start the daemon with --hls-js PATH to serve hls.js)');
    return null;
  }

  function render(status) {
    $('generation').textContent = String(status.generation ?? '–');
    renderReload(status.last_reload);
    renderAlerts(status.alerts);
    renderNodes(status.nodes);
    renderStreams(status.streams);
  }

  async function refresh() {
    const updated = $('updated');
    try {
      const response = await fetch('status', { cache: 'no-store' });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      render(await response.json());
      updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
      updated.classList.remove('stale');
    } catch (error) {
      updated.textContent = `status unavailable (${error.message}), retrying`;
      updated.classList.add('stale');
    } finally {
      setTimeout(refresh, REFRESH_MS);
    }
  }

  refresh();
})();
