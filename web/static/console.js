// Tearline console: small enhancements on top of pages that work without
// them. Loaded from the node itself; the Content Security Policy allows no
// other script.
(function () {
  'use strict';

  function all(root, selector) {
    return Array.prototype.slice.call(root.querySelectorAll(selector));
  }

  // "/" focuses the page's search field, unless the user is typing.
  document.addEventListener('keydown', function (e) {
    if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) {
      return;
    }
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) {
      return;
    }
    var field = document.getElementById('q') || document.getElementById('object');
    if (field) {
      e.preventDefault();
      field.focus();
    }
  });

  // The label picker offers only combinations that label.Validate accepts:
  // the levels of the chosen policy; no REL TO, RELIDO or DISPLAY ONLY with
  // NOFORN; no DISPLAY ONLY with RELIDO; ORCON only on classified levels;
  // FOUO only on unclassified ones; controls only with a classification.
  // The node checks again, and names the rule, whatever the browser sends.
  function picker() {
    var form = document.getElementById('publish-form') || document.getElementById('tearline-form');
    if (!form) {
      return;
    }
    var policy = form.querySelector('#policy');
    var level = form.querySelector('#level');
    var status = document.getElementById('label-status');
    var noforn = form.querySelector('#noforn');
    var relido = form.querySelector('#relido');
    var orcon = form.querySelector('#orcon');
    var fouo = form.querySelector('#fouo');
    var relto = all(form, 'input[name="relto"]');
    var display = all(form, 'input[name="display"]');

    function set(inputs, off) {
      inputs.forEach(function (i) {
        i.disabled = off;
        if (off) {
          i.checked = false;
        }
      });
    }
    function anyChecked(inputs) {
      return inputs.some(function (i) { return i.checked; });
    }

    function apply() {
      var p = policy.value;
      all(level, 'option').forEach(function (o) {
        if (!o.value) {
          return;
        }
        var mine = o.getAttribute('data-policy') === p;
        o.hidden = !mine;
        o.disabled = !mine;
      });
      var chosen = level.options[level.selectedIndex];
      if (chosen && chosen.value && chosen.getAttribute('data-policy') !== p) {
        level.value = '';
        chosen = level.options[level.selectedIndex];
      }
      level.disabled = !p;
      var classified = !!(p && chosen && chosen.value);
      var unclassified = classified && chosen.getAttribute('data-unclassified') === 'true';
      set(relto, !classified || noforn.checked);
      set([noforn], !classified || anyChecked(relto) || relido.checked || anyChecked(display));
      set([relido], !classified || noforn.checked || anyChecked(display));
      set(display, !classified || noforn.checked || relido.checked);
      set([orcon], !classified || unclassified);
      set([fouo], !unclassified);
    }

    var pending = null;
    function check() {
      var data = new FormData(form);
      data.delete('stix');
      data.delete('digest');
      var body = new URLSearchParams();
      data.forEach(function (v, k) { body.append(k, v); });
      if (pending) {
        pending.abort();
      }
      pending = new AbortController();
      fetch('/console/publish/label', {
        method: 'POST', body: body, credentials: 'same-origin', signal: pending.signal,
        headers: {'Content-Type': 'application/x-www-form-urlencoded'}
      }).then(function (r) {
        if (!r.ok) {
          throw new Error('the node answered ' + r.status);
        }
        return r.json();
      }).then(function (res) {
        status.textContent = '';
        var strong = document.createElement('strong');
        if (res.banner) {
          status.className = 'label-status ok';
          status.append('Label: ');
          strong.textContent = res.banner;
          status.append(strong);
        } else {
          status.className = 'label-status refused';
          status.append('Refused: ' + res.message + ' ');
          strong.textContent = '[' + res.rule + ']';
          status.append(strong);
          if (res.fix) {
            status.append(' ' + res.fix);
          }
        }
      }).catch(function (err) {
        if (err.name !== 'AbortError') {
          status.className = 'label-status refused';
          status.textContent = 'The label could not be checked: ' + err.message;
        }
      });
    }

    form.addEventListener('change', function (e) {
      if (e.target && e.target.name === 'stix') {
        return;
      }
      apply();
      check();
    });
    apply();
  }

  // RFC 6962 / RFC 9162 section 2.1.3.2: verify that entry is leaf index
  // of the tree of size leaves whose root is rootHex, with the audit path
  // pathHex. Resolves to true or false; hashing is SubtleCrypto's SHA-256.
  function hexBytes(hex) {
    if (typeof hex !== 'string' || !/^[0-9a-f]{64}$/i.test(hex)) {
      throw new Error('not a SHA-256 hash: ' + hex);
    }
    var out = new Uint8Array(32);
    for (var i = 0; i < 32; i++) {
      out[i] = parseInt(hex.substr(i * 2, 2), 16);
    }
    return out;
  }
  function concat(prefix, a, b) {
    var out = new Uint8Array(1 + a.length + (b ? b.length : 0));
    out[0] = prefix;
    out.set(a, 1);
    if (b) {
      out.set(b, 1 + a.length);
    }
    return out;
  }
  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  }
  async function verifyInclusion(entry, index, size, rootHex, pathHex) {
    var fn = BigInt(index);
    var sn = BigInt(size);
    if (fn >= sn) {
      return false;
    }
    sn -= 1n;
    var root = hexBytes(rootHex);
    var r = await sha256(concat(0, entry));
    for (var i = 0; i < pathHex.length; i++) {
      var p = hexBytes(pathHex[i]);
      if (sn === 0n) {
        return false;
      }
      if ((fn & 1n) === 1n || fn === sn) {
        r = await sha256(concat(1, p, r));
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        r = await sha256(concat(1, r, p));
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) {
      return false;
    }
    for (var j = 0; j < 32; j++) {
      if (r[j] !== root[j]) {
        return false;
      }
    }
    return true;
  }
  window.tearlineVerifyInclusion = verifyInclusion;

  function proof() {
    var el = document.getElementById('proof');
    var out = document.getElementById('browser-check');
    if (!el || !out) {
      return;
    }
    function report(ok, text) {
      out.className = ok ? 'verified' : 'failed';
      out.setAttribute('data-verified', ok ? 'true' : 'false');
      out.textContent = text;
    }
    if (!window.crypto || !crypto.subtle) {
      report(false, 'This browser cannot check the proof here: Web Crypto needs a secure (HTTPS) page.');
      return;
    }
    var entry;
    try {
      var raw = atob(el.getAttribute('data-entry'));
      entry = new Uint8Array(raw.length);
      for (var i = 0; i < raw.length; i++) {
        entry[i] = raw.charCodeAt(i);
      }
    } catch (e) {
      report(false, 'The entry on this page is not readable: ' + e.message);
      return;
    }
    var path = (el.getAttribute('data-path') || '').split(' ').filter(function (h) { return h !== ''; });
    var size = el.getAttribute('data-size');
    verifyInclusion(entry, el.getAttribute('data-index'), size, el.getAttribute('data-root'), path)
      .then(function (ok) {
        report(ok, ok
          ? 'Verified in this browser: the entry\u2019s hash and the ' + path.length + ' path hashes give the root of the checkpoint of ' + size + ' entries.'
          : 'NOT verified in this browser: the entry and path do not give the checkpoint\u2019s root.');
      })
      .catch(function (e) { report(false, 'NOT verified in this browser: ' + e.message); });
  }

  // The live alert stream: server-sent events of the signed-in user's
  // alerts, each drawn with textContent only, so that nothing in an alert
  // (values come from partners) is ever read as markup.
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) {
      e.className = cls;
    }
    if (text !== undefined) {
      e.textContent = text;
    }
    return e;
  }
  function alertItem(a) {
    var li = el('li', 'alert ' + a.kind);
    li.setAttribute('data-alert', a.id);
    var head = el('p');
    head.append(el('strong', 'title', a.title), ' ', el('span', 'when', a.raised));
    li.append(head);
    if (a.source) {
      var src = el('p', 'source', 'Seen in ');
      src.append(el('code', '', a.source));
      li.append(src);
    }
    if (a.actions) {
      li.append(el('p', 'actions', 'Permitted actions: ' + a.actions));
    }
    if (a.reports && a.reports.length) {
      var table = el('table');
      var hr = el('tr');
      ['Observable', 'Indicator', 'Originator', 'Label', 'Match', 'Score'].forEach(function (h) {
        var th = el('th', '', h);
        th.scope = 'col';
        hr.append(th);
      });
      var thead = el('thead');
      thead.append(hr);
      table.append(thead);
      var body = el('tbody');
      a.reports.forEach(function (r) {
        var tr = el('tr');
        var obs = el('td');
        obs.append(el('code', '', r.observable));
        var obj = el('td');
        obj.append(el('code', '', r.object));
        var score = el('td', '', String(r.score) + ' ');
        score.append(el('span', 'muted', '(' + r.basis + '; corroborated by ' + r.corroboration + ')'));
        tr.append(obs, obj, el('td', '', r.originator), el('td', '', r.label), el('td', '', r.match), score);
        body.append(tr);
      });
      table.append(body);
      li.append(table);
    }
    return li;
  }
  function liveAlerts() {
    var list = document.getElementById('live-alerts');
    var status = document.getElementById('live-status');
    if (!list || !window.EventSource) {
      return;
    }
    var source = new EventSource(list.getAttribute('data-stream'));
    source.addEventListener('open', function () {
      list.setAttribute('data-connected', 'true');
      if (status) {
        status.textContent = 'Connected: new alerts appear here as they are raised.';
      }
    });
    source.addEventListener('error', function () {
      list.setAttribute('data-connected', 'false');
      if (status) {
        status.textContent = 'Reconnecting to the alert stream\u2026';
      }
    });
    source.addEventListener('alert', function (e) {
      var a;
      try {
        a = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      if (list.querySelector('[data-alert="' + CSS.escape(a.id) + '"]')) {
        return;
      }
      list.insertBefore(alertItem(a), list.firstChild);
    });
  }

  // A running exercise: poll its status once a second, append the new
  // lines of its log (as text only) and, with the verdict, link to the
  // scorecard. The page without script shows the same on reload.
  function liveExercise() {
    var box = document.getElementById('exercise-result');
    var log = document.getElementById('exercise-log');
    if (!box || !log || box.getAttribute('data-done') === 'true') {
      return;
    }
    var from = parseInt(box.getAttribute('data-from'), 10) || 0;
    var failures = 0;
    function show(st) {
      st.lines.forEach(function (line) {
        log.append(el('li', '', line));
      });
      from = st.from + st.lines.length;
      box.setAttribute('data-from', String(from));
      if (!st.done) {
        return false;
      }
      box.textContent = '';
      box.setAttribute('data-done', 'true');
      if (st.verdict) {
        var p = el('p');
        var v = el('strong', 'verdict ' + st.verdict, st.verdict);
        v.id = 'verdict';
        v.setAttribute('data-verdict', st.verdict);
        var sum = el('span', '', st.summary);
        sum.id = 'summary';
        p.append(v, ' ', sum);
        var links = el('p');
        var a = el('a', '', 'Open the scorecard');
        a.id = 'scorecard-link';
        a.href = st.scorecard;
        var j = el('a', '', 'as JSON');
        j.href = st.scorecard + '.json';
        links.append(a, ' \u00b7 ', j);
        box.append(p, links);
      } else {
        var e = el('p', 'error', st.error || 'The run did not finish.');
        e.id = 'exercise-error';
        box.append(e);
      }
      return true;
    }
    function poll() {
      fetch(box.getAttribute('data-status') + '?from=' + from, {credentials: 'same-origin'})
        .then(function (r) {
          if (!r.ok) {
            throw new Error('the node answered ' + r.status);
          }
          return r.json();
        })
        .then(function (st) {
          failures = 0;
          if (!show(st)) {
            setTimeout(poll, 1000);
          }
        })
        .catch(function () {
          failures++;
          setTimeout(poll, Math.min(30000, 1000 * Math.pow(2, failures)));
        });
    }
    poll();
  }

  function start() {
    picker();
    proof();
    liveAlerts();
    liveExercise();
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
